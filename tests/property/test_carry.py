"""Hypothesis properties of the carry engine's capital-protecting rules (strategies/carry.py): break-even monotone in
costs, the favourable-funding weight never overstating the carry, smoothing bounded by the prints, hysteresis (no
flip-flop inside the minimum hold or the re-entry cooldown), never in while the carry stays adverse past the band
under the unwind policy, and reverse never proposed without its flag."""

from __future__ import annotations

import math
from fractions import Fraction

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from strategies.carry import (
    APR_PRECISION,
    FUNDING_FRACTION_PRECISION,
    HOURS_PER_YEAR,
    CarryEstimate,
    CarryParams,
    CarryPosition,
    CarryState,
    NegativeFundingPolicy,
    Smoothing,
    StanceReason,
    estimate,
    funding_fraction,
    observe_funding,
    smoothed_funding,
    stance,
)

SETTINGS = settings(max_examples=300, deadline=None)
STANCE_SETTINGS = settings(max_examples=600, deadline=None)
H = 3_600

rates = st.integers(-5_000_000, 5_000_000)  # Drift funding 1e9 quote/base/h: up to +-0.005 $/SOL/h
oracles = st.integers(1_000_000, 1_000_000_000)  # $1 .. $1,000
aprs = st.integers(0, 2_000_000)  # deposit APR 0 .. 200 %
notionals = st.integers(0, 10**13)
costs = st.integers(0, 10**9)


def _one_print(rate: int, oracle: int, params: CarryParams) -> CarryState:
    return observe_funding(CarryState(), params, 0, rate, oracle)


@SETTINGS
@given(rate=rates, oracle=oracles, deposit=aprs, notional=notionals, c1=costs, c2=costs)
def test_break_even_is_monotone_in_costs(
    *, rate: int, oracle: int, deposit: int, notional: int, c1: int, c2: int
) -> None:
    params = CarryParams()
    state = _one_print(rate, oracle, params)
    low, high = sorted((c1, c2))
    a = estimate(state, params, notional=notional, deposit_apr=deposit, costs=low)
    b = estimate(state, params, notional=notional, deposit_apr=deposit, costs=high)
    assert a is not None and b is not None
    assert (a.break_even_s is None) is (b.break_even_s is None)
    if a.break_even_s is not None:
        assert b.break_even_s is not None
        assert a.break_even_s <= b.break_even_s


@SETTINGS
@given(rate=rates, oracle=oracles, deposit=aprs, notional=notionals, cost=costs)
def test_break_even_never_when_carry_not_positive_and_covers_costs_when_it_is(
    rate: int, oracle: int, deposit: int, notional: int, cost: int
) -> None:
    params = CarryParams()
    est = estimate(_one_print(rate, oracle, params), params, notional=notional, deposit_apr=deposit, costs=cost)
    assert est is not None
    frac = funding_fraction(rate, oracle)
    funding = Fraction(frac * HOURS_PER_YEAR, FUNDING_FRACTION_PRECISION)
    carry = (funding / 2 if funding > 0 else funding) + Fraction(deposit, APR_PRECISION)
    if carry <= 0 or notional == 0:
        assert est.break_even_s is None
    else:
        assert est.break_even_s is not None
        # what the position earns in break_even_s covers the costs, and one second less would not
        earned = carry * notional / HOURS_PER_YEAR * Fraction(est.break_even_s, H)
        assert earned >= cost
        if est.break_even_s > 0:
            assert carry * notional / HOURS_PER_YEAR * Fraction(est.break_even_s - 1, H) < cost


@SETTINGS
@given(
    rate=rates, oracle=oracles, deposit=aprs, notional=notionals, w1=st.integers(0, 10_000), w2=st.integers(0, 10_000)
)
def test_favourable_weight_never_overstates_the_carry(
    *, rate: int, oracle: int, deposit: int, notional: int, w1: int, w2: int
) -> None:
    lo, hi = sorted((w1, w2))
    full = CarryParams(favourable_funding_bps=10_000)
    state = _one_print(rate, oracle, full)
    raw = estimate(state, full, notional=notional, deposit_apr=deposit, costs=0)
    a = estimate(state, CarryParams(favourable_funding_bps=lo), notional=notional, deposit_apr=deposit, costs=0)
    b = estimate(state, CarryParams(favourable_funding_bps=hi), notional=notional, deposit_apr=deposit, costs=0)
    assert raw is not None and a is not None and b is not None
    assert a.weighted_funding_apr <= b.weighted_funding_apr <= raw.weighted_funding_apr == raw.funding_apr
    assert a.carry_apr <= b.carry_apr <= raw.carry_apr
    assert a.carry_per_hour <= b.carry_per_hour <= raw.carry_per_hour
    if raw.funding_apr < 0:  # adverse funding is never discounted
        assert a.weighted_funding_apr == raw.funding_apr
    exact = Fraction(funding_fraction(rate, oracle) * HOURS_PER_YEAR, FUNDING_FRACTION_PRECISION)
    assert a.carry_apr <= math.floor((exact + Fraction(deposit, APR_PRECISION)) * APR_PRECISION)


@SETTINGS
@given(
    prints=st.lists(st.tuples(st.integers(1, 30 * H), rates), min_size=1, max_size=60),
    oracle=oracles,
    smoothing=st.sampled_from(Smoothing),
    half_life=st.integers(1, 7 * 86_400),
    window=st.integers(1, 7 * 86_400),
)
def test_smoothed_funding_stays_within_the_prints(
    prints: list[tuple[int, int]], oracle: int, smoothing: Smoothing, half_life: int, window: int
) -> None:
    params = CarryParams(smoothing=smoothing, half_life_s=half_life, twap_window_s=window)
    state, ts, seen = CarryState(), 0, []
    for dt, rate in prints:
        ts += dt
        state = observe_funding(state, params, ts, rate, oracle)
        seen.append(funding_fraction(rate, oracle))
        smoothed = smoothed_funding(state, params)
        assert smoothed is not None
        assert min(seen) <= smoothed <= max(seen)


# --- stance sequences ------------------------------------------------------------------------------------------------

# APRs around the thresholds the rules compare against (0, the bands, the emergency level) and anywhere else.
apr_values = st.one_of(
    st.sampled_from((-1_000_000, -300_000, -60_000, -50_001, -20_000, -10_001, -1, 0, 1, 10_000, 60_000, 300_000)),
    st.integers(-1_200_000, 300_000),
)
steps = st.lists(
    st.tuples(
        st.one_of(st.sampled_from((0, 1, H, 8 * H, 24 * H)), st.integers(0, 20 * H)),  # time to the next decision
        apr_values,  # carry APR of the estimate, 1e6
        apr_values,  # weighted funding APR, 1e6
        st.one_of(st.none(), st.integers(0, 10 * 86_400)),  # break-even of a positive carry
    ),
    min_size=1,
    max_size=80,
)
params_st = st.builds(
    CarryParams,
    exit_band_apr=st.integers(0, 50_000),
    exit_after_s=st.integers(0, 24 * H),
    min_hold_s=st.one_of(st.just(48 * H), st.integers(0, 72 * H)),
    reentry_after_s=st.one_of(st.just(24 * H), st.integers(0, 72 * H)),
    break_even_horizon_s=st.integers(1, 10 * 86_400),
    negative_funding=st.sampled_from(NegativeFundingPolicy),
    emergency_exit_apr=st.none(),
    allow_reverse=st.booleans(),
)


def _est(carry: int, funding: int, break_even: int | None, ts: int, position: CarryPosition) -> CarryEstimate:
    return CarryEstimate(
        position=position,
        notional=10**10,
        costs=0,
        funding_ts=ts,
        funding_apr=funding,
        weighted_funding_apr=funding,
        interest_apr=carry - funding,
        carry_apr=carry,
        carry_per_hour=0,
        break_even_s=break_even if carry > 0 else None,
    )


def _metric(params: CarryParams, carry: int, funding: int) -> int:
    return carry if params.negative_funding is NegativeFundingPolicy.CARRY else funding


@STANCE_SETTINGS
@given(params=params_st, seq=steps, rev=steps, capacity=st.integers(0, 2 * 10**10))
def test_stance_hysteresis_never_in_when_adverse_past_band_and_no_reverse_without_flag(
    params: CarryParams,
    seq: list[tuple[int, int, int, int | None]],
    rev: list[tuple[int, int, int, int | None]],
    capacity: int,
) -> None:
    state = CarryState(last_funding_ts=0)
    now = 0
    last_change: int | None = None
    adverse_since: int | None = None
    for i, (dt, carry, funding, be) in enumerate(seq):
        now += dt
        hedged = _est(carry, funding, be, now, CarryPosition.HEDGED)
        r = rev[i % len(rev)]
        reverse = _est(r[1], r[2], r[3], now, CarryPosition.REVERSE)
        held = state.position
        state, decision = stance(state, params, now=now, hedged=hedged, reverse=reverse, borrow_capacity=capacity)
        assert decision.position is state.position
        if decision.position is CarryPosition.REVERSE:  # reverse never without the flag, never beyond capacity
            assert params.allow_reverse
            if decision.changed:
                assert capacity >= reverse.notional
        if decision.changed:
            # hysteresis: a change never follows the previous one within the hold / the cooldown
            if last_change is not None:
                wait = params.reentry_after_s if held is CarryPosition.OUT else params.min_hold_s
                assert now - last_change >= wait, (decision, now, last_change)
            if decision.in_market:  # entries only on a positive carry repaid within the horizon
                est = hedged if decision.position is CarryPosition.HEDGED else reverse
                assert est.carry_apr > 0
                assert est.break_even_s is not None and est.break_even_s <= params.break_even_horizon_s
            else:
                assert decision.reason in {StanceReason.EXIT_ADVERSE, StanceReason.EXIT_REVERSE_DISABLED}
            last_change, adverse_since = now, None
            continue
        if not decision.in_market:
            continue
        est = hedged if decision.position is CarryPosition.HEDGED else reverse
        metric = _metric(params, est.carry_apr, est.weighted_funding_apr)
        if metric < -params.exit_band_apr:
            adverse_since = now if adverse_since is None else adverse_since
            entered = last_change if last_change is not None else 0
            # never in while the carry has stayed adverse past the band for exit_after_s beyond the minimum hold
            assert not (now - adverse_since >= params.exit_after_s and now - entered >= params.min_hold_s)
        else:
            adverse_since = None


@STANCE_SETTINGS
@given(
    seq=steps,
    emergency=st.integers(50_001, 1_000_000),
)
def test_stance_exits_inside_the_hold_only_on_emergency(
    seq: list[tuple[int, int, int, int | None]], emergency: int
) -> None:
    params = CarryParams(exit_band_apr=50_000, emergency_exit_apr=emergency)
    state = CarryState(last_funding_ts=0)
    now = 0
    for dt, carry, funding, be in seq:
        now += dt
        before = state
        state, decision = stance(state, params, now=now, hedged=_est(carry, funding, be, now, CarryPosition.HEDGED))
        if decision.changed and not decision.in_market:
            assert before.since_ts is not None
            if now - before.since_ts < params.min_hold_s:
                assert decision.reason is StanceReason.EXIT_EMERGENCY
            if decision.reason is StanceReason.EXIT_EMERGENCY:
                assert carry < -emergency
    msgspec.to_builtins(state)  # the state stays a plain checkpointable value


@STANCE_SETTINGS
@given(
    params=params_st,
    seq=steps,
    rev_carry=st.lists(st.tuples(st.integers(1, 300_000), st.integers(0, 300_000), st.integers(0, 86_400)), min_size=1),
    capacity=st.integers(0, 2 * 10**10),
)
def test_reverse_is_never_proposed_without_the_flag(
    params: CarryParams,
    seq: list[tuple[int, int, int, int | None]],
    rev_carry: list[tuple[int, int, int]],
    capacity: int,
) -> None:
    """However good the reversed carry (positive, repaid within a day) and whatever the borrow capacity, a bot
    without allow_reverse is never proposed long perp + borrowed SOL; with it, only when the capacity covers it."""
    state = CarryState(last_funding_ts=0)
    now = 0
    for i, (dt, carry, funding, be) in enumerate(seq):
        now += dt
        rc, rf, rbe = rev_carry[i % len(rev_carry)]
        reverse = _est(rc, rf, min(rbe, params.break_even_horizon_s), now, CarryPosition.REVERSE)
        state, decision = stance(
            state,
            params,
            now=now,
            hedged=_est(carry, funding, be, now, CarryPosition.HEDGED),
            reverse=reverse,
            borrow_capacity=capacity,
        )
        if decision.position is CarryPosition.REVERSE:
            assert params.allow_reverse
            assert not decision.changed or capacity >= reverse.notional
