"""The restart policy for failed bots: exponential, bounded backoff; give up after N failures in the window."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from botrunner.runtime.restart import GiveUp, Restart, RestartPolicy, after_failure

POLICY = RestartPolicy(base_delay_s=1.0, max_delay_s=30.0, max_failures=4, window_s=100.0)


def test_backoff_doubles_then_gives_up_at_the_fourth_failure_in_the_window() -> None:
    history: list[float] = []
    outcomes = []
    for now in (0.0, 1.0, 3.0, 7.0):
        outcomes.append(after_failure(history, now, POLICY))
        history.append(now)
    assert outcomes[:3] == [Restart(1.0, 1), Restart(2.0, 2), Restart(4.0, 3)]
    assert outcomes[3] == GiveUp(4)


def test_failures_older_than_the_window_are_forgiven() -> None:
    assert after_failure([0.0, 1.0, 2.0], 150.0, POLICY) == Restart(1.0, 1)


@pytest.mark.parametrize(
    "field,value",
    [("base_delay_s", 0.0), ("max_delay_s", float("nan")), ("window_s", -1.0), ("max_failures", 0)],
)
def test_impossible_policies_are_refused_naming_the_field(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        RestartPolicy(**{field: value})


@given(
    failures=st.lists(st.floats(min_value=0, max_value=1000, allow_nan=False), max_size=20),
    now=st.floats(min_value=0, max_value=1000, allow_nan=False),
)
def test_a_restart_delay_is_bounded_and_giving_up_means_enough_recent_failures(
    failures: list[float], now: float
) -> None:
    past = [t for t in failures if t <= now]
    outcome = after_failure(past, now, POLICY)
    recent = 1 + sum(1 for t in past if now - t < POLICY.window_s)
    match outcome:
        case Restart(delay, count):
            assert count == recent < POLICY.max_failures
            assert POLICY.base_delay_s <= delay <= POLICY.max_delay_s
        case GiveUp(count):
            assert count == recent >= POLICY.max_failures


@given(st.integers(min_value=1, max_value=2))
def test_more_recent_failures_never_shorten_the_delay(extra: int) -> None:
    fewer = after_failure([], 10.0, POLICY)
    more = after_failure([10.0 - i * 0.1 for i in range(extra)], 10.0, POLICY)
    assert isinstance(fewer, Restart) and isinstance(more, Restart)
    assert more.delay_s >= fewer.delay_s
