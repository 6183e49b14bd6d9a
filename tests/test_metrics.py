"""Ranking and calibration metrics against hand-computed values."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qa.metrics import (
    dedupe,
    expected_calibration_error,
    mrr_at,
    ndcg_at,
    percentile,
    recall_at,
    reliability,
)


def test_ndcg_graded_with_log2_discount() -> None:
    qrels = {"a": 2, "b": 1}
    # ranking b, x, a: DCG = 1/log2(2) + 2/log2(4) = 1 + 1 = 2; IDCG = 2/1 + 1/log2(3)
    expected = 2 / (2 + 1 / math.log2(3))
    assert ndcg_at(["b", "x", "a"], qrels, 10) == pytest.approx(expected)
    assert ndcg_at(["a", "b"], qrels, 10) == pytest.approx(1.0)
    assert ndcg_at(["x", "y"], qrels, 10) == 0.0
    assert ndcg_at(["b", "x", "a"], qrels, 1) == pytest.approx(1 / 2)


def test_recall_and_mrr() -> None:
    qrels = {"a": 1, "b": 1, "c": 0}
    assert recall_at(["x", "a", "c"], qrels, 2) == 0.5
    assert recall_at(["x", "a", "b"], qrels, 3) == 1.0
    assert mrr_at(["x", "c", "b"], qrels, 10) == pytest.approx(1 / 3)
    assert mrr_at(["x", "c", "b"], qrels, 2) == 0.0
    assert recall_at(["a"], {}, 5) == 0.0


def test_dedupe_keeps_best_rank_and_percentile() -> None:
    assert dedupe(["d1", "d2", "d1", "d3", "d2"]) == ["d1", "d2", "d3"]
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([10], 95) == 10
    assert percentile([], 50) == 0.0
    assert percentile([0, 10], 95) == pytest.approx(9.5)


def test_reliability_bins_hand_example() -> None:
    confidences = [0.05, 0.15, 0.12, 0.95, 1.0]
    correct = [False, True, False, True, True]
    rows = reliability(confidences, correct)
    # (low, high, count, mean confidence, accuracy) of the non-empty bins only
    expected = [
        (0.0, 0.1, 1, 0.05, 0.0),
        (0.1, 0.2, 2, (0.15 + 0.12) / 2, 0.5),
        (0.9, 1.0, 2, (0.95 + 1.0) / 2, 1.0),
    ]
    assert len(rows) == len(expected)
    for row, want in zip(rows, expected, strict=True):
        assert row[2] == want[2]
        assert row == pytest.approx(want)


def test_reliability_bin_edges() -> None:
    # a confidence of exactly 1.0 lands in the last bin; a bin's low edge belongs to it
    assert reliability([1.0], [True]) == [pytest.approx((0.9, 1.0, 1, 1.0, 1.0))]
    assert reliability([0.5], [False], bins=2) == [pytest.approx((0.5, 1.0, 1, 0.5, 0.0))]
    assert reliability([0.0, 1.0], [True, False], bins=1) == [
        pytest.approx((0.0, 1.0, 2, 0.5, 0.5))
    ]
    assert reliability([], []) == []


def test_reliability_needs_one_flag_per_confidence() -> None:
    with pytest.raises(ValueError):
        reliability([0.5, 0.6], [True])
    with pytest.raises(ValueError):
        expected_calibration_error([0.5], [True, False])


_PREDICTIONS = st.lists(st.tuples(st.floats(0.0, 1.0), st.booleans()), max_size=40)


@given(_PREDICTIONS, st.integers(1, 20))
def test_reliability_counts_sum_to_n(predictions: list[tuple[float, bool]], bins: int) -> None:
    confidences = [c for c, _ in predictions]
    correct = [ok for _, ok in predictions]
    rows = reliability(confidences, correct, bins)
    assert sum(count for _, _, count, _, _ in rows) == len(confidences)
    assert sum(count * acc for _, _, count, _, acc in rows) == pytest.approx(sum(correct))
    for low, high, count, mean, accuracy in rows:
        assert count > 0
        assert low - 1e-12 <= mean <= high + 1e-12
        assert 0.0 <= accuracy <= 1.0


def test_ece_is_zero_when_every_bin_is_calibrated() -> None:
    # ten at 0.3 with three right (bin mean 0.3, accuracy 0.3); four at 0.75 with three right
    confidences = [0.3] * 10 + [0.75] * 4
    correct = [True] * 3 + [False] * 7 + [True] * 3 + [False]
    assert expected_calibration_error(confidences, correct) == pytest.approx(0.0, abs=1e-12)
    assert expected_calibration_error([], []) == 0.0


def test_ece_hand_example() -> None:
    # bin [0.9, 1.0]: 0.9, 0.9 with one right: mean 0.9, accuracy 0.5, gap 0.4, weight 2/4
    # bin [0.2, 0.3): 0.2, 0.2 with none right: mean 0.2, accuracy 0.0, gap 0.2, weight 2/4
    # ECE = 0.5 * 0.4 + 0.5 * 0.2 = 0.3
    ece = expected_calibration_error([0.9, 0.9, 0.2, 0.2], [True, False, False, False])
    assert ece == pytest.approx(0.3)
    # always confident and always wrong: the worst case
    assert expected_calibration_error([1.0, 1.0], [False, False]) == pytest.approx(1.0)


@given(_PREDICTIONS, st.integers(1, 20))
def test_ece_between_zero_and_one(predictions: list[tuple[float, bool]], bins: int) -> None:
    confidences = [c for c, _ in predictions]
    correct = [ok for _, ok in predictions]
    assert 0.0 <= expected_calibration_error(confidences, correct, bins) <= 1.0
