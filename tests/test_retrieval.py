"""Tests of the best-sentence signal (qa.retrieval.best_sentence) and answer kinds
(qa.answertype), on a hand-made index of two chunks and five sentences."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa.answertype import W_TYPE, asked, held, type_match
from qa.retrieval import best_sentence
from qa.store import StoredIndex
from qa.types import Chunk

TEXT = "He won in 2021. The team was happy. Fans cheered loudly. He crashed. It rained."
#       0               16                  36                  57          69


def _index() -> StoredIndex:
    spans = np.array([[0, 15], [16, 35], [36, 56], [57, 68], [69, 80]], dtype=np.int64)
    # Chunk 0: sentences 0-2; chunk 1: sentences 2-4 (sentence 2 is the overlap).
    chunks = [
        Chunk("a.txt", 0, 56, TEXT[0:56], "T", None, "h", 0, 3),
        Chunk("a.txt", 36, 80, TEXT[36:80], "T", None, "h", 2, 5),
    ]
    unit = np.eye(4, dtype=np.float32)
    sentence_vectors = np.stack([unit[0], unit[1], unit[2], unit[3], unit[0] * 0.5])
    return StoredIndex(
        Path("."),
        "gen-test",
        {"model": {"id": "test", "dimension": 4}},
        chunks,
        np.stack([unit[0], unit[3]]),
        None,
        None,  # type: ignore[arg-type]
        spans,
        sentence_vectors,
    )


def test_sentence_text_follows_spans() -> None:
    index = _index()
    assert [index.sentence_text(i) for i in range(5)] == [
        "He won in 2021.",
        "The team was happy.",
        "Fans cheered loudly.",
        "He crashed.",
        "It rained.",
    ]


def test_best_sentence_is_the_max_over_each_chunks_own_sentences() -> None:
    index = _index()
    q = np.array([0.1, 0.2, 0.9, 0.0], dtype=np.float32)
    # chunk 0: max(0.1, 0.2, 0.9); chunk 1: max(0.9, 0.0, 0.05)
    np.testing.assert_allclose(best_sentence(index, np.array([0, 1]), q), [0.9, 0.9])
    q = np.array([0.8, 0.0, 0.0, 0.3], dtype=np.float32)
    np.testing.assert_allclose(best_sentence(index, np.array([1, 0]), q), [0.4, 0.8])
    assert best_sentence(index, np.array([], dtype=np.int64), q).shape == (0,)


def test_answer_type_bonus_goes_to_sentences_holding_the_kind_asked_for() -> None:
    index = _index()
    q = np.array([0.5, 0.0, 0.6, 0.0], dtype=np.float32)
    # "when" asks for a date: only sentence 0 ("... in 2021.") gets the bonus.
    out = best_sentence(index, np.array([0, 1]), q, "When did he win?")
    np.testing.assert_allclose(out, [max(0.5 + W_TYPE, 0.6), 0.6])
    plain = best_sentence(index, np.array([0, 1]), q, "Did he win?")
    np.testing.assert_allclose(plain, [0.6, 0.6])


def test_sentence_kinds_are_computed_once_and_cached() -> None:
    index = _index()
    rows = np.array([0, 3])
    first = index.sentence_kinds(rows)
    assert first.tolist() == [held("He won in 2021."), held("He crashed.")]
    index.sentence_spans[0] = [16, 35]  # would change the text, but the kind is cached
    assert index.sentence_kinds(rows).tolist() == first.tolist()


@pytest.mark.parametrize(
    ("question", "sentence", "match"),
    [
        ("why did he stop?", "He stopped because of the crash.", True),
        ("why did he stop?", "He stopped on Monday.", False),
        ("When did he sign?", "He signed in 2023.", True),
        ("how many stages did he win?", "He won four stages.", True),
        ("how many stages did he win?", "He won stages.", False),
        ("Who is the coach?", "He won 4 stages in 2021 because of the train.", False),
    ],
)
def test_type_match(question: str, sentence: str, match: bool) -> None:
    assert bool(asked(question) & held(sentence)) is match
    assert type_match(question, [sentence]).tolist() == [1.0 if match else 0.0]
