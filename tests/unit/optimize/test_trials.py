"""One worker's trials: an invalid candidate is pruned with its reason and never backtested; a broken constraint
rejects a trial instead of scoring it; a valid one scores the mean of its in-sample folds."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from botrunner.backtest.data import MarketData
from botrunner.backtest.engine import BacktestResult
from botrunner.cli.backtest import parse_when
from botrunner.config import BotConfig
from botrunner.optimize.evaluate import EquityWatch, Evaluator, Objective
from botrunner.optimize.results import outcome, reason
from botrunner.optimize.search import Search, prepare
from botrunner.optimize.worker import open_study, run_worker
from botrunner.paper.config import PaperConfig
from tests.support.optimize import BOT


class CountingEvaluator(Evaluator):
    """Records the base size of every candidate it backtests."""

    def __init__(self, data: MarketData, paper: PaperConfig) -> None:
        super().__init__(data, paper)
        self.runs: list[int] = []

    def backtest(self, bot: BotConfig, window: tuple[int, int], watch: EquityWatch | None = None) -> BacktestResult:
        self.runs.append(bot.execution.base_size_per_level)
        return super().backtest(bot, window, watch)


def search_of(tmp_path: Path, space: str, **options: object) -> tuple[Search, CountingEvaluator]:
    (tmp_path / "space.yaml").write_text(space)
    settings: dict[str, object] = {
        "bot_path": BOT,
        "space_path": tmp_path / "space.yaml",
        "data_dir": None,
        "start": parse_when("2025-09-25", end=False),
        "end": parse_when("2025-09-25", end=True),
        "objective": Objective.RETURN,
        "max_drawdown_bps": None,
        "min_round_trips": 0,
        "folds": 2,
        "oos_pct": 25,
        "trials": 4,
        "seed": 5,
        "lag": 2,
    }
    settings.update(options)
    search, data = prepare(**settings)
    return search, CountingEvaluator(data, search.paper)


def run(search: Search, evaluator: Evaluator) -> list[optuna.trial.FrozenTrial]:
    study = open_study(search, optuna.storages.InMemoryStorage(), "test")
    assert run_worker(study, search, evaluator) == search.trials
    return study.get_trials()


def test_trial_when_the_candidate_does_not_validate_then_pruned_with_why_and_never_backtested(tmp_path: Path) -> None:
    # 0.01 and 0.05 SOL validate; 0.015, 0.025 ... are off SOL-PERP's 0.01 order step
    search, evaluator = search_of(tmp_path, "execution.base_size_per_level: {low: 0.01, high: 0.05, step: 0.005}\n")
    trials = run(search, evaluator)
    invalid = [t for t in trials if outcome(t) == "invalid"]
    valid = [t for t in trials if outcome(t) == "complete"]
    assert invalid and valid, [(t.params, outcome(t)) for t in trials]
    for t in invalid:
        assert "is not a multiple of SOL-PERP's order step 0.01" in (reason(t) or "")
        assert "in_sample" not in t.user_attrs
    sizes = {round(t.params["execution.base_size_per_level"] * 1e9) for t in valid}
    assert set(evaluator.runs) == sizes  # only the valid candidates were backtested (once per fold)
    assert len(evaluator.runs) == 2 * len(valid)
    for t in valid:
        folds = t.user_attrs["in_sample"]
        assert t.value == pytest.approx(sum(f["return_pct"] for f in folds) / 2)


def test_trial_when_the_drawdown_passes_the_limit_then_rejected_not_scored(tmp_path: Path) -> None:
    search, evaluator = search_of(tmp_path, "execution.step_bps: [20, 40]\n", max_drawdown_bps=1)
    trials = run(search, evaluator)
    assert [outcome(t) for t in trials] == ["rejected"] * 4
    assert all(t.state is optuna.trial.TrialState.PRUNED for t in trials)  # no score: never ranked
    assert all("max drawdown over 0.01 %" in (reason(t) or "") for t in trials)


def test_trial_when_too_few_round_trips_then_rejected(tmp_path: Path) -> None:
    search, evaluator = search_of(tmp_path, "execution.step_bps: [20, 40]\n", min_round_trips=10_000)
    trials = run(search, evaluator)
    assert [outcome(t) for t in trials] == ["rejected"] * 4
    assert all("fewer than 10000" in (reason(t) or "") for t in trials)


def test_trial_when_the_parameters_were_already_evaluated_then_the_result_is_reused_not_run_again(
    tmp_path: Path,
) -> None:
    search, evaluator = search_of(tmp_path, "execution.step_bps: [30]\n", lag=1)
    trials = run(search, evaluator)
    # trials 0 and 1 run (neither sees the other: lag 1); 2 and 3 see trial 0 and take its result
    assert [t.user_attrs.get("same_as") for t in trials] == [None, None, 0, 0]
    assert len(evaluator.runs) == 2 * 2  # two trials, two in-sample folds each
    assert len({t.value for t in trials}) == 1
    assert trials[2].intermediate_values == trials[0].intermediate_values
    assert trials[3].user_attrs["in_sample"] == trials[0].user_attrs["in_sample"]
