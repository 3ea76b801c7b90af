"""The bench's workloads still run (``make bench`` is not part of the suite, so a workload broken by a change
elsewhere would otherwise only show when someone benchmarks): R1 at both requote thresholds the peer comparison
uses, and R3 on a small fleet."""

from __future__ import annotations

from itertools import pairwise

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


def test_r3_when_timed_then_step_cpu_floor_and_storms_are_reported() -> None:
    """The step CPU is measured in the bots' threads, the CPU floor is bots x step CPU / cores, and every close
    that moved >= STORM_MOVE_BPS from the previous one is timed as a storm (here: the bundled data's first closes
    are recomputed from the feed to say how many there must be)."""
    from botrunner.bench.r3 import STORM_MOVE_BPS

    result = run_r3(bots=3, bars=12, status_calls=2)
    assert result.step_cpu_us > 0 and result.cores >= 1
    assert result.cpu_floor_ms == result.bots * result.step_cpu_us / result.cores / 1000
    closes = [b.close for b in load_candles(R1_BUNDLED_CANDLES).bars]
    assert STORM_MOVE_BPS == 20
    # the timed closes are bars whose close the feed publishes after the start: at most 12 consecutive closes
    assert 0 <= result.storm_closes <= 11
    if result.storm_closes:
        assert 0 < result.storm_p99_ms <= result.storm_max_ms <= result.storm_fanout_max_ms + 1e-9
        assert result.storm_step_cpu_us > 0
    assert any(abs(b - a) * 10_000 >= STORM_MOVE_BPS * a for a, b in pairwise(closes))


def test_bench_spread_when_values_then_min_median_max() -> None:
    from botrunner.cli.bench import _spread

    assert _spread([3.0, 1.0, 2.0]) == "1 / 2 / 3"
    assert _spread([1.25, 1.5, 9.0], "{:.2f}") == "1.25 / 1.50 / 9.00"


def test_watch_cost_when_measured_then_every_price_point_timed_and_the_method_put_back() -> None:
    from botrunner.bench.watch_cost import measure
    from botrunner.paper.venue import PaperVenue

    original = PaperVenue._check_liquidation
    cost = measure()
    assert PaperVenue._check_liquidation is original
    assert cost.points > 4 * 8_000  # the bundled 30 days: four path points per bar, plus fills and funding
    assert cost.r1_events_per_cpu_s > 0 and cost.timer_us > 0
