"""The reference workloads R1 and R2 (``shared/bench/README.md``) through the backtest loop; figures for ``make bench``.

R1: SOL-PERP, flat start, 100,000 USDC; a fixed band of +/-5 SOL worked by a ladder of 5 post-only bids and 5 asks
of 0.10 SOL, 30 bps apart around the close, re-quoted when the close moved >= 10 bps (the connector's full
cancel-and-place); maker fee -0.002 %, taker 0.035 %; a resting order fills when the bar trades through its
price. Through the full pipeline: strategy -> Risk Governor -> Execution Governor -> connector -> paper venue ->
funding (Drift's formula: the repeated year has no funding records).

R2: 100 such bots (step 30..129 bps, so no two are identical) in one process, run one after another.
Memory per bot: the Python heap the fleet holds with every bot's venue and state alive, over the bot count, by
``tracemalloc`` in a separate pass (rows are counted, not kept); and the process's peak RSS over the bot count as
an upper bound that includes the interpreter and the market data.

This module measures wall time (``time.perf_counter``): it is a shell, never imported by the core.
"""

from __future__ import annotations

import gc
import resource
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

from botrunner.backtest.engine import BacktestInputs, run_backtest
from botrunner.config import BotConfig, parse_bot
from botrunner.marketdata.candles import Candle, Candles, bundled_path
from botrunner.paper.config import PaperConfig
from botrunner.paper.fees import FeeSchedule

R1_FEES = FeeSchedule(taker_ppm=350, maker_ppm=-20)  # 0.035 % taker, -0.002 % maker
# R1's data (shared/bench/README.md): the shared 54,720 bars when ../shared is there, and the slice of it bundled
# in the package (the last 30 days) that every machine has.
R1_SHARED_CANDLES = (
    Path(__file__).resolve().parents[3] / "shared" / "data" / "market" / "binance" / "SOL-USDT-PERP_5m.csv.gz"
)
R1_BUNDLED_CANDLES = bundled_path("SOL-USDT-PERP_binance_5m.csv.gz")

R1_YAML = """
name: r1-{n}
mode: paper
account: {{authority: bench, subaccount_id: {n}}}
market: SOL-PERP
capital_usdc: 100000
strategy:
  kind: band
  band: {{min_base: -5, max_base: 5}}
execution:
  grid_levels: 5
  step_bps: {step}
  base_size_per_level: 0.1
  post_only: must_post_only
  requote_threshold_bps: {requote}
  ttl_s: 86400
  ramp_in: {{duration_s: 0, initial_fraction_bps: 10000}}
"""


def r1_bot(n: int = 1, step_bps: int = 30, requote_bps: int = 10) -> BotConfig:
    return parse_bot(R1_YAML.format(n=n, step=step_bps, requote=requote_bps), f"<R1 bot {n}>")


def r1_inputs(bot: BotConfig, candles: Candles) -> BacktestInputs:
    """R1's run: every bar traded, Drift's funding formula, R1's fees, rows counted not kept."""
    return BacktestInputs(
        bot=bot,
        candles=candles,
        funding=None,
        start=candles.bars[0].ts,
        end=candles.bars[-1].ts + candles.interval_s,
        paper=PaperConfig(fees=R1_FEES),
        keep_rows=False,
    )


def repeat_to(candles: Candles, min_bars: int) -> Candles:
    """The candles repeated end to end (each copy shifted by the whole span) until at least ``min_bars``."""
    bars = list(candles.bars)
    span = candles.bars[-1].ts - candles.bars[0].ts + candles.interval_s
    copy = 1
    while len(bars) < min_bars:
        shift = span * copy
        bars.extend(Candle(b.ts + shift, b.open, b.high, b.low, b.close, b.volume) for b in candles.bars)
        copy += 1
    return Candles(f"{candles.source} x{copy}", candles.interval_s, tuple(bars))


def peak_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # Linux: KiB


@dataclass(frozen=True)
class R1Figures:
    bars: int
    bar_events: int
    wall_s: float
    cpu_s: float  # this process's CPU time over the backtest loop (the figure compared with a peer on a busy machine)
    orders: int
    fills: int
    decisions: int

    @property
    def bars_per_s(self) -> float:
        return self.bars / self.wall_s

    @property
    def events_per_s(self) -> float:
        return self.bar_events / self.wall_s


def run_r1(candles: Candles, requote_bps: int = 10) -> R1Figures:
    """R1 once over ``candles`` (``requote_bps``: the ladder's requote threshold; R1 is 10, the light case 100)."""
    bot = r1_bot(requote_bps=requote_bps)
    inputs = r1_inputs(bot, candles)
    gc.collect()
    t0, c0 = time.perf_counter(), time.process_time()
    result = run_backtest(inputs)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return R1Figures(result.bars, result.ticks, wall, cpu, result.orders_placed, result.fill_count, result.decisions)


def fleet_memory_kib(candles: Candles, bots: int = 100) -> tuple[float, float]:
    """(retained, peak) Python heap per bot in KiB, by ``tracemalloc``, for ``bots`` R1 bots run over
    ``candles`` and all kept alive (venue, states, counters) - the memory a fleet of them holds, and the most it
    needed at once. Traced separately from the timed run: tracing slows Python down."""
    gc.collect()
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        kept = []
        for n in range(bots):
            inputs = r1_inputs(r1_bot(n + 1, 30 + n), candles)
            kept.append(run_backtest(inputs))
        gc.collect()
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return (current - base) / 1024 / bots, (peak - base) / 1024 / bots


@dataclass(frozen=True)
class R2Figures:
    bots: int
    bars_per_bot: int
    bar_events: int
    wall_s: float
    orders: int
    fills: int

    @property
    def events_per_s(self) -> float:
        return self.bar_events / self.wall_s


def run_r2(candles: Candles, bots: int = 100) -> R2Figures:
    """``bots`` R1 bots over ``candles``, one after another in one process (each bot's run is independent: the
    fleet's total work and memory are what R2 measures; interleaving would only add scheduling)."""
    configs = [r1_bot(n + 1, 30 + n) for n in range(bots)]
    t0 = time.perf_counter()
    results = []
    for bot in configs:
        inputs = r1_inputs(bot, candles)
        results.append(run_backtest(inputs))  # kept alive: the fleet's venues and states stay in memory
    wall = time.perf_counter() - t0
    return R2Figures(
        bots=bots,
        bars_per_bot=results[0].bars,
        bar_events=sum(r.ticks for r in results),
        wall_s=wall,
        orders=sum(r.orders_placed for r in results),
        fills=sum(r.fill_count for r in results),
    )
