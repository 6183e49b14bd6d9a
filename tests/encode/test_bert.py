"""The numpy BERT encoder (qa.encode.bert) that encodes questions without torch: the same vectors as
sentence-transformers, so the same passages (slow: loads the real model both ways)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa import Settings
from qa.config import DEFAULT_MODEL
from qa.encode.embedding import NumpyQueryEmbedder, get_embedder, get_query_embedder
from qa.evaluate import load_gold

DATA = Path(__file__).resolve().parents[1] / "data"
TEXTS = [
    "why did Cavendish un-retire?",
    "salary",
    "",
    "Mørkøv, Ballerini & Cavendish — “the train” (2021) 🚴",
    "word " * 400,  # past the model's 256 tokens: truncated the same way
    "Mark Cavendish has opted not to retire and will race on in 2024, signing a new deal.",
]


@pytest.mark.slow
def test_numpy_vectors_match_sentence_transformers() -> None:
    fast = NumpyQueryEmbedder(DEFAULT_MODEL)
    torch_based = get_embedder(DEFAULT_MODEL)
    mine, theirs = fast.encode(TEXTS), torch_based.encode(TEXTS)
    assert mine.shape == theirs.shape == (len(TEXTS), 384) and mine.dtype == np.float32
    cosines = (mine * theirs).sum(axis=1)
    assert cosines.min() >= 0.9999, cosines
    assert np.allclose(np.linalg.norm(mine, axis=1), 1.0, atol=1e-5)
    assert fast.token_counts(TEXTS[:2]) == torch_based.token_counts(TEXTS[:2])


@pytest.mark.slow
def test_questions_find_the_same_passages(real_index: Path) -> None:
    from qa.searching.query import _hits, _load

    settings = Settings()
    loaded = _load(real_index, settings)
    questions = [g.question for g in load_gold(DATA / "seeds_dev.jsonl")][:40]
    fast, torch_based = get_query_embedder(DEFAULT_MODEL), get_embedder(DEFAULT_MODEL)
    assert isinstance(fast, NumpyQueryEmbedder)
    for q in questions:
        a, _ = _hits(loaded, q, fast.encode([q])[0], 5, settings)
        b, _ = _hits(loaded, q, torch_based.encode([q])[0], 5, settings)
        assert [h.chunk_id for h in a] == [h.chunk_id for h in b], q


@pytest.mark.slow
def test_a_cold_question_never_imports_torch(real_index: Path) -> None:
    code = (
        "import sys, json; from qa import ask;"
        f"a = ask('why did Cavendish un-retire?', index_dir={str(real_index)!r});"
        "print(json.dumps({'torch': 'torch' in sys.modules, "
        "'st': 'sentence_transformers' in sys.modules, 'passages': len(a.passages)}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "torch": False,
        "st": False,
        "passages": 5,
    }


def test_hash_model_and_other_devices_keep_their_embedder() -> None:
    assert type(get_query_embedder("hash-384")).__name__ == "HashEmbedder"
