"""R3 — the live path on the actor runtime: 100 bots, one market event fanned out, event → commands latency.

The fleet is 100 copies of the R1 band bot (different subaccounts, steps 30..129 bp) on the bundled SOL slice,
started through the real runner (store, per-bot logs, supervisor, control socket). Market events are published
by hand, one bar at a time: the clock starts when the feed tells the bar's close to the 100 mailboxes and stops, per
bot, when that bot has sent its decision's commands to its venue and handed the step to the store writer. A bar's
earlier path points (open, extremes) are published and drained by every bot before its close, as a live feed
spaces them minutes apart: the close's latency is its own, not a queue of earlier events. Each bar is published
only after all 100 bots finished the previous one. Also measured: the ``ctl status`` round trip through the real
socket, and the process RSS added per bot.
"""

from __future__ import annotations

import resource
import shutil
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from botrunner.backtest.data import BUNDLED_DIR
from botrunner.bench.reference import R1_YAML
from botrunner.control.client import ControlClient
from botrunner.core.operator import Status
from botrunner.runner import Runner, RunOptions
from botrunner.runtime.market import PricePoint
from botrunner.runtime.snapshots import StatusSnapshot


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


def _rss_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() // 1024


def _timed_closes(
    runner: Runner, bars: int, bots: int, stamps: dict[int, list[float]], all_in: threading.Event
) -> tuple[list[float], list[float]]:
    """Publish the SOL feed up to ``bars`` bar closes, timing each close from its publication to every bot's
    decision (the probe fills ``stamps`` and sets ``all_in``): (per-bot latencies, per-close fan-outs), seconds."""
    feed = runner.feeds["SOL-PERP"]
    latencies: list[float] = []
    fanouts: list[float] = []
    while len(fanouts) < bars and feed.position < len(feed.events):
        event = feed.events[feed.position]
        if not (type(event) is PricePoint and event.close_ts):
            feed.publish_next()
            continue
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
    return latencies, fanouts


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
            latencies, fanouts = _timed_closes(runner, bars, bots, stamps, all_in)
            closes = len(fanouts)
            runner.drain()
            client = ControlClient(runner.socket_path)
            rounds: list[float] = []
            for _ in range(status_calls):
                s = time.perf_counter()
                client.call(Status(), StatusSnapshot)
                rounds.append(time.perf_counter() - s)
        finally:
            runner.shutdown()
        ms = sorted(x * 1000 for x in latencies)
        st = sorted(x * 1000 for x in rounds)
        return R3Result(
            bots=bots,
            bars=closes,
            p50_ms=statistics.median(ms),
            p99_ms=ms[int(len(ms) * 0.99) - 1],
            max_ms=ms[-1],
            fanout_p50_ms=statistics.median(x * 1000 for x in fanouts),
            status_p50_ms=statistics.median(st),
            status_p99_ms=st[int(len(st) * 0.99) - 1],
            rss_per_bot_kib=(rss_after - rss_before) / bots,
            start_s=start_s,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
