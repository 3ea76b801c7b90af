"""Health alerts: levels from health and liquidation distance, and a tracker that reports only level changes."""

from __future__ import annotations

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from botrunner.live.alerts import AlertLevel, AlertTracker, assess, liquidation_distance_bps
from botrunner.runtime.views import liq_distance_pct
from botrunner.venue.port import AccountReport
from governors.risk_limits import RiskLimits

LIMITS = RiskLimits()  # health_warning 50, health_critical 20, health_hysteresis 5, liq hysteresis 250 bp
USDC = 10**6
ORACLE = 100 * USDC


def report(health: int, liq: int | None = None, *, oracle: int = ORACLE) -> AccountReport:
    return AccountReport(
        ts=0,
        oracle=oracle,
        position_base=10**9 if liq is not None else 0,
        entry_price=oracle,
        break_even_price=oracle,
        usdc_balance=1_000 * USDC,
        unsettled_pnl=0,
        unrealized_pnl=0,
        equity=1_000 * USDC,
        total_collateral=1_000 * USDC,
        maintenance_requirement=0,
        free_collateral=1_000 * USDC,
        health=health,
        leverage=10_000,
        liquidation_price=liq,
        open_orders=0,
    )


def test_assess_when_health_above_warning_and_liquidation_far_then_ok() -> None:
    alert = assess(report(80, liq=50 * USDC), LIMITS)
    assert alert.level is AlertLevel.OK and alert.distance_bps == 5_000


def test_assess_when_health_below_50_then_warning() -> None:
    alert = assess(report(49, liq=60 * USDC), LIMITS)
    assert alert.level is AlertLevel.WARNING
    assert "health 49 is below 50" in alert.message and "60.00" in alert.message


def test_assess_when_health_below_20_then_critical_with_liquidation_price() -> None:
    alert = assess(report(19, liq=70 * USDC), LIMITS)
    assert alert.level is AlertLevel.CRITICAL
    assert alert.liquidation_price == 70 * USDC and "liquidation price 70.00 (30.00 % from the oracle)" in alert.message


def test_assess_when_liquidation_within_20_percent_then_critical_even_at_good_health() -> None:
    assert assess(report(90, liq=81 * USDC), LIMITS).level is AlertLevel.CRITICAL  # 19 % below
    assert assess(report(90, liq=119 * USDC), LIMITS).level is AlertLevel.CRITICAL  # a short's, 19 % above
    assert assess(report(90, liq=80 * USDC), LIMITS).level is AlertLevel.OK  # exactly 20 %: not within


def test_assess_when_no_liquidation_price_then_health_alone_decides() -> None:
    alert = assess(report(60), LIMITS)
    assert alert.level is AlertLevel.OK and alert.distance_bps is None and "no liquidation price" in alert.message


def test_assess_when_thresholds_configured_then_they_apply() -> None:
    limits = msgspec.structs.replace(LIMITS, health_warning=70, health_critical=30, min_health_after_trade=70)
    assert assess(report(65, liq=10 * USDC), limits).level is AlertLevel.WARNING
    assert assess(report(90, liq=75 * USDC), limits).level is AlertLevel.CRITICAL  # 25 % < 30 %


def test_tracker_when_health_oscillates_49_51_then_one_warning_only() -> None:
    tracker = AlertTracker()
    emitted = []
    for h in (60, 49, 51, 49, 51, 50, 49, 54):
        tracker, alert = tracker.observe(report(h), LIMITS)
        if alert is not None:
            emitted.append(alert.level)
    assert emitted == [AlertLevel.WARNING]
    tracker, alert = tracker.observe(report(55), LIMITS)  # 50 + 5 hysteresis: clear
    assert alert is not None and alert.level is AlertLevel.OK and tracker.level is AlertLevel.OK


def test_tracker_when_recovering_from_critical_then_steps_down_only_past_hysteresis() -> None:
    tracker, alert = AlertTracker().observe(report(10), LIMITS)
    assert alert is not None and alert.level is AlertLevel.CRITICAL
    tracker, alert = tracker.observe(report(24), LIMITS)
    assert alert is None and tracker.level is AlertLevel.CRITICAL
    tracker, alert = tracker.observe(report(52), LIMITS)  # clear of critical, not of warning
    assert alert is not None and alert.level is AlertLevel.WARNING
    assert "below 50" in alert.message


def test_tracker_when_liquidation_distance_recovers_inside_hysteresis_then_stays_critical() -> None:
    tracker, _ = AlertTracker().observe(report(90, liq=81 * USDC), LIMITS)
    assert tracker.level is AlertLevel.CRITICAL
    tracker, alert = tracker.observe(report(90, liq=79 * USDC), LIMITS)  # 21 % < 20 % + 2.5 %
    assert alert is None and tracker.level is AlertLevel.CRITICAL
    tracker, alert = tracker.observe(report(90, liq=77 * USDC), LIMITS)  # 23 %: clear
    assert alert is not None and alert.level is AlertLevel.OK


def test_liquidation_distance_rounds_toward_danger() -> None:
    assert liquidation_distance_bps(report(90, liq=80_000_001)) == 1_999  # just under 20 %: nearer, not rounded up


healths = st.integers(0, 100)
liqs = st.one_of(st.none(), st.integers(1, 300 * USDC))


@given(a=healths, b=healths, liq=liqs)
def test_assess_property_level_is_monotone_in_health(a: int, b: int, liq: int | None) -> None:
    low, high = sorted((a, b))
    assert assess(report(low, liq), LIMITS).level.rank >= assess(report(high, liq), LIMITS).level.rank


@given(h=st.integers(0, LIMITS.health_critical - 1), liq=liqs)
def test_assess_property_critical_whenever_health_below_critical(h: int, liq: int | None) -> None:
    assert assess(report(h, liq), LIMITS).level is AlertLevel.CRITICAL


@given(path=st.lists(st.tuples(healths, liqs), min_size=1, max_size=40))
def test_tracker_property_alert_exactly_on_level_changes(path: list[tuple[int, int | None]]) -> None:
    tracker = AlertTracker()
    for h, liq in path:
        r = report(h, liq)
        nxt, alert = tracker.observe(r, LIMITS)
        assert (alert is not None) == (nxt.level is not tracker.level)
        if alert is not None:
            assert alert.level is nxt.level and alert.health == h
        plain = assess(r, LIMITS).level
        # never better than the plain level, never worse than the plain level or the one it held
        assert nxt.level.rank >= plain.rank
        assert nxt.level.rank <= max(plain.rank, tracker.level.rank)
        if h < LIMITS.health_critical:
            assert nxt.level is AlertLevel.CRITICAL
        tracker = nxt


def test_ctl_distance_when_flat_with_orders_then_shown_like_any_liquidation_price() -> None:
    # a flat account whose open orders' worst case can be liquidated has a liquidation price, and ctl shows how far
    # it is (it used to print the price with no distance, as if a flat account could have none)
    flat = msgspec.structs.replace(report(90, liq=120 * USDC), position_base=0, open_orders=2)
    assert liq_distance_pct(flat) == "20.00"
    assert liq_distance_pct(report(90)) is None
