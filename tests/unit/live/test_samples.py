"""SampleTrail: what a live bot stores of its strategy's prices, so that a restart replays them."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from botrunner.live.samples import SampleTrail
from strategies.base import PriceMemory
from strategies.history import PriceHistory

LOOKBACKS = (600, 3_600)


def _samples(history: PriceHistory) -> list[list[tuple[int, int]]]:
    return [list(w._times) for w in history.windows]


@settings(max_examples=300, deadline=None)
@given(
    sample_s=st.sampled_from([1, 7, 60, 300]),
    steps=st.lists(st.tuples(st.integers(0, 400), st.integers(1, 10**9)), min_size=1, max_size=80),
    stop_at=st.integers(0, 80),
)
def test_replaying_the_stored_samples_gives_the_history_of_every_observation(
    sample_s: int, steps: list[tuple[int, int]], stop_at: int
) -> None:
    # A bot observes prices, stores what the trail hands out, is stopped (flush) and restarted: its strategy's
    # history after the restart, and after more observations, equals a history that saw every observation.
    memory = PriceMemory(lookback_s=LOOKBACKS[-1], sample_s=sample_s)
    observations, ts = [], 1_700_000_000
    for gap, price in steps:
        ts += gap
        observations.append((ts, price))
    stop_at = min(stop_at, len(observations))
    trail = SampleTrail(memory)
    stored = []
    for t, p in observations[:stop_at]:
        done = trail.observe(t, p)
        if done is not None:
            stored.append(done)
    last = trail.flush()
    if last is not None:
        stored.append(last)
    always = PriceHistory(LOOKBACKS, sample_s)
    for t, p in observations[:stop_at]:
        always.observe(t, p)
    if stop_at == len(observations):  # replayed at once: the very same history
        restarted = PriceHistory(LOOKBACKS, sample_s)
        for t, p in stored:
            restarted.observe(t, p)
        assert _samples(restarted) == _samples(always)
        return
    # restarted when the next observation arrives: the actor loads (and the store keeps) only what a lookback can
    # still reach then
    since = trail.keep_from(observations[stop_at][0])
    restarted = PriceHistory(LOOKBACKS, sample_s)
    for t, p in stored:
        if t >= since:
            restarted.observe(t, p)
    for t, p in observations[stop_at:]:  # and it carries on the same
        restarted.observe(t, p)
        always.observe(t, p)
    assert _samples(restarted) == _samples(always)


def test_trail_hands_out_each_bucket_once_when_the_next_begins() -> None:
    trail = SampleTrail(PriceMemory(lookback_s=3_600, sample_s=60))
    assert trail.observe(120, 1) is None
    assert trail.observe(179, 2) is None  # same bucket: replaces
    assert trail.observe(180, 3) == (179, 2)
    assert trail.flush() == (180, 3)
    assert trail.keep_from(4_000) == 400  # a lookback of 3600 s at 4000 reaches back to 400


def test_trail_refuses_an_empty_memory() -> None:
    with pytest.raises(ValueError, match="sample_s and lookback_s"):
        SampleTrail(PriceMemory(lookback_s=0, sample_s=60))
