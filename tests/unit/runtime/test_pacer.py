"""Paced replay: market time at ``speed`` on an injected monotonic clock, interruptible waits, bounded catch-up."""

from __future__ import annotations

import math
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from botrunner.runtime.pacer import ReplayPacer, parse_speed

START = 1_700_000_000


class FakeTime:
    """A monotonic clock that only moves when the code under test sleeps or the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.stop_after_sleeps: int | None = None

    def monotonic(self) -> float:
        return self.now

    def sleep(self, stop_event: threading.Event, seconds: float) -> bool:
        assert seconds > 0, f"slept {seconds}"
        self.sleeps.append(seconds)
        self.now += seconds
        if self.stop_after_sleeps is not None and len(self.sleeps) >= self.stop_after_sleeps:
            stop_event.set()
        return stop_event.is_set()

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _pacer(fake: FakeTime, speed: float | str = 60.0, **kw: float) -> ReplayPacer:
    return ReplayPacer(speed, START, monotonic=fake.monotonic, sleep=fake.sleep, **kw)


@pytest.mark.parametrize(("given_speed", "expected"), [(1, 1.0), (60.0, 60.0), ("0.5", 0.5), (" 3600 ", 3600.0)])
def test_a_finite_positive_speed_is_accepted(given_speed: float | str, expected: float) -> None:
    assert parse_speed(given_speed) == expected


@pytest.mark.parametrize("given_speed", ["max", "MAX", "inf", math.inf])
def test_max_or_infinite_speed_means_no_waiting(given_speed: float | str) -> None:
    assert parse_speed(given_speed) == math.inf


@pytest.mark.parametrize("bad", [0, 0.0, -1, -math.inf, math.nan, "nan", "fast", "", True])
def test_a_speed_that_is_not_a_positive_number_is_a_clear_error(bad: float | str) -> None:
    with pytest.raises(ValueError, match="replay speed"):
        parse_speed(bad)
    with pytest.raises(ValueError, match="replay speed"):
        ReplayPacer(bad, START)


def test_waiting_sleeps_the_wall_time_of_the_market_gap_in_short_slices() -> None:
    fake = FakeTime()
    pacer = _pacer(fake, 60.0, max_sleep_s=0.25)
    assert pacer.wait_until(START + 60, threading.Event())  # one market minute = one wall second at 60x
    assert sum(fake.sleeps) == pytest.approx(1.0)
    assert max(fake.sleeps) <= 0.25


def test_anchoring_makes_the_instant_the_market_time_now() -> None:
    fake = FakeTime()
    pacer = _pacer(fake, 60.0)
    fake.advance(100.0)  # 6000 market seconds after START: an event at START + 600 would be long overdue
    pacer.anchor(START + 600)
    assert pacer.wait_until(START + 660, threading.Event())
    assert sum(fake.sleeps) == pytest.approx(1.0)


def test_an_instant_already_past_is_not_waited_for() -> None:
    fake = FakeTime()
    pacer = _pacer(fake)
    fake.advance(0.5)
    assert pacer.wait_until(START + 10, threading.Event())  # due 1/6 s ago
    assert fake.sleeps == []


def test_a_stop_already_set_returns_false_without_waiting() -> None:
    fake = FakeTime()
    stop = threading.Event()
    stop.set()
    assert not _pacer(fake).wait_until(START, stop)
    assert fake.sleeps == []


def test_a_stop_during_a_long_wait_ends_it_after_one_slice() -> None:
    fake = FakeTime()
    fake.stop_after_sleeps = 1
    pacer = _pacer(fake, 1.0, max_sleep_s=0.25)
    assert not pacer.wait_until(START + 86_400, threading.Event())
    assert fake.sleeps == [0.25]


def test_a_real_wait_is_interrupted_promptly_by_the_stop_event() -> None:
    pacer = ReplayPacer(1.0, START)  # real clock and real interruptible wait
    stop = threading.Event()
    result: list[bool] = []
    waiter = threading.Thread(target=lambda: result.append(pacer.wait_until(START + 3600, stop)))
    started = time.monotonic()
    waiter.start()
    time.sleep(0.02)
    stop.set()
    waiter.join(timeout=2)
    assert result == [False]
    assert time.monotonic() - started < 0.5


def test_unpaced_never_waits() -> None:
    fake = FakeTime()
    pacer = _pacer(fake, "max")
    for ts in (START + 10, START + 86_400, START + 5):
        assert pacer.wait_until(ts, threading.Event())
    assert fake.sleeps == []


def test_a_small_lag_is_caught_up_by_publishing_back_to_back_without_slipping() -> None:
    fake = FakeTime()
    pacer = _pacer(fake, 60.0, max_lag_s=1.0)
    fake.advance(0.9)  # 54 market seconds late for START
    for ts in range(START, START + 54, 6):
        assert pacer.wait_until(ts, threading.Event())
    assert fake.sleeps == []
    assert pacer.wait_until(START + 60, threading.Event())  # caught up on the same clock: now it waits again
    assert sum(fake.sleeps) == pytest.approx(0.1)


def test_a_large_lag_slips_the_clock_instead_of_bursting_through_the_backlog() -> None:
    fake = FakeTime()
    pacer = _pacer(fake, 60.0, max_lag_s=1.0)
    fake.advance(10.0)  # the consumer stalled: 600 market seconds behind
    assert pacer.wait_until(START + 60, threading.Event())
    assert fake.sleeps == []
    # re-anchored at the late event and paced at speed from there (unslipped, START + 120 would be 8 s overdue)
    assert pacer.wait_until(START + 120, threading.Event())
    assert sum(fake.sleeps) == pytest.approx(1.0)


@settings(max_examples=300, deadline=None)
@given(
    speed=st.sampled_from([1.0, 7.5, 60.0, 3600.0]),
    max_lag_s=st.sampled_from([0.0, 0.5, 2.0]),
    steps=st.lists(st.tuples(st.integers(0, 7200), st.floats(0, 30, allow_nan=False)), min_size=1, max_size=40),
)
def test_an_event_is_never_early_and_never_later_than_the_lag_bound(
    speed: float, max_lag_s: float, steps: list[tuple[int, float]]
) -> None:
    # Observed on the wall clock alone: ``published[i]`` is when event i was let through. Never early: from any
    # event to a later one, the replay never runs ahead of ``speed`` by more than the ``max_lag_s`` catch-up
    # burst. Never needlessly late: it never waits past the previous event's publication plus the gap at speed.
    fake = FakeTime()
    pacer = _pacer(fake, speed, max_lag_s=max_lag_s)
    stamps, published = [START], [fake.now]  # the clock's origin is where market time START was
    tolerance = 1e-6
    for gap, processing_s in steps:
        ts = stamps[-1] + gap
        called = fake.now
        assert pacer.wait_until(ts, threading.Event())
        assert fake.now <= max(called, published[-1] + gap / speed) + tolerance
        for earlier_ts, earlier_wall in zip(stamps, published, strict=True):
            assert fake.now - earlier_wall >= (ts - earlier_ts) / speed - max_lag_s - tolerance
        stamps.append(ts)
        published.append(fake.now)
        fake.advance(processing_s)  # the consumer's work, possibly far slower than the clock
    assert all(0 < s <= pacer.max_sleep_s for s in fake.sleeps)
