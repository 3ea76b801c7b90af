"""The L2 queue fill model: a level-2 order book and trade prints.

The touch is the book's best bid and ask (an empty side: the last price). A resting order queues behind the depth
displayed at its price (``botrunner.paper.queue``: joining, depth changes, prints); makers fill only from the trade
prints: in full when a print is strictly through their price (the level was consumed), best price first; at the
print's price, oldest first, each with the print volume beyond its queue (rounded down to the step) of what the
orders before it left. A path point (``on_price``) fills nothing, it only expires. A taker walks the book
(``botrunner.paper.queue.walk_book``) instead of paying modelled slippage.
"""

from __future__ import annotations

from botrunner.connector.orders import OrderType
from botrunner.core.markets import PerpMarketSpec
from botrunner.core.side import Side
from botrunner.marketdata.l2 import Trade
from botrunner.paper.account import PaperAccount
from botrunner.paper.config import PaperConfig
from botrunner.paper.orders import RestingOrder, resting_price
from botrunner.paper.queue import BookView, after_depth, after_print, join_queue, walk_book
from botrunner.venue.port import CancelReason, Liquidity, VenueEvent


class QueueFillModel:
    """Fills from an L2 book and trade prints (module docstring). Implements ``FillModel``.

    It keeps a reference to the book it was last given and only reads it (``PaperVenue.on_book``)."""

    __slots__ = ("_account", "_share_bps", "_spec", "book")

    def __init__(self, account: PaperAccount, spec: PerpMarketSpec, config: PaperConfig, book: BookView) -> None:
        self._account = account
        self._spec = spec
        self._share_bps = config.queue_depth_share_bps
        self.book: BookView = book

    def on_book(self, book: BookView) -> None:
        """The book as it is now (orders past their ``max_ts`` already expired): the touch moves to its best bid
        and ask, and each resting order's queue follows the depth now displayed at its price — joining it first
        if it has none yet (accepted before any book, or an oracle order whose price moved). Fills nothing."""
        self.book = book
        account = self._account
        tape = account.tape
        bids, asks = book.levels(Side.BUY, 1), book.levels(Side.SELL, 1)
        tape.best_bid = bids[0][0] if bids else None
        tape.best_ask = asks[0][0] if asks else None
        oracle, tick = tape.oracle, self._spec.tick_size
        for order in account.orders.values():
            price = resting_price(order, oracle, tick)
            if order.queue_price != price:
                join(order, price, book, self._share_bps)
            else:
                order.queue_ahead, order.queue_unprinted = after_depth(
                    order.queue_ahead, order.queue_unprinted, book.depth_at(order.side, price)
                )

    def on_price(self, out: list[VenueEvent]) -> None:
        """Makers fill from prints only: a path point just expires."""
        self._account.expire(out)

    def on_trade(self, trade: Trade, out: list[VenueEvent]) -> None:
        self._account.expire(out)
        fill_from_print(self._account, self._spec, trade, out, book=self.book, share_bps=self._share_bps)

    def take(self, order: RestingOrder, out: list[VenueEvent]) -> None:
        """Walk the opposite side up to its limit (0 = none) for its remaining size (a reduce-only one: at most the
        position), at the average price rounded against it. A market order's unfilled rest is cancelled; a
        limit's rests."""
        account = self._account
        want = order.base - order.filled
        if order.reduce_only and account.reduces(order.side):
            want = min(want, abs(account.position.base_asset_amount))
        walk = walk_book(self.book.levels(order.side.opposite), order.side, want, order.price, self._spec.step_size)
        if walk.filled:
            account.fill(order, walk.filled, walk.avg_price, Liquidity.TAKER, out)
        if order.uid in account.orders and order.order_type is OrderType.MARKET:
            account.cancel(order, CancelReason.MARKET_REMAINDER, out)

    def rest(self, order: RestingOrder) -> None:
        """An order still open after acceptance joins the queue at its price."""
        if order.uid in self._account.orders:
            join(
                order, resting_price(order, self._account.tape.oracle, self._spec.tick_size), self.book, self._share_bps
            )


def join(order: RestingOrder, price: int, book: BookView, share_bps: int) -> None:
    """Put ``order`` (resting at ``price``) at the back of ``share_bps`` of the depth displayed at that price."""
    order.queue_price = price
    order.queue_ahead = join_queue(book.depth_at(order.side, price), share_bps)
    order.queue_unprinted = 0


def fill_from_print(
    account: PaperAccount,
    spec: PerpMarketSpec,
    trade: Trade,
    out: list[VenueEvent],
    *,
    book: BookView | None,
    share_bps: int,
) -> None:
    """The makers a print fills (module docstring), orders past their ``max_ts`` already expired. An order on the
    hit side that has no queue at its current price joins one first when there is a ``book``; without a book every
    queue is empty (an order is at the front)."""
    hit = trade.aggressor.opposite
    oracle, tick = account.tape.oracle, spec.tick_size
    orders = account.orders
    through: list[RestingOrder] = []
    at_price: list[RestingOrder] = []
    for order in orders.values():
        if order.side is not hit:
            continue
        price = resting_price(order, oracle, tick)
        if book is not None and order.queue_price != price:
            join(order, price, book, share_bps)
        gap = (price - trade.price) * hit.sign  # > 0: the print went through our price
        if gap > 0:
            through.append(order)
        elif gap == 0:
            at_price.append(order)
    through.sort(key=lambda o: (-o.side.sign * resting_price(o, oracle, tick), o.placed_at))
    for order in through:
        if order.uid in orders:
            account.fill(order, order.base - order.filled, resting_price(order, oracle, tick), Liquidity.MAKER, out)
    volume = trade.qty
    step = spec.step_size
    at_price.sort(key=lambda o: o.placed_at)  # stable: placement order breaks ties
    for order in at_price:
        if order.uid not in orders:
            continue
        order.queue_ahead, order.queue_unprinted, beyond = after_print(order.queue_ahead, order.queue_unprinted, volume)
        want = min(order.base - order.filled, beyond - beyond % step)
        if want > 0:
            volume -= account.fill(order, want, trade.price, Liquidity.MAKER, out)
