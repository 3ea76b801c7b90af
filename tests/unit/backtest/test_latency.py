"""Backtests with paper latency on bars fast enough for a command to outlive a path point: the bundled SOL 5-minute
bars replayed as 1-minute bars (path points 15 s apart) with 50 slots (20 s) of latency. The grid bot then decides
on a state 20 s old, so some of its requote cancels lose the race to a fill: the order's closing row says
``cancel_in_flight``, the cancel is refused when it lands, and nothing forces a resync. Without latency, on the same
bars, no race happens."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from botrunner.backtest.engine import BacktestInputs, BacktestResult, run_backtest
from botrunner.bot.step import CANCEL_IN_FLIGHT
from botrunner.config import load_bot
from botrunner.marketdata.candles import Candles, bundled_path, load_candles
from botrunner.paper.config import PaperConfig

ROOT = Path(__file__).resolve().parents[3]


def _run(slots: int) -> BacktestResult:
    candles = load_candles(bundled_path("SOL-USDT-PERP_binance_5m.csv.gz"))
    t0 = candles.bars[0].ts
    bars = tuple(msgspec.structs.replace(b, ts=t0 + i * 60) for i, b in enumerate(candles.bars[:6000]))
    fast = Candles(source="sol-as-1m", interval_s=60, bars=bars)
    bot = load_bot(ROOT / "config" / "bots" / "sol-neutral-grid.yaml")
    inputs = BacktestInputs(
        bot=bot,
        candles=fast,
        funding=None,
        start=bars[3000].ts,
        end=bars[-1].ts,
        paper=PaperConfig(latency_slots=slots),
    )
    return run_backtest(inputs)


@pytest.fixture(scope="module")
def delayed() -> BacktestResult:
    return _run(50)


def test_latency_when_cancels_race_fills_then_the_closing_rows_say_so(delayed: BacktestResult) -> None:
    races = delayed.races
    assert races, "no cancel lost a race"
    assert all(r.reason == CANCEL_IN_FLIGHT and r.event in ("filled", "cancelled") for r in races)
    assert [r for r in delayed.orders if r.reason == CANCEL_IN_FLIGHT] == races
    # each raced order was filled after it was placed, and its cancel, landing later, found it gone (or its rest)
    for race in races[:20]:
        rows = [o for o in delayed.orders if o.order_id == race.order_id]
        assert rows[0].event == "placed" and rows[0].ts <= race.ts
        if race.event == "filled":
            later = [
                o
                for o in delayed.orders
                if o.user_order_id == race.user_order_id and o.event == "rejected" and o.ts >= race.ts
            ]
            assert later and later[0].reason == "unknown_order"
    assert delayed.resyncs == 0  # a refused cancel of an order already gone is no surprise


def test_latency_when_none_then_no_race_on_the_same_bars(delayed: BacktestResult) -> None:
    plain = _run(0)
    assert plain.races == []
    assert plain.resyncs == 0
    assert delayed.fill_count > 0 and plain.fill_count > 0


def test_latency_runs_are_deterministic(delayed: BacktestResult) -> None:
    again = _run(50)
    assert again.orders == delayed.orders
    assert again.fills == delayed.fills
    assert again.ending_equity == delayed.ending_equity
