"""Drift's placement checks for the paper venue, as pure functions of the order and the account's numbers.

Checked in this order (protocol-v2 ``place_perp_order``), by :func:`stage`: user_order_id already open; 32 open
orders; user_order_id in 1..255; size a step multiple and >= the minimum; a limit price (or an oracle offset) a
tick multiple; no post-only market order; ``max_ts`` in the past; reduce-only that cannot reduce; post-only
crossing (MustPostOnly rejects, TryPostOnly skips, Slide reprices one tick behind the touch); the batch's own
32-order limit and duplicate ids. Then, by the venue for each staged order in turn, and only for an order that
increases the worst-case position (Drift's ``risk_increasing`` rule, :func:`worst_case_after`): initial margin
with all open orders (:func:`initial_margin_rejection`) and the paper leverage cap (:func:`leverage_rejection`).

Nothing here reads the venue: every input is a value, so each rule can be tested on its own.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import NamedTuple, TypeAlias, assert_never

import msgspec

from botrunner.connector.orders import OrderIntent, OrderType
from botrunner.core.markets import PerpMarketSpec
from botrunner.core.policy import PostOnlyMode
from botrunner.core.precision import (
    BASE_PRECISION,
    MAX_OPEN_ORDERS_PER_USER,
    USER_ORDER_ID_MAX,
    USER_ORDER_ID_MIN,
)
from botrunner.core.side import Side
from botrunner.margin.calculation import calculate_margin
from botrunner.margin.model import Account, MarginCategory, Markets, PerpPosition, SpotPosition
from botrunner.paper.orders import round_to_tick
from botrunner.venue.port import RejectReason


class Rejection(NamedTuple):
    """Why an order is refused: the reason and a detail naming the numbers."""

    reason: RejectReason
    detail: str


# An order of a batch refused before any order of it is placed, and why.
Refused: TypeAlias = tuple[OrderIntent, Rejection]
# An order of a batch that passed the static checks, at the price it will rest at (post-only slide included);
# margin is checked when it is placed. (Plain tuples: a batch stages every order of every requote.)
Staged: TypeAlias = tuple[OrderIntent, int]

_MARKET = OrderType.MARKET
_ORACLE_OFFSET = OrderType.ORACLE_OFFSET
_NOT_POST_ONLY = PostOnlyMode.NONE


def static_rejection(  # noqa: PLR0911  Drift's placement checks as one first-match list, in the program's order
    intent: OrderIntent,
    spec: PerpMarketSpec,
    open_ids: Collection[int],
    now: int,
    position_base: int,
) -> Rejection | None:
    """The first check ``intent`` fails against the open orders (their ids), the market, the clock and the position
    (None: it passes). Post-only crossing and margin are checked later."""
    if intent.user_order_id in open_ids:
        return Rejection(RejectReason.USER_ORDER_ID_IN_USE, f"{intent.user_order_id} is open")
    if len(open_ids) >= MAX_OPEN_ORDERS_PER_USER:
        return Rejection(RejectReason.TOO_MANY_OPEN_ORDERS, f"{MAX_OPEN_ORDERS_PER_USER} orders already open")
    if not USER_ORDER_ID_MIN <= intent.user_order_id <= USER_ORDER_ID_MAX:
        return Rejection(RejectReason.UNKNOWN_ORDER, f"user_order_id {intent.user_order_id} outside 1..255")
    if intent.base % spec.step_size:
        return Rejection(RejectReason.SIZE_NOT_STEP_MULTIPLE, f"base {intent.base} vs step {spec.step_size}")
    if intent.base < spec.min_order_size:
        return Rejection(RejectReason.SIZE_BELOW_MINIMUM, f"base {intent.base} < minimum {spec.min_order_size}")
    if intent.order_type is OrderType.LIMIT and intent.price % spec.tick_size:
        return Rejection(RejectReason.PRICE_NOT_TICK_MULTIPLE, f"price {intent.price} vs tick {spec.tick_size}")
    if intent.order_type is OrderType.ORACLE_OFFSET and intent.oracle_price_offset % spec.tick_size:
        return Rejection(RejectReason.PRICE_NOT_TICK_MULTIPLE, f"offset {intent.oracle_price_offset} vs tick")
    if intent.order_type is OrderType.MARKET and intent.post_only is not PostOnlyMode.NONE:
        return Rejection(RejectReason.INVALID_ORDER, "a market order cannot be post-only")
    if intent.max_ts and intent.max_ts < now:
        return Rejection(RejectReason.EXPIRED_ON_ARRIVAL, f"max_ts {intent.max_ts} < now {now}")
    if intent.reduce_only and not reduces(position_base, intent.side):
        return Rejection(RejectReason.REDUCE_ONLY_INCREASES, f"position {position_base}")
    return None


def reduces(position_base: int, side: Side) -> bool:
    """Whether an order on ``side`` reduces a position of ``position_base``."""
    return (position_base > 0 and side is Side.SELL) or (position_base < 0 and side is Side.BUY)


def limit_price(intent: OrderIntent, oracle: int, tick: int) -> int:
    """The price ``intent`` would rest at: its price, or for an oracle-offset order the oracle plus its offset on
    the tick grid."""
    if intent.order_type is OrderType.ORACLE_OFFSET:
        return round_to_tick(oracle + intent.oracle_price_offset, intent.side, tick)
    return intent.price


def crosses(side: Side, price: int, touch: int) -> bool:
    """Whether an order on ``side`` at ``price`` would trade against ``touch`` (the opposite side's best)."""
    return price >= touch if side is Side.BUY else price <= touch


def post_only_price(intent: OrderIntent, price: int, touch: int, tick: int) -> int | Rejection:
    """Where a non-market order at ``price`` may rest, given ``touch`` (the price it would trade against):
    ``price`` when it does not cross or is not post-only; a crossing post-only order is refused (MustPostOnly),
    skipped (TryPostOnly) or slid one tick behind the touch (Slide)."""
    if intent.order_type is OrderType.MARKET or intent.post_only is PostOnlyMode.NONE:
        return price
    # ``not crosses(...)``, inlined: this runs for every post-only order of every requote
    if (price < touch) if intent.side is Side.BUY else (price > touch):
        return price
    match intent.post_only:
        case PostOnlyMode.MUST_POST_ONLY:
            return Rejection(RejectReason.POST_ONLY_WOULD_CROSS, f"{intent.side.value} {price} vs touch {touch}")
        case PostOnlyMode.TRY_POST_ONLY:
            return Rejection(RejectReason.POST_ONLY_SKIPPED, f"{intent.side.value} {price} vs touch {touch}")
        case PostOnlyMode.SLIDE:
            return round_to_tick(touch - tick if intent.side is Side.BUY else touch + tick, intent.side, tick)
        case PostOnlyMode.NONE:  # pragma: no cover - returned above
            return price
        case _ as unreachable:
            assert_never(unreachable)


def stage(
    intents: Sequence[OrderIntent],
    spec: PerpMarketSpec,
    *,
    open_ids: Collection[int],
    now: int,
    position_base: int,
    oracle: int,
    buy_touch: int,
    sell_touch: int,
) -> tuple[list[Refused], list[Staged]]:
    """Drift ``place_orders``' checks before any order of the batch is placed: the orders refused (in batch
    order) and those left to place, each at its resting price. ``buy_touch`` / ``sell_touch`` are the prices a
    buy / a sell would trade against (the best ask / the best bid)."""
    refused: list[Refused] = []
    staged: list[Staged] = []
    staged_ids: set[int] = set()  # the ids in ``staged``
    tick = spec.tick_size
    open_count = len(open_ids)
    for intent in intents:
        why = static_rejection(intent, spec, open_ids, now, position_base)
        if why is not None:
            refused.append((intent, why))
            continue
        price = intent.price if intent.order_type is not _ORACLE_OFFSET else limit_price(intent, oracle, tick)
        if intent.post_only is not _NOT_POST_ONLY and intent.order_type is not _MARKET:
            placed = post_only_price(intent, price, buy_touch if intent.side is Side.BUY else sell_touch, tick)
            if isinstance(placed, Rejection):
                refused.append((intent, placed))
                continue
            price = placed
        if open_count + len(staged) >= MAX_OPEN_ORDERS_PER_USER:
            refused.append(
                (
                    intent,
                    Rejection(RejectReason.TOO_MANY_OPEN_ORDERS, f"{MAX_OPEN_ORDERS_PER_USER} orders already open"),
                )
            )
            continue
        if intent.user_order_id in staged_ids:
            refused.append((intent, Rejection(RejectReason.USER_ORDER_ID_IN_USE, "twice in one batch")))
            continue
        staged.append((intent, price))
        staged_ids.add(intent.user_order_id)
    return refused, staged


def worst_case_after(
    adding: Sequence[Staged], *, position_base: int, open_bids: int, open_asks: int
) -> tuple[int, int, int] | None:
    """(bids to add, asks to add, worst-case |position| after) when adding ``adding`` to the open orders grows the
    worst-case position (Drift's ``risk_increasing``); None when it does not, and no margin check applies."""
    add_bids = sum(i.base for i, _ in adding if i.side is Side.BUY)
    add_asks = -sum(i.base for i, _ in adding if i.side is Side.SELL)
    base = position_base
    worst_before = max(abs(base + open_bids), abs(base + open_asks))
    worst_after = max(abs(base + open_bids + add_bids), abs(base + open_asks + add_asks))
    if worst_after <= worst_before:
        return None
    return add_bids, add_asks, worst_after


def initial_margin_rejection(
    position: PerpPosition,
    spot_positions: tuple[SpotPosition, ...],
    markets: Markets,
    *,
    open_bids: int,
    open_asks: int,
    open_orders: int,
) -> Rejection | None:
    """Why the account with these open-order totals breaks initial margin (None: it meets it)."""
    with_orders = msgspec.structs.replace(position, open_bids=open_bids, open_asks=open_asks, open_orders=open_orders)
    account = Account(spot_positions=spot_positions, perp_positions=(with_orders,))
    initial = calculate_margin(account, markets, MarginCategory.INITIAL)
    if initial.meets_margin_requirement:
        return None
    return Rejection(
        RejectReason.INSUFFICIENT_COLLATERAL,
        f"initial requirement {initial.margin_requirement} > collateral {initial.total_collateral}",
    )


def leverage_rejection(worst_base: int, oracle: int, equity: int, max_leverage_x10000: int) -> Rejection | None:
    """Why a worst-case position of ``worst_base`` at ``oracle`` exceeds the paper leverage cap on ``equity``
    (None: within it; no equity is never within it)."""
    notional = worst_base * oracle // BASE_PRECISION
    if equity <= 0 or notional * 10_000 > max_leverage_x10000 * equity:
        return Rejection(
            RejectReason.MAX_LEVERAGE,
            f"worst-case notional {notional} over equity {equity} exceeds {max_leverage_x10000 / 10_000:g}x",
        )
    return None
