"""R3 — the live path on the actor runtime: 100 bots, one market event fanned out, event → commands latency.

The fleet is 100 copies of the R1 band bot (different subaccounts, steps 30..129 bp) on the bundled SOL slice,
started through the real runner (store, per-bot logs, supervisor, control socket). Market events are published
by hand, one bar at a time: the clock starts when the feed tells the bar's close to the 100 mailboxes and stops, per
bot, when that bot has sent its decision's commands to its venue and handed the step to the store writer. A bar's
earlier path points (open, extremes) are published and drained by every bot before its close, as a live feed
spaces them minutes apart: the close's latency is its own, not a queue of earlier events. Each bar is published
only after all 100 bots finished the previous one. Also measured: the ``ctl status`` round trip through the real
socket, and the process RSS added per bot.

The worst case is the bar close at which every bot must requote at once. All R3 bots requote when the close has
moved ``R3_REQUOTE_BPS`` from the price they last quoted at, so each one's last quote is within that of the previous
close (else it would have requoted there); a close that moves at least twice that from the previous close is
therefore at least the threshold from every bot's quote: every bot cancels and places its whole ladder. Those
closes ("storms") are timed apart from the rest.

Step CPU: each bot's bar-close step is timed in its own thread (``time.thread_time`` around the actor's
``on_receive``): the CPU floor of a fan-out is bots x step CPU / cores, what the latency could not go under even
with every core busy and nothing else to do.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actors import bot_actor
from botrunner.backtest.data import BUNDLED_DIR
from botrunner.bench.reference import R1_YAML
from botrunner.control.client import ControlClient
from botrunner.core.operator import Status
from botrunner.runner import Runner, RunOptions
from botrunner.runtime.market import PricePoint
from botrunner.runtime.snapshots import StatusSnapshot

R3_REQUOTE_BPS = 10  # every R3 bot's requote threshold (R1's)
STORM_MOVE_BPS = 2 * R3_REQUOTE_BPS  # a close this far from the previous one makes every bot requote (docstring)


@dataclass(frozen=True)
class R3Result:
    bots: int
    bars: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    fanout_p50_ms: float  # until the LAST of the bots has its commands out, per bar
    status_p50_ms: float
    status_p99_ms: float
    rss_per_bot_kib: float
    start_s: float
    step_cpu_us: float  # median CPU of one bot's bar-close step, in its thread
    storm_closes: int  # closes at which every bot had to requote (module docstring)
    storm_p99_ms: float  # event -> commands per bot at those closes (0 when there were none)
    storm_max_ms: float
    storm_fanout_max_ms: float  # until the last bot, the worst of those closes
    storm_step_cpu_us: float  # median step CPU at those closes
    cores: int

    @property
    def cpu_floor_ms(self) -> float:
        """bots x median step CPU / cores: the fan-out no scheduling could beat."""
        return self.bots * self.step_cpu_us / self.cores / 1000

    @property
    def storm_cpu_floor_ms(self) -> float:
        return self.bots * self.storm_step_cpu_us / self.cores / 1000


@dataclass(frozen=True)
class _Closes:
    latencies: list[float]  # per bot, seconds
    fanouts: list[float]  # per close, until the last bot
    storm_latencies: list[float]
    storm_fanouts: list[float]
    storm_ts: set[int]


def _rss_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() // 1024


def _timed_closes(
    runner: Runner, bars: int, bots: int, stamps: dict[int, list[float]], all_in: threading.Event
) -> _Closes:
    """Publish the SOL feed up to ``bars`` bar closes, timing each close from its publication to every bot's
    decision (the probe fills ``stamps`` and sets ``all_in``); the storms (module docstring) also apart."""
    feed = runner.feeds["SOL-PERP"]
    out = _Closes([], [], [], [], set())
    latencies, fanouts = out.latencies, out.fanouts
    previous: int | None = None  # the first timed close has no previous close to compare with
    while len(fanouts) < bars and feed.position < len(feed.events):
        event = feed.events[feed.position]
        if not (type(event) is PricePoint and event.close_ts):
            feed.publish_next()
            continue
        storm = previous is not None and abs(event.price - previous) * 10_000 >= STORM_MOVE_BPS * previous
        previous = event.price
        runner.drain()  # the bar's earlier points are processed before its close, as in a live feed
        stamps[event.ts] = []
        all_in.clear()
        started = time.perf_counter()
        feed.publish_next()
        if not all_in.wait(timeout=30):
            raise RuntimeError(f"R3: only {len(stamps[event.ts])} of {bots} bots decided")
        done = stamps.pop(event.ts)
        latencies.extend(t - started for t in done)
        fanouts.append(max(done) - started)
        if storm:
            out.storm_latencies.extend(t - started for t in done)
            out.storm_fanouts.append(max(done) - started)
            out.storm_ts.add(event.ts)
    return out


def _p99(sorted_values: list[float]) -> float:
    return sorted_values[max(0, int(len(sorted_values) * 0.99) - 1)] if sorted_values else 0.0


def _timing_steps(cpu_by_ts: dict[int, list[float]]) -> Any:
    """``BotActor.on_receive`` wrapped to add each bar close's step CPU (its thread's, seconds) to ``cpu_by_ts``;
    returns the original to put back. A list append in the bot's thread: atomic under the GIL."""
    original = bot_actor.BotActor.on_receive

    def timed(self: bot_actor.BotActor, message: object) -> None:
        if not (type(message) is PricePoint and message.close_ts):
            return original(self, message)
        cpu = time.thread_time()
        try:
            return original(self, message)
        finally:
            cpu_by_ts.setdefault(message.ts, []).append(time.thread_time() - cpu)

    bot_actor.BotActor.on_receive = timed  # type: ignore[method-assign]
    return original


def run_r3(bots: int = 100, bars: int = 200, status_calls: int = 200) -> R3Result:
    work = Path(tempfile.mkdtemp(prefix="br3-", dir="/tmp"))
    try:
        fleet = work / "fleet"
        fleet.mkdir()
        for i in range(bots):
            # R3 = 100 R1 bots (R1's 10 bp requote)
            (fleet / f"r1-{i + 1}.yaml").write_text(R1_YAML.format(n=i + 1, step=30 + i, requote=10))
        # The probe runs in the bot threads: a list append and a dict lookup (atomic under the GIL), no lock, and
        # one wake-up of this thread per bar, so measuring adds next to nothing to what it measures.
        stamps: dict[int, list[float]] = {}
        all_in = threading.Event()

        def probe(_name: str, ts: int) -> None:
            done = stamps.get(ts)
            if done is None:
                return  # not a timed close
            done.append(time.perf_counter())
            if len(done) >= bots:
                all_in.set()

        cpu_by_ts: dict[int, list[float]] = {}
        original = _timing_steps(cpu_by_ts)
        rss_before = _rss_kib()
        t0 = time.perf_counter()
        runner = Runner(
            RunOptions(
                fleet=fleet,
                run_dir=work / "run",
                speed="max",
                data_dir=BUNDLED_DIR,
                run_feeds=False,
                probe=probe,
                snapshot_every_s=3600,
            )
        )
        runner.start()
        start_s = time.perf_counter() - t0
        try:
            runner.drain()
            rss_after = _rss_kib()
            closes_timed = _timed_closes(runner, bars, bots, stamps, all_in)
            closes = len(closes_timed.fanouts)
            runner.drain()
            client = ControlClient(runner.socket_path)
            rounds: list[float] = []
            for _ in range(status_calls):
                s = time.perf_counter()
                client.call(Status(), StatusSnapshot)
                rounds.append(time.perf_counter() - s)
        finally:
            runner.shutdown()
            bot_actor.BotActor.on_receive = original  # type: ignore[method-assign]
        ms = sorted(x * 1000 for x in closes_timed.latencies)
        storm_ms = sorted(x * 1000 for x in closes_timed.storm_latencies)
        timed_ts = {ts for ts in cpu_by_ts if ts in closes_timed.storm_ts}
        step_cpu = [c * 1e6 for ts, cs in cpu_by_ts.items() for c in cs]
        storm_cpu = [c * 1e6 for ts in timed_ts for c in cpu_by_ts[ts]]
        st = sorted(x * 1000 for x in rounds)
        return R3Result(
            bots=bots,
            bars=closes,
            p50_ms=statistics.median(ms),
            p99_ms=ms[int(len(ms) * 0.99) - 1],
            max_ms=ms[-1],
            fanout_p50_ms=statistics.median(x * 1000 for x in closes_timed.fanouts),
            status_p50_ms=statistics.median(st),
            status_p99_ms=st[int(len(st) * 0.99) - 1],
            rss_per_bot_kib=(rss_after - rss_before) / bots,
            start_s=start_s,
            step_cpu_us=statistics.median(step_cpu) if step_cpu else 0.0,
            storm_closes=len(closes_timed.storm_fanouts),
            storm_p99_ms=_p99(storm_ms),
            storm_max_ms=storm_ms[-1] if storm_ms else 0.0,
            storm_fanout_max_ms=max(closes_timed.storm_fanouts, default=0.0) * 1000,
            storm_step_cpu_us=statistics.median(storm_cpu) if storm_cpu else 0.0,
            cores=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
