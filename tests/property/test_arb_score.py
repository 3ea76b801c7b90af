"""Hard constraints protect capital: any failed hard constraint gives score 0 with a reason; an unchecked one is
never tradable; otherwise the score is within 0..100 and between the lowest and highest available sub-score."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from strategies.arb_score import CheckStatus, ScoreInputs, score

USDC = 10**6
maybe_bps = st.one_of(st.none(), st.integers(min_value=-30_000, max_value=30_000))

inputs = st.builds(
    ScoreInputs,
    position_notional=st.integers(min_value=1, max_value=10**7 * USDC),
    funding_delta_per_8h=st.integers(min_value=-(10**10), max_value=10**10),
    depth_notional=st.one_of(st.none(), st.integers(min_value=0, max_value=10**8 * USDC)),
    quote_age_ms=st.one_of(st.none(), st.integers(min_value=0, max_value=10_000)),
    book_imbalance_bps=maybe_bps,
    open_interest_vs_avg_bps=maybe_bps,
    vwap_deviation_bps=maybe_bps,
    atr_ratio_bps=st.one_of(st.none(), st.integers(min_value=0, max_value=50_000)),
    liquidation_distance_bps=st.one_of(st.none(), st.integers(min_value=0, max_value=5_000)),
)


@settings(max_examples=500, deadline=None)
@given(inputs)
def test_any_hard_failure_scores_zero_with_a_reason(i: ScoreInputs) -> None:
    s = score(i)
    depth_fails = i.depth_notional is not None and i.depth_notional < 2 * i.position_notional
    age_fails = i.quote_age_ms is not None and i.quote_age_ms >= 200
    delta_fails = i.funding_delta_per_8h <= 10**8
    if depth_fails or age_fails or delta_fails:
        assert s.score == 0 and s.reason is not None and not s.tradable
    else:
        assert s.reason is None
        available = [m.sub_score for m in s.metrics if m.sub_score is not None]
        assert min(available) <= s.score <= max(available) <= 100
        assert s.tradable == (i.depth_notional is not None and i.quote_age_ms is not None)
    if any(c.status is CheckStatus.UNCHECKABLE for c in s.checks):
        assert not s.tradable
