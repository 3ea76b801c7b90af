"""A search: the bot, its space, the objective, the constraints and the walk-forward folds, checked once.

``prepare`` turns what the command line gave into a ``Search`` or one ``SearchError`` line (bad input, nothing
written). A search's *definition* is everything that decides its trials' results; it is stored in the study, so a
worker that joins with another bot file, space, data or code is refused instead of mixing two searches, and its
digest names the study by default (``BOT-<digest>``), so changing the search starts a new study.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import msgspec

from botrunner.backtest.data import DataNotFound, MarketData, check_funding_covers, resolve
from botrunner.backtest.output import code_digest, iso
from botrunner.config import BotConfig, StrategyKind
from botrunner.core.precision import BPS_PRECISION
from botrunner.marketdata._text import DataError
from botrunner.paper.config import PaperConfig
from botrunner.yamlconf import ConfigError

from .evaluate import Objective, ObjectiveError, check_objective
from .folds import Fold, FoldError, split
from .space import CandidateError, Space, candidate_text, check_space, parse_space, validate_candidate

CHECKPOINTS_PER_FOLD = 10  # intermediate values reported per in-sample fold (what median pruning compares)


class SearchError(ValueError):
    """Bad input to a search: one line saying what and where."""


@dataclass(frozen=True)
class Constraints:
    """What rejects a trial instead of scoring it."""

    max_drawdown_bps: int | None  # in any in-sample fold (the backtest's max_drawdown_pct × 100)
    min_round_trips: int  # closed round trips over all in-sample folds together

    def describe(self) -> dict[str, Any]:
        return {"max_drawdown_bps": self.max_drawdown_bps, "min_round_trips": self.min_round_trips}


@dataclass(frozen=True)
class Search:
    bot: BotConfig  # the bot file as it is (validated)
    bot_text: str
    bot_source: str
    space: Space
    objective: Objective
    constraints: Constraints
    window: tuple[int, int]
    folds: tuple[Fold, ...]
    trials: int
    seed: int
    lag: int
    paper: PaperConfig
    data_digests: tuple[tuple[str, str], ...]
    funding_source: str

    def definition(self) -> dict[str, Any]:
        """Everything a trial's result depends on (not the number of trials: a study can be extended)."""
        return {
            "version": 1,
            "bot": {"name": self.bot.name, "sha256": hashlib.sha256(self.bot_text.encode()).hexdigest()},
            "space": self.space.describe(),
            "objective": self.objective.value,
            "constraints": self.constraints.describe(),
            "window": list(self.window),
            "folds": [f.describe() for f in self.folds],
            "checkpoints_per_fold": CHECKPOINTS_PER_FOLD,
            "seed": self.seed,
            "lag": self.lag,
            "paper": msgspec.to_builtins(self.paper),
            "data": [list(d) for d in self.data_digests],
            "funding": self.funding_source,
            "code": code_digest(),
        }

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.definition(), sort_keys=True).encode()).hexdigest()

    def default_study_name(self) -> str:
        return f"{self.bot.name}-{self.digest()[:10]}"

    def candidate(self, values: dict[str, Any], label: str) -> tuple[str, BotConfig]:
        """The candidate bot file's text and its validated configuration (``CandidateError`` if it does not)."""
        text = candidate_text(self.bot_text, values, self.bot_source)
        return text, validate_candidate(text, f"{self.bot_source} ({label})")


def parse_pct_bps(text: str, what: str) -> int:
    """A percentage with at most two decimals (``15``, ``12.5``) as basis points."""
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise SearchError(f"{what} {text!r}: not a number") from exc
    bps = value * 100
    if not value.is_finite() or bps != bps.to_integral_value() or not 0 < value <= 100:
        raise SearchError(f"{what} {text!r}: give a percentage in (0, 100] with at most two decimals")
    return int(bps)


def prepare(  # noqa: PLR0912  one refusal per way the command's input can be bad, each its own line
    *,
    bot_path: Path,
    space_path: Path,
    data_dir: Path | None,
    start: int | None,
    end: int | None,
    objective: Objective,
    max_drawdown_bps: int | None,
    min_round_trips: int,
    folds: int,
    oos_pct: int,
    trials: int,
    seed: int,
    lag: int,
) -> tuple[Search, MarketData]:
    """Check everything a search needs and load its market data once; ``SearchError`` on bad input."""
    if trials < 1:
        raise SearchError(f"--trials must be at least 1, got {trials}")
    if lag < 0:
        raise SearchError(f"--lag must be >= 0, got {lag}")
    if min_round_trips < 0:
        raise SearchError(f"--min-round-trips must be >= 0, got {min_round_trips}")
    try:
        bot_text = bot_path.read_text()
    except OSError as exc:
        raise SearchError(f"{bot_path}: cannot read: {exc.strerror or exc}") from exc
    try:
        space_text = space_path.read_text()
    except OSError as exc:
        raise SearchError(f"{space_path}: cannot read: {exc.strerror or exc}") from exc
    try:
        bot = validate_candidate(bot_text, str(bot_path))
    except CandidateError as exc:
        raise SearchError(f"{bot_path}: {exc.reason}") from exc
    if bot.strategy.kind is StrategyKind.FUNDING_ARB:  # its replay is botrunner.backtest.arb, not the perp engine
        raise SearchError(f"{bot_path}: kind: funding_arb cannot be optimised yet: run it with botrunner backtest")
    try:
        space = parse_space(space_text, str(space_path))
        check_space(space, bot_text, str(bot_path))
    except ConfigError as exc:
        raise SearchError(str(exc)) from exc
    try:
        data = resolve(bot.market, data_dir)
    except (DataNotFound, DataError, OSError) as exc:
        raise SearchError(str(exc)) from exc
    data_start, data_end = data.span()
    first = start if start is not None else data.default_start(bot.strategy.warmup_s)
    last = end if end is not None else data_end
    if first >= data_end or last <= data_start:
        raise SearchError(
            f"no data for the window {iso(first)}..{iso(last)}: {data.candles_path} covers "
            f"{iso(data_start)}..{iso(data_end)}"
        )
    if last <= first:
        raise SearchError(f"empty window: --to {iso(last)} is not after --from {iso(first)}")
    first, last = max(first, data_start), min(last, data_end)
    if data.funding is not None and data.funding_path is not None:
        try:
            check_funding_covers(data.funding, first, last, data.funding_path)
        except DataNotFound as exc:
            raise SearchError(str(exc)) from exc
    try:
        cut = split(first, last, folds, oos_pct, data.candles.interval_s)
        check_objective(objective, bot, cut)
    except (FoldError, ObjectiveError) as exc:
        raise SearchError(str(exc)) from exc
    search = Search(
        bot=bot,
        bot_text=bot_text,
        bot_source=str(bot_path),
        space=space,
        objective=objective,
        constraints=Constraints(max_drawdown_bps, min_round_trips),
        window=(first, last),
        folds=cut,
        trials=trials,
        seed=seed,
        lag=lag,
        paper=PaperConfig(),
        data_digests=tuple(data.digests()),
        funding_source=data.funding_source,
    )
    return search, data


def bps_pct(bps: int) -> str:
    return str(Decimal(bps) / (BPS_PRECISION // 100))
