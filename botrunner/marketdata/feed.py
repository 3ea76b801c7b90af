"""A merged, deterministic replay feed: each candle's intrabar price path plus Drift funding updates.

Intrabar path (four ticks per bar, always): ``open``, then the extreme NEARER to the open, then the other extreme,
then ``close``. If ``|high − open| <= |open − low|`` the path is O→H→L→C, otherwise O→L→H→C (a tie goes to the
high first). Why this rule: a bar records only its extremes, not their order; the nearer extreme is the likelier to
have been reached first (a random walk from the open hits the nearer barrier first more often), and it is the rule
NautilusTrader's adaptive bar ordering uses, so results compare. It is a pure function of the bar, hence
deterministic. Every tick is emitted even when two legs share a price, so each bar is exactly four ticks.

Tick times: leg ``k`` of a bar opening at ``ts`` is stamped ``ts + k * interval_s // 4`` (0, ¼, ½, ¾ of the bar),
so every tick of a bar is strictly before the next bar's open and a fill model sees time pass inside the bar.

Funding: a :class:`FundingEvent` at the record's own on-chain ``ts`` (the end of its hour plus seconds of jitter),
so with hourly or finer bars it lands between the open tick of the new hour and that bar's second tick. Tie rule:
a funding event at exactly the same ``ts`` as a price tick comes FIRST, because it settles the hour that has just
ended; a position opened on the new hour's open tick therefore does not pay for the hour before it.

Oracle: each :class:`PriceTick` carries ``oracle``. By default it is the tick's own price (the candle path is taken
as the oracle: Drift's oracle tracks the Binance perp within ~14 bp median). An explicit oracle series of
``(ts, price)`` points is applied as a step function — the latest point at or before the tick, never a later one
(no look-ahead); ticks before the first point keep the path price.
"""

from __future__ import annotations

import enum
import heapq
from collections.abc import Iterable, Iterator
from typing import Final

import msgspec

from botrunner.marketdata.candles import Candle, Candles
from botrunner.marketdata.funding import DriftFunding, DriftFundingRecord

TICKS_PER_BAR: Final = 4


class Leg(enum.Enum):
    """Which of a bar's four prices a tick is."""

    OPEN = "open"
    HIGH = "high"
    LOW = "low"
    CLOSE = "close"


class PriceTick(msgspec.Struct, frozen=True):
    """One point of the replayed price path. ``price``/``oracle`` 1e6; ``source_bar_ts`` is the bar's open time."""

    ts: int
    price: int
    oracle: int
    source_bar_ts: int
    leg: Leg


class FundingEvent(msgspec.Struct, frozen=True):
    """A Drift funding update becoming effective at ``ts`` (the record's on-chain time)."""

    ts: int
    record: DriftFundingRecord


FeedEvent = PriceTick | FundingEvent

# Sort rank at equal ts: funding settles the hour just ended, so it precedes that instant's price ticks.
_FUNDING_RANK: Final = 0
_PRICE_RANK: Final = 1


def bar_path(bar: Candle) -> tuple[tuple[Leg, int], tuple[Leg, int], tuple[Leg, int], tuple[Leg, int]]:
    """The bar's four (leg, price) points in replay order: open, nearer extreme, farther extreme, close."""
    if abs(bar.high - bar.open) <= abs(bar.open - bar.low):
        return (Leg.OPEN, bar.open), (Leg.HIGH, bar.high), (Leg.LOW, bar.low), (Leg.CLOSE, bar.close)
    return (Leg.OPEN, bar.open), (Leg.LOW, bar.low), (Leg.HIGH, bar.high), (Leg.CLOSE, bar.close)


def tick_offsets(interval_s: int) -> tuple[int, ...]:
    """Seconds after the bar's open of its four ticks: 0, ¼, ½, ¾ of the interval (floored)."""
    if interval_s < TICKS_PER_BAR:
        raise ValueError(f"bar interval {interval_s}s is too short for {TICKS_PER_BAR} distinct tick times")
    return tuple(k * interval_s // TICKS_PER_BAR for k in range(TICKS_PER_BAR))


def iter_price_ticks(candles: Candles, oracle: Iterable[tuple[int, int]] | None = None) -> Iterator[PriceTick]:
    """The intrabar path of every bar, in time order (see the module docstring for the rules)."""
    offsets = tick_offsets(candles.interval_s)
    points = iter(oracle) if oracle is not None else None
    pending = next(points, None) if points is not None else None
    current: int | None = None
    last_point_ts: int | None = None
    prev_bar_ts: int | None = None
    for bar in candles.bars:
        if prev_bar_ts is not None and bar.ts - prev_bar_ts < candles.interval_s:
            raise ValueError(f"{candles.source}: bar {bar.ts} starts less than one interval after {prev_bar_ts}")
        prev_bar_ts = bar.ts
        for offset, (leg, price) in zip(offsets, bar_path(bar), strict=True):
            ts = bar.ts + offset
            while points is not None and pending is not None and pending[0] <= ts:
                if last_point_ts is not None and pending[0] <= last_point_ts:
                    raise ValueError(f"oracle points not strictly increasing at {pending[0]}")
                last_point_ts, current = pending
                pending = next(points, None)
            yield PriceTick(ts, price, price if current is None else current, bar.ts, leg)


def iter_funding_events(funding: DriftFunding | Iterable[DriftFundingRecord]) -> Iterator[FundingEvent]:
    """Each record as a :class:`FundingEvent` at its own ``ts``; records must be strictly time-ordered."""
    records = funding.records if isinstance(funding, DriftFunding) else funding
    last: int | None = None
    for record in records:
        if last is not None and record.ts <= last:
            raise ValueError(f"funding records not strictly increasing at ts {record.ts}")
        last = record.ts
        yield FundingEvent(record.ts, record)


def _key(event: FeedEvent) -> tuple[int, int]:
    match event:
        case FundingEvent():
            return event.ts, _FUNDING_RANK
        case PriceTick():
            return event.ts, _PRICE_RANK


def iter_feed(
    candles: Candles,
    funding: DriftFunding | Iterable[DriftFundingRecord] | None = None,
    oracle: Iterable[tuple[int, int]] | None = None,
) -> Iterator[FeedEvent]:
    """Price ticks and funding events merged in (ts, funding-before-price) order; a pure, lazy generator.

    All records passed are emitted, also those outside the candles' span: slice with ``DriftFunding.between``.
    """
    ticks: Iterator[FeedEvent] = iter_price_ticks(candles, oracle)
    if funding is None:
        yield from ticks
        return
    events: Iterator[FeedEvent] = iter_funding_events(funding)
    yield from heapq.merge(events, ticks, key=_key)
