"""Optuna's TPE sampler and median pruner, made independent of how many workers share a study.

Optuna's parallel TPE proposes from whatever trials happen to have finished when a worker asks, so two runs of
the same search on 1 and on 4 workers evaluate different parameters. Here trial ``n`` is proposed from exactly the
trials numbered below ``n − lag``, by a TPE sampler seeded with ``(seed, n)``:

* a worker that starts trial ``n`` first waits until every trial below ``n − lag`` has finished (with ``lag`` at
  least the number of workers, it seldom waits: those trials started long before);
* those trials are copied into a private in-memory study and Optuna's ``TPESampler`` (multivariate, as Optuna's
  default for one objective) proposes from it, so what it sees is the same set of finished trials however the
  work was spread;
* median pruning compares a trial's intermediate values with the completed trials below ``n − lag`` only, through
  Optuna's own ``MedianPruner``.

With a deterministic objective (a backtest is one), trial ``n``'s parameters, state and value are then a function
of the seed and of trials ``0 .. n − lag − 1``: the same, by induction, on any number of workers and machines.
What is not the same: which worker ran which trial, when, and the trials' wall times.

In the proposal study, a trial that was invalid (its configuration did not validate) or rejected (it broke a
constraint) is a pruned trial with no intermediate value, which TPE ranks below every other trial.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Final, cast

import optuna
from optuna.distributions import BaseDistribution
from optuna.pruners import BasePruner, MedianPruner
from optuna.samplers import BaseSampler, TPESampler
from optuna.storages import fail_stale_trials
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

# user attributes a worker sets on a trial that was not scored (see worker.py)
INVALID_ATTR: Final = "invalid"  # the candidate configuration does not validate: never run
REJECTED_ATTR: Final = "rejected"  # it ran and broke a constraint
SKIPPED_ATTR: Final = "skipped"  # asked past the study's number of trials by a racing worker: never run
N_STARTUP_TRIALS: Final = 10  # Optuna's default: random proposals until this many trials are in the history
_FINISHED: Final = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


def trial_seed(seed: int, number: int) -> int:
    """The seed of trial ``number``'s proposal: distinct per trial, fixed by the study's seed."""
    return (seed * 1_000_003 + number * 7_919 + 17) % 2**32


def unscored(trial: FrozenTrial) -> bool:
    """A trial that has no score to learn from beyond 'worse than everything': invalid or rejected."""
    return INVALID_ATTR in trial.user_attrs or REJECTED_ATTR in trial.user_attrs


def history_copy(trials: Sequence[FrozenTrial], space: dict[str, BaseDistribution]) -> list[FrozenTrial]:
    """The finished trials TPE learns from, as new frozen trials of the proposal study (in number order)."""
    out: list[FrozenTrial] = []
    for t in sorted(trials, key=lambda t: t.number):
        if t.state not in (TrialState.COMPLETE, TrialState.PRUNED) or not space.keys() <= t.params.keys():
            continue
        keep_steps = t.state is TrialState.COMPLETE or not unscored(t)
        out.append(
            optuna.trial.create_trial(
                state=t.state,
                value=t.value if t.state is TrialState.COMPLETE else None,
                params={k: t.params[k] for k in space},
                distributions=dict(space),
                intermediate_values=dict(t.intermediate_values) if keep_steps else {},
            )
        )
    return out


def propose(
    space: dict[str, BaseDistribution],
    history: Sequence[FrozenTrial],
    seed: int,
    n_startup_trials: int = N_STARTUP_TRIALS,
) -> dict[str, Any]:
    """TPE's proposal from ``history`` alone, seeded: a pure function of its arguments."""
    sampler = TPESampler(seed=seed, n_startup_trials=n_startup_trials, constant_liar=False)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.add_trials(history_copy(history, space))
    trial = study.ask(fixed_distributions=dict(space))
    return dict(trial.params)


def finished_before(study: Study, limit: int, poll_s: float, on_wait: Callable[[], None] | None) -> list[FrozenTrial]:
    """Every trial numbered below ``limit``, once all of them have finished (a dead worker's trial is failed by
    Optuna's heartbeat after its grace period, so this does not wait for ever)."""
    while True:
        trials = [t for t in study.get_trials(deepcopy=False) if t.number < limit]
        if all(t.state in _FINISHED for t in trials):
            return trials
        if on_wait is not None:
            on_wait()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            fail_stale_trials(study)  # a no-op unless the storage has a heartbeat (RDB storages here)
        time.sleep(poll_s)


class LaggedTPESampler(BaseSampler):
    """TPE over a fixed search space, trial ``n`` proposed from the trials below ``n − lag`` (module doc)."""

    def __init__(
        self,
        space: dict[str, BaseDistribution],
        *,
        seed: int,
        lag: int,
        n_startup_trials: int = N_STARTUP_TRIALS,
        poll_s: float = 0.2,
        on_wait: Callable[[], None] | None = None,
    ) -> None:
        if lag < 0:
            raise ValueError(f"lag must be >= 0, got {lag}")
        self.space = dict(space)
        self.seed = seed
        self.lag = lag
        self.n_startup_trials = n_startup_trials
        self.poll_s = poll_s
        self.on_wait = on_wait

    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return dict(self.space)

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if not search_space:
            return {}
        history = finished_before(study, trial.number - self.lag, self.poll_s, self.on_wait)
        return propose(self.space, history, trial_seed(self.seed, trial.number), self.n_startup_trials)

    def sample_independent(
        self, study: Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        raise ValueError(
            f"{param_name} is not in the search space {sorted(self.space)}: every parameter is proposed together"
        )


class _TrialsBefore:
    """The part of a study that ``MedianPruner.prune`` reads (its direction and its completed trials), cut to the
    trials numbered below ``limit``: finished before the trial started (the sampler waited for them), so they are
    read from the storage once and kept."""

    def __init__(self, study: Study, limit: int) -> None:
        self._study = study
        self.limit = limit
        self._complete: list[FrozenTrial] | None = None

    @property
    def direction(self) -> StudyDirection:
        return self._study.direction

    def get_trials(self, deepcopy: bool = True, states: Sequence[TrialState] | None = None) -> list[FrozenTrial]:
        if tuple(states or ()) != (TrialState.COMPLETE,):
            raise ValueError(f"the median rule reads completed trials only, not {states}")
        if self._complete is None:
            trials = self._study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            self._complete = [t for t in trials if t.number < self.limit]
        return list(self._complete)


class LaggedMedianPruner(BasePruner):
    """Optuna's median rule, trial ``n`` measured against the completed trials below ``n − lag`` only."""

    def __init__(self, lag: int, n_startup_trials: int = 5, n_warmup_steps: int = 0) -> None:
        self.lag = lag
        self._median = MedianPruner(n_startup_trials=n_startup_trials, n_warmup_steps=n_warmup_steps)
        self._before: dict[int, _TrialsBefore] = {}  # per trial number (a worker runs one trial at a time)

    def prune(self, study: Study, trial: FrozenTrial) -> bool:
        before = self._before.get(trial.number)
        if before is None or before.limit != trial.number - self.lag:
            before = _TrialsBefore(study, trial.number - self.lag)
            self._before = {trial.number: before}  # keep only the running trial's
        return self._median.prune(cast(Study, before), trial)
