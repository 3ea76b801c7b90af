"""The intrabar price path: the documented order of a bar's four prices and their times inside the bar."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from botrunner.marketdata.candles import Candle
from botrunner.marketdata.feed import Leg, bar_path, tick_offsets


def test_nearer_extreme_is_visited_first_and_ties_go_high_first() -> None:
    assert [leg for leg, _ in bar_path(Candle(0, 100, 103, 90, 95, 0))] == [Leg.OPEN, Leg.HIGH, Leg.LOW, Leg.CLOSE]
    assert [leg for leg, _ in bar_path(Candle(0, 100, 110, 98, 105, 0))] == [Leg.OPEN, Leg.LOW, Leg.HIGH, Leg.CLOSE]
    assert [leg for leg, _ in bar_path(Candle(0, 100, 105, 95, 100, 0))] == [Leg.OPEN, Leg.HIGH, Leg.LOW, Leg.CLOSE]


def test_ticks_are_spread_over_quarters_of_the_bar() -> None:
    assert tick_offsets(300) == (0, 75, 150, 225)
    assert tick_offsets(3600) == (0, 900, 1800, 2700)
    with pytest.raises(ValueError, match="too short"):
        tick_offsets(3)


@st.composite
def candles(draw: st.DrawFn) -> Candle:
    o, c = draw(st.integers(1, 1000)), draw(st.integers(1, 1000))
    h = max(o, c) + draw(st.integers(0, 50))
    lo = max(1, min(o, c) - draw(st.integers(0, 50)))
    return Candle(draw(st.integers(0, 10**6)), o, h, lo, c, 0)


@settings(max_examples=200, deadline=None)
@given(bar=candles(), interval=st.sampled_from([4, 60, 300, 3600]))
def test_each_bar_runs_open_to_close_via_both_extremes_nearer_first_inside_the_bar(bar: Candle, interval: int) -> None:
    path = bar_path(bar)
    prices = [price for _, price in path]
    assert path[0] == (Leg.OPEN, bar.open) and path[-1] == (Leg.CLOSE, bar.close)
    assert {path[1], path[2]} == {(Leg.HIGH, bar.high), (Leg.LOW, bar.low)}
    # the first extreme visited is never farther from the open than the second
    assert abs(prices[1] - bar.open) <= abs(prices[2] - bar.open)
    offsets = tick_offsets(interval)
    assert len(offsets) == len(path)
    assert offsets[0] == 0 and offsets[-1] < interval
    assert all(a < b for a, b in itertools.pairwise(offsets))
