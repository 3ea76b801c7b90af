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
from botrunner.bench import reference
from botrunner.bot import driver
from botrunner.bot.driver import BotDriver, RowBuffer
from botrunner.bot.pipeline import BotDefinition
from botrunner.bot.step import BarClose
from botrunner.bot.validity import DecisionMode
from botrunner.config import load_bot
from botrunner.core.precision import PRICE_PRECISION
from botrunner.paper.config import PaperConfig
from botrunner.paper.venue import PaperVenue


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


@dataclass(frozen=True)
class UnchangedBarCost:
    bars: int  # bar closes timed per run
    reused_us: tuple[float, ...]  # CPU per bar, event-driven (each bar reuses the last decision), one per run
    full_us: tuple[float, ...]  # CPU per bar, the same bars decided in full (``DecisionMode.ALWAYS``), one per run


def unchanged_bar(bars: int = 20_000, runs: int = 3) -> UnchangedBarCost:
    """The cost of a bar where nothing material changed: R1's bot (``reference.r1_bot``) on a paper venue, its ladder
    placed and acknowledged, then ``bars`` bar closes at the same price one second apart (inside the orders' TTL and
    the UTC day), stepped through the driver as a backtest steps them (``BarClose``). Timed with
    ``time.process_time`` around the whole batch, event-driven and then deciding in full, alternately, ``runs``
    times each. Raises if an event-driven bar did not reuse the decision (the figure would not be what it says)."""
    reused: list[float] = []
    full: list[float] = []
    for _ in range(runs):
        for mode, out in ((DecisionMode.EVENT_DRIVEN, reused), (DecisionMode.ALWAYS, full)):
            driver, first = _quiet_driver(mode)
            risk = driver.state.risk
            feed = driver.feed
            price = driver.venue.oracle
            gc.collect()
            c0 = time.process_time()
            for ts in range(first, first + bars):
                feed(BarClose(ts=ts, close_ts=ts, price=price, oracle=price))
            out.append((time.process_time() - c0) / bars * 1e6)
            if mode is DecisionMode.EVENT_DRIVEN and (driver.state.valid is None or driver.state.risk is not risk):
                raise AssertionError("an unchanged bar did not reuse the last decision")
    return UnchangedBarCost(bars, tuple(reused), tuple(full))


def _quiet_driver(mode: DecisionMode) -> tuple[BotDriver, int]:
    """R1's bot on a fresh paper venue after two bar closes at one price: the first places the ladder (its acks
    come back at once), the second is quiet and records what it stays valid for. Returns the driver and the next
    bar's time."""
    config = reference.r1_bot()
    bot = BotDefinition.from_config(config, decisions=mode)
    price, start = 150 * PRICE_PRECISION, 1_750_032_000  # 10:40 UTC: the day does not roll in the next 13 h
    venue = PaperVenue(
        config.market_spec, PaperConfig(), deposit_quote=config.capital_quote, oracle_price=price, now=start
    )
    driver = BotDriver(bot, venue, bot.initial_state(started_at=start), RowBuffer())
    for ts in (start, start + 1):
        driver.feed(BarClose(ts=ts, close_ts=ts, price=price, oracle=price))
    return driver, start + 2
