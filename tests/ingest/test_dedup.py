"""Near-duplicate collapse against hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from qa.ingest.dedup import collapse, jaccard, shingles


def test_shingles_and_jaccard() -> None:
    a = shingles("The cat sat on the mat")
    assert ("the", "cat", "sat") in a and len(a) == 4
    b = shingles("the cat sat on a mat")
    # shared: (the cat sat), (cat sat on); union 4 + 4 - 2 = 6
    assert jaccard(a, b) == pytest.approx(2 / 6)
    assert jaccard(frozenset(), frozenset()) == 1.0
    assert shingles("two words") == frozenset({("two", "words")})


def test_collapse_folds_copies_and_keeps_their_sources() -> None:
    text = "Vinokourov broke his femur in 2011 and won gold in London the next year."
    texts = [text, text.upper(), "A different passage about tandem bikes entirely.", text]
    sources = ["a.txt", "b.txt", "c.txt", "a.txt"]
    v = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    assert collapse(texts, sources, v, keep=5) == [(0, ("b.txt",)), (2, ())]


def test_similar_meaning_but_different_words_is_not_collapsed() -> None:
    texts = [
        "Cavendish crashed and broke his collarbone.",
        "A fall fractured the rider's clavicle.",
    ]
    v = np.array([[1.0, 0.0], [0.99, 0.141]])
    assert collapse(texts, ["a", "b"], v, keep=5) == [(0, ()), (1, ())]


def test_keep_limits_the_passages_but_later_copies_still_add_sources() -> None:
    texts = ["alpha beta gamma delta", "epsilon zeta eta theta", "alpha beta gamma delta"]
    v = np.eye(3)[[0, 1, 0]]
    assert collapse(texts, ["x", "y", "z"], v, keep=1) == [(0, ("z",))]
