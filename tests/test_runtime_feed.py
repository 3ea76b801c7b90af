"""One market's feed: events are keyed so funding precedes a price point at the same second, a late subscriber's
history plus its live stream is every event exactly once, and a resumed feed starts after the given cursor."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from botrunner.runtime.feed import MarketFeed, event_key
from botrunner.runtime.market import FundingPoint, MarketEvent, PricePoint
from botrunner.runtime.pacer import ReplayPacer

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
