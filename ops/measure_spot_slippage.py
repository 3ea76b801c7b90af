"""Measure taker slippage against a real L2 book, for the paper spot market's slippage model (docs/paper-spot.md).

Replays the Binance USD-M BTCUSDT raw capture in ../shared/data/orderbook (2024-08-08, ~6 minutes: one 1000-level
snapshot then every depth diff), samples the rebuilt book once a second, and walks it for takers of fixed quote
notionals on both sides: the cost of each walk, in bp of the mid, is (average fill price - mid) / mid. Prints one
JSON object: per notional the median, p90 and max cost in bp over the samples, and the median half-spread.

Then transports the walk costs to SOL with the square-root impact law (cost = Y * sigma * sqrt(Q / V), sigma the
median hourly high-low range and V the median hourly quote volume): Y is fitted on the BTC book with the BTC perp
1 h candles of the 24 h before the capture, sigma and V for SOL come from the Binance SOL/USDT spot 1 h candles over
the Drift funding window (2025-04-14 .. 2025-10-13); the SOL impact at $10k is what ``spot_impact_ppm`` defaults to.
The SOL half-spread is one $0.01 tick (Binance SOLUSDT's tick; the BTC book sat at one tick) over the median price.

Usage (from the project root)::

    PYTHONPATH=. .venv/bin/python ops/measure_spot_slippage.py \\
        ../shared/data/orderbook/binance-usdm_BTCUSDT_20240808.gz
"""

from __future__ import annotations

import csv
import gzip
import json
import math
import statistics
import sys
from pathlib import Path

from botrunner.core.precision import BASE_PRECISION, PRICE_PRECISION
from botrunner.core.side import Side
from botrunner.marketdata.l2 import BookDelta, BookSnapshot, OrderBook, iter_binance_capture

NOTIONALS_USD = (1_000, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000)


DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "market" / "binance"
WINDOW = (1_744_588_800, 1_760_400_000)  # the Drift SOL-PERP funding window, unix s
REFERENCE_USD = 10_000


def _candles(name: str) -> list[dict[str, float]]:
    with gzip.open(DATA / name, "rt") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def _range_and_volume(rows: list[dict[str, float]]) -> tuple[float, float]:
    """Median hourly high-low range (bp of the open) and median hourly quote volume (USD)."""
    ranges = [(c["high"] - c["low"]) / c["open"] * 1e4 for c in rows]
    volumes = [c["volume"] * c["close"] for c in rows]
    return statistics.median(ranges), statistics.median(volumes)


def main(path: str) -> None:
    book = OrderBook()
    next_sample_ns = 0
    costs: dict[int, list[float]] = {n: [] for n in NOTIONALS_USD}
    half_spreads: list[float] = []
    for event in iter_binance_capture(Path(path)):
        book.apply(event)
        if not isinstance(event, BookSnapshot | BookDelta) or not book.has_snapshot or event.ts_ns < next_sample_ns:
            continue
        next_sample_ns = event.ts_ns + 1_000_000_000
        bid, ask = book.best_bid()[0], book.best_ask()[0]
        mid = (bid + ask) / 2
        half_spreads.append((ask - mid) / mid * 1e4)
        for notional in NOTIONALS_USD:
            qty = notional * PRICE_PRECISION * BASE_PRECISION // int(mid)  # base 1e9 for this many dollars
            for side in (Side.BUY, Side.SELL):
                walk = book.walk(side, qty)
                if walk.shortfall:
                    continue
                costs[notional].append(abs(walk.avg_price - mid) / mid * 1e4)
    capture_ts = next_sample_ns // 1_000_000_000
    btc = [c for c in _candles("BTC-USDT-PERP_1h.csv.gz") if capture_ts - 86_400 <= c["ts"] < capture_ts]
    btc_range, btc_volume = _range_and_volume(btc)
    spread = statistics.median(half_spreads)
    fits = {}
    for stat in ("median", "p90"):
        big = costs[1_000_000]
        c = statistics.median(big) if stat == "median" else statistics.quantiles(big, n=10)[-1]
        fits[stat] = (c - spread) / (btc_range * math.sqrt(1_000_000 / btc_volume))
    sol = [c for c in _candles("SOL-USDT-SPOT_1h.csv.gz") if WINDOW[0] <= c["ts"] < WINDOW[1]]
    sol_range, sol_volume = _range_and_volume(sol)
    sol_price = statistics.median(c["close"] for c in sol)
    out = {
        "btc_hourly_range_bp": round(btc_range, 2),
        "btc_hourly_volume_usd": round(btc_volume),
        "sqrt_law_y": {k: round(v, 4) for k, v in fits.items()},
        "sol_hourly_range_bp": round(sol_range, 2),
        "sol_hourly_volume_usd": round(sol_volume),
        "sol_median_price": sol_price,
        "sol_half_spread_ppm": round(0.01 / 2 / sol_price * 1e6, 2),
        "sol_impact_ppm_at_10k": {
            k: round(y * sol_range * math.sqrt(REFERENCE_USD / sol_volume) * 100, 2) for k, y in fits.items()
        },
        "samples": len(half_spreads),
        "half_spread_bp_median": round(statistics.median(half_spreads), 4),
        "cost_bp": {
            str(n): {
                "median": round(statistics.median(c), 4),
                "p90": round(statistics.quantiles(c, n=10)[-1], 4),
                "max": round(max(c), 4),
            }
            for n, c in costs.items()
            if c
        },
    }
    sys.stdout.write(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
