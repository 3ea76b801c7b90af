"""Paced replay: market time at ``speed`` on an injected monotonic clock, interruptible waits, bounded catch-up."""

from __future__ import annotations

import math
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from botrunner.marketdata.candles import Candle, Candles
from botrunner.marketdata.feed import FeedEvent, FundingEvent, Leg, PriceTick, iter_feed
from botrunner.marketdata.funding import DriftFundingRecord
from botrunner.runtime.pacer import MarketReplay, ReplayPacer, parse_speed

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


def _tick(ts: int, price: int = 100_000_000) -> PriceTick:
    return PriceTick(ts, price, price, ts - ts % 60, Leg.OPEN)


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


def test_market_time_runs_at_speed_from_the_start() -> None:
    fake = FakeTime()
    pacer = _pacer(fake, 60.0)
    assert pacer.market_now() == START
    fake.advance(2.5)
    assert pacer.market_now() == START + 150


def test_waiting_sleeps_the_wall_time_of_the_market_gap_in_short_slices() -> None:
    fake = FakeTime()
    pacer = _pacer(fake, 60.0, max_sleep_s=0.25)
    assert pacer.wait_until(START + 60, threading.Event())  # one market minute = one wall second at 60x
    assert sum(fake.sleeps) == pytest.approx(1.0)
    assert max(fake.sleeps) <= 0.25
    assert pacer.market_now() == pytest.approx(START + 60)
    assert pacer.lag_s == 0


def test_an_instant_already_past_is_not_waited_for() -> None:
    fake = FakeTime()
    pacer = _pacer(fake)
    fake.advance(0.5)
    assert pacer.wait_until(START + 10, threading.Event())  # due 1/6 s ago
    assert fake.sleeps == []
    assert pacer.lag_s == pytest.approx(0.5 - 10 / 60)


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


def test_unpaced_never_waits_and_market_time_is_the_last_instant() -> None:
    fake = FakeTime()
    pacer = _pacer(fake, "max")
    for ts in (START + 10, START + 86_400, START + 5):
        assert pacer.wait_until(ts, threading.Event())
    assert fake.sleeps == []
    assert pacer.market_now() == START + 86_400


def test_a_small_lag_is_caught_up_by_publishing_back_to_back_without_slipping() -> None:
    fake = FakeTime()
    pacer = _pacer(fake, 60.0, max_lag_s=1.0)
    fake.advance(0.9)  # 54 market seconds late for START
    for ts in range(START, START + 54, 6):
        assert pacer.wait_until(ts, threading.Event())
    assert fake.sleeps == []
    assert pacer.slips == 0
    assert pacer.wait_until(START + 60, threading.Event())  # caught up: now it waits again
    assert sum(fake.sleeps) == pytest.approx(0.1)


def test_a_large_lag_slips_the_clock_instead_of_bursting_through_the_backlog() -> None:
    fake = FakeTime()
    pacer = _pacer(fake, 60.0, max_lag_s=1.0)
    fake.advance(10.0)  # the consumer stalled: 600 market seconds behind
    assert pacer.wait_until(START + 60, threading.Event())
    assert pacer.lag_s == pytest.approx(9.0)
    assert pacer.slips == 1
    assert pacer.market_now() == START + 60  # re-anchored at the late event
    assert pacer.wait_until(START + 120, threading.Event())  # and paced at speed from there
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
    fake = FakeTime()
    pacer = _pacer(fake, speed, max_lag_s=max_lag_s)
    ts = START
    for gap, processing_s in steps:
        ts += gap
        assert pacer.wait_until(ts, threading.Event())
        market_now = pacer.market_now()
        tolerance = 1e-6 * max(1.0, speed)
        assert market_now >= ts - tolerance  # never published before its time
        assert market_now <= ts + max_lag_s * speed + tolerance  # never further behind than the bound
        fake.advance(processing_s)  # the consumer's work, possibly far slower than the clock
    assert all(0 < s <= pacer.max_sleep_s for s in fake.sleeps)


def test_replay_publishes_every_event_in_order_at_its_market_time() -> None:
    fake = FakeTime()
    pacer = _pacer(fake, 60.0)
    seen: list[tuple[int, float]] = []
    events = [_tick(START + 60), _tick(START + 75), _tick(START + 120)]
    replay = MarketReplay(events, pacer, lambda e: seen.append((e.ts, fake.now)))
    replay.run(threading.Event())
    wall0 = seen[0][1]  # the run anchors at its first event: no idle wait before it
    assert [(ts, round(wall - wall0, 9)) for ts, wall in seen] == [
        (START + 60, 0),
        (START + 75, 0.25),
        (START + 120, 1),
    ]
    assert replay.finished
    assert replay.published == 3
    assert replay.last_ts == START + 120


def test_replay_resumes_after_the_last_processed_timestamp_without_waiting_for_the_skipped_span() -> None:
    fake = FakeTime()
    pacer = _pacer(fake, 60.0)
    record = DriftFundingRecord(START + 3605, 1000, 1000, 1000, 100_000_000, 100_000_000, 0)
    events: list[FeedEvent] = [
        _tick(START),
        _tick(START + 3600),
        FundingEvent(START + 3605, record),
        _tick(START + 3605),
        _tick(START + 3615),
    ]
    seen: list[FeedEvent] = []
    replay = MarketReplay(events, pacer, seen.append, start_after_ts=START + 3605)
    replay.run(threading.Event())
    assert seen == [_tick(START + 3615)]  # both events at the resume timestamp count as processed
    assert sum(fake.sleeps) == 0  # the first event is published at once, not after an hour of market time


def test_a_stopped_replay_goes_on_with_the_event_it_was_waiting_for() -> None:
    fake = FakeTime()
    pacer = _pacer(fake, 1.0, max_sleep_s=0.25)
    events = [_tick(START + i * 10) for i in range(5)]
    seen: list[int] = []
    stop = threading.Event()
    replay = MarketReplay(events, pacer, lambda e: seen.append(e.ts))
    fake.stop_after_sleeps = 3  # stops while waiting for the second event
    replay.run(stop)
    assert seen == [START]
    assert not replay.finished
    assert replay.last_ts == START

    stop.clear()
    fake.stop_after_sleeps = None
    replay.run(stop)
    assert seen == [START + i * 10 for i in range(5)]  # nothing lost, nothing twice
    assert replay.finished
    assert replay.published == 5


def test_a_failing_publish_propagates_and_the_event_is_retried_not_counted() -> None:
    fake = FakeTime()
    failures = [RuntimeError("bus down")]
    seen: list[int] = []

    def publish(event: FeedEvent) -> None:
        if event.ts == START + 1 and failures:
            raise failures.pop()
        seen.append(event.ts)

    replay = MarketReplay([_tick(START), _tick(START + 1), _tick(START + 2)], _pacer(fake, "max"), publish)
    with pytest.raises(RuntimeError, match="bus down"):
        replay.run(threading.Event())
    assert (replay.published, replay.last_ts) == (1, START)
    replay.run(threading.Event())
    assert seen == [START, START + 1, START + 2]


def test_a_feed_going_back_in_time_is_refused() -> None:
    replay = MarketReplay([_tick(START + 5), _tick(START)], _pacer(FakeTime(), "max"), lambda e: None)
    with pytest.raises(ValueError, match="back in time"):
        replay.run(threading.Event())


def test_a_replay_cannot_run_twice_at_once() -> None:
    stop = threading.Event()
    errors: list[Exception] = []

    def publish(_event: FeedEvent) -> None:
        try:
            replay.run(stop)
        except RuntimeError as exc:
            errors.append(exc)

    replay = MarketReplay([_tick(START)], _pacer(FakeTime(), "max"), publish)
    replay.run(stop)
    assert len(errors) == 1
    assert "already running" in str(errors[0])


def test_the_real_merged_feed_replays_unpaced_exactly_as_generated() -> None:
    bars = tuple(Candle(START + i * 3600, 100, 110, 95, 105, 1) for i in range(3))
    candles = Candles("t", 3600, bars)
    funding = [DriftFundingRecord(START + 3600 + 7, 5, 5, 5, 100, 100, 0)]
    seen: list[FeedEvent] = []
    replay = MarketReplay(iter_feed(candles, funding), _pacer(FakeTime(), "max"), seen.append)
    replay.run(threading.Event())
    assert seen == list(iter_feed(candles, funding))
    assert replay.published == 13
