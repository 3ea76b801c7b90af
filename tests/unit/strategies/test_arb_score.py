"""The confluence score: hard constraints first (0 with the reason), soft metrics 9/8/7/6/5/5 renormalised."""

from __future__ import annotations

import msgspec
import pytest

from strategies.arb_score import (
    SOFT_WEIGHTS,
    CheckStatus,
    HardConstraint,
    ScoreInputs,
    ScoreThresholds,
    SoftMetric,
    per_8h,
    score,
    sub_score,
)

USDC = 10**6
BP_8H = 10**8  # 0.01 % per 8 h in 1e12


FULL = ScoreInputs(
    position_notional=1_000 * USDC,
    funding_delta_per_8h=5 * BP_8H,
    depth_notional=10_000 * USDC,
    quote_age_ms=50,
    book_imbalance_bps=0,
    open_interest_vs_avg_bps=0,
    vwap_deviation_bps=50,
    atr_ratio_bps=10_000,
    liquidation_distance_bps=250,
)


def _full(**over: int | None) -> ScoreInputs:
    return msgspec.structs.replace(FULL, **over)


def test_weights_are_the_specs() -> None:
    assert list(SOFT_WEIGHTS.values()) == [9, 8, 7, 6, 5, 5]


def test_all_metrics_available_weighted_average() -> None:
    s = score(_full())
    # funding 5 bp/8h: (5-1)/(10-1) -> 44; imbalance 0 -> 50; OI 0 -> 50; VWAP 50 bp -> 50; ATR 1.0 -> 50; liq 250 -> 50
    assert [m.sub_score for m in s.metrics] == [44, 50, 50, 50, 50, 50]
    assert s.score == (9 * 44 + 31 * 50) // 40 == 48
    assert s.tradable and not s.provisional and s.reason is None


def test_unavailable_metrics_are_marked_and_weights_renormalised() -> None:
    s = score(_full(book_imbalance_bps=None, open_interest_vs_avg_bps=None, liquidation_distance_bps=None))
    assert s.unavailable == (SoftMetric.BOOK_IMBALANCE, SoftMetric.OPEN_INTEREST, SoftMetric.LIQUIDATION_CLUSTERS)
    assert s.score == (9 * 44 + 6 * 50 + 5 * 50) // 20 == 47


def test_funding_delta_at_or_below_minimum_scores_zero_with_reason() -> None:
    s = score(_full(funding_delta_per_8h=BP_8H))  # exactly 0.01 %: not strictly above
    assert s.score == 0
    assert s.reason is not None and s.reason.startswith("funding_delta: funding delta 0.0100 % per 8 h <= 0.01 %")


def test_thin_depth_and_stale_quote_fail_in_the_specs_order() -> None:
    s = score(_full(depth_notional=1_999 * USDC, quote_age_ms=200))
    assert s.score == 0
    assert [c.constraint for c in s.failures] == [HardConstraint.DEPTH, HardConstraint.FRESHNESS]
    assert s.reason is not None and s.reason.startswith("depth: ")
    assert score(_full(depth_notional=2_000 * USDC, quote_age_ms=199)).score > 0


def test_offline_unknown_depth_and_age_are_not_checkable_and_not_tradable() -> None:
    s = score(_full(depth_notional=None, quote_age_ms=None))
    assert s.score == 48 and s.provisional and not s.tradable
    assert s.unchecked == (HardConstraint.DEPTH, HardConstraint.FRESHNESS)
    assert s.checks[0].status is CheckStatus.UNCHECKABLE


def test_sub_score_anchors() -> None:
    t = ScoreThresholds()
    best = _full(
        funding_delta_per_8h=20 * BP_8H,
        book_imbalance_bps=10_000,
        open_interest_vs_avg_bps=5_000,
        vwap_deviation_bps=-0,
        atr_ratio_bps=1_000,
        liquidation_distance_bps=900,
    )
    assert all(sub_score(m, best, t) == 100 for m in SoftMetric)
    assert score(best).score == 100
    worst = _full(
        funding_delta_per_8h=BP_8H + 1,
        book_imbalance_bps=-10_000,
        open_interest_vs_avg_bps=-5_000,
        vwap_deviation_bps=-400,
        atr_ratio_bps=30_000,
        liquidation_distance_bps=0,
    )
    assert all(sub_score(m, worst, t) == 0 for m in SoftMetric)


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="position_notional"):
        score(_full(position_notional=0))
    with pytest.raises(ValueError, match="min_depth_multiple"):
        score(_full(), ScoreThresholds(min_depth_multiple=0))


def test_per_8h() -> None:
    assert per_8h(12_500_000) == 100_000_000  # 0.00125 %/h = 0.01 % per 8 h
