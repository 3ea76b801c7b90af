"""Risk Governor behaviour, one rule per test, against the FakeProjection test double."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec
import pytest

from botrunner.core.intents import ExposureBand
from botrunner.core.margin_view import MarginProjection, MarginSnapshot
from botrunner.core.verdict import RiskAction, RiskReason, Verdict
from governors.risk import RiskInputs, RiskState, evaluate, funding_ppm_per_hour
from governors.risk_limits import RiskLimits
from governors.risk_sizing import liquidation_distance_bps, position_violations
from tests.support.risk_doubles import SOL_PERP, Account, FakeProjection, px, sol, usd

NOW = 1_760_000_000
STEP = SOL_PERP.step_size
LIMITS = RiskLimits().validate()


def inputs_for(
    proj: MarginProjection,
    requested: ExposureBand,
    *,
    now: int = NOW,
    mark: int | None = None,
    oracle_ts: int | None = None,
    funding_rate: int = 0,
    day_start_equity: int | None = None,
    equity: int | None = None,
    stress_move_bps: int | None = None,
    operator_pause: bool = False,
    operator_reduce_only: bool = False,
) -> RiskInputs:
    snap = proj.current()
    eq = snap.total_collateral_maintenance if equity is None else equity
    return RiskInputs(
        now=now,
        mark_price=snap.oracle_price if mark is None else mark,
        oracle_price=snap.oracle_price,
        oracle_ts=now if oracle_ts is None else oracle_ts,
        funding_rate=funding_rate,
        day_start_equity=eq if day_start_equity is None else day_start_equity,
        equity=eq,
        requested=requested,
        snapshot=snap,
        stress_move_bps=stress_move_bps,
        operator_pause=operator_pause,
        operator_reduce_only=operator_reduce_only,
    )


def fake(collateral: float, base: float, entry: float, oracle: float) -> FakeProjection:
    return FakeProjection.from_account(Account(usd(collateral), sol(base), px(entry), px(oracle)))


def run(
    proj: MarginProjection,
    requested: ExposureBand,
    limits: RiskLimits = LIMITS,
    state: RiskState | None = None,
    **kw: object,
) -> tuple[RiskState, Verdict]:
    return evaluate(state or RiskState(), inputs_for(proj, requested, **kw), limits, proj, SOL_PERP)  # type: ignore[arg-type]


def band(lo: float, hi: float, pref: float = 0) -> ExposureBand:
    return ExposureBand(sol(lo), sol(hi), sol(pref))


def health_account(collateral: float) -> FakeProjection:
    """10 SOL long at $100 (maintenance $30): health = round(100 * (1 - 30 / collateral))."""
    return fake(collateral, 10, 100, 100)


# Limits wide enough that only the rule under test can fire.
LOOSE = RiskLimits(
    max_leverage_x10000=1_000_000, min_liq_distance_bps=0, liq_distance_hysteresis_bps=0, stress_move_bps=0
).validate()


def test_risk_when_all_limits_clear_then_approve_with_requested_band() -> None:
    _, verdict = run(fake(10_000, 0, 0, 100), band(-5, 5, 1))
    assert verdict.action is RiskAction.APPROVE
    assert verdict.band == band(-5, 5, 1)
    assert verdict.findings == ()


def test_risk_when_health_below_warning_then_reduce_only() -> None:
    proj = health_account(59)  # round(100 * (1 - 30/59)) = 49
    assert proj.current().health == 49
    state, verdict = run(proj, band(0, 20, 15), LOOSE)
    assert verdict.action is RiskAction.REDUCE_ONLY
    assert RiskReason.HEALTH_WARNING in verdict.reasons
    # never grows the long: the band lies between flat and the current 10 SOL
    assert 0 <= verdict.band.min_base <= verdict.band.max_base <= sol(10)
    assert state.action is RiskAction.REDUCE_ONLY and state.since == NOW


def test_risk_when_health_critical_then_reduce_only_with_liquidation_defence_not_pause() -> None:
    proj = health_account(36)  # round(100 * (1 - 30/36)) = 17
    assert proj.current().health < LOOSE.health_critical
    _, verdict = run(proj, band(0, 20, 15), LOOSE)
    assert verdict.action is RiskAction.REDUCE_ONLY
    critical = [f for f in verdict.findings if f.reason is RiskReason.HEALTH_CRITICAL]
    assert critical and critical[0].detail == "liquidation_defence"
    assert critical[0].value == proj.current().health and critical[0].limit == 20


def test_risk_when_oracle_mark_divergence_then_pause_and_band_is_the_position() -> None:
    proj = fake(10_000, 3, 100, 100)
    _, verdict = run(proj, band(-5, 5), mark=px(101.5))  # 150 bp > 100 bp
    assert verdict.action is RiskAction.PAUSE
    assert verdict.reasons == (RiskReason.ORACLE_MARK_DIVERGENCE,)
    assert verdict.findings[0].value == 150
    assert verdict.band == ExposureBand(sol(3), sol(3), sol(3))


def test_risk_when_market_data_stale_then_pause() -> None:
    _, verdict = run(fake(10_000, 0, 0, 100), band(-5, 5), oracle_ts=NOW - 31)
    assert verdict.action is RiskAction.PAUSE
    assert verdict.reasons == (RiskReason.STALE_MARKET_DATA,)


def test_risk_when_oracle_timestamp_slightly_ahead_of_clock_then_fresh() -> None:
    _, verdict = run(fake(10_000, 0, 0, 100), band(-5, 5), oracle_ts=NOW + 2)
    assert verdict.action is RiskAction.APPROVE


def test_risk_clamp_narrows_within_requested_band_and_edges_are_maximal() -> None:
    proj = fake(1_000, 0, 0, 100)  # $1,000 flat: 5x cap is 50 SOL, the stress and liq buffer bind first
    requested = band(-100, 100, 20)
    _, verdict = run(proj, requested)
    assert verdict.action is RiskAction.CLAMP
    got = verdict.band
    assert got.is_within(requested) and got != requested
    assert got.min_base % STEP == 0 and got.max_base % STEP == 0
    assert got.min_base <= got.preferred_base <= got.max_base
    stress = LIMITS.stress_move_bps
    # each edge passes every limit, one more step does not: the clamp is as large as it can be
    for edge, beyond in ((got.max_base, got.max_base + STEP), (got.min_base, got.min_base - STEP)):
        assert position_violations(edge, px(100), stress, LIMITS, proj) == ()
        assert position_violations(beyond, px(100), stress, LIMITS, proj) != ()
    assert all(f.action is RiskAction.CLAMP for f in verdict.findings)
    assert RiskReason.STRESS_CAP in verdict.reasons


def test_risk_when_request_already_safe_then_band_unchanged_even_if_off_step_it_is_rounded_inward() -> None:
    requested = ExposureBand(sol(-1) - 3, sol(1) + 3, 0)
    _, verdict = run(fake(10_000, 0, 0, 100), requested)
    assert verdict.action is RiskAction.APPROVE
    assert verdict.band == band(-1, 1, 0)


def test_risk_larger_stress_override_gives_a_narrower_band() -> None:
    proj = fake(1_000, 0, 0, 100)
    _, calm = run(proj, band(-100, 100))
    _, stressed = run(proj, band(-100, 100), stress_move_bps=3_000)
    assert stressed.band.is_within(calm.band) and stressed.band != calm.band


def test_risk_oracle_mark_gap_widens_the_stress_move() -> None:
    proj = fake(1_000, 0, 0, 100)
    _, no_gap = run(proj, band(-100, 100))
    _, gap = run(proj, band(-100, 100), mark=px(100.9))  # 90 bp: below the pause limit, added to the stress
    assert gap.action is RiskAction.CLAMP
    assert gap.band.is_within(no_gap.band) and gap.band != no_gap.band


def test_risk_when_notional_cap_binds_then_clamp_at_the_cap() -> None:
    limits = RiskLimits(max_notional_quote=usd(500)).validate()
    _, verdict = run(fake(100_000, 0, 0, 100), band(-10, 10), limits)
    assert verdict.action is RiskAction.CLAMP
    assert verdict.band == band(-5, 5)  # $500 / $100
    assert set(verdict.reasons) == {RiskReason.MAX_NOTIONAL}


def test_risk_when_current_leverage_above_cap_then_reduce_only_toward_the_safe_size() -> None:
    proj = fake(1_000, 60, 100, 100)  # 6x on $1,000
    _, verdict = run(proj, band(50, 70, 60))
    assert verdict.action is RiskAction.REDUCE_ONLY
    assert RiskReason.LEVERAGE_CAP in verdict.reasons
    # the band is capped at the largest safe size below the current 60 SOL
    assert verdict.band.max_base < sol(60)
    assert position_violations(verdict.band.max_base, px(100), LIMITS.stress_move_bps, LIMITS, proj) == ()


def test_risk_when_request_entirely_beyond_safe_size_then_reduce_only_not_a_band_outside_the_request() -> None:
    proj = fake(1_000, 0, 0, 100)
    requested = band(80, 100, 90)  # 8x .. 10x: nothing in it is safe
    _, verdict = run(proj, requested)
    assert verdict.action is RiskAction.REDUCE_ONLY
    assert verdict.band == ExposureBand(0, 0, 0)  # flat stays flat
    assert all(f.action is RiskAction.REDUCE_ONLY for f in verdict.findings)


def test_risk_funding_guardrail_when_longs_pay_then_long_side_may_not_grow() -> None:
    proj = fake(100_000, 2, 100, 100)
    rate = 200 * 100 * 1_000  # 200 ppm/h of $100 = $0.02 per SOL per hour, in 1e9
    assert funding_ppm_per_hour(rate, px(100)) == 200
    _, verdict = run(proj, band(-10, 10, 5), funding_rate=rate)
    assert verdict.action is RiskAction.CLAMP
    assert verdict.band == band(-10, 2, 2)  # short side untouched, long capped at the current 2 SOL
    assert RiskReason.FUNDING_GUARDRAIL in verdict.reasons


def test_risk_funding_guardrail_when_shorts_pay_then_short_side_may_not_grow() -> None:
    proj = fake(100_000, 0, 0, 100)
    _, verdict = run(proj, band(-10, 10, -5), funding_rate=-200 * 100 * 1_000)
    assert verdict.band == band(0, 10, 0)


def test_risk_funding_guardrail_when_position_pays_beyond_threshold_then_reduce_only() -> None:
    rate = 600 * 100 * 1_000  # 600 ppm/h: longs pay
    _, long_verdict = run(fake(100_000, 5, 100, 100), band(-10, 10), funding_rate=rate)
    assert long_verdict.action is RiskAction.REDUCE_ONLY
    assert long_verdict.band == band(0, 5, 0)
    # a short receives that funding: no reduce-only, only the freeze of the long side
    _, short_verdict = run(fake(100_000, -5, 100, 100), band(-10, 10), funding_rate=rate)
    assert short_verdict.action is RiskAction.CLAMP
    assert short_verdict.band == band(-10, 0, 0)


def test_risk_when_daily_loss_beyond_limit_then_reduce_only() -> None:
    proj = fake(10_000, 5, 100, 100)
    _, verdict = run(proj, band(-10, 10), day_start_equity=usd(11_500), equity=usd(10_000))  # -13 %
    assert verdict.action is RiskAction.REDUCE_ONLY
    loss = next(f for f in verdict.findings if f.reason is RiskReason.DAILY_LOSS)
    assert (loss.value, loss.limit, loss.unit) == (usd(1_500), usd(1_150), "quote_1e6")
    assert verdict.band == band(0, 5, 0)


def test_risk_daily_loss_absolute_limit_wins_when_tighter() -> None:
    limits = RiskLimits(max_daily_loss_quote=usd(100)).validate()
    proj = fake(10_000, 0, 0, 100)
    _, hit = run(proj, band(-1, 1), limits, day_start_equity=usd(10_150), equity=usd(10_000))
    assert hit.action is RiskAction.REDUCE_ONLY
    _, ok = run(proj, band(-1, 1), limits, day_start_equity=usd(10_050), equity=usd(10_000))
    assert ok.action is RiskAction.APPROVE


def test_risk_operator_pause_and_reduce_only_flags() -> None:
    proj = fake(10_000, 1, 100, 100)
    _, paused = run(proj, band(-5, 5), operator_pause=True)
    assert paused.action is RiskAction.PAUSE and paused.reasons == (RiskReason.OPERATOR,)
    _, reduce = run(proj, band(-5, 5), operator_reduce_only=True)
    assert reduce.action is RiskAction.REDUCE_ONLY and reduce.reasons == (RiskReason.OPERATOR,)
    assert reduce.band == band(0, 1, 0)


def test_risk_cool_down_holds_then_releases() -> None:
    limits = RiskLimits(
        max_leverage_x10000=1_000_000, min_liq_distance_bps=0, liq_distance_hysteresis_bps=0, stress_move_bps=0,
        cool_down_s=300, min_health_after_trade=50,
    ).validate()  # fmt: skip
    req = band(0, 10, 10)
    state, v = run(health_account(59), req, limits, now=NOW)  # health 49: latch
    assert v.action is RiskAction.REDUCE_ONLY
    state, v = run(health_account(200), req, limits, state, now=NOW + 10)  # health 85: recovered
    assert v.action is RiskAction.REDUCE_ONLY
    assert v.reasons == (RiskReason.COOL_DOWN,)
    assert (v.findings[0].value, v.findings[0].limit) == (10, 300)
    state, v = run(health_account(200), req, limits, state, now=NOW + 299)
    assert v.action is RiskAction.REDUCE_ONLY
    state, v = run(health_account(200), req, limits, state, now=NOW + 300)
    assert v.action is RiskAction.APPROVE and state.latches == ()
    assert state.since == NOW + 300


def test_risk_hysteresis_keeps_reduce_only_until_metric_past_threshold_plus_margin() -> None:
    req = band(0, 10, 10)
    state, _ = run(health_account(59), req, LOOSE, now=NOW)  # 49
    state, v = run(health_account(64), req, LOOSE, state, now=NOW + 10_000)  # 53 < 50 + 5
    assert v.action is RiskAction.REDUCE_ONLY
    assert v.findings[0].reason is RiskReason.HEALTH_WARNING
    assert "hysteresis" in v.findings[0].detail
    state, v = run(health_account(67), req, LOOSE, state, now=NOW + 10_001)  # 55: released (cool-down long over)
    assert v.action is not RiskAction.REDUCE_ONLY


def test_risk_re_breach_during_cool_down_restarts_it() -> None:
    req = band(0, 10, 10)
    state, _ = run(health_account(59), req, LOOSE, now=NOW)
    state, _ = run(health_account(59), req, LOOSE, state, now=NOW + 200)  # still breached at +200
    state, v = run(health_account(200), req, LOOSE, state, now=NOW + 301)
    assert v.reasons == (RiskReason.COOL_DOWN,)  # 101 s since the last breach
    state, v = run(health_account(200), req, LOOSE, state, now=NOW + 500)
    assert v.action is RiskAction.APPROVE


def test_risk_escalation_is_immediate_even_during_cool_down() -> None:
    req = band(0, 10, 10)
    state, _ = run(health_account(59), req, LOOSE, now=NOW)
    state, v = run(health_account(200), req, LOOSE, state, now=NOW + 10)
    assert v.reasons == (RiskReason.COOL_DOWN,)
    state, v = run(health_account(200), req, LOOSE, state, now=NOW + 11, mark=px(103))
    assert v.action is RiskAction.PAUSE
    assert set(v.reasons) == {RiskReason.COOL_DOWN, RiskReason.ORACLE_MARK_DIVERGENCE}


def test_liquidation_distance_bps_helper() -> None:
    assert liquidation_distance_bps(fake(1_000, 0, 0, 100).current()) is None
    snap = fake(1_000, 30, 100, 100).current()  # liq = (3000 - 1000) / (30 * 0.97) = 68.72...
    assert snap.liquidation_price is not None
    assert liquidation_distance_bps(snap) == (px(100) - snap.liquidation_price) * 10_000 // px(100)
    assert liquidation_distance_bps(snap) == 3127
    short = fake(1_000, -30, 100, 100).current()  # liq = 4000 / (30 * 1.03) = 129.45...
    assert liquidation_distance_bps(short) == 2944


@dataclass(frozen=True)
class _NonMonotoneProjection:
    """TEST DOUBLE: an account whose health is bad only at middle-sized longs, breaking the search's assumption."""

    def current(self) -> MarginSnapshot:
        return self.project(0, px(100))

    def project(self, position_base: int, oracle_price: int) -> MarginSnapshot:
        bad = sol(2) <= position_base <= sol(4)
        return MarginSnapshot(
            oracle_price=oracle_price, position_base=position_base, entry_price=0,
            total_collateral_initial=usd(1_000_000), total_collateral_maintenance=usd(1_000_000),
            margin_requirement_initial=0, margin_requirement_maintenance=0,
            free_collateral_initial=usd(1_000_000), free_collateral_maintenance=usd(1_000_000),
            health=10 if bad else 100, leverage=0, liquidation_price=None, unrealized_pnl=0,
        )  # fmt: skip


def test_risk_when_margin_is_not_monotone_in_size_then_that_side_falls_back_to_flat() -> None:
    proj = _NonMonotoneProjection()
    _, verdict = run(proj, band(-10, 10), LOOSE)
    assert verdict.action is RiskAction.CLAMP
    assert verdict.band.max_base == 0 and verdict.band.min_base == sol(-10)
    assert any("non_monotone" in f.detail for f in verdict.findings)


def test_risk_limits_validate_names_the_field() -> None:
    with pytest.raises(ValueError, match="health_warning must exceed health_critical"):
        RiskLimits(health_warning=20, health_critical=20).validate()
    with pytest.raises(ValueError, match="max_oracle_mark_divergence_bps"):
        RiskLimits(max_oracle_mark_divergence_bps=0).validate()
    with pytest.raises(ValueError, match=r"RiskLimits\.cool_down_s must be >= 0"):
        RiskLimits(cool_down_s=-1).validate()
    with pytest.raises(ValueError, match=r"RiskLimits\.stress_move_bps must be an integer"):
        RiskLimits(stress_move_bps=1.5).validate()  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="funding_reduce_only_ppm_per_hour"):
        RiskLimits(funding_clamp_ppm_per_hour=600).validate()


def test_risk_inputs_reject_impossible_numbers_naming_the_field() -> None:
    proj = fake(1_000, 0, 0, 100)
    good = inputs_for(proj, band(-1, 1))
    for field, bad, match in (
        ("oracle_price", 0, "oracle_price must be > 0"),
        ("mark_price", -5, "mark_price must be > 0"),
        ("mark_price", float("nan"), "mark_price must be an integer"),
        ("stress_move_bps", 10_000, "stress_move_bps"),
        ("requested", ExposureBand(5, 1, 3), "requested band inverted"),
    ):
        broken = msgspec.structs.replace(good, **{field: bad})
        with pytest.raises(ValueError, match=match):
            evaluate(RiskState(), broken, LIMITS, proj, SOL_PERP)


def test_risk_stress_cap_keeps_the_liquidation_price_beyond_the_buffer_after_the_move() -> None:
    # $1,000 flat at $100, 20 % stress, 15 % buffer, health under stress only needs 20: the stressed liquidation
    # distance binds at p <= 1000 / (100 - 0.85 * 0.8 * 100 * 0.97) = 29.377 SOL, well before 5x (50 SOL)
    limits = RiskLimits(stress_move_bps=2_000, min_health_under_stress=20).validate()
    proj = fake(1_000, 0, 0, 100)
    _, verdict = run(proj, band(0, 100, 10), limits)
    assert verdict.action is RiskAction.CLAMP
    assert verdict.band.max_base == sol(29.37)  # rounded down to the 0.01 step
    cut = [f for f in verdict.findings if f.reason is RiskReason.STRESS_CAP]
    assert cut and cut[0].unit == "bps" and cut[0].value < cut[0].limit == 1_500
    assert "liquidation distance after a 2000 bp adverse move" in cut[0].detail
