"""Ranking chunks for a query: dense (FAISS), keyword (BM25) and their fusion."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .fusion import convex, rrf
from .store import StoredIndex

DEFAULT_ALPHA = 0.5


@dataclass(frozen=True)
class Scored:
    row: int
    score: float
    dense: float
    keyword: float


def _top(scores: np.ndarray, n: int) -> np.ndarray:
    n = min(n, len(scores))
    if n <= 0:
        return np.empty(0, dtype=np.int64)
    part = np.argpartition(-scores, n - 1)[:n]
    return part[np.argsort(-scores[part], kind="stable")]


def rank(
    index: StoredIndex,
    query: str,
    query_vector: np.ndarray,
    n: int,
    mode: str = "hybrid",
    candidates: int = 100,
    fusion: str = "convex",
    alpha: float = DEFAULT_ALPHA,
) -> list[Scored]:
    """The best ``n`` chunks for the query, best first."""
    total = len(index.chunks)
    if total == 0:
        return []
    q = np.ascontiguousarray(query_vector.reshape(1, -1), dtype=np.float32)
    kw_all = index.keyword.scores(query) if mode != "dense" else np.zeros(total, np.float32)
    if mode == "keyword":
        rows = _top(kw_all, n)
        dense = index.vectors[rows] @ q[0]
        return [
            Scored(int(r), float(kw_all[r]), float(d), float(kw_all[r]))
            for r, d in zip(rows, dense, strict=True)
            if kw_all[r] > 0
        ]
    depth = min(max(n, candidates), total)
    d_scores, d_rows = index.dense.search(q, depth)
    d_rows, d_scores = d_rows[0], d_scores[0]
    keep = d_rows >= 0
    d_rows, d_scores = d_rows[keep], d_scores[keep]
    if mode == "dense":
        return [
            Scored(int(r), float(s), float(s), float(kw_all[r]))
            for r, s in zip(d_rows[:n], d_scores[:n], strict=True)
        ]
    k_rows = [int(r) for r in _top(kw_all, depth) if kw_all[r] > 0]
    union = np.array(sorted(set(map(int, d_rows)) | set(k_rows)), dtype=np.int64)
    dense = index.vectors[union] @ q[0]
    kw = kw_all[union]
    if fusion == "rrf":
        fused_map = rrf([list(map(int, d_rows)), k_rows])
        fused = np.array([fused_map[int(r)] for r in union])
    else:
        fused = convex(dense, kw, alpha)
    order = np.argsort(-fused, kind="stable")[:n]
    return [Scored(int(union[i]), float(fused[i]), float(dense[i]), float(kw[i])) for i in order]
