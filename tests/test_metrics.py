"""Ranking metrics against hand-computed values."""

from __future__ import annotations

import math

import pytest

from qa.metrics import dedupe, hit_at, mrr_at, ndcg_at, percentile, recall_at


def test_ndcg_graded_with_log2_discount() -> None:
    qrels = {"a": 2, "b": 1}
    # ranking b, x, a: DCG = 1/log2(2) + 2/log2(4) = 1 + 1 = 2; IDCG = 2/1 + 1/log2(3)
    expected = 2 / (2 + 1 / math.log2(3))
    assert ndcg_at(["b", "x", "a"], qrels, 10) == pytest.approx(expected)
    assert ndcg_at(["a", "b"], qrels, 10) == pytest.approx(1.0)
    assert ndcg_at(["x", "y"], qrels, 10) == 0.0
    assert ndcg_at(["b", "x", "a"], qrels, 1) == pytest.approx(1 / 2)


def test_recall_mrr_hit() -> None:
    qrels = {"a": 1, "b": 1, "c": 0}
    assert recall_at(["x", "a", "c"], qrels, 2) == 0.5
    assert recall_at(["x", "a", "b"], qrels, 3) == 1.0
    assert mrr_at(["x", "c", "b"], qrels, 10) == pytest.approx(1 / 3)
    assert mrr_at(["x", "c", "b"], qrels, 2) == 0.0
    assert hit_at(["x", "b"], qrels, 2) == 1.0 and hit_at(["x", "b"], qrels, 1) == 0.0
    assert recall_at(["a"], {}, 5) == 0.0


def test_dedupe_keeps_best_rank_and_percentile() -> None:
    assert dedupe(["d1", "d2", "d1", "d3", "d2"]) == ["d1", "d2", "d3"]
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([10], 95) == 10
    assert percentile([], 50) == 0.0
    assert percentile([0, 10], 95) == pytest.approx(9.5)
