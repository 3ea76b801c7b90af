"""A bot's decision cost inside a real backtest: the CPU of its deciding steps (a bar close), beside the whole run.

Issue 19 asks that the delta-neutral engine's decision cost not exceed the grid's; both are measured the same way,
on the same bars, through the same backtest engine. The step the driver picks for the bot (``step_for`` in
``botrunner.bot.driver``) is wrapped so that every ``BarClose`` it handles is timed (``time.perf_counter_ns``
around the call; the venue's per-price-point work, funding and records stay outside). The wrapper is this
workload's instrument only: it replaces the driver's ``step_for`` for the duration of one run.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

from botrunner.backtest.data import resolve
from botrunner.backtest.engine import BacktestInputs, run_backtest
from botrunner.bot import driver
from botrunner.bot.step import BarClose
from botrunner.config import load_bot
from botrunner.paper.config import PaperConfig


@dataclass(frozen=True)
class DecisionCost:
    bot: str
    bars: int
    decisions: int  # bar closes stepped on
    decide_us: float  # mean wall time of a deciding step, microseconds
    run_cpu_s: float  # the whole backtest's CPU time
    run_wall_s: float


def measure(bot_file: Path, data_dir: Path | None = None, *, start: int | None = None) -> DecisionCost:
    """Backtest ``bot_file`` on the bundled data (or ``data_dir``), timing its deciding steps."""
    bot = load_bot(bot_file)
    data = resolve(bot.market, data_dir)
    _, last = data.span()
    inputs = BacktestInputs(
        bot=bot,
        candles=data.candles,
        funding=data.funding,
        start=start if start is not None else data.default_start(bot.strategy.warmup_s),
        end=last,
        paper=PaperConfig(),
        keep_rows=False,
    )
    spent = [0, 0]  # ns in deciding steps, their count
    original: Callable[..., Any] = driver.__dict__["step_for"]  # the driver's own name for it, wrapped below

    def timed_step_for(definition: Any) -> Callable[..., Any]:
        inner = original(definition)

        def timed(bot_def: Any, state: Any, item: Any, account: Any) -> Any:
            if type(item) is not BarClose:
                return inner(bot_def, state, item, account)
            t0 = time.perf_counter_ns()
            out = inner(bot_def, state, item, account)
            spent[0] += time.perf_counter_ns() - t0
            spent[1] += 1
            return out

        return timed

    with mock.patch.object(driver, "step_for", timed_step_for):  # the instrument, for this run only
        gc.collect()
        c0, t0 = time.process_time(), time.perf_counter()
        result = run_backtest(inputs)
        cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    decide_us = spent[0] / spent[1] / 1_000 if spent[1] else 0.0
    return DecisionCost(bot.name, result.bars, spent[1], decide_us, cpu, wall)
