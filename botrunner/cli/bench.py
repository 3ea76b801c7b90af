"""``make bench`` (``python -m botrunner.cli.bench``): figures for the pure core, printed with their units.

Asserts nothing: speed goals live here, not in unit tests.

Sections:
1. grid strategy: rolling percentile windows (``botrunner.bench.strategy``);
2. margin engine: margin calculation and what-if projections (``botrunner.bench.margin``);
3. connector planning on the R1 ladder (nothing changed / full cancel-and-place);
4. the whole decision pipeline (strategy -> Risk Governor -> Execution Governor -> connector) over real SOL 5-minute
   bars, with a stand-in venue that accepts every command and fills nothing.

5. the reference workloads of shared/bench: R1 (one bot, the reference grid on real 5-minute bars, through the
   whole pipeline and the paper venue) on the bundled 30 days, on shared/data's 54,720 bars when present, and
   repeated end to end to a year (the headline figure); R2 (100 such bots in one process, bar-events/s and RSS
   per bot); R3 (100 bots on the actor runtime: one market event fanned out, event -> commands latency; the
   ``ctl status`` round trip through the real socket; RSS per bot), with the cost of a bot's log line before it,
   and (without ``--quick``) R3's latency for fleets of 1, 10, 25 and 50 bots.
6. the parameter search: ``botrunner optimize`` trials per hour with 1 and 2 local workers on the bundled data, and
   the scaling ratio (``botrunner.bench.optimize``; 4 trials each with ``--quick``, else 8).

The issue-21 targets (R1 CPU, R2 bar-events/s, R3's p99, its worst case when every bot requotes at once and the CPU
floor beside it) are each the min / median / max of ``RUNS`` runs, printed with the load average before and after.

``--quick`` skips shared/data and the year and shrinks R2 to 20 bots over 2 days (for a fast look); ``--full``
adds the pipeline on shared data;
``--watch`` prints only R1's CPU and the liquidation watch's cost per price point (one run each: run it alternately
in two trees); ``--profile`` prints only where R1's time goes, stage by stage (wall time per bar, then cProfile shares).
"""

from __future__ import annotations

import os
import resource
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from botrunner.bench import decision_cost, reference
from botrunner.bench import margin as margin_bench
from botrunner.bench import strategy as strategy_bench
from botrunner.bench.reference import R1_BUNDLED_CANDLES, R1_SHARED_CANDLES
from botrunner.bench.stand_in import accept_all, replay
from botrunner.config import load_bot
from botrunner.connector import ConnectorState, MarketQuote, plan
from botrunner.core.intents import ExposureBand
from botrunner.core.policy import ExecutionPolicy
from botrunner.core.verdict import RiskAction, Verdict
from botrunner.marketdata.candles import Candles, load_candles
from governors.execution import decide as execution_decide

ROOT = Path(__file__).resolve().parents[2]
DN_WINDOW_START = 1_744_588_800  # 2025-04-14 00:00 UTC: where the shared Drift funding records begin


RUNS = 3  # every target figure is the min / median / max of this many runs (issue 21)


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _spread(values: Sequence[float], fmt: str = "{:,.0f}") -> str:
    """min / median / max of ``values``, each formatted with ``fmt``."""
    return " / ".join(fmt.format(v) for v in (min(values), statistics.median(values), max(values)))


def _load() -> str:
    """The 1, 5 and 15 minute load averages: a figure measured on a busy machine says so beside it."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f}"


def bench_connector() -> None:
    bot = load_bot(ROOT / "config" / "bots" / "sol-neutral-grid.yaml")
    market = bot.market_spec
    # R1's ladder: ±5 SOL band, 5 rungs a side of 0.1 SOL, 30 bps apart, requote at 10 bps
    policy = ExecutionPolicy(grid_levels=5, step_bps=30, base_size_per_level=100_000_000, requote_threshold_bps=10)
    band = ExposureBand(-5_000_000_000, 5_000_000_000, 0)
    directive = execution_decide(Verdict(RiskAction.APPROVE, band), 0)
    state = ConnectorState.initial(started_at=-(10**6))  # ramp-in long over
    quote = MarketQuote(mark_price=200_000_000, oracle_price=200_000_000)
    first = plan(state, directive=directive, policy=policy, market=market, quote=quote, position_base=0, now=0)
    steady = accept_all(first.state, first.commands)
    n = 20_000
    t0 = time.perf_counter()
    for _ in range(n):
        plan(steady, directive=directive, policy=policy, market=market, quote=quote, position_base=0, now=1)
    unchanged = (time.perf_counter() - t0) / n * 1e6
    moved = MarketQuote(mark_price=201_000_000, oracle_price=201_000_000)  # 50 bps: full requote
    t0 = time.perf_counter()
    for _ in range(n):
        plan(steady, directive=directive, policy=policy, market=market, quote=moved, position_base=0, now=1)
    requote = (time.perf_counter() - t0) / n * 1e6
    print("connector planning, R1 ladder (10 orders):")
    print(f"  nothing changed               : {unchanged:12.1f} us/plan")
    print(f"  full cancel-and-place         : {requote:12.1f} us/plan")


def bench_pipeline(candle_path: Path) -> None:
    """The stand-in replay (``stand_in``) over every bar of a candle file, with no Drift funding records."""
    bot = load_bot(ROOT / "config" / "bots" / "sol-neutral-grid.yaml")
    candles = load_candles(candle_path)
    span_days = (candles.bars[-1].ts - candles.bars[0].ts) // 86_400 + 1
    t0 = time.perf_counter()
    result = replay(bot, candles, (), days=span_days, sample_every_s=10**12)
    wall = time.perf_counter() - t0
    n = result.decisions
    print(f"decision pipeline, sol-neutral-grid over {len(candles.bars):,} real 5-minute bars ({candle_path.name}):")
    print(f"  bars through the whole loop   : {n / wall:12,.0f} bars/s  ({wall:.2f} s, incl. strategy feed + account)")
    print(f"  decide() alone                : {result.decide_s / n * 1e6:12.1f} us per decision")
    print(f"  orders placed / cancelled     : {result.placed:,d} / {result.cancelled:,d} (stand-in venue, no fills)")


def bench_decision_cost(quick: bool) -> None:
    """The delta-neutral bot's deciding step beside the grid's, and its full-window backtest (issue 19)."""
    bots = ROOT / "config" / "bots"
    print("decision cost inside a backtest (mean wall time of a deciding step; bundled data):")
    for name in ("sol-neutral-grid", "sol-delta-neutral"):
        cost = decision_cost.measure(bots / f"{name}.yaml")
        print(
            f"  {name:<22}: {cost.decide_us:8.1f} us per decision  ({cost.decisions:,} decisions, "
            f"whole backtest {cost.run_cpu_s:.2f} CPU s)"
        )
    unchanged = decision_cost.unchanged_bar(bars=5_000 if quick else 20_000)
    print(
        f"  a bar where nothing changed   : {_spread(unchanged.reused_us, '{:.1f}')} us event-driven vs "
        f"{_spread(unchanged.full_us, '{:.1f}')} us decided in full (CPU per bar, min/median/max of "
        f"{len(unchanged.full_us)} "
        f"alternating runs of {unchanged.bars:,} bars; R1's bot)"
    )
    shared = R1_SHARED_CANDLES.parents[2]
    if not quick and shared.exists():
        cost = decision_cost.measure(bots / "sol-delta-neutral.yaml", shared, start=DN_WINDOW_START)
        print(
            f"  sol-delta-neutral, shared window from 2025-04-14: {cost.bars:,} bars in {cost.run_wall_s:.2f} s "
            f"({cost.run_cpu_s:.2f} CPU s), {cost.decide_us:.1f} us per decision"
        )


def bench_reference(quick: bool) -> None:
    """R1 and R2 of shared/bench/README.md (see ``botrunner.bench.reference``); R1's CPU figure and R2's rate are the
    min / median / max of ``RUNS`` runs, with the load average before and after."""
    bundled = load_candles(R1_BUNDLED_CANDLES)
    shared = R1_SHARED_CANDLES
    runs = []
    if shared.exists() and not quick:
        runs.append(("shared/data, once", load_candles(shared)))
    if not quick:
        base = runs[-1][1] if runs else bundled
        runs.append(("repeated to one year", reference.repeat_to(base, 105_120)))
    print("R1 reference grid, one bot (band +/-5 SOL, 5+5 post-only rungs of 0.1 SOL, 30 bp, requote 10 bp):")
    print(f"  before: {_load()}")
    r1 = [reference.run_r1(bundled) for _ in range(RUNS)]
    f = r1[0]
    print(
        f"  bundled 30 days, {RUNS} runs    : {f.bars:>7,} bars, orders {f.orders:,}, fills {f.fills:,} "
        "(min / median / max):"
    )
    print(f"    bar-events per CPU second   : {_spread([x.bar_events / x.cpu_s for x in r1])}")
    print(f"    bar-events per wall second  : {_spread([x.events_per_s for x in r1])}")
    print(f"    CPU per bar                 : {_spread([x.cpu_s / x.bars * 1e6 for x in r1], '{:.1f}')} us")
    for label, candles in runs:
        f = reference.run_r1(candles)
        print(
            f"  {label:<22}: {f.bars:>7,} bars {f.wall_s:7.2f} s  {f.bars_per_s:9,.0f} bars/s  "
            f"{f.events_per_s:9,.0f} bar-events/s  ({f.bar_events / f.cpu_s:,.0f} per CPU s)  "
            f"orders {f.orders:,}  fills {f.fills:,}"
        )
    print(f"  after: {_load()}")
    bots = 20 if quick else 100
    days = 2 if quick else 7
    window = Candles(bundled.source, bundled.interval_s, bundled.bars[: days * 288])
    print(f"  before R2: {_load()}")
    r2 = [reference.run_r2(window, bots=bots) for _ in range(RUNS)]
    f2 = r2[0]
    print(f"R2 fleet: {f2.bots} R1 bots (steps 30..{29 + f2.bots} bp) x {f2.bars_per_bot:,} bars in one process:")
    print(
        f"  bar-events/s, {RUNS} runs        : {_spread([x.events_per_s for x in r2])} (min / median / max; "
        f"target >= 100,000; orders {f2.orders:,}, fills {f2.fills:,})"
    )
    print(f"  after: {_load()}")
    rss = reference.peak_rss_kib() / 1024
    print(f"  peak RSS of this process      : {rss:12.1f} MiB  (<= {rss / f2.bots:.2f} MiB per bot, all included)")
    day = Candles(bundled.source, bundled.interval_s, bundled.bars[:288])
    retained, peak = reference.fleet_memory_kib(day, bots=bots)
    print(f"  Python heap per bot, all alive: {retained / 1024:12.3f} MiB retained, {peak / 1024:.3f} MiB at peak")


def profile_r1() -> None:
    """Where R1's time goes, stage by stage, on the bundled 30 days: wall time per bar of each stage (each stage's
    function wrapped in a ``perf_counter`` pair for one run; nested stages are indented and included in their
    parent), then cProfile's cumulative shares of a second run (profiling slows small functions most: the first
    table is the one to budget with)."""
    import cProfile
    import pstats

    from botrunner.bot import pipeline
    from botrunner.bot import step as bot_step
    from botrunner.paper.venue import PaperVenue

    candles = load_candles(R1_BUNDLED_CANDLES)
    timed: tuple[tuple[str, Any, str], ...] = (
        ("venue on_price (4 path points)", PaperVenue, "on_price"),
        ("  liquidation watch", PaperVenue, "_check_liquidation"),
        ("the step's decision at the bar close", bot_step, "_decide"),
        ("  venue margin_view", PaperVenue, "margin_view"),
        ("  Risk Governor evaluate", pipeline, "evaluate"),
        ("  connector plan", pipeline, "plan"),
        ("  venue submit: the commands", PaperVenue, "submit"),
        ("venue reports -> records + connector (all)", bot_step, "_report"),
    )
    spent = {label: 0.0 for label, _, _ in timed}
    originals = [(owner, name, getattr(owner, name)) for _, owner, name in timed]

    def wrapped(label: str, fn: Any) -> Any:
        def stage(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[label] += time.perf_counter() - t0

        return stage

    try:
        for (label, owner, name), (_, _, fn) in zip(timed, originals, strict=True):
            setattr(owner, name, wrapped(label, fn))
        figures = reference.run_r1(candles)
    finally:
        for owner, name, fn in originals:
            setattr(owner, name, fn)
    print(f"R1 stages, bundled 30 days ({figures.bars:,} bars), wall time per bar (stages wrapped in perf_counter):")
    print(f"  {'whole loop':<48}: {figures.wall_s / figures.bars * 1e6:7.1f} us")
    for label, _, _ in timed:
        print(f"  {label:<48}: {spent[label] / figures.bars * 1e6:7.1f} us")

    profiler = cProfile.Profile()
    profiler.runcall(reference.run_r1, candles)
    stats: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    cumulative = {(path.replace("\\", "/"), name): row[3] for (path, _, name), row in stats.items()}
    total = max(cumulative.values())
    stages = (
        ("decide(): strategy, risk, execution, plan", "bot/pipeline.py", "decide"),
        ("  Risk Governor evaluate", "governors/risk.py", "evaluate"),
        ("  connector plan", "connector/planner.py", "plan"),
        ("venue on_price: expiry, maker fills, liquidation", "paper/venue.py", "on_price"),
        ("venue submit: commands", "paper/venue.py", "submit"),
        ("venue margin_view (per decision)", "paper/venue.py", "margin_view"),
        ("venue reports -> records + connector", "bot/step.py", "_report"),
    )
    print("R1 profile, bundled 30 days (cProfile cumulative, share of the whole run):")
    for label, where, name in stages:
        share = sum(t for (path, fn), t in cumulative.items() if fn == name and path.endswith(where)) / total * 100
        print(f"  {label:<48}: {share:5.1f} %")


def bench_watch() -> None:
    """R1's CPU and the liquidation watch per price point, once (``botrunner.bench.watch_cost``): run it alternately
    in two trees to compare them."""
    from botrunner.bench.watch_cost import measure

    w = measure()
    print(f"{_load()}")
    print(f"  R1 bundled, bar-events per CPU second : {w.r1_events_per_cpu_s:10,.0f}")
    print(
        f"  liquidation watch per price point     : {w.watch_us:10.2f} us  "
        f"({w.points:,} points; timer {w.timer_us:.2f} us)"
    )


def main() -> None:
    if "--profile" in sys.argv:
        profile_r1()
        return
    if "--watch" in sys.argv:
        bench_watch()
        return
    print(f"python {sys.version.split()[0]}, {sys.platform}")
    print()
    figures = strategy_bench.run()
    print("grid strategy, 4 windows (1h/4h/1D/1W), 1-minute samples, steady state with a full week:")
    print(f"  on_price, new 1-minute sample : {figures['updates_per_s']:>12,.0f} updates/s")
    print(f"  on_price, tick in same bucket : {figures['tick_updates_per_s']:>12,.0f} updates/s")
    print(f"  decide                        : {figures['decisions_per_s']:>12,.0f} decisions/s")
    print(f"  naive re-sort per update      : {figures['naive_resort_updates_per_s']:>12,.0f} updates/s")
    print()
    print("margin engine (real SOL-PERP / SOL / USDC parameters):")
    for label, micros in margin_bench.run():
        print(f"  {label:<62}: {micros:8.1f} us/call")
    print()
    bench_connector()
    print()
    bench_pipeline(R1_BUNDLED_CANDLES)
    if "--full" in sys.argv and R1_SHARED_CANDLES.exists():
        bench_pipeline(R1_SHARED_CANDLES)
    print()
    bench_reference(quick="--quick" in sys.argv)
    print()
    bench_decision_cost(quick="--quick" in sys.argv)
    print()
    bench_log_line()
    print()
    bench_r3(bars=50 if "--quick" in sys.argv else 200)
    print()
    bench_optimize(trials=4 if "--quick" in sys.argv else 8)
    print()
    if "--quick" not in sys.argv:
        bench_r3_by_fleet_size(bars=200)
        print()
    print(f"peak RSS of this process        : {_peak_rss_mib():12.1f} MiB")


def bench_log_line(lines: int = 20_000) -> None:
    """A bot's decision line through its ``LogFiles`` logger, flushed each line and buffered (the runtime's mode)."""
    import tempfile

    from botrunner.logfiles import LogFiles
    from botrunner.runner import RunOptions

    runtime_flush_s = RunOptions.log_flush_s  # the runner's default: INFO lines wait at most this long
    print(f"per-bot log, one decision line ({lines:,} lines, one thread):")
    for label, interval in (("flushed each line", 0.0), (f"buffered {runtime_flush_s:g} s (runtime)", runtime_flush_s)):
        with tempfile.TemporaryDirectory() as work, LogFiles(Path(work), flush_interval_s=interval) as logs:
            log = logs.for_bot("bench")
            t0 = time.perf_counter()
            for i in range(lines):
                log.info(
                    "decision",
                    ts=1_700_000_000 + i,
                    mark=200_000_000,
                    position_base=100_000_000,
                    band=[-5_000_000_000, 5_000_000_000, 0],
                    verdict="approve",
                    reasons=[],
                    mode="grid",
                    commands=["CancelOrders", "PlaceOrders"],
                    note="band",
                )
            micros = (time.perf_counter() - t0) / lines * 1e6
        print(f"  {label:<30}: {micros:12.1f} us/line")


def bench_optimize(trials: int) -> None:
    """``botrunner optimize`` trials per hour with 1 and 2 local workers (``botrunner.bench.optimize``)."""
    import os

    from botrunner.bench.optimize import measure, spare_cores

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"parameter search (botrunner optimize), sol-neutral-grid on the bundled 30 days, {trials} trials:")
    ceiling = spare_cores()
    figures = [measure(workers, trials) for workers in (1, 2)]
    for f in figures:
        print(
            f"  {f.workers} worker{'s' if f.workers > 1 else ' '}: {f.per_hour:10,.0f} trials/hour "
            f"({f.trial_s:.2f} s wall, {f.trial_cpu_s:.2f} s CPU per trial inside a worker; {f.span_s:.1f} s for all)"
        )
    print(f"  scaling, 2 workers / 1 worker : {figures[1].per_hour / figures[0].per_hour:10.2f}x on {cores} core(s)")
    print(f"  two bare CPU-bound processes   : {ceiling:10.2f}x just before (what this machine had to spare)")


def bench_r3(bars: int) -> None:
    """R3 (``botrunner.bench.r3``) ``RUNS`` times: min / median / max of each figure, with the load average."""
    from botrunner.bench.r3 import STORM_MOVE_BPS, run_r3

    print(f"  before R3: {_load()}")
    results = [run_r3(bots=100, bars=bars) for _ in range(RUNS)]
    r = results[0]
    print(
        f"R3 actor runtime: {r.bots} band bots, one SOL-PERP event fanned out per bar close, {r.bars} bars, "
        f"{RUNS} runs (min / median / max), {r.cores} core(s):"
    )

    def row(label: str, values: list[float], unit: str, fmt: str = "{:.2f}") -> None:
        print(f"  {label:<40}: {_spread(values, fmt)} {unit}")

    row("start (store, logs, reconcile)", [x.start_s for x in results], "s")
    row("event -> commands, per bot p50", [x.p50_ms for x in results], "ms")
    row("event -> commands, per bot p99", [x.p99_ms for x in results], "ms  (target <= 5 ms)")
    row("event -> commands, per bot max", [x.max_ms for x in results], "ms")
    row(f"event -> last of {r.bots} bots, p50", [x.fanout_p50_ms for x in results], "ms")
    row("bar-close step CPU per bot, median", [x.step_cpu_us for x in results], "us", "{:.0f}")
    row("CPU floor: bots x step CPU / cores", [x.cpu_floor_ms for x in results], "ms")
    print(
        f"  every bot requoting at once (closes moving >= {STORM_MOVE_BPS} bp: "
        f"{_spread([float(x.storm_closes) for x in results])} closes):"
    )
    row("  event -> commands, per bot p99", [x.storm_p99_ms for x in results], "ms")
    row("  event -> commands, per bot max", [x.storm_max_ms for x in results], "ms")
    row(f"  event -> last of {r.bots} bots, worst", [x.storm_fanout_max_ms for x in results], "ms")
    row("  step CPU per bot, median", [x.storm_step_cpu_us for x in results], "us", "{:.0f}")
    row("  CPU floor: bots x step CPU / cores", [x.storm_cpu_floor_ms for x in results], "ms")
    row("ctl status round trip p50", [x.status_p50_ms for x in results], "ms")
    row("ctl status round trip p99", [x.status_p99_ms for x in results], "ms")
    row("RSS added per bot", [x.rss_per_bot_kib for x in results], "KiB", "{:.0f}")
    print(f"  after R3: {_load()}")


def bench_r3_by_fleet_size(bars: int) -> None:
    """R3's latency for smaller fleets in one process: the bots' steps run one after another under the GIL, so the
    p99 grows with the bot count; this shows how many bots one process holds within a latency budget."""
    from botrunner.bench.r3 import run_r3

    print(f"R3 by fleet size (same bots, {bars} bar closes each):")
    for bots in (1, 10, 25, 50):
        r = run_r3(bots=bots, bars=bars, status_calls=5)
        print(
            f"  {bots:>3} bots: event -> commands p50 {r.p50_ms:6.2f} ms, p99 {r.p99_ms:6.2f} ms; "
            f"last bot p50 {r.fanout_p50_ms:6.2f} ms"
        )


if __name__ == "__main__":
    main()
