"""The intra-bar price path walked in time: where a replayed bar's price is at any millisecond, and when the path
first trades through a resting order. Used only with paper latency (``botrunner.runtime.paper_bot``), where a
command lands ``N × 400 ms`` after it was sent and must race the path to the orders it touches.

A bar's four path points (open, nearer extreme, farther extreme, close: ``botrunner.marketdata.feed``) are spread
over the whole bar, as on chain: the open at the bar's start, the extremes at 1/3 and 2/3 of it, the close at its
end (where the bar closes and the bot decides). Between two points the price moves linearly in time; the next bar's
open is at the same instant as this bar's close (a gap between them is a jump). So a cancel sent at a close lands
while the next bar has started to move, and a fill the path reaches before it lands wins the race.

Without latency the replay keeps its four instants (0, 1/4, 1/2, 3/4 of the bar): every command acts at once there,
so when inside the bar the path is does not change any outcome, and the golden results stay as they are.

Pure integer arithmetic: no clock, no I/O. Times in ms, prices 1e6.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from botrunner.connector.orders import OrderType
from botrunner.core.side import Side
from botrunner.marketdata.feed import TICKS_PER_BAR, tick_offsets
from botrunner.paper.orders import RestingOrder


@cache
def _point_index(interval_s: int) -> dict[int, int]:
    return {offset: k for k, offset in enumerate(tick_offsets(interval_s))}


def point_ms(ts: int, bar_ts: int, interval_s: int) -> int:
    """When the walked path is at the path point the replay stamps ``ts`` (s): the k-th of the bar's four points is
    at ``k/3`` of the bar, so the close is at the bar's end. Raises ``ValueError`` for a time that is no path
    point of that bar."""
    k = _point_index(interval_s).get(ts - bar_ts)
    if k is None:
        raise ValueError(f"walk: {ts} is no path point of the {interval_s}s bar at {bar_ts}")
    return bar_ts * 1000 + k * interval_s * 1000 // (TICKS_PER_BAR - 1)


def price_at(m0: int, p0: int, m1: int, p1: int, at_ms: int) -> int:
    """The price on the segment ``(m0, p0) -> (m1, p1)`` at ``at_ms`` (clamped to the segment), rounded toward
    ``p0`` (the path has not yet gone further than that)."""
    if at_ms >= m1:
        return p1
    if at_ms <= m0:
        return p0
    moved = abs(p1 - p0) * (at_ms - m0) // (m1 - m0)  # floor: toward p0
    return p0 + moved if p1 >= p0 else p0 - moved


def crossing_ms(m0: int, p0: int, m1: int, p1: int, price: int) -> int:
    """The first ms at which the segment ``(m0, p0) -> (m1, p1)`` has reached ``price`` (which lies on it)."""
    if p1 == p0 or m1 <= m0:
        return m1
    span = abs(p1 - p0)
    dist = abs(price - p0)
    return m0 + -(-(m1 - m0) * dist // span)  # ceil: the path is at or beyond ``price`` from then on


def next_trigger(orders: Iterable[RestingOrder], through: int, now: int, to: int) -> int | None:
    """The first price, going from ``now`` (exclusive) to ``to`` (inclusive), at which the path trades through a
    resting limit order (a bid: at its price minus ``through``; an ask: plus it), or None. Oracle-offset orders
    move with the oracle (the path), so the walk never trades through them between points; the venue checks them
    at every point it is given."""
    best: int | None = None
    if to < now:  # falling: bids, the highest trigger first
        for o in orders:
            if o.side is Side.BUY and o.order_type is not OrderType.ORACLE_OFFSET:
                q = o.price - through
                if to <= q < now and (best is None or q > best):
                    best = q
    elif to > now:  # rising: asks, the lowest trigger first
        for o in orders:
            if o.side is Side.SELL and o.order_type is not OrderType.ORACLE_OFFSET:
                q = o.price + through
                if now < q <= to and (best is None or q < best):
                    best = q
    return best
