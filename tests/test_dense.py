"""The vector indexes (qa.dense): exact and HNSW agree, survive a save and load, and the kind
follows the size."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import qa.dense
from qa import Settings, build_index, index_info, search
from qa.dense import EXACT, HNSW, ExactIndex, HNSWIndex, create, kind_for, load
from qa.store import current_generation


def _unit(n: int, d: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_hnsw_recall_against_exact_search() -> None:
    vectors, queries = _unit(5_000, 64, 0), _unit(200, 64, 1)
    exact, hnsw = create(EXACT, 64), create(HNSW, 64)
    for index in (exact, hnsw):
        index.add(vectors)
        assert index.ntotal == 5_000 and index.dimension == 64
    _, truth = exact.search(queries, 10)
    scores, found = hnsw.search(queries, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth, strict=True)])
    assert recall >= 0.9
    assert np.all(np.diff(scores, axis=1) <= 1e-6)  # best first
    np.testing.assert_allclose(scores[:, 0], (vectors[found[:, 0]] * queries).sum(axis=1), 1e-5)
    np.testing.assert_array_equal(truth[:, 0], np.argmax(queries @ vectors.T, axis=1))


@pytest.mark.parametrize("kind", [EXACT, HNSW])
def test_save_and_load_round_trip(tmp_path: Path, kind: str) -> None:
    vectors = _unit(500, 32, 2)
    index = create(kind, 32)
    index.add(vectors)
    index.save(tmp_path / "dense.faiss")
    again = load(tmp_path / "dense.faiss", kind)
    assert type(again) is {EXACT: ExactIndex, HNSW: HNSWIndex}[kind]
    assert (again.kind, again.ntotal, again.dimension) == (kind, 500, 32)
    assert again.params() == index.params()
    for a, b in zip(index.search(vectors[:20], 5), again.search(vectors[:20], 5), strict=True):
        np.testing.assert_array_equal(a, b)
    _, rows = again.search(vectors[:1], 600)  # more than it holds: padded with -1
    found = rows[0][rows[0] >= 0]
    assert rows[0, -1] == -1 and len(set(found.tolist())) == len(found)
    # Exact search finds every vector; a graph walk may stop short of the last few.
    assert len(found) == 500 if kind == EXACT else len(found) >= 450


def test_hnsw_params_are_reported() -> None:
    assert create(EXACT, 8).params() == {}
    assert create(HNSW, 8).params() == {
        "m": qa.dense.HNSW_M,
        "ef_construction": qa.dense.HNSW_EF_CONSTRUCTION,
        "ef_search": qa.dense.HNSW_EF_SEARCH,
    }


def test_kind_follows_the_size() -> None:
    assert kind_for(0) == kind_for(qa.dense.HNSW_FROM - 1) == EXACT
    assert kind_for(qa.dense.HNSW_FROM) == kind_for(10**7) == HNSW


def test_an_index_past_the_threshold_is_hnsw_and_says_so(
    corpus: Path, tmp_path: Path, hash_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    small, big = tmp_path / "small", tmp_path / "big"
    report = build_index(corpus, small, settings=hash_settings)
    monkeypatch.setattr(qa.dense, "HNSW_FROM", report.chunks)
    build_index(corpus, big, settings=hash_settings)
    assert index_info(small)["vector_index"] == {"kind": "exact", "metric": "inner_product"}
    info = index_info(big)["vector_index"]
    assert info["kind"] == "hnsw" and info["m"] == qa.dense.HNSW_M
    manifest = json.loads((big / str(current_generation(big)) / "manifest.json").read_text())
    assert manifest["index"]["kind"] == "hnsw" and manifest["index"]["count"] == report.chunks
    question = "Vinokourov broke his femur"
    assert search(question, k=5, index_dir=big, settings=hash_settings) == search(
        question, k=5, index_dir=small, settings=hash_settings
    )
