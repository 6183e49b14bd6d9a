"""Tests of qa.fusion: reciprocal rank fusion and the convex combination, hand-computed."""

from __future__ import annotations

import numpy as np
import pytest

from qa.fusion import convex, rrf


def test_rrf_same_item_first_in_both_lists() -> None:
    scores = rrf([[7, 3], [7, 5]])
    assert scores[7] == pytest.approx(2 / 61)
    assert scores[3] == pytest.approx(1 / 62)
    assert scores[5] == pytest.approx(1 / 62)
    assert set(scores) == {3, 5, 7}


def test_rrf_hand_computed_three_items() -> None:
    # dense: 1, 2, 3 ; keyword: 3, 1
    scores = rrf([[1, 2, 3], [3, 1]])
    assert scores[1] == pytest.approx(1 / 61 + 1 / 62)
    assert scores[2] == pytest.approx(1 / 62)
    assert scores[3] == pytest.approx(1 / 63 + 1 / 61)
    order = sorted(scores, key=lambda i: -scores[i])
    assert order == [1, 3, 2]


def test_rrf_custom_k() -> None:
    scores = rrf([[4, 9]], k=0)
    assert scores == {4: pytest.approx(1.0), 9: pytest.approx(0.5)}


def test_rrf_empty() -> None:
    assert rrf([]) == {}
    assert rrf([[], []]) == {}


def test_rrf_single_list_preserves_order() -> None:
    scores = rrf([[10, 20, 30]])
    assert scores == {
        10: pytest.approx(1 / 61),
        20: pytest.approx(1 / 62),
        30: pytest.approx(1 / 63),
    }


def test_convex_hand_computed() -> None:
    dense = np.array([0.2, 0.6, 0.4])  # min-max -> 0, 1, 0.5
    keyword = np.array([4.0, 0.0, 8.0])  # / 8 -> 0.5, 0, 1
    out = convex(dense, keyword, 0.5)
    np.testing.assert_allclose(out, [0.25, 0.5, 0.75])


def test_convex_alpha_weights() -> None:
    dense = np.array([0.2, 0.6, 0.4])
    keyword = np.array([4.0, 0.0, 8.0])
    np.testing.assert_allclose(convex(dense, keyword, 0.25), [0.375, 0.25, 0.875])


def test_convex_alpha_one_is_scaled_dense_only() -> None:
    dense = np.array([0.1, 0.3, 0.5])
    keyword = np.array([10.0, 5.0, 0.0])
    np.testing.assert_allclose(convex(dense, keyword, 1.0), [0.0, 0.5, 1.0])


def test_convex_alpha_zero_is_scaled_keyword_only() -> None:
    dense = np.array([0.1, 0.3, 0.5])
    keyword = np.array([10.0, 5.0, 0.0])
    np.testing.assert_allclose(convex(dense, keyword, 0.0), [1.0, 0.5, 0.0])


def test_convex_negative_dense_scores() -> None:
    dense = np.array([-0.5, 0.5])
    keyword = np.array([0.0, 0.0])
    np.testing.assert_allclose(convex(dense, keyword, 1.0), [0.0, 1.0])


def test_convex_all_equal_dense_scores_count_as_one() -> None:
    dense = np.array([0.3, 0.3, 0.3])
    keyword = np.array([2.0, 1.0, 0.0])
    np.testing.assert_allclose(convex(dense, keyword, 0.5), [1.0, 0.75, 0.5])
    np.testing.assert_allclose(convex(dense, keyword, 1.0), [1.0, 1.0, 1.0])


def test_convex_all_zero_keyword_scores_count_as_zero() -> None:
    dense = np.array([0.2, 0.6, 0.4])
    keyword = np.zeros(3)
    out = convex(dense, keyword, 0.5)
    assert not np.isnan(out).any()
    np.testing.assert_allclose(out, [0.0, 0.5, 0.25])
    np.testing.assert_allclose(convex(dense, keyword, 0.0), [0.0, 0.0, 0.0])


def test_convex_accepts_lists_and_returns_float64() -> None:
    out = convex([1, 2], [0, 3], 0.5)  # type: ignore[arg-type]
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, [0.0, 1.0])


def test_convex_single_candidate() -> None:
    np.testing.assert_allclose(convex(np.array([0.7]), np.array([3.0]), 0.3), [1.0])


def test_convex_empty() -> None:
    out = convex(np.array([]), np.array([]), 0.5)
    assert out.shape == (0,)


@pytest.mark.parametrize("alpha", [-0.01, 1.01, -1.0, 2.0, float("nan")])
def test_convex_alpha_out_of_range_raises(alpha: float) -> None:
    with pytest.raises(ValueError, match="alpha"):
        convex(np.array([0.1, 0.2]), np.array([1.0, 2.0]), alpha)
