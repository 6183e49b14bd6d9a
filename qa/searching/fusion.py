"""Fusion of the signals that rank a passage (pure).

Three signals are fused for each candidate passage: the cosine similarity of the passage to the
question (dense), its BM25 score (keyword), and the best cosine of one of its sentences to the
question plus an answer-type bonus (sentence). Methods:

* ``zscore`` (default): sum of weight * (signal - mean) / std, statistics over the candidates.
  Each signal counts by how far it stands out from the other candidates, whatever its scale.
* ``convex``: the same weighted sum over min-max scaled dense and sentence scores, and BM25
  divided by the candidates' best BM25 score (BM25's floor is 0).
* ``rrf``: reciprocal rank fusion of the signals' rankings, score = sum of 1 / (k + rank).
"""

from __future__ import annotations

import numpy as np

from ..config import FUSION_METHODS


def min_max(x: np.ndarray) -> np.ndarray:
    """Scaled to [0, 1]; all ones when every value is the same."""
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        return x
    lo, hi = float(x.min()), float(x.max())
    return (x - lo) / (hi - lo) if hi > lo else np.ones_like(x)


def max_scaled(x: np.ndarray) -> np.ndarray:
    """Divided by the largest value (for scores whose floor is 0); zeros when all are 0."""
    x = np.asarray(x, dtype=np.float64)
    top = float(x.max()) if x.size else 0.0
    return x / top if top > 0 else np.zeros_like(x)


def zscore(x: np.ndarray) -> np.ndarray:
    """Standard scores; zeros when every value is the same."""
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        return x
    std = float(x.std())
    # Equal values can leave a rounding-error std; it must not be blown up into a signal.
    if std <= 1e-9 * max(1.0, float(np.abs(x).max())):
        return np.zeros_like(x)
    return (x - float(x.mean())) / std


def convex(dense: np.ndarray, keyword: np.ndarray, alpha: float) -> np.ndarray:
    """Convex combination of min-max scaled dense and max-scaled keyword scores."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError("alpha must be in [0, 1]")
    return alpha * min_max(dense) + (1.0 - alpha) * max_scaled(keyword)


def _ranks(x: np.ndarray) -> np.ndarray:
    """1-based rank of each value, highest first (ties by position)."""
    order = np.argsort(-np.asarray(x), kind="stable")
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[order] = np.arange(1, len(order) + 1)
    return ranks


def fuse(
    dense: np.ndarray,
    keyword: np.ndarray,
    sentence: np.ndarray | None,
    method: str = "zscore",
    alpha: float = 0.5,
    sentence_weight: float = 0.5,
    rrf_k: int = 60,
) -> np.ndarray:
    """One score per candidate from its dense, keyword and (optional) sentence scores.

    ``alpha`` weighs dense against keyword (alpha and 1 - alpha); ``sentence_weight`` is the
    weight of the sentence signal on top (for ``rrf``, any weight > 0 adds its ranking).
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError("alpha must be in [0, 1]")
    if sentence_weight < 0:
        raise ValueError("sentence_weight must be >= 0")
    dense = np.asarray(dense, dtype=np.float64)
    keyword = np.asarray(keyword, dtype=np.float64)
    use_sentence = sentence is not None and sentence_weight > 0
    if method == "rrf":
        # A candidate without any keyword match is left out of the keyword ranking.
        out = 1.0 / (rrf_k + _ranks(dense)) + np.where(
            keyword > 0, 1.0 / (rrf_k + _ranks(keyword)), 0.0
        )
        if use_sentence:
            out += 1.0 / (rrf_k + _ranks(np.asarray(sentence)))
        return out
    if method == "zscore":
        out = alpha * zscore(dense) + (1.0 - alpha) * zscore(keyword)
        if use_sentence:
            out += sentence_weight * zscore(np.asarray(sentence))
        return out
    if method == "convex":
        out = convex(dense, keyword, alpha)
        if use_sentence:
            out += sentence_weight * min_max(np.asarray(sentence))
        return out
    raise ValueError(f"unknown fusion method {method!r}; use one of {', '.join(FUSION_METHODS)}")
