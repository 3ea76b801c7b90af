"""Run the NautilusTrader peer script (shared/bench/peer_nautilus.py) and measure what it does not: the CPU time of
its backtest loop and the process's peak RSS. Prints one JSON line for ``make bench-peer``.

The peer script is run unmodified (it is the reference workload, not ours to edit): the name ``BacktestEngine`` it
imports is, for this run, a subclass whose ``run`` reads the process CPU time just before and just after the
engine's own loop, the same span our side measures around ``run_backtest``. Data loading and wrangling are outside
it on both sides. (The compiled class itself cannot be patched: its type is immutable.)

Usage (with the peer venv): ``.venv-peer/bin/python ops/peer_cpu.py PEER_SCRIPT CANDLES REPEAT REQUOTE_BPS``.
"""

from __future__ import annotations

import contextlib
import io
import json
import resource
import runpy
import sys
import time
from typing import Any

import nautilus_trader.backtest.engine as engine_module

measured: dict[str, Any] = {}


class TimedBacktestEngine(engine_module.BacktestEngine):  # type: ignore[misc]  # an untyped compiled base class
    def run(self, *args: Any, **kwargs: Any) -> Any:
        c0, t0 = time.process_time(), time.perf_counter()
        try:
            return super().run(*args, **kwargs)
        finally:
            measured["cpu_s"] = time.process_time() - c0
            measured["wall_s"] = time.perf_counter() - t0
            measured["orders"] = len(self.cache.orders())
            measured["closed"] = len(self.cache.orders_closed())


engine_module.BacktestEngine = TimedBacktestEngine  # what the peer's `from ... import BacktestEngine` now gets


def main() -> None:
    script, *args = sys.argv[1:]
    sys.argv = [script, *args]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):  # the peer's own summary line is kept, as "peer_says"
        runpy.run_path(script, run_name="__main__")
    measured["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    measured["peer_says"] = printed.getvalue().strip()
    sys.stdout.write(json.dumps(measured) + "\n")


main()
