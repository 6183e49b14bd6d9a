"""Tests of the best-sentence signal (qa.searching.retrieval.best_sentence) and answer kinds
(qa.answer.answertype), on a hand-made index of three chunks and six sentences."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import qa.searching.retrieval
from qa import Settings, build_index, search
from qa.answer.answertype import W_TYPE, held
from qa.indexing.index import ChunkRows, IndexData, StoredIndex, load_index, save_index
from qa.indexing.keyword import KeywordIndex
from qa.indexing.manifest import Boilerplate, DocumentRecord, Manifest, ModelInfo
from qa.searching.retrieval import MIN_SENTENCE_WORDS, SentenceFacts, best_sentence
from qa.types import Chunk

SENTENCES = [
    "He won the sprint stage in 2021.",
    "The whole team was very happy afterwards.",
    "Fans along the road cheered him loudly.",
    "He crashed badly on the next stage.",
    "Rain fell all day long there.",
    "Astana 2024",  # a fragment: fewer than MIN_SENTENCE_WORDS words
]
TEXT = " ".join(SENTENCES)


def _chunk(first: int, last: int, spans: np.ndarray) -> Chunk:
    a, b = int(spans[first][0]), int(spans[last - 1][1])
    return Chunk("a.txt", a, b, TEXT[a:b], "T", None, "h", first, last)


@pytest.fixture
def index(tmp_path: Path) -> StoredIndex:
    """Three chunks of one document, written and loaded as an index is."""
    starts = [TEXT.index(s) for s in SENTENCES]
    spans = np.array([[a, a + len(s)] for a, s in zip(starts, SENTENCES, strict=True)])
    # Chunk 0: sentences 0-2; chunk 1: sentences 2-4 (sentence 2 is the overlap); chunk 2: the
    # fragment alone.
    chunks = [_chunk(0, 3, spans), _chunk(2, 5, spans), _chunk(5, 6, spans)]
    unit = np.eye(4, dtype=np.float32)
    sentence_vectors = np.stack([unit[0], unit[1], unit[2], unit[3], unit[0] * 0.5, unit[1]])
    document = DocumentRecord(
        "a.txt", "h", len(TEXT), 0, "T", None, 0, 3, 0, 6, Boilerplate(False, 0, len(TEXT))
    )
    data = IndexData(
        documents=[document],
        chunks=ChunkRows.write(chunks, [document], tmp_path / "chunks.txt"),
        vectors=np.stack([unit[0], unit[3], unit[1] * 0.3]),
        keyword=KeywordIndex.build([c.text for c in chunks]),
        sentence_spans=spans.astype(np.int64),
        sentence_vectors=sentence_vectors,
        texts={},
    )
    manifest = Manifest("", "", ModelInfo("test", 4), {}, {}, files=1)
    save_index(tmp_path / "index", manifest, data)
    return load_index(tmp_path / "index")


def _best(index: StoredIndex, rows: np.ndarray, q: np.ndarray, question: str = "") -> np.ndarray:
    return best_sentence(index, SentenceFacts(index), rows, q, question)


def test_sentence_text_follows_spans(index: StoredIndex) -> None:
    assert [index.sentence_text(i) for i in range(6)] == SENTENCES


def test_best_sentence_is_the_max_over_each_chunks_own_sentences(index: StoredIndex) -> None:
    q = np.array([0.1, 0.2, 0.9, 0.0], dtype=np.float32)
    # chunk 0: max(0.1, 0.2, 0.9); chunk 1: max(0.9, 0.0, 0.05)
    np.testing.assert_allclose(_best(index, np.array([0, 1]), q), [0.9, 0.9])
    q = np.array([0.8, 0.0, 0.0, 0.3], dtype=np.float32)
    np.testing.assert_allclose(_best(index, np.array([1, 0]), q), [0.4, 0.8])
    assert _best(index, np.array([], dtype=np.int64), q).shape == (0,)


def test_answer_type_bonus_goes_to_sentences_holding_the_kind_asked_for(index: StoredIndex) -> None:
    q = np.array([0.5, 0.0, 0.6, 0.0], dtype=np.float32)
    # "when" asks for a date: only sentence 0 ("... in 2021.") gets the bonus.
    out = _best(index, np.array([0, 1]), q, "When did he win?")
    np.testing.assert_allclose(out, [max(0.5 + W_TYPE, 0.6), 0.6])
    plain = _best(index, np.array([0, 1]), q, "Did he win?")
    np.testing.assert_allclose(plain, [0.6, 0.6])


def test_fragments_do_not_count_and_a_chunk_of_fragments_falls_back_to_its_cosine(
    index: StoredIndex,
) -> None:
    q = np.array([0.0, 0.9, 0.0, 0.0], dtype=np.float32)
    # The fragment's vector matches best (0.9), but it has 2 words: chunk 2 scores its own
    # cosine 0.27, chunk 0 its 7-word sentence 1 (0.9).
    assert MIN_SENTENCE_WORDS > 2
    np.testing.assert_allclose(_best(index, np.array([2, 0]), q), [0.27, 0.9])


def test_sentence_kinds_and_words_are_computed_once_and_cached(
    index: StoredIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []

    def counting(sentence: str) -> int:
        seen.append(sentence)
        return held(sentence)

    monkeypatch.setattr(qa.searching.retrieval, "held", counting)
    facts = SentenceFacts(index)
    # Chunk 1 holds sentences 2-4, chunk 0 sentences 0-2.
    kinds = facts.kinds(np.array([1]), np.array([3, 2]))
    assert kinds.tolist() == [held(SENTENCES[3]), held(SENTENCES[2])]
    assert seen == SENTENCES[2:5]  # every sentence of the chunk, once
    both = facts.kinds(np.array([0, 1]), np.array([0, 1, 2, 2, 3, 4]))
    assert both.tolist() == [held(s) for s in SENTENCES[:3] + SENTENCES[2:5]]
    assert seen == SENTENCES[2:5] + SENTENCES[:2]  # only chunk 0's new ones
    assert facts.words(np.array([2, 0]), np.array([5, 0])).tolist() == [2, 7]


def test_querying_an_index_limits_blas_but_not_torch_threads(
    corpus: Path, tmp_path: Path, hash_settings: Settings
) -> None:
    import torch  # a declared dependency: its absence is a failure, not a skip
    from threadpoolctl import threadpool_info

    build_index(corpus, tmp_path / "index", settings=hash_settings)
    before = torch.get_num_threads()
    search("Cavendish", index_dir=tmp_path / "index", settings=hash_settings)
    assert torch.get_num_threads() == before
    blas = [p for p in threadpool_info() if p["user_api"] == "blas"]
    assert blas and all(p["num_threads"] == 1 for p in blas)
