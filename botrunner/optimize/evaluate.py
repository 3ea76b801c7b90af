"""One candidate over one window: a backtest and the figures a search scores and reports.

The backtest is ``botrunner.backtest.engine.run_backtest``, the figures ``botrunner.backtest.metrics`` through
``botrunner.backtest.output.run_performance`` (the report's own Sharpe, Sortino, Calmar and round trips). A
backtest is deterministic, so a candidate's figures are a pure function of its configuration and the data: the
ground on which a search gives the same results whatever number of workers ran it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from decimal import Decimal
from typing import assert_never

import msgspec

from botrunner.backtest.data import MarketData
from botrunner.backtest.engine import BacktestInputs, BacktestResult, pnl_split, run_backtest
from botrunner.backtest.metrics import MIN_CAGR_DAYS, SECONDS_PER_DAY, rounded
from botrunner.backtest.output import run_performance
from botrunner.config import BotConfig, StrategyKind
from botrunner.core.precision import BPS_PRECISION, QUOTE_PRECISION
from botrunner.paper.config import PaperConfig

from .folds import Fold


class Objective(enum.Enum):
    """What a search maximises, averaged over the in-sample windows of the folds."""

    SHARPE = "sharpe"  # annualised Sharpe of daily returns (metrics.sharpe)
    SORTINO = "sortino"  # annualised Sortino (metrics.sortino)
    CALMAR = "calmar"  # CAGR / max drawdown (metrics.calmar; windows of at least a week)
    RETURN = "return"  # total return in % of the starting equity
    CARRY_APR = "carry_apr"  # funding carry, annualised: only bots that report carry (none yet)


class ObjectiveError(ValueError):
    """An objective the bot or the windows cannot give (one line, for the command line)."""


def reports_carry(kind: StrategyKind) -> bool:
    """Whether a bot of this strategy kind reports a funding carry. Neither the grid nor the band does: the carry
    bots of the funding engine will, and the engine does not exist yet."""
    match kind:
        case StrategyKind.GRID | StrategyKind.BAND:
            return False
        case StrategyKind.DELTA_NEUTRAL:
            return False  # its carry is in the backtest's legs rows; the optimiser does not read them yet
        case StrategyKind.FUNDING_ARB:
            return False  # its own two-venue backtest (botrunner.backtest.arb); the optimiser does not run it
        case _ as unreachable:
            assert_never(unreachable)


def check_objective(objective: Objective, bot: BotConfig, folds: tuple[Fold, ...]) -> None:
    """Refuse an objective the bot cannot report or the in-sample windows are too short to define."""
    shortest = min(f.in_sample[1] - f.in_sample[0] for f in folds)
    days = shortest / SECONDS_PER_DAY
    match objective:
        case Objective.CARRY_APR:
            if not reports_carry(bot.strategy.kind):
                raise ObjectiveError(
                    f"--objective carry_apr: a {bot.strategy.kind.value} bot reports no funding carry (only the "
                    "funding engine's carry bots will, and there is none yet); use sharpe, sortino, calmar or return"
                )
        case Objective.CALMAR:
            if shortest < MIN_CAGR_DAYS * SECONDS_PER_DAY:
                raise ObjectiveError(
                    f"--objective calmar needs in-sample windows of at least {MIN_CAGR_DAYS} days (Calmar divides "
                    f"the CAGR, undefined for shorter runs); the shortest is {days:.2f} days: widen the window or "
                    "use fewer folds"
                )
        case Objective.SHARPE | Objective.SORTINO:
            if shortest < 2 * SECONDS_PER_DAY:
                raise ObjectiveError(
                    f"--objective {objective.value} needs in-sample windows of at least 2 days (two daily returns); "
                    f"the shortest is {days:.2f} days: widen the window or use fewer folds"
                )
        case Objective.RETURN:
            pass
        case _ as unreachable:
            assert_never(unreachable)


class Figures(msgspec.Struct, frozen=True, kw_only=True):
    """One backtest's figures. Ratios are floats rounded to 6 places (they are scores and table cells); ``None``
    where the ratio is undefined (see ``botrunner.backtest.metrics``)."""

    start: int
    end: int
    return_pct: float
    pnl_usd: float
    sharpe: float | None
    sortino: float | None
    calmar: float | None
    max_drawdown_pct: float
    round_trips: int
    fills: int

    def score(self, objective: Objective) -> float | None:
        match objective:
            case Objective.SHARPE:
                return self.sharpe
            case Objective.SORTINO:
                return self.sortino
            case Objective.CALMAR:
                return self.calmar
            case Objective.RETURN:
                return self.return_pct
            case Objective.CARRY_APR:
                return None  # refused up front by check_objective: no bot kind reports carry yet
            case _ as unreachable:
                assert_never(unreachable)


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(rounded(value, 6))


def figures(result: BacktestResult) -> Figures:
    perf = run_performance(result)
    total = pnl_split(result)["total"]
    start_equity = result.starting_equity
    return Figures(
        start=result.first_ts,
        end=result.last_ts,
        return_pct=round(total * 100 / start_equity, 6) if start_equity > 0 else 0.0,
        pnl_usd=total / QUOTE_PRECISION,
        sharpe=_float(perf.sharpe),
        sortino=_float(perf.sortino),
        calmar=_float(perf.calmar),
        max_drawdown_pct=result.max_drawdown_bps * 100 / BPS_PRECISION,
        round_trips=perf.trips.closed,
        fills=result.fill_count,
    )


EquityWatch = Callable[[int, int, int], None]  # (done bars, total bars, equity quote 1e6): may raise to stop


class Evaluator:
    """Backtests over one worker's market data, loaded once and shared by every trial it runs."""

    def __init__(self, data: MarketData, paper: PaperConfig) -> None:
        self.data = data
        self.paper = paper

    def backtest(self, bot: BotConfig, window: tuple[int, int], watch: EquityWatch | None = None) -> BacktestResult:
        inputs = BacktestInputs(
            bot=bot,
            candles=self.data.candles,
            funding=self.data.funding,
            start=window[0],
            end=window[1],
            paper=self.paper,
        )
        return run_backtest(inputs, on_equity=watch)

    def figures(self, bot: BotConfig, window: tuple[int, int], watch: EquityWatch | None = None) -> Figures:
        return figures(self.backtest(bot, window, watch))
