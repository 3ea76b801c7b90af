"""The candle depth model for queue-position fills: estimated depth, touches that eat the queue, trade-throughs."""

from __future__ import annotations

import pytest

from botrunner.core.side import Side
from botrunner.marketdata.candles import Candle
from botrunner.paper.candle_queue import CandleDepthModel, join, level_volume, on_bar, resting_depth

SOL = 10**9
TICK = 10_000  # $0.01
MODEL = CandleDepthModel(tick=TICK, step=SOL // 100)


def _bar(low: int, high: int, volume: int) -> Candle:
    return Candle(0, low, high, low, high, volume)


def test_volume_is_spread_over_the_range_and_depth_averages_it() -> None:
    assert level_volume(_bar(100_000_000, 100_090_000, 100 * SOL), TICK) == 10 * SOL  # 10 levels
    assert level_volume(_bar(100_000_000, 100_000_000, 7 * SOL), TICK) == 7 * SOL
    bars = [_bar(100_000_000, 100_090_000, 100 * SOL), _bar(100_000_000, 100_040_000, 100 * SOL)]  # 10 and 20
    assert resting_depth(bars, MODEL) == 15 * SOL
    assert resting_depth([], MODEL) == 0


def test_touches_fill_only_past_20_percent_of_the_depth() -> None:
    history = [_bar(100_000_000, 100_090_000, 100 * SOL)] * 12  # depth 10 SOL per level
    q = join(MODEL, Side.BUY, 100_000_000, 5 * SOL, history)
    assert q.queue == 2 * SOL  # 20 % of 10 SOL
    touch = _bar(100_000_000, 100_190_000, 30 * SOL)  # low == our bid, 20 levels: 1.5 SOL at our price
    q, fill = on_bar(q, touch, MODEL)
    assert (q.traded, fill) == (3 * SOL // 2, 0)  # 1.5 < 2: still queued
    q, fill = on_bar(q, touch, MODEL)
    assert (q.traded, fill) == (3 * SOL, SOL)  # 1 SOL beyond the queue reaches us
    q, fill = on_bar(q, _bar(100_010_000, 100_100_000, 10**6 * SOL), MODEL)  # above our bid: nothing
    assert fill == 0
    q, fill = on_bar(q, _bar(99_990_000, 100_100_000, 1), MODEL)  # through our price: the rest fills
    assert fill == 4 * SOL and q.remaining == 0
    assert on_bar(q, touch, MODEL) == (q, 0)


def test_ask_side_mirrors() -> None:
    q = join(MODEL, Side.SELL, 100_000_000, SOL, [_bar(99_910_000, 100_000_000, 100 * SOL)])
    q, fill = on_bar(q, _bar(99_990_000, 100_000_000, 20 * SOL), MODEL)  # high == our ask, 2 levels: 10 SOL
    assert fill == SOL


def test_share_zero_fills_on_the_first_touch_and_bad_input_is_refused() -> None:
    front = CandleDepthModel(tick=TICK, step=SOL // 100, queue_share_bps=0)
    q = join(front, Side.BUY, 100_000_000, SOL, [_bar(100_000_000, 100_090_000, 100 * SOL)])
    assert on_bar(q, _bar(100_000_000, 100_000_000, SOL), front)[1] == SOL
    with pytest.raises(ValueError, match="multiple of the step"):
        join(MODEL, Side.BUY, 100_000_000, SOL // 1000, [])
    with pytest.raises(ValueError, match="queue_share_bps"):
        join(CandleDepthModel(tick=TICK, step=1, queue_share_bps=10_001), Side.BUY, 1, 1, [])
