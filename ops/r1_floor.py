"""R1's floor in plain CPython: the reference grid's rules in a bare loop, beside the full pipeline on the same bars.

The bare loop keeps only what R1 states (shared/bench/README.md): a ladder of 5 bids and 5 asks of 0.10 SOL, 30 bp
apart from the close, replaced whole when the close has moved >= 10 bp from the price it was built at (or the ladder
is empty), no bids while long >= 5 SOL and no asks while short >= 5 SOL; a resting order fills when the path trades
through its price by one tick; maker fee -0.002 %. Same bars, same path order (``botrunner.marketdata.feed.bar_path``),
same integer precisions. It has no margin engine, no Risk Governor, no order lifecycle, no records and no funding:
it is what any Python backtest of R1 must at least do, so its speed bounds what a leaner design could reach, and the
ratio to the pipeline is what our exactness and structure cost. It is a measurement, never part of the product.

Run from the repository root: ``PYTHONPATH=. .venv/bin/python ops/r1_floor.py [CANDLES.csv.gz]`` (default: the
shared 54,720 bars when present, else the bundled 30 days).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import NamedTuple

from botrunner.bench.reference import R1_BUNDLED_CANDLES, R1_FEES, R1_SHARED_CANDLES, r1_bot, run_r1
from botrunner.marketdata.candles import Candles, load_candles
from botrunner.marketdata.feed import bar_path

_BOT = r1_bot()  # R1's own parameters, as the pipeline runs them
TICK = _BOT.market_spec.tick_size  # SOL-PERP's, price 1e6
SIZE = _BOT.execution.base_size_per_level  # 0.1 SOL, base 1e9
LIMIT = _BOT.strategy.band.max_base  # 5 SOL: no bids while long this much, no asks while short this much
STEP_BPS = _BOT.execution.step_bps
REQUOTE_BPS = _BOT.execution.requote_threshold_bps
LEVELS = _BOT.execution.grid_levels
MAKER_PPM = R1_FEES.maker_ppm


class BareRun(NamedTuple):
    points: int  # path points seen (bar-events)
    placed: int
    fills: int
    position: int  # base 1e9
    quote: int  # quote 1e6 paid (-) and received (+) by the fills, before fees
    fees: int  # quote 1e6; a maker rebate is negative


def bare_r1(candles: Candles) -> BareRun:
    """R1 run as a bare loop (see the module doc)."""
    position = fees = placed = fills = points = anchor = 0
    quote = 0
    orders: list[tuple[int, int]] = []  # (side, price)
    for bar in candles.bars:
        for _leg, price in bar_path(bar):
            points += 1
            if not orders:
                continue
            resting: list[tuple[int, int]] = []
            for side, level in orders:
                if (side > 0 and price <= level - TICK) or (side < 0 and price >= level + TICK):
                    position += side * SIZE
                    value = SIZE * level // 1_000_000_000
                    quote -= side * value
                    fees += value * MAKER_PPM // 1_000_000
                    fills += 1
                else:
                    resting.append((side, level))
            orders = resting
        close = bar.close
        if not orders or abs(close - anchor) * 10_000 >= REQUOTE_BPS * anchor:
            anchor = close
            orders = []
            for k in range(1, LEVELS + 1):
                if position < LIMIT:
                    orders.append((1, close * (10_000 - STEP_BPS * k) // 10_000 // TICK * TICK))
                if position > -LIMIT:
                    orders.append((-1, -(-close * (10_000 + STEP_BPS * k) // 10_000 // TICK) * TICK))
            placed += len(orders)
    return BareRun(points, placed, fills, position, quote, fees)


def main(path: Path) -> None:
    candles = load_candles(path)
    t0 = time.perf_counter()
    points, placed, fills, *_ = bare_r1(candles)
    bare_s = time.perf_counter() - t0
    full = run_r1(candles)
    print(f"R1 on {len(candles.bars):,} bars of {path.name}:")
    print(
        f"  bare loop (R1's rules only)   : {points / bare_s:12,.0f} bar-events/s  ({bare_s:.2f} s, "
        f"orders {placed:,}, fills {fills:,})"
    )
    print(
        f"  full pipeline (run_r1)        : {full.events_per_s:12,.0f} bar-events/s  ({full.wall_s:.2f} s, "
        f"orders {full.orders:,}, fills {full.fills:,})"
    )
    print(f"  pipeline time over the floor  : {full.wall_s / bare_s:12.1f} x")
    print(f"  per bar: bare {bare_s / len(candles.bars) * 1e6:.1f} us, pipeline {full.wall_s / full.bars * 1e6:.1f} us")


if __name__ == "__main__":
    default = R1_SHARED_CANDLES if R1_SHARED_CANDLES.exists() else R1_BUNDLED_CANDLES
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else default)
