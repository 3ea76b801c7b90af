"""The sans-I/O PerpsConnector core: order model, lifecycle table, ladder, user_order_id allocation, planner.

Nothing here performs I/O or reads a clock: the shell feeds events (``apply_event``) and market state (``plan``),
and performs the commands that come back.
"""

from botrunner.connector.commands import (
    CancelAndPlace,
    CancelOrders,
    Command,
    CommandError,
    PlaceOrders,
    PlanReason,
    cancelled_ids,
    placed_orders,
)
from botrunner.connector.ids import IdsExhausted, allocate_ids
from botrunner.connector.ladder import Rung, build_ladder, defence_quantity, filter_post_only
from botrunner.connector.lifecycle import (
    LIVE_STATES,
    TERMINAL_STATES,
    TRANSITIONS,
    IllegalTransition,
    OrderEvent,
    transition,
)
from botrunner.connector.orders import OrderError, OrderIntent, OrderState, OrderType, WorkingOrder
from botrunner.connector.planner import MarketQuote, PlanResult, QuoteError, plan
from botrunner.connector.ramp import ramp_band, ramp_fraction_bps
from botrunner.connector.state import (
    ConnectorState,
    LadderMemo,
    OrderUpdate,
    apply_event,
    apply_events,
    request_resync,
    resync,
)

__all__ = [
    "LIVE_STATES",
    "TERMINAL_STATES",
    "TRANSITIONS",
    "CancelAndPlace",
    "CancelOrders",
    "Command",
    "CommandError",
    "ConnectorState",
    "IdsExhausted",
    "IllegalTransition",
    "LadderMemo",
    "MarketQuote",
    "OrderError",
    "OrderEvent",
    "OrderIntent",
    "OrderState",
    "OrderType",
    "OrderUpdate",
    "PlaceOrders",
    "PlanReason",
    "PlanResult",
    "QuoteError",
    "Rung",
    "WorkingOrder",
    "allocate_ids",
    "apply_event",
    "apply_events",
    "build_ladder",
    "cancelled_ids",
    "defence_quantity",
    "filter_post_only",
    "placed_orders",
    "plan",
    "ramp_band",
    "ramp_fraction_bps",
    "request_resync",
    "resync",
    "transition",
]
