"""Embedders (qa.encode.embedding): rows come back in the order given, token counts match the
model's tokenizer."""

from __future__ import annotations

import numpy as np
import pytest

from qa.config import DEFAULT_MODEL
from qa.encode.embedding import HashEmbedder, get_embedder, model_path

TEXTS = [
    "Short one.",
    "A much longer sentence about the sprint stage that Cavendish won in the rain, "
    "with the whole team cheering along the road as he crossed the line. " * 3,
    "Medium length text about a tandem bike for two riders.",
    "",
    "Another short one.",
]


def test_hash_embedder_rows_follow_the_texts() -> None:
    embedder = HashEmbedder()
    together = embedder.encode(TEXTS)
    alone = np.vstack([embedder.encode([t]) for t in TEXTS])
    np.testing.assert_allclose(together, alone)
    assert embedder.token_counts(["two words", ""]) == [2, 0]


@pytest.mark.slow
def test_model_rows_follow_the_texts_though_encoded_longest_first() -> None:
    embedder = get_embedder(DEFAULT_MODEL)
    seen: list[int] = []
    together = embedder.encode(TEXTS * 60, batch_size=8, progress=seen.append)
    assert sum(seen) == len(TEXTS) * 60 and len(seen) > 1  # steady progress
    alone = np.vstack([embedder.encode([t]) for t in TEXTS])
    cosine = (together[: len(TEXTS)] * alone).sum(axis=1)
    assert cosine.min() > 0.9999
    np.testing.assert_allclose(
        together[len(TEXTS) :], np.tile(together[: len(TEXTS)], (59, 1)), atol=1e-5
    )
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_path(DEFAULT_MODEL)))
    assert embedder.token_counts(TEXTS) == [len(tokenizer.tokenize(t)) for t in TEXTS]


def test_a_small_build_job_gets_the_numpy_encoder_unless_the_model_is_loaded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import qa.encode.embedding as embedding

    loads: list[str] = []
    monkeypatch.setattr(embedding, "_CACHE", {})
    monkeypatch.setattr(embedding, "BertEmbedder", lambda m, d: loads.append(m))
    small = embedding.get_build_embedder(DEFAULT_MODEL, None, embedding.SMALL_JOB_CHARS)
    assert isinstance(small, embedding.NumpyQueryEmbedder) and loads == []
    assert embedding.get_build_embedder(DEFAULT_MODEL, "cuda", 1) is None  # loaded, on the GPU
    embedding.get_build_embedder(DEFAULT_MODEL, None, embedding.SMALL_JOB_CHARS + 1)
    assert loads == [DEFAULT_MODEL, DEFAULT_MODEL]
    # Once the torch model is loaded, even a small job uses it.
    assert embedding.get_build_embedder(DEFAULT_MODEL, None, 1) is None
    assert isinstance(embedding.get_build_embedder("hash-384", None, 1), HashEmbedder)
