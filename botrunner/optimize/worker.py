"""A worker: joins a study and runs trials until the study holds its number of trials.

One process runs one trial at a time; its market data is loaded once (``Evaluator``) and shared by every trial.
A trial:

1. past the study's number of trials (two workers asked at once): marked skipped, never run;
2. takes the parameters the lagged TPE sampler proposes, writes them into the bot file's text and validates it
   with the rules of ``botrunner validate``: an invalid candidate is pruned with the reason, never run;
3. runs the in-sample window of every fold, reporting its cumulative return (% of capital) ten times a fold: the
   median rule may prune it there; a drawdown past ``--max-drawdown`` rejects it at once;
4. is rejected if it broke a constraint or its objective is undefined in a fold; else scores the mean of the
   folds' objective.

Every trial records which worker ran it (``worker`` user attribute) and its in-sample figures per fold.
"""

from __future__ import annotations

import os
import socket
import time
import warnings
from collections.abc import Callable
from typing import Any, Final

import msgspec
import optuna
import structlog
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.storages import BaseStorage
from optuna.study import MaxTrialsCallback
from optuna.trial import FrozenTrial, TrialState

from botrunner.core.precision import BPS_PRECISION

from .evaluate import Evaluator, Figures
from .sampler import INVALID_ATTR, REJECTED_ATTR, SKIPPED_ATTR, LaggedMedianPruner, LaggedTPESampler
from .search import CHECKPOINTS_PER_FOLD, Search, bps_pct
from .space import CandidateError, Param

log = structlog.get_logger("botrunner.optimize")

DEFINITION_ATTR: Final = "botrunner_definition"
WORKER_ATTR: Final = "worker"
IN_SAMPLE_ATTR: Final = "in_sample"  # per fold: Figures as plain data
PRUNED_ATTR: Final = "pruned_at"  # where the median rule stopped it
SAME_AS_ATTR: Final = "same_as"  # the earlier trial with the same parameters whose result this one reuses
LAUNCH_TIMEOUT_S: Final = 300.0


class StudyMismatch(ValueError):
    """The study was made for another search (another bot file, space, data, window or code)."""


def quiet_optuna() -> None:
    """Optuna logs every trial at INFO through the standard logging module; ours are the structlog lines."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def open_study(search: Search, storage: BaseStorage | str, name: str) -> optuna.Study:
    """Create or join the study ``name``; refuse one made for another search."""
    quiet_optuna()
    sampler = LaggedTPESampler(search.space.distributions, seed=search.seed, lag=search.lag)
    pruner = LaggedMedianPruner(search.lag, n_startup_trials=5, n_warmup_steps=CHECKPOINTS_PER_FOLD // 2)
    study = optuna.create_study(
        storage=storage, study_name=name, direction="maximize", sampler=sampler, pruner=pruner, load_if_exists=True
    )
    wanted = search.definition()
    found = study.user_attrs.get(DEFINITION_ATTR)
    if found is None:
        study.set_user_attr(DEFINITION_ATTR, wanted)  # two creators at once write the same value
    elif found != wanted:
        differ = sorted(k for k in set(found) | set(wanted) if found.get(k) != wanted.get(k))
        raise StudyMismatch(
            f"study {name!r} was made for another search ({', '.join(differ)} differ): give the same bot file, "
            "space, options, data and code, or another --study"
        )
    if study.directions != [optuna.study.StudyDirection.MAXIMIZE]:
        raise StudyMismatch(f"study {name!r} does not maximise one objective: it is not a botrunner search")
    return study


def suggest(trial: optuna.Trial, param: Param) -> Any:
    dist = param.distribution
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(param.path, dist.low, dist.high, step=dist.step, log=dist.log)
    if isinstance(dist, FloatDistribution):
        return trial.suggest_float(param.path, dist.low, dist.high, step=dist.step)
    assert isinstance(dist, CategoricalDistribution)
    return trial.suggest_categorical(param.path, dist.choices)


class _Rejected(Exception):
    """A constraint broken while the trial ran."""


class _Watch:
    """Sees every bar close of one in-sample fold: reports the cumulative return at the checkpoints (and asks the
    pruner), and rejects at once a drawdown past the limit (the engine's own rule: ceil of the fall in bps)."""

    def __init__(self, trial: optuna.Trial, fold: int, before_pct: float, capital: int, max_dd_bps: int | None):
        self.trial = trial
        self.fold = fold
        self.before_pct = before_pct
        self.capital = capital
        self.max_dd_bps = max_dd_bps
        self.next = 1
        self.peak = capital

    def __call__(self, done: int, total: int, equity: int) -> None:
        if self.max_dd_bps is not None:
            self.peak = max(self.peak, equity)
            if self.peak > 0 and (self.peak - equity) * BPS_PRECISION > self.max_dd_bps * self.peak:
                fall = (self.peak - equity) * 100 / self.peak
                raise _Rejected(
                    f"max drawdown over {bps_pct(self.max_dd_bps)} % (already {fall:.3f} %) in in-sample fold "
                    f"{self.fold + 1}"
                )
        if done * CHECKPOINTS_PER_FOLD < self.next * total:
            return
        while self.next <= CHECKPOINTS_PER_FOLD and done * CHECKPOINTS_PER_FOLD >= self.next * total:
            step = self.fold * CHECKPOINTS_PER_FOLD + self.next  # a fold shorter than its checkpoints: several
            self.next += 1
        value = self.before_pct + (equity - self.capital) * 100 / self.capital
        self.trial.report(value, step)
        if self.trial.should_prune():
            self.trial.set_user_attr(PRUNED_ATTR, f"in-sample fold {self.fold + 1}, checkpoint {step}: {value:.4f} %")
            raise optuna.TrialPruned(f"below the median at step {step}")


class TrialRunner:
    """The objective one worker hands to ``study.optimize``."""

    def __init__(self, search: Search, evaluator: Evaluator, worker: str) -> None:
        self.search = search
        self.evaluator = evaluator
        self.worker = worker

    def __call__(self, trial: optuna.Trial) -> float:
        search = self.search
        n = trial.number
        if n >= search.trials:
            trial.set_user_attr(SKIPPED_ATTR, f"asked past --trials {search.trials}: not run")
            trial.study.stop()
            raise optuna.TrialPruned("past the number of trials")
        trial.set_user_attr(WORKER_ATTR, self.worker)
        sampled = {p.path: suggest(trial, p) for p in search.space.params}
        values = search.space.config_values(sampled)
        log.info("trial_started", trial=n, params={k: str(v) for k, v in values.items()})
        twin = self._twin(trial, sampled)
        if twin is not None:
            return self._reuse(trial, twin)
        started, cpu = time.perf_counter(), time.process_time()
        try:
            return self._run(trial, values)
        finally:
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu
            log.info("trial_ended", trial=n, seconds=round(wall, 3), cpu_seconds=round(cpu, 3))

    def _twin(self, trial: optuna.Trial, sampled: dict[str, Any]) -> FrozenTrial | None:
        """An earlier trial with the same parameters and a result that is a function of them alone (complete,
        invalid or rejected; not median-pruned, which also depends on the trials before it), among the trials
        below n − lag: those the sampler waited for, so the choice is the same on any number of workers. TPE
        proposes a point of a discrete space again and again once it has found a good one."""
        limit = trial.number - self.search.lag
        for t in trial.study.get_trials(deepcopy=False):
            if t.number >= limit or t.params != sampled or SAME_AS_ATTR in t.user_attrs:
                continue
            if t.state is TrialState.COMPLETE or INVALID_ATTR in t.user_attrs or REJECTED_ATTR in t.user_attrs:
                return t
        return None

    def _reuse(self, trial: optuna.Trial, twin: FrozenTrial) -> float:
        """The twin's result, copied: its figures, its reason, its intermediate values (for the median rule of
        later trials) and its value; no backtest runs."""
        trial.set_user_attr(SAME_AS_ATTR, twin.number)
        for key in (IN_SAMPLE_ATTR, INVALID_ATTR, REJECTED_ATTR):
            if key in twin.user_attrs:
                trial.set_user_attr(key, twin.user_attrs[key])
        log.info("trial_reused", trial=trial.number, same_as=twin.number)
        if twin.state is not TrialState.COMPLETE or twin.value is None:
            raise optuna.TrialPruned(f"same parameters as trial {twin.number}: {reason_of(twin)}")
        for step, value in sorted(twin.intermediate_values.items()):
            trial.report(value, step)
        return twin.value

    def _run(self, trial: optuna.Trial, values: dict[str, Any]) -> float:
        search = self.search
        try:
            _, bot = search.candidate(values, f"trial {trial.number}")
        except CandidateError as exc:
            trial.set_user_attr(INVALID_ATTR, exc.reason)
            raise optuna.TrialPruned(f"invalid: {exc.reason}") from exc
        done: list[Figures] = []
        before = 0.0
        max_dd = search.constraints.max_drawdown_bps

        def reject(reason: str) -> optuna.TrialPruned:
            trial.set_user_attr(REJECTED_ATTR, reason)
            trial.set_user_attr(IN_SAMPLE_ATTR, [msgspec.to_builtins(f) for f in done])
            return optuna.TrialPruned(f"rejected: {reason}")

        for fold in search.folds:
            watch = _Watch(trial, fold.index, before, bot.capital_quote, max_dd)
            try:
                figures = self.evaluator.figures(bot, fold.in_sample, watch)
            except _Rejected as exc:
                raise reject(str(exc)) from exc
            done.append(figures)
            if max_dd is not None and figures.max_drawdown_pct * 100 > max_dd:
                raise reject(
                    f"max drawdown {figures.max_drawdown_pct:.2f} % over {bps_pct(max_dd)} % in in-sample fold "
                    f"{fold.index + 1}"
                )
            before += figures.return_pct
        trips = sum(f.round_trips for f in done)
        if trips < search.constraints.min_round_trips:
            raise reject(f"{trips} round trips in sample, fewer than {search.constraints.min_round_trips}")
        scores = [f.score(search.objective) for f in done]
        undefined = [i + 1 for i, s in enumerate(scores) if s is None]
        if undefined:
            raise reject(
                f"{search.objective.value} undefined in in-sample fold(s) {', '.join(map(str, undefined))} "
                "(no variation of daily returns, no losing day, or too short)"
            )
        trial.set_user_attr(IN_SAMPLE_ATTR, [msgspec.to_builtins(f) for f in done])
        return sum(s for s in scores if s is not None) / len(scores)


def reason_of(trial: FrozenTrial) -> str:
    return str(trial.user_attrs.get(INVALID_ATTR) or trial.user_attrs.get(REJECTED_ATTR) or "")


def wait_for_launch(study: optuna.Study, launch: str, index: int, workers: int) -> None:
    """The start line of a local launch: each worker says it is ready (its data loaded), then waits for the
    others, so every worker starts trials at the same moment (``launch`` is the launch's token)."""
    study.set_user_attr(f"launch:{launch}:{index}", worker_id())
    deadline = time.monotonic() + LAUNCH_TIMEOUT_S
    wanted = {f"launch:{launch}:{i}" for i in range(workers)}
    while not wanted <= study.user_attrs.keys() and time.monotonic() < deadline:
        time.sleep(0.1)


def run_worker(
    study: optuna.Study,
    search: Search,
    evaluator: Evaluator,
    *,
    on_trial: Callable[[FrozenTrial], None] | None = None,
) -> int:
    """Run trials until the study holds ``search.trials``; returns how many this worker ran."""
    me = worker_id()
    ran = 0
    if len(study.get_trials(deepcopy=False)) >= search.trials:
        return 0

    def after(study: optuna.Study, trial: FrozenTrial) -> None:
        nonlocal ran
        if trial.user_attrs.get(WORKER_ATTR) == me:
            ran += 1
        log.info(
            "trial_finished",
            trial=trial.number,
            state=trial.state.name,
            value=trial.value,
            reason=trial.user_attrs.get(INVALID_ATTR) or trial.user_attrs.get(REJECTED_ATTR),
        )
        if on_trial is not None:
            on_trial(trial)

    log.info("worker_started", worker=me, study=study.study_name, trials=search.trials)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.optimize(
            TrialRunner(search, evaluator, me),
            callbacks=[MaxTrialsCallback(search.trials, states=None), after],
            gc_after_trial=False,
        )
    log.info("worker_done", worker=me, trials_run=ran)
    return ran


def finished_states() -> tuple[TrialState, ...]:
    return (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
