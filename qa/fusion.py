"""Fusion of dense and keyword scores (pure).

* ``rrf``: reciprocal rank fusion, score = sum over rankings of 1 / (k + rank), rank from 1.
* ``convex``: alpha * dense' + (1 - alpha) * keyword', where dense' is the cosine similarity
  min-max scaled over the candidates and keyword' is the BM25 score divided by the candidates'
  best BM25 score (BM25's floor is 0). Unlike RRF it keeps how far apart the scores are.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def rrf(rankings: Sequence[Sequence[int]], k: int = 60) -> dict[int, float]:
    """Reciprocal rank fusion of ranked id lists (best first)."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return scores


def convex(dense: np.ndarray, keyword: np.ndarray, alpha: float) -> np.ndarray:
    """Convex combination of scaled dense and keyword scores of the same candidates."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError("alpha must be in [0, 1]")
    dense = np.asarray(dense, dtype=np.float64)
    keyword = np.asarray(keyword, dtype=np.float64)
    if dense.size == 0:
        return dense
    lo, hi = float(dense.min()), float(dense.max())
    d = (dense - lo) / (hi - lo) if hi > lo else np.ones_like(dense)
    top = float(keyword.max())
    kw = keyword / top if top > 0 else np.zeros_like(keyword)
    return alpha * d + (1.0 - alpha) * kw
