"""The bench's workloads still run (``make bench`` is not part of the suite, so a workload broken by a change
elsewhere would otherwise only show when someone benchmarks): R1 at both requote thresholds the peer comparison
uses, and R3 on a small fleet."""

from __future__ import annotations

from botrunner.bench.r3 import run_r3
from botrunner.bench.reference import R1_BUNDLED_CANDLES, run_r1
from botrunner.marketdata.candles import Candles, load_candles


def _day() -> Candles:
    bundled = load_candles(R1_BUNDLED_CANDLES)
    return Candles(bundled.source, bundled.interval_s, bundled.bars[:288])


def test_r1_when_requote_is_wider_then_fewer_orders_on_the_same_bars() -> None:
    day = _day()
    r1 = run_r1(day)
    light = run_r1(day, requote_bps=100)
    assert r1.bars == light.bars == 288
    assert 0 < light.orders < r1.orders
    assert r1.cpu_s > 0 and light.cpu_s > 0


def test_r3_when_small_fleet_then_every_bar_gets_commands_timed() -> None:
    result = run_r3(bots=3, bars=5, status_calls=5)
    assert result.bots == 3 and result.bars == 5
    assert 0 < result.p50_ms <= result.p99_ms <= result.max_ms


def test_decision_cost_when_grid_and_delta_neutral_then_every_bar_close_timed() -> None:
    from pathlib import Path

    from botrunner.bench.decision_cost import measure

    for name in ("sol-neutral-grid", "sol-delta-neutral"):
        cost = measure(Path("config/bots") / f"{name}.yaml")
        assert cost.decisions == cost.bars > 0, name  # one deciding step per traded bar
        assert cost.decide_us > 0 and cost.run_cpu_s > 0, name
