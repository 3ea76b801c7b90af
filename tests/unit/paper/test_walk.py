"""The walked path's arithmetic (``botrunner.paper.walk``): where a bar's points sit in time, the price between
them, and when the path reaches a price."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from botrunner.paper.walk import crossing_ms, point_ms, price_at


def test_walk_points_spread_over_the_whole_bar_with_the_close_at_its_end() -> None:
    bar = 1_000_200
    assert [point_ms(bar + off, bar, 300) for off in (0, 75, 150, 225)] == [
        bar * 1000,
        bar * 1000 + 100_000,
        bar * 1000 + 200_000,
        (bar + 300) * 1000,
    ]


def test_walk_when_a_time_is_no_path_point_then_one_clear_error() -> None:
    with pytest.raises(ValueError, match="no path point of the 300s bar"):
        point_ms(1_000_210, 1_000_200, 300)


segment = st.tuples(st.integers(0, 10**6), st.integers(1, 10**6), st.integers(1, 10**9), st.integers(1, 10**9))


@given(seg=segment, frac=st.integers(0, 1000))
def test_walk_the_path_reaches_a_price_no_earlier_than_it_gets_there(seg: tuple[int, int, int, int], frac: int) -> None:
    m0, dur, p0, p1 = seg
    m1 = m0 + dur
    target = p0 + (p1 - p0) * frac // 1000
    at = crossing_ms(m0, p0, m1, p1, target)
    assert m0 <= at <= m1
    reached = price_at(m0, p0, m1, p1, at)
    # at that ms the path is at or beyond the target; a ms earlier it was not yet there (unless at the start)
    assert (reached <= target) if p1 < p0 else (reached >= target)
    if at > m0 and p1 != p0:
        before = price_at(m0, p0, m1, p1, at - 1)
        assert (before > target) if p1 < p0 else (before < target)
