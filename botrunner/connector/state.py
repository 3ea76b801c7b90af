"""The connector's state (the orders it tracks and the ladder it is working) and how venue events change it.

The position is NOT tracked here: it comes from the venue/account snapshot as an input to every plan. The state
only tracks orders, plus the fills of the current ladder's orders (so the planner can tell its own fills, which
never trigger a requote, from an outside position change).
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from botrunner.connector.ladder import Rung
from botrunner.connector.lifecycle import (
    TERMINAL_STATES,
    IllegalTransition,
    OrderEvent,
    transition,
)
from botrunner.connector.orders import OrderState, WorkingOrder
from botrunner.core.intents import ExposureBand, LadderLevel
from botrunner.core.policy import ExecutionPolicy
from botrunner.core.precision import MAX_OPEN_ORDERS_PER_USER, USER_ORDER_ID_MAX
from governors.execution import ExecutionMode


class LadderMemo(msgspec.Struct, frozen=True, kw_only=True):
    """The ladder currently worked: what it was built from and the rungs it wanted (before the post-only filter
    and the order budget), so the next plan can tell whether anything that matters changed."""

    generation: int
    anchor: int  # mark (oracle for urgent defence) the ladder was built at, 1e6
    mode: ExecutionMode
    urgent: bool
    band: ExposureBand  # the approved band
    worked_band: ExposureBand  # after ramp-in
    position_base: int  # position the rungs were sized for
    levels: tuple[LadderLevel, ...]
    policy: ExecutionPolicy
    rungs: tuple[Rung, ...]
    fills_base: int = 0  # signed base filled on this ladder's orders since it was built


class ConnectorState(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the planner remembers between events. Build the first one with ``ConnectorState.initial``."""

    started_at: int  # start or restart time: the ramp-in clock
    orders: tuple[WorkingOrder, ...] = ()  # every order not yet confirmed gone, in placement order
    ladder: LadderMemo | None = None
    generation: int = 0
    id_cursor: int = 0
    needs_resync: bool = False
    resync_reason: str = ""

    @classmethod
    def initial(cls, started_at: int) -> ConnectorState:
        """A fresh connector (no orders) after start or restart at ``started_at``."""
        return cls(started_at=started_at)

    def order(self, user_order_id: int) -> WorkingOrder | None:
        """The tracked order with this id, if any."""
        for o in self.orders:
            if o.user_order_id == user_order_id:
                return o
        return None


class OrderUpdate(msgspec.Struct, frozen=True):
    """A venue report (or our own cancel request) about one order. ``filled_base`` is the order's CUMULATIVE
    filled base (1e9) for PARTIAL_FILL and FILL (FILL may leave it 0 to mean 'all of it')."""

    user_order_id: int
    event: OrderEvent
    filled_base: int = 0


def _illegal(state: ConnectorState, exc: IllegalTransition) -> IllegalTransition:
    exc.resync_state = msgspec.structs.replace(state, needs_resync=True, resync_reason=str(exc))
    return exc


def apply_event(state: ConnectorState, update: OrderUpdate) -> ConnectorState:
    """The state after ``update``. Orders reaching a terminal state are dropped (their id becomes free).

    Raises ``IllegalTransition`` for an event the lifecycle table forbids, an unknown order, or a fill that
    shrinks or exceeds the order; ``exc.resync_state`` is this state with ``needs_resync`` raised, which the shell
    adopts before reloading the venue's open orders.
    """
    idx = -1
    for i, o in enumerate(state.orders):
        if o.user_order_id == update.user_order_id:
            idx = i
            break
    if idx < 0:
        raise _illegal(state, IllegalTransition(update.user_order_id, None, update.event, "order not tracked"))
    order = state.orders[idx]
    try:
        new_state = transition(order.user_order_id, order.state, update.event)
    except IllegalTransition as exc:
        raise _illegal(state, exc) from None
    filled = order.filled_base
    if update.event is OrderEvent.FILL:
        filled = order.base if update.filled_base == 0 else update.filled_base
        if filled != order.base:
            raise _illegal(
                state,
                IllegalTransition(
                    order.user_order_id,
                    order.state,
                    update.event,
                    f"FILL with filled_base {filled} != base {order.base}",
                ),
            )
    elif update.event is OrderEvent.PARTIAL_FILL:
        filled = update.filled_base
        if not order.filled_base <= filled < order.base:
            raise _illegal(
                state,
                IllegalTransition(
                    order.user_order_id,
                    order.state,
                    update.event,
                    f"cumulative filled_base {filled} not in [{order.filled_base}, {order.base})",
                ),
            )
    ladder = state.ladder
    delta = filled - order.filled_base
    # Only fills of orders still working the ladder count as "our own": an order we asked to cancel is no longer
    # part of the ladder's sizing, so its late fill is an outside position change the planner must react to.
    if (
        delta
        and ladder is not None
        and order.generation == ladder.generation
        and order.state is not OrderState.PENDING_CANCEL
    ):
        ladder = msgspec.structs.replace(ladder, fills_base=ladder.fills_base + order.side.sign * delta)
    if new_state in TERMINAL_STATES:
        orders = state.orders[:idx] + state.orders[idx + 1 :]
    else:
        updated = msgspec.structs.replace(order, state=new_state, filled_base=filled)
        orders = (*state.orders[:idx], updated, *state.orders[idx + 1 :])
    return msgspec.structs.replace(state, orders=orders, ladder=ladder)


def request_resync(state: ConnectorState, reason: str) -> ConnectorState:
    """Raise ``needs_resync`` (e.g. a transaction failed and the venue's view is uncertain); plan() then emits
    nothing until ``resync``."""
    return msgspec.structs.replace(state, needs_resync=True, resync_reason=reason)


def resync(state: ConnectorState, venue_orders: Iterable[WorkingOrder]) -> ConnectorState:
    """Adopt the venue's open orders as the truth. The ladder memo is dropped, so the next plan rebuilds the
    ladder (cancelling the adopted orders in one atomic cancel-and-place). ``started_at`` is kept; a restart
    builds a new state with ``ConnectorState.initial`` instead, then resyncs."""
    adopted: list[WorkingOrder] = []
    seen: set[int] = set()
    for o in venue_orders:
        if o.state in TERMINAL_STATES:
            continue
        if o.user_order_id in seen:
            raise ValueError(f"resync: user_order_id {o.user_order_id} appears twice among the venue's orders")
        seen.add(o.user_order_id)
        adopted.append(msgspec.structs.replace(o, generation=0))
    if len(adopted) > MAX_OPEN_ORDERS_PER_USER:
        raise ValueError(f"resync: {len(adopted)} open orders exceeds the venue limit {MAX_OPEN_ORDERS_PER_USER}")
    cursor = max(seen) if seen else state.id_cursor
    return ConnectorState(
        started_at=state.started_at,
        orders=tuple(adopted),
        ladder=None,
        generation=state.generation + 1,
        id_cursor=cursor % USER_ORDER_ID_MAX,
        needs_resync=False,
        resync_reason="",
    )
