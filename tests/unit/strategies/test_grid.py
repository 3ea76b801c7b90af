"""The Pionex-style grid/curve strategy: range exits, bias, curves, ladder and band invariants."""

from __future__ import annotations

from itertools import pairwise

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from botrunner.core.catalogue import load_catalogue
from botrunner.core.intents import StrategyDecision
from botrunner.core.markets import PerpMarketSpec
from botrunner.core.policy import ExecutionPolicy
from botrunner.core.side import Side
from strategies.base import MarketView, Strategy
from strategies.config import Bias, CurveType, GridConfig, GridMode
from strategies.curve import Curve
from strategies.grid import (
    NOTE_BOUNDED_ABOVE,
    NOTE_BOUNDED_BELOW,
    NOTE_INFINITY_RECENTRED,
    NOTE_INSUFFICIENT_HISTORY,
    GridState,
    GridStrategy,
    side_levels,
)

STEP = 10_000_000  # 0.01 SOL
TICK = 100  # 0.0001 USD
LEVEL = 100_000_000  # 0.1 SOL per rung
LOW = 100_000_000  # $100
HIGH = 110_000_000  # $110
MID = 105_000_000


def sol_market() -> PerpMarketSpec:
    """The real SOL-PERP spec from the bundled catalogue (tick 0.0001, step = min size 0.01 SOL)."""
    spec = load_catalogue().perp("SOL-PERP")
    assert (spec.tick_size, spec.step_size, spec.min_order_size) == (TICK, STEP, STEP)
    return spec


POLICY = ExecutionPolicy(grid_levels=5, step_bps=30, base_size_per_level=LEVEL)


def config(**changes: object) -> GridConfig:
    """One 1-hour window whose range is exactly [min, max] of what was fed (percentiles 0 and 100)."""
    base = GridConfig(
        lookbacks_s=(3_600,),
        weights_bps=(10_000,),
        percentile_low_bps=0,
        percentile_high_bps=10_000,
        sample_interval_s=60,
        min_samples=2,
        min_coverage_bps=0,
        min_range_bps=0,
    )
    return msgspec.structs.replace(base, **changes)


def fed(strategy: GridStrategy, prices: tuple[int, ...] = (LOW, HIGH)) -> GridState:
    state = strategy.initial_state()
    for i, px in enumerate(prices):
        state = strategy.on_price(state, 1_000_000 + 60 * i, px)
    return state


def view(mark: int, pos: int = 0, policy: ExecutionPolicy = POLICY) -> MarketView:
    return MarketView(mark=mark, oracle=mark, position_base=pos, market=sol_market(), policy=policy)


def decide(mark: int, pos: int = 0, **changes: object) -> StrategyDecision:
    strategy = GridStrategy(config(**changes))
    return strategy.decide(fed(strategy), view(mark, pos))


def bids(d: StrategyDecision) -> list[int]:
    return [lv.base for lv in d.levels if lv.side is Side.BUY]


def asks(d: StrategyDecision) -> list[int]:
    return [lv.base for lv in d.levels if lv.side is Side.SELL]


def test_grid_strategy_satisfies_the_strategy_protocol() -> None:
    strategy: Strategy[GridState] = GridStrategy(config())
    assert isinstance(strategy.initial_state(), GridState)


def test_neutral_at_mid_then_symmetric_ladder_and_band() -> None:
    d = decide(MID)
    assert d.note == "" and d.in_range
    assert (d.range_low, d.range_high) == (LOW, HIGH)
    assert bids(d) == asks(d) == [LEVEL] * 5
    assert d.band.preferred_base == 0
    assert d.band.min_base == -d.band.max_base < 0
    bid_px = [lv.price for lv in d.levels if lv.side is Side.BUY]
    ask_px = [lv.price for lv in d.levels if lv.side is Side.SELL]
    for k, (b, a) in enumerate(zip(bid_px, ask_px, strict=True), start=1):
        # mark * k * 30 bps either side, off by at most the tick rounding (bids down, asks up)
        assert MID - b - TICK < MID * k * 30 // 10_000 <= MID - b
        assert a - MID - TICK < MID * k * 30 // 10_000 <= a - MID


def test_bullish_then_more_bid_exposure_than_ask_and_longer_target() -> None:
    d = decide(MID, bias=Bias.BULLISH)
    assert sum(bids(d)) > sum(asks(d)) > 0
    assert len(d.levels) == 2 * POLICY.grid_levels  # the total rung count is unchanged
    assert d.band.preferred_base > 0  # longer than neutral (0) at the same price


def test_bearish_is_the_mirror_of_bullish() -> None:
    bull = decide(MID, bias=Bias.BULLISH)
    bear = decide(MID, bias=Bias.BEARISH)
    assert sum(bids(bear)) == sum(asks(bull))
    assert sum(asks(bear)) == sum(bids(bull))
    assert bear.band.preferred_base == -bull.band.preferred_base


def test_side_levels_bias_moves_rungs_but_keeps_one_per_side() -> None:
    assert side_levels(5, Bias.NEUTRAL, 4_000) == (5, 5)
    assert side_levels(5, Bias.BULLISH, 4_000) == (7, 3)
    assert side_levels(5, Bias.BEARISH, 4_000) == (3, 7)
    assert side_levels(5, Bias.BULLISH, 10_000) == (9, 1)
    assert side_levels(1, Bias.BULLISH, 10_000) == (1, 1)


def test_linear_curve_runs_from_max_long_at_low_to_max_short_at_high() -> None:
    assert decide(LOW).band.preferred_base == 5 * LEVEL
    assert decide(HIGH).band.preferred_base == -5 * LEVEL


def test_bounded_above_range_when_flat_then_no_new_exposure_and_no_rungs() -> None:
    d = decide(HIGH + 1_000_000, pos=0)
    assert d.note == NOTE_BOUNDED_ABOVE and not d.in_range
    assert (d.band.min_base, d.band.max_base, d.band.preferred_base) == (0, 0, 0)
    assert d.levels == ()


def test_bounded_above_range_when_long_then_only_sell_rungs_toward_flat() -> None:
    d = decide(HIGH + 1_000_000, pos=3 * LEVEL)
    assert (d.band.min_base, d.band.max_base, d.band.preferred_base) == (0, 3 * LEVEL, 0)
    assert bids(d) == []
    assert asks(d) == [LEVEL] * 3


def test_bounded_above_range_when_short_then_hold_no_new_short() -> None:
    d = decide(HIGH + 1_000_000, pos=-3 * LEVEL)
    assert (d.band.min_base, d.band.max_base, d.band.preferred_base) == (-3 * LEVEL,) * 3
    assert d.levels == ()


def test_bounded_below_range_when_short_then_only_buy_rungs_toward_flat() -> None:
    d = decide(LOW - 1_000_000, pos=-2 * LEVEL - STEP)
    assert d.note == NOTE_BOUNDED_BELOW
    assert (d.band.min_base, d.band.max_base, d.band.preferred_base) == (-2 * LEVEL - STEP, 0, 0)
    assert asks(d) == []
    assert bids(d) == [LEVEL, LEVEL, STEP]  # the last exit rung is the remainder


def test_bounded_below_range_when_long_then_no_new_long() -> None:
    d = decide(LOW - 1_000_000, pos=2 * LEVEL)
    assert d.band.max_base == d.band.min_base == 2 * LEVEL
    assert d.levels == ()


def test_infinity_grid_when_above_range_then_recentres_on_mark_keeping_width() -> None:
    mark = HIGH + 7_000_000
    d = decide(mark, mode=GridMode.INFINITY)
    assert d.note == NOTE_INFINITY_RECENTRED
    assert d.range_high - d.range_low == HIGH - LOW
    assert d.range_low + (HIGH - LOW) // 2 == mark
    assert d.band.preferred_base == 0  # neutral at the (new) mid
    assert bids(d) == asks(d) == [LEVEL] * 5


def test_insufficient_history_then_no_new_exposure() -> None:
    strategy = GridStrategy(config(min_samples=3))
    state = fed(strategy, (LOW, HIGH))  # two samples < 3
    flat = strategy.decide(state, view(MID, 0))
    assert flat.note == NOTE_INSUFFICIENT_HISTORY
    assert (flat.band.min_base, flat.band.max_base, flat.band.preferred_base) == (0, 0, 0)
    assert flat.levels == ()
    long_ = strategy.decide(state, view(MID, 4 * LEVEL))
    assert (long_.band.min_base, long_.band.max_base, long_.band.preferred_base) == (0, 4 * LEVEL, 4 * LEVEL)


def test_insufficient_history_when_window_not_covered_then_no_new_exposure() -> None:
    strategy = GridStrategy(config(min_coverage_bps=10_000))
    state = fed(strategy, (LOW, HIGH, MID))  # 3 minutes of a 60-minute window
    assert strategy.decide(state, view(MID)).note == NOTE_INSUFFICIENT_HISTORY


def test_stepwise_curve_changes_by_exactly_one_level_at_each_rung() -> None:
    curve = Curve(
        kind=CurveType.STEPWISE, low=LOW, high=HIGH, long_levels=7, short_levels=3, level_base=LEVEL, step=STEP
    )
    lines = curve.grid_lines()
    assert len(lines) == 10 and lines[-1] == HIGH
    for line in lines:
        assert curve.target(line - 1) - curve.target(line) == LEVEL
    # flat between rungs
    for a, b in pairwise(lines):
        assert curve.target(a) == curve.target(b - 1)
    assert curve.target(LOW) == 7 * LEVEL and curve.target(HIGH) == -3 * LEVEL


def test_stepwise_decision_crossing_a_grid_line_changes_preferred_by_one_level() -> None:
    strategy = GridStrategy(config(curve=CurveType.STEPWISE))
    state = fed(strategy)
    line = LOW + (HIGH - LOW) * 3 // 10  # 10 slices of $1; the 3rd line
    before = strategy.decide(state, view(line - TICK)).band.preferred_base
    after = strategy.decide(state, view(line)).band.preferred_base
    assert before - after == LEVEL


def test_in_range_when_already_at_max_long_then_no_more_bids() -> None:
    d = decide(LOW + 1_000_000, pos=5 * LEVEL)
    assert bids(d) == []
    assert asks(d) == [LEVEL] * 5  # selling is still allowed: 5 rungs of room toward max short remain


def test_base_size_below_min_order_is_rejected_with_the_field_name() -> None:
    strategy = GridStrategy(config())
    tiny = ExecutionPolicy(base_size_per_level=STEP - 1)
    with pytest.raises(ValueError, match="base_size_per_level"):
        strategy.decide(fed(strategy), view(MID, policy=tiny))


def test_non_positive_mark_is_rejected() -> None:
    strategy = GridStrategy(config())
    with pytest.raises(ValueError, match=r"MarketView\.mark"):
        strategy.decide(fed(strategy), view(0))


# --- properties ------------------------------------------------------------------------------------------------

prices_st = st.lists(st.integers(min_value=50_000_000, max_value=200_000_000), min_size=2, max_size=40)
cfg_st = st.builds(
    config,
    curve=st.sampled_from(CurveType),
    bias=st.sampled_from(Bias),
    mode=st.sampled_from(GridMode),
    bias_skew_bps=st.integers(min_value=0, max_value=10_000),
    min_range_bps=st.integers(min_value=0, max_value=500),
)
policy_st = st.builds(
    ExecutionPolicy,
    grid_levels=st.integers(min_value=1, max_value=16),
    step_bps=st.integers(min_value=1, max_value=2_000),
    base_size_per_level=st.integers(min_value=STEP, max_value=50 * STEP),
)


@settings(max_examples=300, deadline=None)
@given(
    cfg=cfg_st,
    policy=policy_st,
    prices=prices_st,
    mark=st.integers(min_value=1_000_000, max_value=300_000_000),
    pos=st.integers(min_value=-(10**11), max_value=10**11).map(lambda b: b - b % STEP),
)
def test_decision_is_always_a_valid_band_and_a_sane_ladder(
    cfg: GridConfig, policy: ExecutionPolicy, prices: list[int], mark: int, pos: int
) -> None:
    strategy = GridStrategy(cfg)
    state = fed(strategy, tuple(prices))
    d = strategy.decide(state, view(mark, pos, policy))
    band, m = d.band, sol_market()
    assert band.min_base <= band.preferred_base <= band.max_base
    assert band.min_base % STEP == band.max_base % STEP == band.preferred_base % STEP == 0
    assert len(d.levels) <= 2 * policy.grid_levels <= 32
    for lv in d.levels:
        assert lv.price % TICK == 0 and lv.price > 0
        assert lv.base % STEP == 0 and lv.base >= m.min_order_size
        assert (lv.price < mark) if lv.side is Side.BUY else (lv.price > mark)
    if not d.in_range:
        # outside a bounded range (or without history): never any new exposure
        assert min(pos, 0) <= band.min_base and band.max_base <= max(pos, 0)
        grow = sum(lv.base for lv in d.levels if lv.side.sign * pos >= 0)
        assert grow == 0
        assert sum(lv.base for lv in d.levels) <= abs(pos)
    else:
        assert d.range_low <= mark <= d.range_high
        # filling every rung keeps the position within the curve's extremes (when it started within them)
        n_bid, n_ask = side_levels(policy.grid_levels, cfg.bias, cfg.bias_skew_bps)
        level = m.round_base_down(policy.base_size_per_level)
        if -n_ask * level <= pos <= n_bid * level:
            assert pos + sum(bids(d)) <= n_bid * level
            assert pos - sum(asks(d)) >= -n_ask * level


@settings(max_examples=200, deadline=None)
@given(cfg=cfg_st, prices=prices_st, mark=st.integers(min_value=1_000_000, max_value=300_000_000))
def test_same_inputs_give_identical_decisions_and_decide_does_not_mutate(
    cfg: GridConfig, prices: list[int], mark: int
) -> None:
    a, b = GridStrategy(cfg), GridStrategy(cfg)
    sa, sb = fed(a, tuple(prices)), fed(b, tuple(prices))
    first = a.decide(sa, view(mark))
    again = a.decide(sa, view(mark))
    other = b.decide(sb, view(mark))
    assert msgspec.json.encode(first) == msgspec.json.encode(again) == msgspec.json.encode(other)
    branched = sa.copy()
    a.on_price(sa, 10**9, mark)
    assert msgspec.json.encode(a.decide(branched, view(mark))) == msgspec.json.encode(first)


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(CurveType),
    low=st.integers(min_value=1, max_value=10**9),
    width=st.integers(min_value=1, max_value=10**8),
    nl=st.integers(min_value=0, max_value=31),
    ns=st.integers(min_value=0, max_value=31),
    level_steps=st.integers(min_value=1, max_value=100),
    p1=st.integers(min_value=0, max_value=2 * 10**9),
    p2=st.integers(min_value=0, max_value=2 * 10**9),
)
def test_curve_is_non_increasing_step_aligned_and_hits_its_extremes(
    *, kind: CurveType, low: int, width: int, nl: int, ns: int, level_steps: int, p1: int, p2: int
) -> None:
    curve = Curve(
        kind=kind, low=low, high=low + width, long_levels=nl, short_levels=ns, level_base=level_steps * STEP, step=STEP
    )
    lo_p, hi_p = min(p1, p2), max(p1, p2)
    assert curve.target(lo_p) >= curve.target(hi_p)
    assert curve.target(lo_p) % STEP == 0
    assert -curve.max_short <= curve.target(lo_p) <= curve.max_long
    assert curve.target(low) == curve.max_long
    assert curve.target(low + width) == -curve.max_short
