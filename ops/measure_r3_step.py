"""Where R3's latency goes: the CPU one bot spends on a bar close, beside the fan-out's wall-clock figures.

Wraps ``BotActor.on_receive`` (this process only) to read the actor thread's CPU time (``time.thread_time``) and
wall time around each bar close, then runs the R3 workload. If the close step's CPU times the bot count is close to
the fan-out (event -> last bot), the fan-out is the bots' own work run one after another under the GIL, not
waiting on locks, I/O or the scheduler.

Run from the repository root: ``PYTHONPATH=. .venv/bin/python ops/measure_r3_step.py [BOTS] [BARS]``
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any

from actors import bot_actor
from botrunner.bench.r3 import run_r3
from botrunner.runtime.market import PricePoint


def main(bots: int, bars: int) -> None:
    cpu_us: list[float] = []
    wall_us: list[float] = []
    original = bot_actor.BotActor.on_receive

    def timed(self: bot_actor.BotActor, message: Any) -> Any:
        if not (type(message) is PricePoint and message.close_ts):
            return original(self, message)
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return original(self, message)
        finally:
            cpu_us.append((time.thread_time() - cpu) * 1e6)
            wall_us.append((time.perf_counter() - wall) * 1e6)

    bot_actor.BotActor.on_receive = timed  # type: ignore[method-assign]
    try:
        result = run_r3(bots=bots, bars=bars, status_calls=5)
    finally:
        bot_actor.BotActor.on_receive = original  # type: ignore[method-assign]
    cpu = statistics.median(cpu_us)
    print(f"R3 with {bots} bots, {result.bars} bar closes:")
    print(f"  close step, CPU per bot p50      : {cpu:9.1f} us")
    print(f"  close step, wall per bot p50     : {statistics.median(wall_us):9.1f} us")
    print(f"  bots x close-step CPU            : {bots * cpu / 1000:9.2f} ms")
    print(f"  event -> last bot p50 (fan-out)  : {result.fanout_p50_ms:9.2f} ms")
    print(f"  event -> commands p50 / p99      : {result.p50_ms:9.2f} / {result.p99_ms:.2f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100, int(sys.argv[2]) if len(sys.argv) > 2 else 100)
