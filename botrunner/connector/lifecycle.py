"""The order lifecycle as a table: ``TRANSITIONS[(state, event)] -> state``. No I/O, no logic beyond the lookup.

Anything not in the table is illegal and raises ``IllegalTransition``; the connector then asks for a resync from
the venue rather than guess (the venue is the source of truth).

    PENDING_NEW --ACK--> OPEN --PARTIAL_FILL--> PARTIALLY_FILLED --FILL--> FILLED
         |                 |  \\--CANCEL_REQUESTED--> PENDING_CANCEL --CANCEL--> CANCELLED
         REJECT            CANCEL / EXPIRE / FILL                  \\--FILL / EXPIRE-->
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Final

from botrunner.connector.orders import OrderState

if TYPE_CHECKING:  # the connector state module imports this one
    from botrunner.connector.state import ConnectorState


class OrderEvent(enum.Enum):
    """What can happen to an order: venue reports, plus our own cancel request."""

    # Members are singletons compared by identity: hash them by identity too (C) rather than by name (Python),
    # as they key the hot dict lookups. (Set iteration order never depended on a hash: names hash randomly.)
    __hash__ = object.__hash__

    ACK = "ack"  # the venue holds the order
    REJECT = "reject"  # the venue refused it (e.g. post-only would cross, tx failed)
    PARTIAL_FILL = "partial_fill"
    FILL = "fill"  # completely filled
    CANCEL_REQUESTED = "cancel_requested"  # we sent a cancel (local event)
    CANCEL = "cancel"  # the venue confirmed it is cancelled
    EXPIRE = "expire"  # max_ts passed and the venue removed it


_S = OrderState
_E = OrderEvent

TRANSITIONS: Final[dict[tuple[OrderState, OrderEvent], OrderState]] = {
    # A fill can be observed before the ack (separate subscriptions), so PENDING_NEW accepts fills.
    (_S.PENDING_NEW, _E.ACK): _S.OPEN,
    (_S.PENDING_NEW, _E.REJECT): _S.REJECTED,
    (_S.PENDING_NEW, _E.PARTIAL_FILL): _S.PARTIALLY_FILLED,
    (_S.PENDING_NEW, _E.FILL): _S.FILLED,
    (_S.PENDING_NEW, _E.CANCEL_REQUESTED): _S.PENDING_CANCEL,
    (_S.PENDING_NEW, _E.CANCEL): _S.CANCELLED,
    (_S.PENDING_NEW, _E.EXPIRE): _S.EXPIRED,
    (_S.OPEN, _E.PARTIAL_FILL): _S.PARTIALLY_FILLED,
    (_S.OPEN, _E.FILL): _S.FILLED,
    (_S.OPEN, _E.CANCEL_REQUESTED): _S.PENDING_CANCEL,
    (_S.OPEN, _E.CANCEL): _S.CANCELLED,  # the venue may cancel on its own (e.g. reduce-only with no position)
    (_S.OPEN, _E.EXPIRE): _S.EXPIRED,
    (_S.PARTIALLY_FILLED, _E.PARTIAL_FILL): _S.PARTIALLY_FILLED,
    (_S.PARTIALLY_FILLED, _E.FILL): _S.FILLED,
    (_S.PARTIALLY_FILLED, _E.CANCEL_REQUESTED): _S.PENDING_CANCEL,
    (_S.PARTIALLY_FILLED, _E.CANCEL): _S.CANCELLED,
    (_S.PARTIALLY_FILLED, _E.EXPIRE): _S.EXPIRED,
    # A cancel races fills and expiry; whichever the venue saw first wins. A late ACK of an order we already
    # asked to cancel is harmless: it stays pending-cancel.
    (_S.PENDING_CANCEL, _E.ACK): _S.PENDING_CANCEL,
    (_S.PENDING_CANCEL, _E.PARTIAL_FILL): _S.PENDING_CANCEL,
    (_S.PENDING_CANCEL, _E.FILL): _S.FILLED,
    (_S.PENDING_CANCEL, _E.CANCEL): _S.CANCELLED,
    (_S.PENDING_CANCEL, _E.EXPIRE): _S.EXPIRED,
    (_S.PENDING_CANCEL, _E.REJECT): _S.REJECTED,
}

TERMINAL_STATES: Final = frozenset({_S.FILLED, _S.CANCELLED, _S.EXPIRED, _S.REJECTED})
# States in which the order is (or may be) resting and working our ladder.
LIVE_STATES: Final = frozenset({_S.PENDING_NEW, _S.OPEN, _S.PARTIALLY_FILLED})


class IllegalTransition(Exception):
    """An event that cannot happen to an order in its current state (or to an order we do not know).

    ``state`` is None when the order is unknown. The connector state handed back in ``resync_state`` (set by
    ``apply_event``) has ``needs_resync`` raised: the shell must reload the venue's open orders.
    """

    def __init__(self, user_order_id: int, state: OrderState | None, event: OrderEvent, detail: str = "") -> None:
        self.user_order_id = user_order_id
        self.state = state
        self.event = event
        self.detail = detail
        self.resync_state: ConnectorState | None = None
        where = "unknown order" if state is None else f"state {state.value}"
        super().__init__(
            f"illegal order transition: user_order_id {user_order_id} in {where} got {event.value}"
            + (f" ({detail})" if detail else "")
        )


def transition(user_order_id: int, state: OrderState, event: OrderEvent) -> OrderState:
    """The state after ``event``; raises ``IllegalTransition`` when the table has no entry."""
    nxt = TRANSITIONS.get((state, event))
    if nxt is None:
        raise IllegalTransition(user_order_id, state, event)
    return nxt
