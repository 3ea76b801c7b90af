"""One market's replayed history, paced and fanned out to every bot trading that market.

One feed per market, not one per bot: the events (``botrunner.runtime.market``) are built once and each is told to
every subscribed bot actor. Each event has a ``key`` that orders it and names it across restarts: ``2·ts`` for a
funding settlement, ``2·ts + 1`` for a price point (at equal ``ts`` funding comes first; at most one of each per
second). A bot's cursor is the key of the last event it fully processed; it skips anything at or below it.

Joining late (a restarted bot): :meth:`MarketFeed.subscribe` returns the index of the next event it will be told;
everything before that index is history the bot replays itself from :meth:`history`, so nothing falls between
catch-up and the live stream. Subscribe and publish take the same lock, which makes that hand-over exact.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterator, Sequence
from typing import Protocol

import structlog

from botrunner.marketdata.candles import Candle
from botrunner.marketdata.feed import tick_offsets
from botrunner.runtime.market import FundingPoint, MarketEvent, PricePoint
from botrunner.runtime.pacer import ReplayPacer


def event_key(event: MarketEvent) -> int:
    """The event's ordering key (see the module doc)."""
    return key_at(event.ts, price=type(event) is PricePoint)


def key_at(ts: int, *, price: bool) -> int:
    """The key of a price point (``price``) or a funding settlement at ``ts``."""
    return ts * 2 + (1 if price else 0)


class Subscriber(Protocol):
    def tell(self, message: object) -> None: ...


class MarketFeed:
    """The paced replay of one market. ``run`` publishes from the calling thread until the data ends or ``stop``."""

    def __init__(
        self,
        market: str,
        events: Sequence[MarketEvent],
        bars: Sequence[Candle],
        interval_s: int,
        pacer: ReplayPacer,
        *,
        resume_after_key: int | None = None,
        initial_funding_rate: int = 0,
    ) -> None:
        if not events:
            raise ValueError(f"{market}: no market events to replay")
        self.market = market
        self.events = events
        self.keys = [event_key(e) for e in events]
        self.bars = bars
        self.interval_s = interval_s
        self.pacer = pacer
        self.initial_funding_rate = initial_funding_rate  # the rate settled before the first event
        self._lock = threading.Lock()
        self._subscribers: dict[str, Subscriber] = {}
        self._next = 0 if resume_after_key is None else bisect.bisect_right(self.keys, resume_after_key)
        self.finished = self._next >= len(events)
        self._log = structlog.get_logger("feed").bind(market=market)

    # -------------------------------------------------------------- subscribers

    def subscribe(self, name: str, subscriber: Subscriber) -> int:
        """Start telling ``subscriber`` every event from the returned index on."""
        with self._lock:
            self._subscribers[name] = subscriber
            return self._next

    def unsubscribe(self, name: str) -> None:
        with self._lock:
            self._subscribers.pop(name, None)

    def history(self, after_key: int | None, upto_index: int) -> Iterator[MarketEvent]:
        """The events before ``upto_index`` whose key is above ``after_key`` (all of them when None)."""
        start = 0 if after_key is None else bisect.bisect_right(self.keys, after_key, 0, upto_index)
        for i in range(start, upto_index):
            yield self.events[i]

    def warmup_closes(self, upto_key: int) -> Iterator[tuple[int, int]]:
        """``(close_ts, close)`` of every bar whose close point's key is at or below ``upto_key``: the strategy's
        history at that point, exactly what it would have seen had it run from the start."""
        close_offset = tick_offsets(self.interval_s)[-1]  # where the event stream puts a bar's close point
        for bar in self.bars:
            if key_at(bar.ts + close_offset, price=True) > upto_key:
                break
            yield bar.ts + self.interval_s, bar.close

    def price_before(self, index: int) -> tuple[int, int]:
        """``(ts, price)`` of the last price point before ``index`` (the first one when there is none)."""
        for i in range(min(index, len(self.events)) - 1, -1, -1):
            event = self.events[i]
            if type(event) is PricePoint:
                return event.ts, event.price
        for event in self.events:
            if type(event) is PricePoint:
                return event.ts, event.price
        raise ValueError(f"{self.market}: the feed has no price point")

    def funding_before(self, index: int) -> int:
        """The rate of the last funding settlement before ``index`` (the one in force before the feed's first
        event when there is none)."""
        for i in range(min(index, len(self.events)) - 1, -1, -1):
            event = self.events[i]
            if type(event) is FundingPoint:
                return event.rate
        return self.initial_funding_rate

    @property
    def position(self) -> int:
        """How many events have been published (the index of the next one)."""
        return self._next

    @property
    def market_ts(self) -> int | None:
        """The market time of the last published event."""
        return self.events[self._next - 1].ts if self._next else None

    # -------------------------------------------------------------- publishing

    def run(self, stop: threading.Event) -> None:
        """Publish events at the pacer's speed until the data ends or ``stop`` is set."""
        if self._next < len(self.events):
            self.pacer.anchor(self.events[self._next].ts)
        while self._next < len(self.events):
            if not self.pacer.wait_until(self.events[self._next].ts, stop):
                return
            self.publish_next()
        self.finished = True
        self._log.info("feed_finished", events=len(self.events))

    def publish_next(self) -> MarketEvent | None:
        """Tell every subscriber the next event now (None when the data has ended)."""
        if self._next >= len(self.events):
            return None
        event = self.events[self._next]
        dead: list[str] = []
        with self._lock:
            self._next += 1
            for name, subscriber in self._subscribers.items():
                try:
                    subscriber.tell(event)
                except Exception:  # a dead actor: its restart re-subscribes and catches up from history
                    dead.append(name)
            for name in dead:
                del self._subscribers[name]
        for name in dead:
            self._log.info("feed_subscriber_gone", bot=name)
        return event
