"""The lagged TPE sampler and median pruner: the same trials, parameters, prunings and values whatever the number
of workers, because trial n is proposed and judged from trials below n - lag only."""

from __future__ import annotations

import random
import time

import optuna
from optuna.distributions import CategoricalDistribution, IntDistribution
from optuna.trial import TrialState

from botrunner.optimize.sampler import (
    INVALID_ATTR,
    LaggedMedianPruner,
    LaggedTPESampler,
    history_copy,
    propose,
)

SPACE = {"x": IntDistribution(0, 60), "kind": CategoricalDistribution(["a", "b", "c"])}
jitter = random.Random()  # unseeded on purpose: it only shuffles which thread finishes first


def objective(trial: optuna.Trial) -> float:
    x = trial.suggest_int("x", 0, 60)
    kind = trial.suggest_categorical("kind", ["a", "b", "c"])
    if x % 9 == 0:
        trial.set_user_attr(INVALID_ATTR, "x is a multiple of 9")
        raise optuna.TrialPruned("invalid")
    score = -((x - 42) ** 2) / 100 + {"a": 0.0, "b": 1.5, "c": -1.0}[kind]
    for step in range(1, 6):
        time.sleep(jitter.random() * 0.004)
        trial.report(score * step / 5, step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return score


def run(n_jobs: int, trials: int = 36, seed: int = 7) -> dict[int, tuple[str, dict[str, object], float | None]]:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize",
        sampler=LaggedTPESampler(SPACE, seed=seed, lag=4, n_startup_trials=6, poll_s=0.001),
        pruner=LaggedMedianPruner(lag=4, n_startup_trials=3, n_warmup_steps=1),
    )
    study.optimize(objective, n_trials=trials, n_jobs=n_jobs)
    return {t.number: (t.state.name, dict(t.params), t.value) for t in study.get_trials()}


def test_lagged_tpe_when_run_on_one_or_four_threads_then_every_trial_is_the_same() -> None:
    one = run(n_jobs=1)
    four = run(n_jobs=4)
    assert one == four
    states = [state for state, _, _ in one.values()]
    assert states.count("PRUNED") >= 2, states  # the median rule and the invalid trials were exercised
    assert states.count("COMPLETE") >= 10, states


def test_lagged_tpe_when_the_seed_changes_then_the_search_changes() -> None:
    assert run(n_jobs=1, trials=12, seed=1) != run(n_jobs=1, trials=12, seed=2)


def test_lagged_tpe_when_learning_then_it_moves_towards_the_optimum() -> None:
    trials = run(n_jobs=1, trials=60)
    late = [v for n, (s, _, v) in trials.items() if n >= 40 and s == "COMPLETE" and v is not None]
    early = [v for n, (s, _, v) in trials.items() if n < 6 and s == "COMPLETE" and v is not None]
    assert max(late) > max(early)  # TPE past its random start finds better trials than the random start did


def test_propose_when_given_the_same_history_and_seed_then_the_same_parameters() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    history = [
        optuna.trial.create_trial(params={"x": x, "kind": k}, distributions=SPACE, value=float(-abs(x - 30)))
        for x, k in [(1, "a"), (10, "b"), (20, "c"), (30, "a"), (40, "b"), (50, "c"), (60, "a")]
    ]
    assert propose(SPACE, history, seed=5, n_startup_trials=3) == propose(SPACE, history, seed=5, n_startup_trials=3)


def test_history_when_a_trial_was_invalid_then_it_learns_it_as_the_worst_pruned_trial() -> None:
    invalid = optuna.trial.create_trial(
        state=TrialState.PRUNED,
        params={"x": 9, "kind": "a"},
        distributions=SPACE,
        intermediate_values={1: 100.0},
        user_attrs={INVALID_ATTR: "no"},
    )
    pruned = optuna.trial.create_trial(
        state=TrialState.PRUNED, params={"x": 8, "kind": "a"}, distributions=SPACE, intermediate_values={1: -5.0}
    )
    failed = optuna.trial.create_trial(state=TrialState.FAIL, params={"x": 7, "kind": "a"}, distributions=SPACE)
    copied = history_copy([invalid, pruned, failed], SPACE)
    assert [t.intermediate_values for t in copied] == [{}, {1: -5.0}]  # the failed trial is not learnt from
