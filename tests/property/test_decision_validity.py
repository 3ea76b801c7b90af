"""Hypothesis: over generated price paths (flat stretches, walks, gaps, spikes through several rungs, funding whose
sign flips, a crash to liquidation), at latency 0 and 2 slots, no bar that reuses a decision differs from the full
decision (``decision_check``: the run raises ``DecisionMismatch`` on the first difference), and the event-driven
run's whole output equals the output of a run that decides in full on every bar."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from botrunner.backtest.engine import run_backtest
from tests.support.decision_paths import band_bot, flipping_funding, inputs, path_candles, reuse_counter

segment = st.one_of(
    st.tuples(st.just("flat"), st.integers(1, 15), st.just(0)),
    st.tuples(st.just("walk"), st.integers(1, 12), st.integers(1, 150)),
    st.tuples(st.just("spike"), st.just(1), st.integers(100, 1_500)),  # through several 40 bp rungs
    st.tuples(st.just("gap"), st.integers(1, 30), st.just(0)),
    st.tuples(st.just("crash"), st.integers(1, 6), st.integers(500, 2_500)),
)
rates = st.lists(st.integers(-400_000, 400_000), min_size=1, max_size=4)  # 1e9 per hour: both signs, past the clamp


@settings(max_examples=25, deadline=None, database=None)
@given(
    segments=st.lists(segment, min_size=2, max_size=12),
    funding=rates,
    latency_slots=st.sampled_from([0, 2]),
    capital=st.sampled_from([60, 2_000]),  # 60 USDC against a 5 SOL band: a crash liquidates it
    requote_bps=st.sampled_from([0, 20, 200]),
    ttl_s=st.sampled_from([900, 86_400]),
)
# found by this property: a crash liquidates the account under water, then the UTC day rolls (the daily-loss
# reference was the negative equity, which the Risk Governor refuses; the step now floors it at 0)
@example(
    segments=[("flat", 45, 0), ("gap", 30, 0), ("walk", 12, 3), ("walk", 12, 129), ("crash", 6, 662)],
    funding=[0],
    latency_slots=2,
    capital=60,
    requote_bps=20,
    ttl_s=900,
)
def test_generated_paths_when_checked_then_reused_decisions_equal_full_ones(
    *,
    segments: list[tuple[str, int, int]],
    funding: list[int],
    latency_slots: int,
    capital: int,
    requote_bps: int,
    ttl_s: int,
) -> None:
    candles = path_candles([("flat", 3, 0), *segments])
    if len(candles.bars) < 2:
        return
    bot = band_bot(capital=capital, requote_bps=requote_bps, ttl_s=ttl_s)
    records = flipping_funding(candles, funding)
    checked = run_backtest(inputs(bot, candles, records, latency_slots=latency_slots))
    always = run_backtest(inputs(bot, candles, records, latency_slots=latency_slots, check=False))
    assert checked.orders == always.orders
    assert checked.fills == always.fills
    assert checked.snapshots == always.snapshots
    assert checked.ending_equity == always.ending_equity


@pytest.mark.parametrize("latency_slots", [0, 2])
def test_crash_to_liquidation_when_checked_then_reuses_around_it_and_matches(
    monkeypatch: pytest.MonkeyPatch, latency_slots: int
) -> None:
    """The one path the generator may or may not draw: a long built on the way down, held flat, then liquidated."""
    candles = path_candles([("flat", 4, 0), ("walk", 6, 60), ("flat", 10, 0), ("crash", 8, 1_500), ("flat", 10, 0)])
    bot = band_bot(capital=60)
    records = flipping_funding(candles, (300_000, -300_000))
    with reuse_counter(monkeypatch) as reused:
        result = run_backtest(inputs(bot, candles, records, latency_slots=latency_slots))
    assert reused[0] > 0
    liquidations = [f for f in result.fills if f.order_id == 0]
    assert liquidations, "the crash liquidates the account"
