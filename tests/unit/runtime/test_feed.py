"""One market's feed: events are keyed so funding precedes a price point at the same second, a late subscriber's
history plus its live stream is every event exactly once, and a resumed feed starts after the given cursor."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from botrunner.config import load_bot
from botrunner.marketdata.candles import Candle
from botrunner.marketdata.feed import tick_offsets
from botrunner.runtime.feed import MarketFeed, event_key
from botrunner.runtime.market import FundingPoint, MarketEvent, PricePoint, market_events
from botrunner.runtime.pacer import ReplayPacer

ROOT = Path(__file__).resolve().parents[3]

EVENTS: list[MarketEvent] = [
    PricePoint(100, 1, 1, 100, 5, 0, 4),
    FundingPoint(101, 7, 7, 7),
    PricePoint(101, 2, 2, 100, 5, 0, 4),
    PricePoint(102, 3, 3, 100, 5, 103, 4),
    FundingPoint(104, 9, 9, 9),
    PricePoint(104, 4, 4, 104, 5, 0, 4),
]


class Inbox:
    def __init__(self) -> None:
        self.got: list[MarketEvent] = []

    def tell(self, message: object) -> None:
        assert isinstance(message, PricePoint | FundingPoint)
        self.got.append(message)


def _feed(**kw: int) -> MarketFeed:
    return MarketFeed("SOL-PERP", EVENTS, [], 4, ReplayPacer("max", 100), **kw)


def test_keys_put_funding_before_the_price_point_of_the_same_second_and_are_strictly_increasing() -> None:
    keys = [event_key(e) for e in EVENTS]
    assert keys == sorted(set(keys))


@given(st.integers(min_value=0, max_value=len(EVENTS)))
def test_a_subscriber_joining_at_any_point_sees_every_event_once_in_order(published_before: int) -> None:
    feed = _feed()
    for _ in range(published_before):
        feed.publish_next()
    inbox = Inbox()
    index = feed.subscribe("bot", inbox)
    while feed.publish_next() is not None:
        pass
    assert [*feed.history(None, index), *inbox.got] == EVENTS


def test_history_after_a_cursor_skips_what_the_bot_already_processed() -> None:
    cursor = event_key(EVENTS[2])
    assert list(_feed().history(cursor, len(EVENTS))) == EVENTS[3:]


def test_a_resumed_feed_starts_after_the_cursor_and_knows_the_rate_in_force() -> None:
    feed = _feed(resume_after_key=event_key(EVENTS[1]), initial_funding_rate=3)
    assert feed.position == 2
    assert feed.funding_before(2) == 7 and feed.funding_before(0) == 3
    assert feed.price_before(2) == (100, 1)


def test_warm_up_is_every_bar_whose_close_point_the_stream_has_reached() -> None:
    spec = load_bot(ROOT / "config" / "bots" / "sol-neutral-grid.yaml").market_spec
    interval = 900
    first = 1_758_340_800 - tick_offsets(interval)[-1]  # the first bar closes on the hour, as funding settles
    bars = [
        Candle(first + i * interval, p, p + 2_000_000, p - 1_000_000, p + 500_000, 10**12)
        for i, p in enumerate(range(150_000_000, 160_000_000, 1_000_000))
    ]
    events = list(market_events(bars, interval, spec, None))  # hourly formula funding in between
    assert any(type(e) is FundingPoint and e.ts == bars[0].ts + tick_offsets(interval)[-1] for e in events)
    feed = MarketFeed("SOL-PERP", events, bars, interval, ReplayPacer("max", events[0].ts))
    assert list(feed.warmup_closes(event_key(events[0]) - 1)) == []
    for i, event in enumerate(events):
        seen = [(e.close_ts, e.price) for e in events[: i + 1] if type(e) is PricePoint and e.close_ts]
        assert list(feed.warmup_closes(event_key(event))) == seen
    assert list(feed.warmup_closes(event_key(events[-1]))) == [(b.ts + interval, b.close) for b in bars]
