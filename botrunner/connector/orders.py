"""The connector's order model: what it asks the venue to rest (``OrderIntent``) and what it tracks (``WorkingOrder``).

Integers in Drift precisions: price 1e6, base 1e9, times in unix seconds. Both structs are frozen; a change of
state is a new struct (see ``botrunner.connector.lifecycle`` for which changes are legal).
"""

from __future__ import annotations

import enum

import msgspec

from botrunner.core.policy import PostOnlyMode
from botrunner.core.precision import USER_ORDER_ID_MAX, USER_ORDER_ID_MIN
from botrunner.core.side import Side


class OrderType(enum.Enum):
    """How an order is priced. ``ORACLE_OFFSET`` is Drift's resting oracle-pegged limit (price 0 + offset)."""

    LIMIT = "limit"
    MARKET = "market"
    ORACLE_OFFSET = "oracle_offset"


class OrderState(enum.Enum):
    """Where an order is in its life. The last four are terminal: the order is gone from the venue."""

    # Members are singletons compared by identity: hash them by identity too (C) rather than by name (Python),
    # as they key the hot dict lookups. (Set iteration order never depended on a hash: names hash randomly.)
    __hash__ = object.__hash__

    PENDING_NEW = "pending_new"  # sent, not yet seen on the venue
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    PENDING_CANCEL = "pending_cancel"  # cancel sent, venue has not confirmed; its user_order_id stays reserved
    FILLED = "filled"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REJECTED = "rejected"


class OrderError(ValueError):
    """An order that cannot exist as stated (size <= 0, id outside 1..255, price inconsistent with its type)."""


def _check(o: OrderIntent | WorkingOrder) -> None:
    """The invariants every order shares (both structs carry the same fields)."""
    order_type = o.order_type
    # Fast path: the checks below, all passing, without building their messages (orders are built in hot loops).
    if order_type is OrderType.LIMIT:
        price_ok = o.price > 0 and o.oracle_price_offset == 0
    elif order_type is OrderType.ORACLE_OFFSET:
        price_ok = o.price == 0
    else:
        price_ok = o.price >= 0 and o.oracle_price_offset == 0
    if (
        price_ok
        and USER_ORDER_ID_MIN <= o.user_order_id <= USER_ORDER_ID_MAX
        and o.base > 0
        and (not o.max_ts or o.max_ts >= o.placed_at)
    ):
        return
    where = f"order {o.user_order_id}"
    if not USER_ORDER_ID_MIN <= o.user_order_id <= USER_ORDER_ID_MAX:
        raise OrderError(f"{where}: user_order_id must be in {USER_ORDER_ID_MIN}..{USER_ORDER_ID_MAX}")
    if o.base <= 0:
        raise OrderError(f"{where}: base must be > 0, got {o.base}")
    if o.price < 0:
        raise OrderError(f"{where}: price must be >= 0, got {o.price}")
    if o.order_type is OrderType.LIMIT and o.price == 0:
        raise OrderError(f"{where}: a LIMIT order needs a price > 0")
    if o.order_type is OrderType.ORACLE_OFFSET and o.price != 0:
        raise OrderError(f"{where}: an ORACLE_OFFSET order has price 0 and uses oracle_price_offset")
    if o.order_type is not OrderType.ORACLE_OFFSET and o.oracle_price_offset != 0:
        raise OrderError(f"{where}: oracle_price_offset is only for ORACLE_OFFSET orders")
    if o.max_ts and o.max_ts < o.placed_at:  # 0 = no expiry, as Drift's max_ts
        raise OrderError(f"{where}: max_ts {o.max_ts} is before placed_at {o.placed_at}")


class OrderIntent(msgspec.Struct, frozen=True, kw_only=True):
    """One order the connector wants placed. ``max_ts`` is Drift's expiry (placed_at + policy.ttl_s; 0 = none);
    ``anchor_price`` is the reference (mark, or oracle for defence orders) the ladder was built at."""

    user_order_id: int
    side: Side
    price: int  # 1e6; 0 for ORACLE_OFFSET
    base: int  # 1e9, > 0
    post_only: PostOnlyMode
    reduce_only: bool
    max_ts: int
    placed_at: int
    anchor_price: int
    order_type: OrderType = OrderType.LIMIT
    oracle_price_offset: int = 0  # 1e6, ORACLE_OFFSET only

    def __post_init__(self) -> None:
        _check(self)


class WorkingOrder(msgspec.Struct, frozen=True, kw_only=True):
    """An order the connector tracks, with its lifecycle state and how much of it has filled.

    ``generation`` names the ladder build it belongs to (0 for orders adopted from the venue on resync).
    """

    user_order_id: int
    side: Side
    price: int
    base: int
    post_only: PostOnlyMode
    reduce_only: bool
    max_ts: int
    placed_at: int
    anchor_price: int
    state: OrderState
    filled_base: int = 0
    generation: int = 0
    order_type: OrderType = OrderType.LIMIT
    oracle_price_offset: int = 0

    def __post_init__(self) -> None:
        _check(self)
        if not 0 <= self.filled_base <= self.base:
            raise OrderError(
                f"order {self.user_order_id}: filled_base {self.filled_base} outside [0, base {self.base}]"
            )

    @property
    def remaining_base(self) -> int:
        """Base still resting (1e9)."""
        return self.base - self.filled_base

    @classmethod
    def from_intent(cls, intent: OrderIntent, *, generation: int) -> WorkingOrder:
        """The tracked form of an intent just sent: PENDING_NEW, nothing filled."""
        return cls(
            user_order_id=intent.user_order_id,
            side=intent.side,
            price=intent.price,
            base=intent.base,
            post_only=intent.post_only,
            reduce_only=intent.reduce_only,
            max_ts=intent.max_ts,
            placed_at=intent.placed_at,
            anchor_price=intent.anchor_price,
            state=OrderState.PENDING_NEW,
            generation=generation,
            order_type=intent.order_type,
            oracle_price_offset=intent.oracle_price_offset,
        )
