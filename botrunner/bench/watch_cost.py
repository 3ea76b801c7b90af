"""R1's CPU and the paper venue's liquidation watch per price point, for comparing two trees run alternately
(``python -m botrunner.cli.bench --watch``; docs/benchmarks.md, "The paper venue's liquidation watch").

The watch's cost is ``PaperVenue._check_liquidation`` wrapped with ``time.thread_time_ns`` over one R1 run on the
bundled 30 days, minus what the same wrapper costs around an empty function (a second run), per call. It is a
shell: it reads the clock and patches a method for the length of a run, never imported by the core.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from botrunner.bench.reference import R1_BUNDLED_CANDLES, run_r1
from botrunner.marketdata.candles import load_candles
from botrunner.paper.venue import PaperVenue


@dataclass(frozen=True)
class WatchCost:
    r1_events_per_cpu_s: float  # bar-events per CPU second of an unpatched R1 run
    watch_us: float  # net CPU per price point of the liquidation watch
    timer_us: float  # the wrapper's own cost per call, subtracted
    points: int


def _timed_run(body: Any) -> tuple[int, int]:
    """One R1 run with ``_check_liquidation`` replaced by a wrapper timing ``body``: (ns spent, calls)."""
    spent = [0, 0]
    clock = time.thread_time_ns
    original = PaperVenue._check_liquidation

    def wrapped(self: PaperVenue, out: list[Any]) -> None:
        t0 = clock()
        body(self, out)
        spent[0] += clock() - t0
        spent[1] += 1

    PaperVenue._check_liquidation = wrapped  # type: ignore[method-assign]
    try:
        run_r1(load_candles(R1_BUNDLED_CANDLES))
    finally:
        PaperVenue._check_liquidation = original  # type: ignore[method-assign]
    return spent[0], spent[1]


def measure() -> WatchCost:
    candles = load_candles(R1_BUNDLED_CANDLES)
    r1 = run_r1(candles)
    watch_ns, points = _timed_run(PaperVenue._check_liquidation)
    timer_ns, calls = _timed_run(lambda _venue, _out: None)
    timer_us = timer_ns / calls / 1000
    return WatchCost(
        r1_events_per_cpu_s=r1.bar_events / r1.cpu_s,
        watch_us=watch_ns / points / 1000 - timer_us,
        timer_us=timer_us,
        points=points,
    )
