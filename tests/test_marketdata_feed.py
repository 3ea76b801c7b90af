"""The merged replay feed: documented intrabar order, time-ordered, deterministic, funding ties resolved."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from botrunner.marketdata.candles import Candle, Candles, bundled_path, load_candles
from botrunner.marketdata.feed import (
    FeedEvent,
    FundingEvent,
    Leg,
    PriceTick,
    bar_path,
    iter_feed,
    iter_price_ticks,
    tick_offsets,
)
from botrunner.marketdata.funding import DriftFunding, DriftFundingRecord, load_drift_funding


def _record(ts: int) -> DriftFundingRecord:
    return DriftFundingRecord(ts, 1, 1, 1, 100_000_000, 100_000_000, 0)


def test_nearer_extreme_is_visited_first_and_ties_go_high_first() -> None:
    assert [leg for leg, _ in bar_path(Candle(0, 100, 103, 90, 95, 0))] == [Leg.OPEN, Leg.HIGH, Leg.LOW, Leg.CLOSE]
    assert [leg for leg, _ in bar_path(Candle(0, 100, 110, 98, 105, 0))] == [Leg.OPEN, Leg.LOW, Leg.HIGH, Leg.CLOSE]
    assert [leg for leg, _ in bar_path(Candle(0, 100, 105, 95, 100, 0))] == [Leg.OPEN, Leg.HIGH, Leg.LOW, Leg.CLOSE]


def test_ticks_are_spread_over_quarters_of_the_bar() -> None:
    assert tick_offsets(300) == (0, 75, 150, 225)
    assert tick_offsets(3600) == (0, 900, 1800, 2700)
    with pytest.raises(ValueError, match="too short"):
        tick_offsets(3)
    ticks = list(iter_price_ticks(Candles("t", 3600, (Candle(7200, 100, 103, 90, 95, 0),))))
    assert [(t.ts, t.price, t.leg) for t in ticks] == [
        (7200, 100, Leg.OPEN),
        (8100, 103, Leg.HIGH),
        (9000, 90, Leg.LOW),
        (9900, 95, Leg.CLOSE),
    ]
    assert all(t.oracle == t.price and t.source_bar_ts == 7200 for t in ticks)


def test_funding_at_the_same_second_as_a_tick_comes_first_and_jittered_funding_follows_the_open() -> None:
    bars = Candles("t", 3600, (Candle(3600, 10, 12, 9, 11, 0), Candle(7200, 11, 13, 10, 12, 0)))
    events = list(iter_feed(bars, DriftFunding("f", (_record(7200), _record(10_802)))))
    kinds = [(type(e).__name__, e.ts) for e in events]
    assert kinds.index(("FundingEvent", 7200)) == kinds.index(("PriceTick", 7200)) - 1
    # a record 2 s after the hour: after that hour's open tick, before the bar's second tick
    assert kinds[-1] == ("FundingEvent", 10_802)


def test_oracle_series_is_a_step_function_without_look_ahead() -> None:
    bars = Candles("t", 300, (Candle(0, 10, 12, 9, 11, 0), Candle(300, 11, 13, 10, 12, 0)))
    ticks = list(iter_price_ticks(bars, oracle=[(75, 500), (301, 600)]))
    assert [t.oracle for t in ticks] == [10, 500, 500, 500, 500, 600, 600, 600]


def test_bars_closer_than_one_interval_are_rejected() -> None:
    bars = Candles("t", 300, (Candle(0, 1, 1, 1, 1, 0), Candle(200, 1, 1, 1, 1, 0)))
    with pytest.raises(ValueError, match="less than one interval"):
        list(iter_price_ticks(bars))


def test_bundled_slice_feed_interleaves_every_funding_record_in_order() -> None:
    candles = load_candles(bundled_path("SOL-USDT-PERP_binance_5m.csv.gz"))
    funding = load_drift_funding(bundled_path("SOL-PERP_drift_funding_1h.csv.gz"))
    events = list(iter_feed(candles, funding))
    assert len(events) == 4 * 8640 + 720
    assert all(_key(a) <= _key(b) for a, b in itertools.pairwise(events))
    fund = [e for e in events if isinstance(e, FundingEvent)]
    assert [e.record for e in fund] == list(funding.records)
    # each record lands inside the 5-minute bar containing its ts; one exactly on a bar's open precedes that bar
    on_boundary = 0
    for i, e in enumerate(events):
        if isinstance(e, FundingEvent) and i > 0:
            before, after = events[i - 1], events[i + 1]
            assert isinstance(before, PriceTick) and isinstance(after, PriceTick)
            assert before.ts <= e.ts < after.ts or (e.ts == after.ts and after.leg is Leg.OPEN)
            if e.ts % 300 == 0:
                on_boundary += 1
                assert before.source_bar_ts == e.ts - 300 and after.source_bar_ts == e.ts
            else:
                assert before.source_bar_ts == e.ts - e.ts % 300
    assert on_boundary > 0  # the tie rule is exercised by real records


def _key(e: FeedEvent) -> tuple[int, int]:
    return (e.ts, 0 if isinstance(e, FundingEvent) else 1)


@st.composite
def candle_series(draw: st.DrawFn) -> Candles:
    interval = draw(st.sampled_from([4, 60, 300, 3600]))
    n = draw(st.integers(1, 25))
    ts = draw(st.integers(0, 10**6)) * interval
    bars = []
    for _ in range(n):
        o, c = draw(st.integers(1, 1000)), draw(st.integers(1, 1000))
        h = max(o, c) + draw(st.integers(0, 50))
        lo = max(1, min(o, c) - draw(st.integers(0, 50)))
        bars.append(Candle(ts, o, h, lo, c, 0))
        ts += interval * draw(st.integers(1, 3))  # gaps allowed
    return Candles("p", interval, tuple(bars))


@settings(max_examples=200, deadline=None)
@given(candles=candle_series(), data=st.data())
def test_feed_is_time_ordered_deterministic_and_each_bar_runs_open_to_close_via_both_extremes(
    candles: Candles, data: st.DataObject
) -> None:
    start, end = candles.bars[0].ts - 7200, candles.bars[-1].ts + 7200
    fts = sorted(data.draw(st.sets(st.integers(start, end), max_size=10)))
    funding = DriftFunding("f", tuple(_record(t) for t in fts))
    events = list(iter_feed(candles, funding))
    assert events == list(iter_feed(candles, funding))  # deterministic
    assert all(_key(a) <= _key(b) for a, b in itertools.pairwise(events))
    assert [e.ts for e in events if isinstance(e, FundingEvent)] == fts
    ticks = [e for e in events if isinstance(e, PriceTick)]
    assert len(ticks) == 4 * len(candles.bars)
    for bar, group in zip(candles.bars, [ticks[i : i + 4] for i in range(0, len(ticks), 4)], strict=True):
        assert {t.source_bar_ts for t in group} == {bar.ts}
        assert group[0].price == bar.open and group[-1].price == bar.close
        assert {group[1].price, group[2].price} == {bar.high, bar.low}
        assert all(bar.ts <= t.ts < bar.ts + candles.interval_s for t in group)
        assert [t.ts for t in group] == sorted({t.ts for t in group})
        # the first extreme visited is never farther from the open than the second
        assert abs(group[1].price - bar.open) <= abs(group[2].price - bar.open)
