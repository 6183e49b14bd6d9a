"""Ranking chunks for a query: dense (FAISS), keyword (BM25), and their fusion with the
best-sentence signal.

Hybrid ranking takes the union of the dense and the keyword top candidates, computes all three
signals for every candidate (exact cosine from the stored vectors, BM25, and the best cosine of
one of the chunk's sentences plus the answer-type bonus), and fuses them (``qa.searching.fusion``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..answer.answertype import RANKING_KINDS, W_TYPE, asked, held
from ..answer.extractive import MIN_SENTENCE_WORDS
from ..indexing.index import StoredIndex
from .fusion import fuse

_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Scored:
    row: int
    score: float
    dense: float
    keyword: float
    sentence: float | None = None  # best sentence cosine (+ answer-type bonus), where computed


def _word_count(sentence: str) -> int:
    return len(_WORD.findall(sentence))


class SentenceFacts:
    """What ranking needs to know of each sentence of an index beyond its vector, computed on
    first use and kept: the answer kinds it holds (qa.answer.answertype bit mask) and its word
    count.
    They are computed a chunk at a time (one text read for all of its sentences)."""

    def __init__(self, index: StoredIndex) -> None:
        self._index = index
        self._kinds = np.full(len(index.sentence_spans), -1, dtype=np.int8)  # -1: not yet
        self._words = np.full(len(index.sentence_spans), -1, dtype=np.int32)

    def _fill(self, values: np.ndarray, rows: np.ndarray, measure: Callable[[str], int]) -> None:
        """Compute values for the sentences of the chunk rows that lack them."""
        index = self._index
        for row in rows:
            a, b = int(index.sentence_first[row]), int(index.sentence_stop[row])
            missing = np.flatnonzero(values[a:b] < 0)
            if missing.size:
                _, texts = index.sentence_texts(int(row))
                for i in missing:
                    values[a + i] = measure(texts[i])

    def kinds(self, rows: np.ndarray, sentence_rows: np.ndarray) -> np.ndarray:
        """The answer-kind bit mask of each sentence row (all of them sentences of the chunk
        rows)."""
        self._fill(self._kinds, rows, held)
        return np.asarray(self._kinds[sentence_rows], dtype=np.int8)

    def words(self, rows: np.ndarray, sentence_rows: np.ndarray) -> np.ndarray:
        """The word count of each sentence row (all of them sentences of the chunk rows)."""
        self._fill(self._words, rows, _word_count)
        return np.asarray(self._words[sentence_rows], dtype=np.int32)


def best_sentence(
    index: StoredIndex,
    facts: SentenceFacts,
    rows: np.ndarray,
    query_vector: np.ndarray,
    question: str = "",
) -> np.ndarray:
    """For each chunk row, the highest cosine between the query and one of its sentences of at
    least MIN_SENTENCE_WORDS words, plus W_TYPE when that sentence holds the kind of answer the
    question asks for."""
    rows = np.asarray(rows, dtype=np.int64)
    if rows.size == 0:
        return np.empty(0, dtype=np.float32)
    first, stop = index.sentence_first[rows], index.sentence_stop[rows]
    lengths = stop - first
    offsets = np.zeros(len(rows), dtype=np.int64)
    np.cumsum(lengths[:-1], out=offsets[1:])
    # Sentence row of every (chunk, sentence) pair, chunk by chunk.
    flat = np.repeat(first - offsets, lengths) + np.arange(int(lengths.sum()))
    q = np.asarray(query_vector, dtype=np.float32)
    sims = index.sentence_vectors[flat] @ q
    mask = asked(question) & RANKING_KINDS
    if mask:
        sims = sims + W_TYPE * ((facts.kinds(rows, flat) & mask) != 0)
    # A fragment (a heading, "But Cav's still Cav.") answers nothing, yet being short it sits
    # close to every question on its topic; it does not count. A chunk of fragments only
    # falls back to its own cosine.
    sims = np.where(facts.words(rows, flat) >= MIN_SENTENCE_WORDS, sims, -np.inf)
    best = np.maximum.reduceat(sims, offsets)
    fragments_only = ~np.isfinite(best)
    if fragments_only.any():
        best[fragments_only] = index.vectors[rows[fragments_only]] @ q
    return best


def rank(
    index: StoredIndex,
    facts: SentenceFacts,
    query: str,
    query_vector: np.ndarray,
    n: int,
    mode: str = "hybrid",
    candidates: int = 100,
    fusion: str = "zscore",
    alpha: float = 0.5,
    sentence_weight: float = 0.5,
) -> list[Scored]:
    """The best ``n`` chunks for the query, best first."""
    total = len(index.chunks)
    if total == 0:
        return []
    q = np.ascontiguousarray(query_vector.reshape(1, -1), dtype=np.float32)
    if mode == "keyword":
        rows, kw = index.keyword.top(query, n)
        dense = index.vectors[rows] @ q[0]
        return [
            Scored(int(r), float(k), float(d), float(k))
            for r, k, d in zip(rows, kw, dense, strict=True)
        ]
    depth = min(max(n, candidates), total)
    d_scores, d_rows = index.dense.search(q, depth)
    d_rows, d_scores = d_rows[0], d_scores[0]
    keep = d_rows >= 0
    d_rows, d_scores = d_rows[keep], d_scores[keep]
    if mode == "dense":
        d_rows, d_scores = d_rows[:n], d_scores[:n]
        kw = index.keyword.scores_of(query, d_rows)
        return [
            Scored(int(r), float(s), float(s), float(k))
            for r, s, k in zip(d_rows, d_scores, kw, strict=True)
        ]
    k_rows, _ = index.keyword.top(query, depth)
    union = np.union1d(d_rows.astype(np.int64), k_rows)
    dense = index.vectors[union] @ q[0]
    kw = index.keyword.scores_of(query, union)
    sentence = best_sentence(index, facts, union, q[0], query) if sentence_weight > 0 else None
    fused = fuse(dense, kw, sentence, fusion, alpha, sentence_weight)
    order = np.argsort(-fused, kind="stable")[:n]
    return [
        Scored(
            int(union[i]),
            float(fused[i]),
            float(dense[i]),
            float(kw[i]),
            None if sentence is None else float(sentence[i]),
        )
        for i in order
    ]
