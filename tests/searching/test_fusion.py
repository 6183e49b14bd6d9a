"""Tests of qa.searching.fusion: reciprocal rank fusion, the convex combination and z-score fusion,
hand-computed, plus properties of the fused order."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from qa.searching.fusion import convex, fuse, max_scaled, min_max, zscore


def test_fuse_rrf_hand_computed() -> None:
    # dense ranks items 0, 1, 2; keyword ranks 2, 0 and has no match for item 1
    dense = np.array([0.9, 0.5, 0.1])
    keyword = np.array([2.0, 0.0, 3.0])
    scores = fuse(dense, keyword, None, method="rrf")
    assert scores[0] == pytest.approx(1 / 61 + 1 / 62)
    assert scores[1] == pytest.approx(1 / 62)  # no keyword match: no keyword term
    assert scores[2] == pytest.approx(1 / 63 + 1 / 61)
    assert list(np.argsort(-scores)) == [0, 2, 1]


def test_fuse_rrf_custom_k_and_sentence_ranking() -> None:
    dense, keyword, sentence = np.array([2.0, 1.0]), np.array([0.0, 0.0]), np.array([0.0, 1.0])
    scores = fuse(dense, keyword, None, method="rrf", rrf_k=0)
    assert list(scores) == [pytest.approx(1.0), pytest.approx(0.5)]
    with_sentence = fuse(dense, keyword, sentence, method="rrf", rrf_k=0)
    assert list(with_sentence) == [pytest.approx(1.5), pytest.approx(1.5)]


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


def test_zscore_hand_computed() -> None:
    # mean 2, population std sqrt(2/3)
    np.testing.assert_allclose(zscore(np.array([1.0, 2.0, 3.0])), np.array([-1, 0, 1]) * 1.5**0.5)


def test_zscore_constant_and_empty() -> None:
    np.testing.assert_allclose(zscore(np.array([4.0, 4.0])), [0.0, 0.0])
    assert zscore(np.array([])).shape == (0,)


def test_min_max_and_max_scaled() -> None:
    np.testing.assert_allclose(min_max(np.array([2.0, 4.0, 3.0])), [0.0, 1.0, 0.5])
    np.testing.assert_allclose(max_scaled(np.array([2.0, 4.0, 0.0])), [0.5, 1.0, 0.0])
    np.testing.assert_allclose(max_scaled(np.zeros(2)), [0.0, 0.0])


def test_fuse_zscore_hand_computed() -> None:
    dense = np.array([0.1, 0.3, 0.2])  # z: -1.2247, 1.2247, 0
    keyword = np.array([3.0, 0.0, 6.0])  # z: 0, -1.2247, 1.2247
    sentence = np.array([0.5, 0.5, 0.8])  # z: -0.7071, -0.7071, 1.4142
    out = fuse(dense, keyword, sentence, "zscore", alpha=0.5, sentence_weight=1.0)
    np.testing.assert_allclose(
        out, [-0.61237 - 0.70711, 0.0 - 0.70711, 0.61237 + 1.41421], atol=1e-4
    )


def test_fuse_convex_adds_scaled_sentence_signal() -> None:
    dense = np.array([0.2, 0.6, 0.4])
    keyword = np.array([4.0, 0.0, 8.0])
    sentence = np.array([0.1, 0.3, 0.5])  # min-max -> 0, 0.5, 1
    out = fuse(dense, keyword, sentence, "convex", alpha=0.5, sentence_weight=0.5)
    np.testing.assert_allclose(out, [0.25, 0.75, 1.25])


def test_fuse_rrf_three_rankings_keyword_misses_left_out() -> None:
    dense = np.array([0.9, 0.5, 0.7])  # ranks 1, 3, 2
    keyword = np.array([0.0, 2.0, 1.0])  # item 0 has no keyword match; ranks -, 1, 2
    sentence = np.array([0.1, 0.3, 0.2])  # ranks 3, 1, 2
    out = fuse(dense, keyword, sentence, "rrf", sentence_weight=1.0, rrf_k=0)
    np.testing.assert_allclose(out, [1 + 0 + 1 / 3, 1 / 3 + 1 + 1, 1 / 2 + 1 / 2 + 1 / 2])


def test_fuse_without_sentence_signal_is_two_signal_fusion() -> None:
    dense = np.array([0.2, 0.6, 0.4])
    keyword = np.array([4.0, 0.0, 8.0])
    np.testing.assert_allclose(
        fuse(dense, keyword, None, "convex", alpha=0.5), convex(dense, keyword, 0.5)
    )
    np.testing.assert_allclose(
        fuse(dense, keyword, np.array([1.0, 0.0, 0.0]), "zscore", sentence_weight=0.0),
        fuse(dense, keyword, None, "zscore"),
    )


def test_fuse_rejects_bad_arguments() -> None:
    one = np.array([1.0])
    with pytest.raises(ValueError, match="unknown fusion"):
        fuse(one, one, None, "borda")
    with pytest.raises(ValueError, match="alpha"):
        fuse(one, one, None, "zscore", alpha=1.5)
    with pytest.raises(ValueError, match="sentence_weight"):
        fuse(one, one, one, "zscore", sentence_weight=-1.0)


_scores = st.lists(
    st.tuples(
        st.floats(-1, 1, allow_nan=False),
        st.floats(0, 50, allow_nan=False),
        st.floats(-1, 1, allow_nan=False),
    ),
    min_size=1,
    max_size=30,
)


@given(_scores, st.floats(0.1, 10), st.floats(-5, 5), st.floats(0.1, 10))
def test_zscore_fusion_ignores_each_signals_scale_and_offset(
    rows: list[tuple[float, float, float]], scale: float, shift: float, kscale: float
) -> None:
    d, k, s = (np.array(col) for col in zip(*rows, strict=True))
    # A spread at rounding-error size is treated as no spread (qa.searching.fusion.zscore); scaling
    # can
    # move it across that line, so each signal is either constant or measurably spread.
    assume(all(np.ptp(x) == 0 or np.ptp(x) > 1e-6 for x in (d, k, s)))
    before = fuse(d, k, s, "zscore")
    after = fuse(d * scale + shift, k * kscale, s * scale - shift, "zscore")
    np.testing.assert_allclose(before, after, atol=1e-6)


@given(_scores)
def test_a_candidate_best_on_every_signal_ranks_first(
    rows: list[tuple[float, float, float]],
) -> None:
    d, k, s = (np.array(col) for col in zip(*rows, strict=True))
    d, k, s = np.append(d, 2.0), np.append(k, 100.0), np.append(s, 2.0)
    for method in ("zscore", "convex", "rrf"):
        out = fuse(d, k, s, method)
        assert out[-1] >= out.max() - 1e-9, method
