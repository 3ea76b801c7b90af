"""Queue position of a resting paper order in a level-2 book, and a taker walking that book (pure integer maths).

A recorded L2 book shows only the total quantity resting at each price (market-by-price), never our hypothetical
order; a recorded trade print says who traded at what price but not whose order it hit. So where our order sits
in the queue at its price is an estimate. The estimate here is deliberately conservative (a fill is never earlier
than the evidence allows) and deterministic (integers only, no randomness).

Joining. An order accepted while a book is known joins the queue at its price behind ``share_bps`` of the
quantity displayed there (:func:`join_queue`, rounded up): 10000 = behind all of it (the default, what a real
order that arrives now would get), 2000 = the seed's optimistic "fills once 20 % of the resting depth has
traded" rule (``../shared/seeds/spread-arbitrage-design.md``, QueuePosition). A price with nothing displayed — a
level that improves on the best, or a gap inside the book — means nothing is ahead: ``queue_ahead`` 0.

Depth changes (:func:`after_depth`). Quantity added to our level joins behind us and changes nothing. When the
level shrinks we cannot tell a cancellation from a fill, nor where in the queue a cancel was; we take the
conservative reading (as hftbacktest's risk-averse model does): the shrink comes from behind us first, so the
queue ahead only shrinks once the level holds less than it: ``queue_ahead = min(queue_ahead, depth)``. A
proportional rule (``queue_ahead * new / old``) would always move us forward at least as far, so it is the more
optimistic of the two.

Prints (:func:`after_print`). A print at our price by the opposite side's aggressor consumes the queue ahead
first; only the volume beyond it reaches our order (partial fills allowed). A print strictly through our price
means the whole level was consumed: the order fills in full (that is the venue's call, not this module's).

One trade, two messages. A venue publishes a fill at our level twice: as the print, and as the depth drop that
follows it. Recorded streams deliver them in either order (in the Binance USD-M capture of 2024-08-08 each order
is about as frequent as the other), so applying both would count the trade twice and fill us too early. The part
of a depth drop that cut into the queue ahead of us (``queue_ahead > depth``) is therefore also booked as
``unprinted``: volume that a later print at our level may merely be reporting. A print first pays off
``unprinted`` (that volume already moved us forward) and only the rest consumes the queue. If the drop really
was a cancellation, ``unprinted`` just delays a later fill; it can never exceed the queue we joined behind. The
fill time therefore always lies between two bounds, whichever order the messages come in: no earlier than the
``min``-depth rule alone would give, no later than counting trades only (cancellations ignored). Precisely, for
a queue joined behind ``q0`` whose level showed at least ``d_min`` since, with ``V`` the print volume at the level::

    max(0, V - q0)  <=  total volume beyond the queue  <=  max(0, V - min(q0, d_min))

Taker walk (:func:`walk_book`). A taker with a book known walks the opposite side best first, up to its limit
price, for its size rounded down to the market's step; it pays the volume-weighted average of the levels it
took, rounded against it (a buy up, a sell down). The recorded book is history: it is not depleted by our
fills, so two takers at the same instant would both find the same liquidity.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple, Protocol

import msgspec

from botrunner.core.fixed import ceil_div
from botrunner.core.precision import BPS_PRECISION
from botrunner.core.side import Side
from botrunner.marketdata.l2 import Level, Walk, walk_levels


class BookView(Protocol):
    """What the venue reads from an L2 book. ``botrunner.marketdata.l2.OrderBook`` is one; so is :class:`StaticBook`.
    ``Side.BUY`` names the bid side."""

    def depth_at(self, side: Side, price: int) -> int:
        """Quantity resting at exactly ``price`` on ``side``, 0 if none."""
        ...

    def levels(self, side: Side, n: int | None = None) -> tuple[Level, ...]:
        """The best ``n`` levels of ``side`` (all when None), best first."""
        ...


class StaticBook(msgspec.Struct, frozen=True):
    """A fixed book from its levels (bids descending, asks ascending): a recorded snapshot, or the best few levels
    a feed gives. Implements :class:`BookView`."""

    bids: tuple[Level, ...] = ()
    asks: tuple[Level, ...] = ()

    def depth_at(self, side: Side, price: int) -> int:
        for level_price, qty in self.bids if side is Side.BUY else self.asks:
            if level_price == price:
                return qty
        return 0

    def levels(self, side: Side, n: int | None = None) -> tuple[Level, ...]:
        ladder = self.bids if side is Side.BUY else self.asks
        return ladder if n is None else ladder[:n]


def join_queue(displayed: int, share_bps: int) -> int:
    """The queue ahead of an order joining a level that displays ``displayed``: ``share_bps`` of it, rounded up."""
    if displayed < 0 or not 0 <= share_bps <= BPS_PRECISION:
        raise ValueError(f"join_queue: need displayed >= 0 and share_bps in [0, 10000], got {displayed}, {share_bps}")
    return ceil_div(displayed * share_bps, BPS_PRECISION)


class QueueAfterPrint(NamedTuple):
    """The queue after a print at its level and the print volume that reached the order (``beyond``)."""

    ahead: int
    unprinted: int
    beyond: int


def after_depth(ahead: int, unprinted: int, depth: int) -> tuple[int, int]:
    """(ahead, unprinted) once the level displays ``depth``: a shrink below the queue ahead moves the order up to
    ``depth`` and books the move as ``unprinted``; anything else changes nothing."""
    cut = ahead - depth
    if cut <= 0:
        return ahead, unprinted
    return depth, unprinted + cut


def after_print(ahead: int, unprinted: int, volume: int) -> QueueAfterPrint:
    """Apply a print of ``volume`` at the order's level by the opposite side's aggressor: the print first pays off
    ``unprinted`` (a depth drop already seen), then consumes the queue ahead; what is left reaches the order."""
    if volume < 0:
        raise ValueError(f"after_print: volume must be >= 0, got {volume}")
    seen = min(volume, unprinted)
    fresh = volume - seen
    consumed = min(ahead, fresh)
    return QueueAfterPrint(ahead - consumed, unprinted - seen, fresh - consumed)


def walk_book(levels: Iterable[Level], taker: Side, qty: int, limit: int, step: int) -> Walk:
    """Walk the opposite side's ``levels`` (best first) for a ``taker`` of ``qty``: take levels up to ``limit``
    (a buy: at or below it; a sell: at or above; 0 = no limit) until ``qty`` is met, round the quantity taken down
    to ``step``, and price it (``botrunner.marketdata.l2.walk_levels``, then again over the levels it took for the
    rounded quantity). ``filled`` is then a step multiple."""
    if qty < 0 or step <= 0 or limit < 0:
        raise ValueError(f"walk_book: need qty >= 0, step > 0, limit >= 0, got {qty}, {step}, {limit}")
    walk = walk_levels(levels, taker, qty, limit)
    filled = walk.filled - walk.filled % step  # the remainder below one step is left to the book
    if filled != walk.filled:  # priced over the rounded quantity, still reporting what was asked for
        walk = msgspec.structs.replace(walk_levels(walk.levels, taker, filled), requested=qty)
    return walk
