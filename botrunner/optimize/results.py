"""After the trials: the study read back, the best trials run out of sample, the overfitting flag, the summary.

The best ``top`` completed trials (by in-sample score) are backtested on every fold's out-of-sample window; each
figure the report gives in sample is then also given out of sample. The overfitting flag: a trial is flagged when
its out-of-sample score falls below ``min_oos_share`` of its in-sample score (for a negative in-sample score:
when it is worse by more than ``1 − min_oos_share`` of its size). Where the objective is undefined out of sample
(a Sharpe over windows shorter than two days, say), both sides are compared on the return instead, and the
summary says so.
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec
import optuna
from optuna.trial import FrozenTrial, TrialState

from botrunner.backtest.engine import BacktestResult

from .evaluate import Evaluator, Figures
from .sampler import INVALID_ATTR, REJECTED_ATTR, SKIPPED_ATTR
from .search import Search
from .storage import redacted
from .worker import IN_SAMPLE_ATTR, PRUNED_ATTR, WORKER_ATTR


@dataclass(frozen=True)
class Progress:
    """The study at one glance (what the progress bar shows)."""

    total: int
    finished: int
    running: int
    complete: int
    best_value: float | None
    best_trial: int | None
    workers: int


def progress(study: optuna.Study, total: int) -> Progress:
    trials = [t for t in study.get_trials(deepcopy=False) if t.number < total]
    finished = [t for t in trials if t.state.is_finished()]
    complete = [t for t in finished if t.state is TrialState.COMPLETE and t.value is not None]
    best = max(complete, key=lambda t: (t.value, -t.number), default=None)
    return Progress(
        total=total,
        finished=len(finished),
        running=sum(1 for t in trials if t.state is TrialState.RUNNING),
        complete=len(complete),
        best_value=None if best is None else best.value,
        best_trial=None if best is None else best.number,
        workers=len({t.user_attrs[WORKER_ATTR] for t in trials if WORKER_ATTR in t.user_attrs}),
    )


def fail_stale(study: optuna.Study) -> None:
    """Fail the trials whose worker stopped beating (Optuna's heartbeat; RDB storages only)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def outcome(trial: FrozenTrial) -> str:  # noqa: PLR0911  one return per outcome a trial can have, first match
    """complete | pruned (median rule) | rejected (a constraint) | invalid (did not validate) | failed | ..."""
    if trial.state is TrialState.COMPLETE:
        return "complete"
    if trial.state is TrialState.PRUNED:
        if INVALID_ATTR in trial.user_attrs:
            return "invalid"
        if REJECTED_ATTR in trial.user_attrs:
            return "rejected"
        if SKIPPED_ATTR in trial.user_attrs:
            return "skipped"
        return "pruned"
    if trial.state is TrialState.FAIL:
        return "failed"
    return trial.state.name.lower()


def reason(trial: FrozenTrial) -> str | None:
    for key in (INVALID_ATTR, REJECTED_ATTR, PRUNED_ATTR, SKIPPED_ATTR):
        if key in trial.user_attrs:
            return str(trial.user_attrs[key])
    return None


def in_sample(trial: FrozenTrial) -> list[Figures]:
    return [msgspec.convert(f, Figures) for f in trial.user_attrs.get(IN_SAMPLE_ATTR, [])]


def mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return None if len(present) != len(values) or not values else sum(present) / len(present)


@dataclass
class Ranked:
    """One of the best trials, with its figures in and out of sample."""

    trial: FrozenTrial
    values: dict[str, Any]  # config values
    in_sample: list[Figures]
    out_of_sample: list[Figures] = field(default_factory=list)
    compared_on: str = ""  # the figure the overfitting flag compares (the objective, or return when undefined)
    is_score: float | None = None
    oos_score: float | None = None
    overfit: bool = False

    def judge(self, objective: str, min_oos_share: float) -> None:
        figure = {"return": "return_pct"}.get(objective, objective)
        is_score = mean([getattr(f, figure) for f in self.in_sample])
        oos_score = mean([getattr(f, figure) for f in self.out_of_sample])
        self.compared_on = objective
        if is_score is None or oos_score is None:  # undefined out of sample (or in a fold): compare returns
            self.compared_on = "return"
            is_score = mean([f.return_pct for f in self.in_sample])
            oos_score = mean([f.return_pct for f in self.out_of_sample])
        assert is_score is not None and oos_score is not None
        self.is_score, self.oos_score = is_score, oos_score
        self.overfit = oos_score < is_score - (1 - min_oos_share) * abs(is_score)


def ranked(study: optuna.Study, search: Search, top: int) -> list[Ranked]:
    complete = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.number < search.trials]
    complete.sort(key=lambda t: (-(t.value or 0.0), t.number))
    out: list[Ranked] = []
    for t in complete:  # one row per configuration: TPE proposes a good point of a discrete space again and again
        if len(out) == top:
            break
        if all(r.trial.params != t.params for r in out):
            out.append(Ranked(t, search.space.config_values(t.params), in_sample(t)))
    return out


def run_out_of_sample(search: Search, evaluator: Evaluator, best: list[Ranked], min_oos_share: float) -> None:
    for r in best:
        _, bot = search.candidate(r.values, f"trial {r.trial.number}")
        r.out_of_sample = [evaluator.figures(bot, f.out_of_sample) for f in search.folds]
        r.judge(search.objective.value, min_oos_share)


def whole_window(search: Search, evaluator: Evaluator, best: Ranked) -> BacktestResult:
    """The best configuration over the whole window in one run: the report's equity curve."""
    _, bot = search.candidate(best.values, f"trial {best.trial.number}")
    return evaluator.backtest(bot, search.window)


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _figures(f: Figures) -> dict[str, Any]:
    doc: dict[str, Any] = msgspec.to_builtins(f)
    doc["from"], doc["to"] = _iso(doc.pop("start")), _iso(doc.pop("end"))
    return doc


def _ranked_doc(r: Ranked) -> dict[str, Any]:
    return {
        "trial": r.trial.number,
        "params": {k: (str(v) if not isinstance(v, int | bool | str) else v) for k, v in r.values.items()},
        "in_sample_score": r.trial.value,
        "in_sample": [_figures(f) for f in r.in_sample],
        "out_of_sample": [_figures(f) for f in r.out_of_sample],
        "compared_on": r.compared_on,
        "in_sample_mean": r.is_score,
        "out_of_sample_mean": r.oos_score,
        "overfit": r.overfit,
        "worker": r.trial.user_attrs.get(WORKER_ATTR),
    }


def summary(
    study: optuna.Study,
    search: Search,
    *,
    storage_url: str,
    best: list[Ranked],
    importance: dict[str, float] | None,
    min_oos_share: float,
    files: dict[str, str],
) -> dict[str, Any]:
    trials = [t for t in study.get_trials(deepcopy=False) if t.number < search.trials]
    outcomes = Counter(outcome(t) for t in trials)
    workers = Counter(str(t.user_attrs[WORKER_ATTR]) for t in trials if WORKER_ATTR in t.user_attrs)
    return {
        "study": study.study_name,
        "storage": redacted(storage_url),
        "bot": search.bot.name,
        "bot_file": search.bot_source,
        "objective": search.objective.value,
        "constraints": search.constraints.describe(),
        "window": {"from": _iso(search.window[0]), "to": _iso(search.window[1])},
        "folds": [
            {
                "in_sample": {"from": _iso(f.in_sample[0]), "to": _iso(f.in_sample[1])},
                "out_of_sample": {"from": _iso(f.out_of_sample[0]), "to": _iso(f.out_of_sample[1])},
            }
            for f in search.folds
        ],
        "seed": search.seed,
        "lag": search.lag,
        "trials": {
            "requested": search.trials,
            **{k: outcomes.get(k, 0) for k in ("complete", "pruned", "rejected", "invalid", "failed")},
        },
        "workers": dict(sorted(workers.items())),
        "min_oos_share": min_oos_share,
        "best": _ranked_doc(best[0]) if best else None,
        "top": [_ranked_doc(r) for r in best],
        "overfit_warning": bool(best and best[0].overfit),
        "importance": importance,
        "files": files,
    }


def importance(study: optuna.Study, search: Search) -> dict[str, float] | None:
    """Optuna's parameter importance (its default evaluator, PED-ANOVA) over the completed trials; None with too
    few of them or a single parameter that never varied."""
    complete = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.number < search.trials]
    if len(complete) < 2:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. a parameter that never varied: its importance is simply 0
            found = optuna.importance.get_param_importances(study, params=[p.path for p in search.space.params])
    except (ValueError, RuntimeError, ZeroDivisionError):
        return None
    return {k: round(float(v), 6) for k, v in found.items()}
