"""``ops/r1_floor.py`` measures R1's floor: a bare loop of R1's own rules. Its figure only means something if the
loop does R1's work, so it must see the same path points and place and fill about what the full pipeline does on
the same bars (the pipeline's Risk Governor and band sizing differ in detail from the bare "no bids while long >= 5
SOL" rule, hence a tolerance, not equality)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from botrunner.backtest.bench import run_r1
from botrunner.marketdata.candles import bundled_path, load_candles

ROOT = Path(__file__).resolve().parent.parent


def _floor() -> ModuleType:
    spec = importlib.util.spec_from_file_location("r1_floor", ROOT / "ops" / "r1_floor.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_bare_loop_does_r1s_work_on_the_bundled_bars() -> None:
    candles = load_candles(bundled_path("SOL-USDT-PERP_binance_5m.csv.gz"))
    points, placed, fills = _floor().bare_r1(candles)
    full = run_r1(candles)
    assert points == full.bar_events == 4 * len(candles.bars)
    assert full.orders > 0 and full.fills > 0
    assert abs(placed - full.orders) <= full.orders * 5 // 100, (placed, full.orders)
    assert abs(fills - full.fills) <= full.fills * 5 // 100, (fills, full.fills)
