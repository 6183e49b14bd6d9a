"""Ranking metrics with the definitions of BEIR / pytrec_eval (pure).

``ranking`` is a list of document ids, best first (each id once); ``qrels`` maps relevant
document ids to graded relevance (> 0 relevant).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def ndcg_at(ranking: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """nDCG@k with gain = relevance grade and a log2(rank + 1) discount."""
    dcg = sum(
        qrels.get(doc, 0) / math.log2(rank + 1)
        for rank, doc in enumerate(ranking[:k], start=1)
        if qrels.get(doc, 0) > 0
    )
    ideal = sorted((g for g in qrels.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(rank + 1) for rank, g in enumerate(ideal, start=1))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at(ranking: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    relevant = {d for d, g in qrels.items() if g > 0}
    if not relevant:
        return 0.0
    return len(relevant & set(ranking[:k])) / len(relevant)


def mrr_at(ranking: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    for rank, doc in enumerate(ranking[:k], start=1):
        if qrels.get(doc, 0) > 0:
            return 1.0 / rank
    return 0.0


def dedupe(ranking: Sequence[str]) -> list[str]:
    """Keep each id at its best (first) rank: a document ranks where its best chunk ranks."""
    seen: set[str] = set()
    out = []
    for doc in ranking:
        if doc not in seen:
            seen.add(doc)
            out.append(doc)
    return out


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation, as numpy's default."""
    if not values:
        return 0.0
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def reliability(
    confidences: Sequence[float], correct: Sequence[bool], bins: int = 10
) -> list[tuple[float, float, int, float, float]]:
    """Confidence bins against observed accuracy: (low, high, count, mean confidence,
    accuracy) for each non-empty bin of equal width over [0, 1]."""
    if len(confidences) != len(correct):
        raise ValueError("one correctness flag per confidence")
    if any(not 0.0 <= c <= 1.0 for c in confidences):  # NaN fails too
        raise ValueError("confidences must lie in [0, 1]")
    rows = []
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        inside = [
            (c, ok)
            for c, ok in zip(confidences, correct, strict=True)
            if low <= c < high or (b == bins - 1 and c == high)
        ]
        if inside:
            mean = sum(c for c, _ in inside) / len(inside)
            accuracy = sum(ok for _, ok in inside) / len(inside)
            rows.append((low, high, len(inside), mean, accuracy))
    return rows


def expected_calibration_error(
    confidences: Sequence[float], correct: Sequence[bool], bins: int = 10
) -> float:
    """Sum over bins of (share of the predictions in the bin) x |accuracy - mean confidence|."""
    rows = reliability(confidences, correct, bins)  # validates the inputs
    n = len(confidences)
    if n == 0:
        return 0.0
    return sum(count / n * abs(accuracy - mean) for _, _, count, mean, accuracy in rows)
