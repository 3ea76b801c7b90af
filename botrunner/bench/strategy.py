"""Benchmark of the rolling percentile windows, for ``make bench`` (``botrunner.bench`` prints the figures).

Feeds two weeks of synthetic 1-minute prices (a seeded integer random walk; the first week fills the 1W window,
the second is timed at steady state) through ``GridStrategy.on_price`` with all four default windows, then times
``decide``. For comparison it times the naive approach (re-sort every window at every update) on a slice. Returns
figures; no assertions (speed targets live here, not in unit tests).
"""

from __future__ import annotations

import random
import time

from botrunner.core.catalogue import load_catalogue
from botrunner.core.markets import PerpMarketSpec
from botrunner.core.policy import ExecutionPolicy
from strategies.base import MarketView
from strategies.config import GridConfig
from strategies.grid import GridStrategy
from strategies.rolling import nearest_rank

WEEK_MINUTES = 7 * 24 * 60


def _walk(n: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    price = 150_000_000
    out = []
    for _ in range(n):
        price = max(1_000_000, price + rng.randint(-60_000, 60_000))
        out.append(price)
    return out


def bench_market() -> PerpMarketSpec:
    """The real SOL-PERP parameters from the bundled catalogue (tick 0.0001, step = min size 0.01 SOL)."""
    return load_catalogue().perp("SOL-PERP")


def run(seed: int = 7) -> dict[str, float]:
    """Measure and return the figures (updates/s, decisions/s, naive updates/s)."""
    cfg = GridConfig(sample_interval_s=60)
    strategy = GridStrategy(cfg)
    state = strategy.initial_state()
    prices = _walk(2 * WEEK_MINUTES, seed)
    t0 = 1_700_000_000
    for i in range(WEEK_MINUTES):
        state = strategy.on_price(state, t0 + 60 * i, prices[i])
    start = time.perf_counter()
    for i in range(WEEK_MINUTES, 2 * WEEK_MINUTES):
        state = strategy.on_price(state, t0 + 60 * i, prices[i])
    elapsed = time.perf_counter() - start
    updates_per_s = WEEK_MINUTES / elapsed

    # Intra-bucket ticks (several marks per minute replace the bucket's sample).
    ts = t0 + 60 * 2 * WEEK_MINUTES
    ticks = 20_000
    start = time.perf_counter()
    for j in range(ticks):
        state = strategy.on_price(state, ts + j // 10, prices[j])  # 10 ticks per second, 1-minute buckets
    tick_updates_per_s = ticks / (time.perf_counter() - start)

    view = MarketView(
        mark=prices[-1], oracle=prices[-1], position_base=0, market=bench_market(), policy=ExecutionPolicy()
    )
    n_dec = 5_000
    start = time.perf_counter()
    for _ in range(n_dec):
        strategy.decide(state, view)
    decisions_per_s = n_dec / (time.perf_counter() - start)

    # Naive baseline: keep a list per window and sort it for every update (what we avoid).
    n_naive = 500
    times = [t0 + 60 * i for i in range(2 * WEEK_MINUTES)]
    start = time.perf_counter()
    for i in range(WEEK_MINUTES, WEEK_MINUTES + n_naive):
        now = times[i]
        for lb in cfg.lookbacks_s:
            lo_i = i - lb // 60 + 1
            window = sorted(prices[lo_i : i + 1])
            n = len(window)
            _ = window[nearest_rank(n, cfg.percentile_low_bps) - 1], window[nearest_rank(n, 9_500) - 1], now
    naive_per_s = n_naive / (time.perf_counter() - start)
    return {
        "updates_per_s": updates_per_s,
        "tick_updates_per_s": tick_updates_per_s,
        "decisions_per_s": decisions_per_s,
        "naive_resort_updates_per_s": naive_per_s,
    }
