"""Latch behaviour: escalate at once, release only past the hysteresis margin and after the cool-down."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from governors.hysteresis import BadWhen, Latch, LatchStatus, Threshold, step_latch
from governors.risk_triggers import Trigger

HEALTH = Threshold(limit=50, hysteresis=5, bad_when=BadWhen.BELOW)
LEVERAGE = Threshold(limit=50_000, hysteresis=2_500, bad_when=BadWhen.ABOVE)


def run_series(threshold: Threshold, values: list[int | None], cool_down_s: int, dt: int = 1) -> list[bool]:
    """Latched-or-not after each observation, one observation every ``dt`` seconds."""
    latch: Latch | None = None
    out: list[bool] = []
    for i, value in enumerate(values):
        latch, _ = step_latch(latch, Trigger.HEALTH_WARNING, threshold, value, now=i * dt, cool_down_s=cool_down_s)
        out.append(latch is not None)
    return out


def flips(states: list[bool]) -> int:
    return sum(1 for a, b in itertools.pairwise(states) if a != b)


def test_latch_when_metric_breaches_then_latched_the_same_step() -> None:
    latch, status = step_latch(None, Trigger.HEALTH_WARNING, HEALTH, 49, now=7, cool_down_s=300)
    assert status is LatchStatus.BREACHED
    assert latch == Latch(Trigger.HEALTH_WARNING, 7, 7)


def test_latch_at_the_limit_exactly_is_not_a_breach() -> None:
    assert step_latch(None, Trigger.HEALTH_WARNING, HEALTH, 50, now=0, cool_down_s=0) == (None, LatchStatus.CLEAR)
    assert step_latch(None, Trigger.LEVERAGE, LEVERAGE, 50_000, now=0, cool_down_s=0) == (None, LatchStatus.CLEAR)


def test_latch_release_needs_both_hysteresis_and_cool_down() -> None:
    latch = Latch(Trigger.HEALTH_WARNING, 0, 0)
    assert step_latch(latch, Trigger.HEALTH_WARNING, HEALTH, 54, now=10_000, cool_down_s=300)[1] is (
        LatchStatus.HELD_BY_HYSTERESIS
    )
    assert step_latch(latch, Trigger.HEALTH_WARNING, HEALTH, 55, now=299, cool_down_s=300)[1] is (
        LatchStatus.HELD_BY_COOL_DOWN
    )
    assert step_latch(latch, Trigger.HEALTH_WARNING, HEALTH, 55, now=300, cool_down_s=300) == (
        None,
        LatchStatus.RELEASED,
    )


def test_latch_metric_none_counts_as_safe() -> None:
    assert step_latch(None, Trigger.LIQUIDATION_DISTANCE, HEALTH, None, now=0, cool_down_s=0)[0] is None


@settings(max_examples=300, deadline=None)
@given(
    start=st.integers(min_value=55, max_value=100),
    noise=st.lists(st.integers(min_value=45, max_value=54), min_size=1, max_size=60),
    cool_down_s=st.integers(min_value=0, max_value=50),
)
def test_property_metric_oscillating_within_hysteresis_margin_flips_state_at_most_once(
    start: int, noise: list[int], cool_down_s: int
) -> None:
    # the metric starts healthy, then wanders around the limit but never gets back past limit + hysteresis
    states = run_series(HEALTH, [start, *noise], cool_down_s)
    assert flips(states) <= 1
    if any(v < HEALTH.limit for v in noise):
        assert states[-1]  # once latched, noise inside the margin never releases it


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), st.integers(min_value=0, max_value=100)), min_size=1, max_size=60),
    cool_down_s=st.integers(min_value=0, max_value=20),
    dt=st.integers(min_value=1, max_value=10),
)
def test_property_escalation_is_immediate_and_release_is_never_early(
    values: list[int | None], cool_down_s: int, dt: int
) -> None:
    states = run_series(HEALTH, values, cool_down_s, dt)
    last_breach: int | None = None
    for i, (value, latched) in enumerate(zip(values, states, strict=True)):
        if HEALTH.breached(value):
            assert latched  # escalation in the same step
            last_breach = i * dt
        elif latched is False and last_breach is not None and (i == 0 or states[i - 1]):
            # a release happened at step i: the metric recovered and the cool-down elapsed
            assert HEALTH.recovered(value)
            assert i * dt - last_breach >= cool_down_s
