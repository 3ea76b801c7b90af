"""What the connector asks the shell to do: place, cancel, or cancel-and-place atomically.

Every command carries a machine-readable ``PlanReason``. Batches respect Drift's limit of 32 orders per
``place_orders`` (and ``cancel_and_place_orders``), asserted at construction.
"""

from __future__ import annotations

import enum
from typing import assert_never

import msgspec

from botrunner.connector.orders import OrderIntent
from botrunner.core.precision import MAX_OPEN_ORDERS_PER_USER, MAX_ORDERS_PER_PLACE_ORDERS


class PlanReason(enum.Enum):
    """Why the planner emitted a command."""

    LADDER_EMPTY = "ladder_empty"  # first ladder, or every rung of the last one is gone
    REQUOTE_PRICE_MOVED = "requote_price_moved"  # anchor moved >= requote_threshold_bps
    TTL_EXPIRED = "ttl_expired"  # at least one rung reached its max_ts
    BAND_CHANGED = "band_changed"  # the approved band moved; only differing rungs are replaced
    RAMP_IN = "ramp_in"  # the ramp-in widened the worked band enough to add or grow a rung
    POSITION_CHANGED = "position_changed"  # the position moved by more than our own fills explain
    LEVELS_CHANGED = "levels_changed"  # the strategy's rungs changed
    POLICY_CHANGED = "policy_changed"  # the ExecutionPolicy changed (e.g. reloaded)
    MODE_CHANGED = "mode_changed"  # back to the grid from reduction or defence
    VERDICT_PAUSE = "verdict_pause"  # PAUSE: cancel everything
    REDUCE_ONLY_PURGE = "reduce_only_purge"  # defence: only reduce-only orders on the reducing side survive
    EXPOSURE_REDUCTION = "exposure_reduction"  # position outside the band: reduce toward it
    LIQUIDATION_DEFENCE = "liquidation_defence"  # urgent: cross the spread reduce-only within max slippage


class CommandError(ValueError):
    """A command that would break a venue limit."""


def _check_ids(ids: tuple[int, ...], what: str) -> None:
    if len(set(ids)) != len(ids):
        raise CommandError(f"{what}: duplicate user_order_id in {ids}")


class PlaceOrders(msgspec.Struct, frozen=True):
    """Place 1..32 orders in one ``place_orders`` instruction."""

    orders: tuple[OrderIntent, ...]
    reason: PlanReason

    def __post_init__(self) -> None:
        if not 0 < len(self.orders) <= MAX_ORDERS_PER_PLACE_ORDERS:
            raise CommandError(f"PlaceOrders: {len(self.orders)} orders, must be 1..{MAX_ORDERS_PER_PLACE_ORDERS}")
        _check_ids(tuple(o.user_order_id for o in self.orders), "PlaceOrders")


class CancelOrders(msgspec.Struct, frozen=True):
    """Cancel orders by user_order_id."""

    user_order_ids: tuple[int, ...]
    reason: PlanReason

    def __post_init__(self) -> None:
        if not 0 < len(self.user_order_ids) <= MAX_OPEN_ORDERS_PER_USER:
            raise CommandError(f"CancelOrders: {len(self.user_order_ids)} ids, must be 1..{MAX_OPEN_ORDERS_PER_USER}")
        _check_ids(self.user_order_ids, "CancelOrders")


class CancelAndPlace(msgspec.Struct, frozen=True):
    """Cancel ``cancel_ids`` then place ``orders``, atomically (one transaction, Drift cancel_and_place_orders)."""

    cancel_ids: tuple[int, ...]
    orders: tuple[OrderIntent, ...]
    reason: PlanReason

    def __post_init__(self) -> None:
        if not 0 < len(self.cancel_ids) <= MAX_OPEN_ORDERS_PER_USER:
            raise CommandError(f"CancelAndPlace: {len(self.cancel_ids)} cancels, must be 1..{MAX_OPEN_ORDERS_PER_USER}")
        if not 0 < len(self.orders) <= MAX_ORDERS_PER_PLACE_ORDERS:
            raise CommandError(f"CancelAndPlace: {len(self.orders)} orders, must be 1..{MAX_ORDERS_PER_PLACE_ORDERS}")
        _check_ids(self.cancel_ids, "CancelAndPlace cancels")
        _check_ids(tuple(o.user_order_id for o in self.orders), "CancelAndPlace orders")


Command = PlaceOrders | CancelOrders | CancelAndPlace


def placed_orders(cmd: Command) -> tuple[OrderIntent, ...]:
    """The orders a command places (none for a pure cancel)."""
    match cmd:
        case PlaceOrders(orders=orders) | CancelAndPlace(orders=orders):
            return orders
        case CancelOrders():
            return ()
        case _ as unreachable:
            assert_never(unreachable)


def cancelled_ids(cmd: Command) -> tuple[int, ...]:
    """The user_order_ids a command cancels (none for a pure placement)."""
    match cmd:
        case CancelOrders(user_order_ids=ids) | CancelAndPlace(cancel_ids=ids):
            return ids
        case PlaceOrders():
            return ()
        case _ as unreachable:
            assert_never(unreachable)
