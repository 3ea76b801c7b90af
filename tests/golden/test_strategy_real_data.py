"""The grid strategy on real Binance SOL-USDT perp 5-minute closes (skipped without ../shared/data)."""

from __future__ import annotations

import csv
import gzip
from decimal import Decimal
from pathlib import Path

import pytest

from botrunner.core.policy import ExecutionPolicy
from botrunner.core.precision import PRICE_PRECISION
from strategies.base import MarketView
from strategies.config import GridConfig
from strategies.grid import NOTE_INSUFFICIENT_HISTORY, GridStrategy
from tests.unit.strategies.test_grid import sol_market

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "market" / "binance" / "SOL-USDT-PERP_5m.csv.gz"
TWO_WEEKS_OF_5M = 2 * 7 * 24 * 12

pytestmark = [
    pytest.mark.shared_data,
    pytest.mark.skipif(not DATA.exists(), reason="../shared/data is absent"),
]


def load_closes(limit: int) -> list[tuple[int, int]]:
    rows: list[tuple[int, int]] = []
    with gzip.open(DATA, "rt", newline="") as fh:
        for row in csv.DictReader(fh):
            rows.append((int(row["ts"]), int(Decimal(row["close"]) * PRICE_PRECISION)))
            if len(rows) == limit:
                break
    return rows


def test_real_sol_closes_give_a_sensible_range_that_mostly_contains_the_mark() -> None:
    closes = load_closes(TWO_WEEKS_OF_5M + 8 * 24 * 12)  # 8 more days so the 1W window fills
    cfg = GridConfig(sample_interval_s=300)
    strategy = GridStrategy(cfg)
    state = strategy.initial_state()
    market = sol_market()
    policy = ExecutionPolicy()
    decided = inside = near = 0
    saw_all_windows = False
    for i, (ts, close) in enumerate(closes):
        state = strategy.on_price(state, ts, close)
        d = strategy.decide(state, MarketView(mark=close, oracle=close, position_base=0, market=market, policy=policy))
        if i < 6:
            assert d.note == NOTE_INSUFFICIENT_HISTORY  # 30 minutes < half of the 1-hour window
            continue
        if d.note == NOTE_INSUFFICIENT_HISTORY:
            continue
        decided += 1
        assert 0 < d.range_low < d.range_high
        # a blended 5-95 % range of SOL should be between 0.5 % (the floor) and 30 % of the price wide
        assert (d.range_high - d.range_low) * 10_000 >= 49 * close
        assert (d.range_high - d.range_low) * 10 <= 3 * close
        inside += d.in_range
        near += d.range_low * 97 <= close * 100 <= d.range_high * 103  # within 3 %
        if i >= 8 * 24 * 12:
            rng_windows = state.history.windows
            saw_all_windows = all(len(w) > 0 for w in rng_windows)
    assert decided >= len(closes) - 10
    assert saw_all_windows
    assert inside / decided >= 0.6, f"mark inside the range only {inside / decided:.1%} of the time"
    assert near / decided >= 0.97, f"mark within 3 % of the range only {near / decided:.1%} of the time"
