"""The carry engine (strategies/carry.py): funding conversion and smoothing on Drift's real SOL-PERP prints, the
carry estimate with hand-checked numbers, and the stance's rules one by one."""

from __future__ import annotations

import csv
import math
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import msgspec
import pytest

from botrunner.core.invalid import InvalidField
from botrunner.marketdata.funding import load_drift_funding
from strategies.carry import (
    CarryEstimate,
    CarryParams,
    CarryPosition,
    CarryState,
    NegativeFundingPolicy,
    Smoothing,
    StanceDecision,
    StanceReason,
    estimate,
    estimate_reverse,
    funding_fraction,
    observe_funding,
    smoothed_funding,
    stance,
)

SOL_FUNDING = Path("/work/shared/data/market/drift/SOL-PERP_funding_1h.csv")
needs_data = pytest.mark.skipif(not SOL_FUNDING.exists(), reason="shared market data not present")

H = 3_600
D = 86_400
ORACLE_100 = 100_000_000  # $100, 1e6
RATE_1E_5 = 1_000_000  # 0.001 quote per base per hour (1e9) = 1e-5 of $100 per hour = 8.76 % a year
NOTIONAL = 10_000_000_000  # $10,000
SOL_DEPOSIT_APR = 19_758  # the SOL deposit APR of the 2024-12-20 SpotMarket snapshot (test_interest.py), 1e6


def _state_with(rate: int, params: CarryParams, ts: int = 0) -> CarryState:
    return observe_funding(CarryState(), params, ts, rate, ORACLE_100)


# --- funding ---------------------------------------------------------------------------------------------------------


@needs_data
def test_funding_fraction_when_real_prints_then_rate_over_oracle_per_hour_rounded_down() -> None:
    """Every real SOL-PERP print: the 1e12 fraction equals fundingRate / oracleTwap from the CSV text, floored."""
    with SOL_FUNDING.open() as fh:
        rows = list(csv.DictReader(fh))
    records = load_drift_funding(SOL_FUNDING).records
    assert len(rows) == len(records) > 4_000
    for row, rec in zip(rows, records, strict=True):
        expected = math.floor(Decimal(row["fundingRate"]) / Decimal(row["oraclePriceTwap"]) * 10**12)
        assert funding_fraction(rec.rate, rec.oracle_twap) == expected
    # The first print by hand: -4.666e-6 quote per SOL per hour at $127.636936 = -3.6557e-8 of the price per hour.
    assert funding_fraction(records[0].rate, records[0].oracle_twap) == -36_557


def test_funding_fraction_when_oracle_not_positive_then_error() -> None:
    with pytest.raises(ValueError, match="oracle price 0 must be > 0"):
        funding_fraction(1, 0)


def test_ewma_when_one_half_life_passes_then_old_and_new_weigh_half_each() -> None:
    params = CarryParams(half_life_s=H)
    state = observe_funding(_state_with(RATE_1E_5, params), params, H, 3 * RATE_1E_5, ORACLE_100)
    assert smoothed_funding(state, params) == 20_000_000  # (1e7 + 3e7) / 2 at 1e12


def test_ewma_when_a_gap_then_it_decays_by_time_not_by_print_count() -> None:
    params = CarryParams(half_life_s=H)
    state = observe_funding(_state_with(RATE_1E_5, params), params, 2 * H, 5 * RATE_1E_5, ORACLE_100)
    assert smoothed_funding(state, params) == 40_000_000  # 1/4 x 1e7 + 3/4 x 5e7


def test_twap_when_hourly_prints_then_mean_of_the_window() -> None:
    params = CarryParams(smoothing=Smoothing.TWAP, twap_window_s=2 * H)
    state = CarryState()
    for i, rate in enumerate((10, 20, 40)):
        state = observe_funding(state, params, i * H, rate * RATE_1E_5, ORACLE_100)
    assert smoothed_funding(state, params) == 300_000_000  # (2e8 + 4e8) / 2: the first print left the window
    assert [p.ts for p in state.prints] == [H, 2 * H]


def test_twap_when_a_gap_then_the_late_print_stands_for_the_whole_gap() -> None:
    params = CarryParams(smoothing=Smoothing.TWAP, twap_window_s=3 * H)
    state = observe_funding(_state_with(RATE_1E_5, params), params, 2 * H, 4 * RATE_1E_5, ORACLE_100)
    assert smoothed_funding(state, params) == 30_000_000  # (1e7 x 1 h + 4e7 x 2 h) / 3 h


def test_observe_when_replayed_print_then_unchanged_and_when_backwards_then_error() -> None:
    params = CarryParams()
    state = _state_with(RATE_1E_5, params, ts=H)
    assert observe_funding(state, params, H, RATE_1E_5, ORACLE_100) is state
    with pytest.raises(ValueError, match="funding print at ts 3600 is not after the last one at 3600"):
        observe_funding(state, params, H, 2 * RATE_1E_5, ORACLE_100)
    with pytest.raises(ValueError, match="not after"):
        observe_funding(state, params, 0, RATE_1E_5, ORACLE_100)


def test_smoothed_when_no_print_then_none_and_no_estimate() -> None:
    for smoothing in Smoothing:
        params = CarryParams(smoothing=smoothing)
        assert smoothed_funding(CarryState(), params) is None
        assert estimate(CarryState(), params, notional=NOTIONAL, deposit_apr=0, costs=0) is None
        assert estimate_reverse(CarryState(), params, notional=NOTIONAL, borrow_apr=0, costs=0) is None


# --- estimate --------------------------------------------------------------------------------------------------------


def test_estimate_when_funding_favours_the_short_then_half_of_it_counts() -> None:
    """Funding 8.76 %/yr paid to the short counts 4.38 %; + 2 % deposit = 6.38 %. On $10,000: $0.072831 an hour;
    $30 of costs take 30 / (10,000 x 0.0638 / 8,760) h = 1,482,884.01 s (17.2 days), rounded up."""
    params = CarryParams()
    est = estimate(_state_with(RATE_1E_5, params), params, notional=NOTIONAL, deposit_apr=20_000, costs=30_000_000)
    assert est is not None
    assert (est.funding_apr, est.weighted_funding_apr, est.interest_apr, est.carry_apr) == (
        87_600,
        43_800,
        20_000,
        63_800,
    )
    assert est.carry_per_hour == 72_831
    assert est.break_even_s == 1_482_885
    assert est.break_even_days == Fraction(1_482_885, D)
    assert est.break_even_hours is not None
    assert 411 < est.break_even_hours < 412


def test_estimate_when_funding_against_the_short_then_counted_in_full_and_never_breaks_even() -> None:
    params = CarryParams()
    est = estimate(_state_with(-RATE_1E_5, params), params, notional=NOTIONAL, deposit_apr=20_000, costs=30_000_000)
    assert est is not None
    assert (est.weighted_funding_apr, est.carry_apr) == (-87_600, -67_600)
    assert est.carry_per_hour == -77_169  # -10,000 x 0.0676 / 8,760 = -0.0771689 $, rounded down
    assert est.break_even_s is None
    assert est.break_even_days is None


def test_estimate_reverse_when_funding_negative_then_long_receives_half_and_pays_the_borrow() -> None:
    """Long perp + borrowed SOL at -8.76 % funding: 4.38 % counted, minus the 2024-12 SOL borrow APR 6.5743 %."""
    params = CarryParams()
    est = estimate_reverse(_state_with(-RATE_1E_5, params), params, notional=NOTIONAL, borrow_apr=65_743, costs=0)
    assert est is not None
    assert est.position is CarryPosition.REVERSE
    assert (est.weighted_funding_apr, est.interest_apr, est.carry_apr) == (43_800, -65_743, -21_943)
    assert est.break_even_s is None


def test_estimate_when_costs_zero_then_break_even_now() -> None:
    params = CarryParams()
    est = estimate(_state_with(RATE_1E_5, params), params, notional=NOTIONAL, deposit_apr=0, costs=0)
    assert est is not None
    assert est.break_even_s == 0


def test_estimate_when_negative_notional_then_error() -> None:
    params = CarryParams()
    with pytest.raises(ValueError, match="must be >= 0"):
        estimate(_state_with(RATE_1E_5, params), params, notional=-1, deposit_apr=0, costs=0)


# --- stance ----------------------------------------------------------------------------------------------------------


def _est(carry_apr: int, *, ts: int, break_even_s: int | None = H, funding_apr: int | None = None) -> CarryEstimate:
    funding = carry_apr if funding_apr is None else funding_apr
    return CarryEstimate(
        position=CarryPosition.HEDGED,
        notional=NOTIONAL,
        costs=0,
        funding_ts=ts,
        funding_apr=funding,
        weighted_funding_apr=funding,
        interest_apr=carry_apr - funding,
        carry_apr=carry_apr,
        carry_per_hour=0,
        break_even_s=break_even_s if carry_apr > 0 else None,
    )


def _in(params: CarryParams, at: int = 0) -> CarryState:
    state, decision = stance(CarryState(last_funding_ts=at), params, now=at, hedged=_est(50_000, ts=at, break_even_s=H))
    assert decision.reason is StanceReason.ENTER and decision.changed and decision.in_market
    return state


def test_stance_when_no_funding_then_stays_out() -> None:
    state, decision = stance(CarryState(), CarryParams(), now=0, hedged=None)
    assert (decision.position, decision.reason, decision.in_market) == (
        CarryPosition.OUT,
        StanceReason.NO_FUNDING_DATA,
        False,
    )
    assert state == CarryState()


def test_stance_when_funding_stale_then_no_entry() -> None:
    params = CarryParams()
    _, decision = stance(
        CarryState(last_funding_ts=0), params, now=3 * H + 1, hedged=_est(50_000, ts=0, break_even_s=H)
    )
    assert decision.reason is StanceReason.STALE_FUNDING


def test_stance_when_break_even_beyond_horizon_then_out_and_within_then_in() -> None:
    params = CarryParams(break_even_horizon_s=7 * D)
    base = CarryState(last_funding_ts=0)
    _, decision = stance(base, params, now=0, hedged=_est(50_000, ts=0, break_even_s=7 * D + 1))
    assert decision.reason is StanceReason.BREAK_EVEN_BEYOND_HORIZON
    _, decision = stance(base, params, now=0, hedged=_est(50_000, ts=0, break_even_s=7 * D))
    assert decision.reason is StanceReason.ENTER
    _, decision = stance(base, params, now=0, hedged=_est(0, ts=0))
    assert decision.reason is StanceReason.CARRY_NOT_POSITIVE
    _, decision = stance(base, CarryParams(min_entry_apr=50_001), now=0, hedged=_est(50_000, ts=0))
    assert decision.reason is StanceReason.CARRY_NOT_POSITIVE


def test_stance_when_carry_negative_within_band_then_hold_and_the_adverse_run_restarts() -> None:
    params = CarryParams(exit_band_apr=10_000, exit_after_s=8 * H, min_hold_s=0)
    state = _in(params)
    state, decision = stance(state, params, now=H, hedged=_est(-10_001, ts=H))
    assert decision.reason is StanceReason.HOLD_ADVERSE and state.adverse_since_ts == H
    state, decision = stance(state, params, now=2 * H, hedged=_est(-10_000, ts=2 * H))  # at the band: not adverse
    assert decision.reason is StanceReason.HOLD and state.adverse_since_ts is None
    state, decision = stance(state, params, now=9 * H, hedged=_est(-20_000, ts=9 * H))
    assert decision.reason is StanceReason.HOLD_ADVERSE  # the run restarted at 9 h
    state, decision = stance(state, params, now=17 * H - 1, hedged=_est(-20_000, ts=17 * H))
    assert decision.reason is StanceReason.HOLD_ADVERSE
    state, decision = stance(state, params, now=17 * H, hedged=_est(-20_000, ts=17 * H))
    assert (decision.reason, decision.position, decision.changed) == (
        StanceReason.EXIT_ADVERSE,
        CarryPosition.OUT,
        True,
    )


def test_stance_when_adverse_long_enough_but_within_min_hold_then_hold_until_it_passes() -> None:
    params = CarryParams(exit_after_s=H, min_hold_s=48 * H, reentry_after_s=24 * H)
    state = _in(params)
    state, decision = stance(state, params, now=H, hedged=_est(-50_000, ts=H))
    state, decision = stance(state, params, now=47 * H, hedged=_est(-50_000, ts=47 * H))
    assert decision.reason is StanceReason.HOLD_MIN_HOLD and decision.in_market
    state, decision = stance(state, params, now=48 * H, hedged=_est(-50_000, ts=48 * H))
    assert decision.reason is StanceReason.EXIT_ADVERSE and state.since_ts == 48 * H
    # Re-entry waits reentry_after_s, however good the carry looks.
    _, decision = stance(state, params, now=72 * H - 1, hedged=_est(90_000, ts=72 * H - 1))
    assert decision.reason is StanceReason.REENTRY_COOLDOWN
    _, decision = stance(state, params, now=72 * H, hedged=_est(90_000, ts=72 * H))
    assert decision.reason is StanceReason.ENTER


def test_stance_when_emergency_then_exit_inside_min_hold() -> None:
    params = CarryParams(emergency_exit_apr=500_000)
    state = _in(params)
    _, decision = stance(state, params, now=H, hedged=_est(-500_000, ts=H))
    assert decision.reason is StanceReason.HOLD_ADVERSE
    _, decision = stance(state, params, now=H, hedged=_est(-500_001, ts=H))
    assert decision.reason is StanceReason.EXIT_EMERGENCY and not decision.in_market


def test_stance_when_in_and_no_estimate_then_hold_unchanged() -> None:
    params = CarryParams()
    state = _in(params)
    after, decision = stance(state, params, now=H, hedged=None)
    assert after is state
    assert decision == StanceDecision(CarryPosition.HEDGED, StanceReason.NO_ESTIMATE)


def test_policy_carry_stays_hedged_while_deposit_covers_negative_funding_policy_funding_unwinds() -> None:
    """Funding -3 %/yr with a 5 % deposit: full carry +2 % keeps the default policy hedged; FUNDING unwinds."""
    est = _est(20_000, ts=0, funding_apr=-30_000)
    for policy, expected in (
        (NegativeFundingPolicy.CARRY, StanceReason.HOLD),
        (NegativeFundingPolicy.FUNDING, StanceReason.EXIT_ADVERSE),
    ):
        params = CarryParams(negative_funding=policy, exit_after_s=0, min_hold_s=0)
        state = _in(params)
        _, decision = stance(state, params, now=H, hedged=msgspec.structs.replace(est, funding_ts=H))
        assert decision.reason is expected
        # and under FUNDING a negative funding is never entered, whatever the deposit pays
        _, out_decision = stance(CarryState(last_funding_ts=0), params, now=0, hedged=est)
        assert out_decision.in_market is (policy is NegativeFundingPolicy.CARRY)


def test_reverse_when_flag_off_then_never_and_when_on_only_with_capacity() -> None:
    hedged = _est(-50_000, ts=0)
    reverse = msgspec.structs.replace(_est(60_000, ts=0, break_even_s=H), position=CarryPosition.REVERSE)
    base = CarryState(last_funding_ts=0)
    _, decision = stance(base, CarryParams(), now=0, hedged=hedged, reverse=reverse, borrow_capacity=10**15)
    assert decision.position is CarryPosition.OUT
    on = CarryParams(allow_reverse=True)
    _, decision = stance(base, on, now=0, hedged=hedged, reverse=reverse, borrow_capacity=NOTIONAL - 1)
    assert decision.position is CarryPosition.OUT
    state, decision = stance(base, on, now=0, hedged=hedged, reverse=reverse, borrow_capacity=NOTIONAL)
    assert (decision.position, decision.reason) == (CarryPosition.REVERSE, StanceReason.ENTER_REVERSE)
    # Turning the flag off unwinds a reversed position at once, past the minimum hold.
    _, decision = stance(state, CarryParams(), now=1, hedged=hedged, reverse=reverse)
    assert (decision.position, decision.reason) == (CarryPosition.OUT, StanceReason.EXIT_REVERSE_DISABLED)


@needs_data
def test_real_window_sol_perp_default_params_mostly_out() -> None:
    """The shared SOL-PERP window (2025-04-14 .. 2025-10-13, 4,392 prints, 48 % negative): mean funding -2.06 %/yr
    against a 1.98 % SOL deposit. With $10,000 a leg and $30 of round-trip costs the 24 h EWMA never justifies an
    entry; the 24 h TWAP, which forgets faster, enters twice and leaves both times on adverse carry after the
    minimum hold. Never in while the carry estimate is below the band for longer than exit_after_s past the hold."""
    records = load_drift_funding(SOL_FUNDING).records
    mean_apr = Fraction(sum(funding_fraction(r.rate, r.oracle_twap) for r in records) * 8_760, len(records) * 10**12)
    assert -0.021 < mean_apr < -0.020
    for smoothing, expected in (
        (Smoothing.EWMA, []),
        (Smoothing.TWAP, ["enter", "exit_adverse", "enter", "exit_adverse"]),
    ):
        params = CarryParams(smoothing=smoothing)
        state, changes = CarryState(), []
        for r in records:
            state = observe_funding(state, params, r.ts, r.rate, r.oracle_twap)
            est = estimate(state, params, notional=NOTIONAL, deposit_apr=SOL_DEPOSIT_APR, costs=30_000_000)
            state, decision = stance(state, params, now=r.ts, hedged=est)
            if decision.changed:
                changes.append(decision.reason.value)
                assert est is not None
                if decision.in_market:
                    assert est.break_even_s is not None and est.break_even_s <= params.break_even_horizon_s
                else:
                    assert est.carry_apr < -params.exit_band_apr
        assert changes == expected


# --- params ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"half_life_s": 0}, "CarryParams.half_life_s must be > 0"),
        ({"twap_window_s": -1}, "CarryParams.twap_window_s must be > 0"),
        ({"break_even_horizon_s": 0}, "CarryParams.break_even_horizon_s must be > 0"),
        ({"exit_band_apr": -1}, "CarryParams.exit_band_apr must be >= 0"),
        ({"min_hold_s": -1}, "CarryParams.min_hold_s must be >= 0"),
        ({"favourable_funding_bps": 10_001}, "CarryParams.favourable_funding_bps must be in [0, 10000]"),
        ({"emergency_exit_apr": 10_000}, "CarryParams.emergency_exit_apr must be above exit_band_apr"),
    ],
)
def test_params_when_impossible_then_invalid_field(changes: dict[str, int], message: str) -> None:
    with pytest.raises(InvalidField) as info:
        msgspec.structs.replace(CarryParams(), **changes).validate()
    assert str(info.value).startswith(message)


def test_params_when_yaml_like_mapping_then_decoded_and_unknown_fields_refused() -> None:
    params = msgspec.convert({"smoothing": "twap", "allow_reverse": True, "emergency_exit_apr": None}, CarryParams)
    assert params.smoothing is Smoothing.TWAP and params.allow_reverse and params.emergency_exit_apr is None
    params.validate()
    CarryParams().validate()
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        msgspec.convert({"half_life": 1}, CarryParams)
