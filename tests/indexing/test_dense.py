"""The vector indexes (qa.indexing.dense): exact and HNSW agree, survive a save and load, and the
kind
follows the size."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import qa.indexing.dense
from qa import Settings, build_index, index_info, search
from qa.indexing.dense import EXACT, HNSW, ExactIndex, HNSWIndex, create, kind_for, load, updated
from qa.indexing.store import current_generation


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
        "m": qa.indexing.dense.HNSW_M,
        "ef_construction": qa.indexing.dense.HNSW_EF_CONSTRUCTION,
        "ef_search": qa.indexing.dense.HNSW_EF_SEARCH,
        "deleted": 0,
    }


def test_kind_follows_the_size() -> None:
    assert kind_for(0) == kind_for(qa.indexing.dense.HNSW_FROM - 1) == EXACT
    assert kind_for(qa.indexing.dense.HNSW_FROM) == kind_for(10**7) == HNSW


def test_an_index_past_the_threshold_is_hnsw_and_says_so(
    corpus: Path, tmp_path: Path, hash_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    small, big = tmp_path / "small", tmp_path / "big"
    report = build_index(corpus, small, settings=hash_settings)
    monkeypatch.setattr(qa.indexing.dense, "HNSW_FROM", report.chunks)
    build_index(corpus, big, settings=hash_settings)
    assert index_info(small)["vector_index"] == {"kind": "exact", "metric": "inner_product"}
    info = index_info(big)["vector_index"]
    assert info["kind"] == "hnsw" and info["m"] == qa.indexing.dense.HNSW_M
    manifest = json.loads((big / str(current_generation(big)) / "manifest.json").read_text())
    assert manifest["index"]["kind"] == "hnsw" and manifest["index"]["count"] == report.chunks
    question = "Vinokourov broke his femur"
    assert search(question, k=5, index_dir=big, settings=hash_settings) == search(
        question, k=5, index_dir=small, settings=hash_settings
    )


def _saved_hnsw(tmp_path: Path, vectors: np.ndarray) -> HNSWIndex:
    index = create(HNSW, vectors.shape[1])
    index.add(vectors)
    index.save(tmp_path / "old.faiss")
    loaded = load(tmp_path / "old.faiss", HNSW)
    assert isinstance(loaded, HNSWIndex)
    return loaded


def test_an_updated_graph_finds_the_new_rows_and_never_a_deleted_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(qa.indexing.dense, "HNSW_FROM", 100)
    old_vectors = _unit(400, 32, 3)
    old = _saved_hnsw(tmp_path, old_vectors)
    # New rows: old rows 0-359 shuffled (360-399 deleted), old row 7 kept twice, 30 new ones.
    rng = np.random.default_rng(4)
    sources = np.concatenate((rng.permutation(360), [7], np.full(30, -1)))
    vectors = np.concatenate((old_vectors[sources[:361]], _unit(30, 32, 5)))
    got = updated(old, sources, vectors)
    assert got is not None and got.ntotal == len(sources) == 391
    assert got.params()["deleted"] == 40
    got.save(tmp_path / "new.faiss")
    again = load(tmp_path / "new.faiss", HNSW)
    assert again.ntotal == 391 and again.params() == got.params()
    exact = create(EXACT, 32)
    exact.add(vectors)
    queries = _unit(100, 32, 6)
    for index in (got, again):
        _, found = index.search(queries, 10)
        _, truth = exact.search(queries, 10)
        recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth, strict=True)])
        assert recall >= 0.95 and found.min() >= 0 and found.max() < 391
        scores, own = index.search(vectors, 1)  # every row finds itself (or its twin)
        np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-5)
        assert np.array_equal(vectors[own[:, 0]], vectors)


def test_a_graph_with_too_many_deleted_nodes_or_too_few_rows_is_built_afresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(qa.indexing.dense, "HNSW_FROM", 100)
    old = _saved_hnsw(tmp_path, _unit(400, 16, 7))
    keep = int(400 * (1 - qa.indexing.dense.MAX_DELETED)) - 1  # one more deleted than allowed
    assert updated(old, np.arange(keep), _unit(keep, 16, 8)) is None
    assert updated(old, np.arange(keep + 1), _unit(keep + 1, 16, 8)) is not None
    assert updated(old, np.arange(99), _unit(99, 16, 8)) is None  # exact from here down
    exact = create(EXACT, 16)
    exact.add(_unit(400, 16, 7))
    assert updated(exact, np.arange(400), _unit(400, 16, 7)) is None
    (tmp_path / "old.faiss").write_bytes(b"damaged since it was opened")
    assert updated(old, np.arange(keep + 1), _unit(keep + 1, 16, 8)) is None


def test_slots_that_miss_a_row_are_refused(tmp_path: Path) -> None:
    old = _saved_hnsw(tmp_path, _unit(50, 8, 9))
    got = updated(old, np.arange(50), _unit(50, 8, 9))
    assert got is None  # 50 rows: below HNSW_FROM
    index = HNSWIndex(old._index, np.array([0, 1, 2, -1, 3, *range(4, 49), -1]))
    index.save(tmp_path / "bad.faiss")
    np.save(tmp_path / "bad.slots.npy", np.array([0, 0, *range(2, 50)]))
    with pytest.raises(ValueError, match="one node"):
        load(tmp_path / "bad.faiss", HNSW)


def test_an_update_keeps_the_graph_and_finds_what_a_fresh_build_finds(
    corpus: Path, tmp_path: Path, hash_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    index, fresh = tmp_path / "index", tmp_path / "fresh"
    monkeypatch.setattr(qa.indexing.dense, "HNSW_FROM", 10)
    monkeypatch.setattr(qa.indexing.dense, "MAX_DELETED", 0.5)  # one file of five is a large share
    build_index(corpus, index, settings=hash_settings)
    changed = sorted(corpus.iterdir())[2]
    changed.write_text(changed.read_text() + "\nVinokourov rode a tandem up the climb.\n")
    build_index(corpus, index, settings=hash_settings)
    generation = index / str(current_generation(index))
    assert (generation / "dense.slots.npy").is_file()  # the graph was kept, not rebuilt
    assert index_info(index)["vector_index"]["deleted"] > 0
    build_index(corpus, fresh, settings=hash_settings)
    for question in ("Vinokourov rode a tandem", "why did Cavendish un-retire?"):
        assert search(question, k=5, index_dir=index, settings=hash_settings) == search(
            question, k=5, index_dir=fresh, settings=hash_settings
        )
