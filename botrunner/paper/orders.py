"""A resting paper order (the venue's own mutable record of it) and the price it rests at."""

from __future__ import annotations

from botrunner.connector.orders import OrderIntent, OrderState, OrderType, WorkingOrder
from botrunner.core.fixed import ceil_div
from botrunner.core.side import Side


class RestingOrder:
    """One open order on the paper venue (mutable, venue-internal; ``working()`` is its immutable public view).

    ``price`` is the price it was accepted at (an oracle-offset order's is the one at acceptance; where it rests
    now is :func:`resting_price`). The three ``queue_*`` fields are the L2 queue model's estimate of its place in
    the queue (``botrunner.paper.queue``); the candle model leaves them at 0."""

    __slots__ = (
        "base",
        "filled",
        "max_ts",
        "oracle_offset",
        "order_type",
        "placed_at",
        "post_only",
        "price",
        "queue_ahead",
        "queue_price",
        "queue_unprinted",
        "reduce_only",
        "side",
        "uid",
    )

    def __init__(self, intent: OrderIntent, price: int, placed_at: int) -> None:
        self.uid = intent.user_order_id
        self.side = intent.side
        self.price = price
        self.base = intent.base
        self.filled = 0
        self.post_only = intent.post_only
        self.reduce_only = intent.reduce_only
        self.max_ts = intent.max_ts
        self.placed_at = placed_at
        self.order_type = intent.order_type
        self.oracle_offset = intent.oracle_price_offset
        self.queue_ahead = 0  # base ahead of us at our price (L2 queue model)
        self.queue_price = 0  # the price whose queue we joined; 0 = not joined (no book known yet)
        self.queue_unprinted = 0  # queue advance from depth drops that a later print may only be reporting

    def working(self) -> WorkingOrder:
        state = OrderState.PARTIALLY_FILLED if self.filled else OrderState.OPEN
        return WorkingOrder(
            user_order_id=self.uid,
            side=self.side,
            price=self.price if self.order_type is not OrderType.ORACLE_OFFSET else 0,
            base=self.base,
            post_only=self.post_only,
            reduce_only=self.reduce_only,
            max_ts=self.max_ts,
            placed_at=self.placed_at,
            anchor_price=self.price,
            state=state,
            filled_base=self.filled,
            order_type=self.order_type,
            oracle_price_offset=self.oracle_offset,
        )


def round_to_tick(price: int, side: Side, tick: int) -> int:
    """``price`` on the tick grid, rounded against the side's own favour (a bid down, an ask up), at least one
    tick."""
    rounded = price // tick * tick if side is Side.BUY else ceil_div(price, tick) * tick
    return max(tick, rounded)


def resting_price(order: RestingOrder, oracle: int, tick: int) -> int:
    """Where ``order`` rests now: its own price, or for an oracle-offset order the oracle plus its offset on the
    tick grid."""
    if order.order_type is OrderType.ORACLE_OFFSET:
        return round_to_tick(oracle + order.oracle_offset, order.side, tick)
    return order.price
