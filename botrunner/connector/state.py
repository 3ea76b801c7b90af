"""The connector's state (the orders it tracks and the ladder it is working) and how venue events change it.

The position is NOT tracked here: it comes from the venue/account snapshot as an input to every plan. The state
only tracks orders, plus the fills of the current ladder's orders (so the planner can tell its own fills, which
never trigger a requote, from an outside position change).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence

import msgspec

from botrunner.connector.ladder import Rung
from botrunner.connector.lifecycle import (
    TERMINAL_STATES,
    TRANSITIONS,
    IllegalTransition,
    OrderEvent,
    transition,
)
from botrunner.connector.orders import OrderState, WorkingOrder
from botrunner.core.directive import ExecutionMode
from botrunner.core.intents import ExposureBand, LadderLevel
from botrunner.core.policy import ExecutionPolicy
from botrunner.core.precision import MAX_OPEN_ORDERS_PER_USER, USER_ORDER_ID_MAX


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
        orders = (*state.orders[:idx], _moved(order, new_state, filled), *state.orders[idx + 1 :])
    return msgspec.structs.replace(state, orders=orders, ladder=ladder)


def _moved(order: WorkingOrder, new_state: OrderState, filled: int) -> WorkingOrder:
    """``order`` in ``new_state`` with ``filled`` base filled, without re-running ``WorkingOrder``'s validation: its
    other fields were validated when it was built and do not change, and every caller has checked ``filled`` lies
    in ``[order.filled_base, order.base]`` (so the copy is exactly what ``msgspec.structs.replace`` would build)."""
    moved = copy.copy(order)  # Struct.__copy__: the fields as they are, no __post_init__
    msgspec.structs.force_setattr(moved, "state", new_state)
    if filled != order.filled_base:
        msgspec.structs.force_setattr(moved, "filled_base", filled)
    return moved


def apply_events(state: ConnectorState, updates: Sequence[OrderUpdate]) -> ConnectorState:
    """``apply_event`` folded over ``updates`` in order, in one pass: the same final state (and, for an illegal
    update, the same ``IllegalTransition`` with the same ``resync_state``), without building a state per update.

    Raises like ``apply_event`` at the first update it forbids."""
    if len(updates) <= 1:
        return apply_event(state, updates[0]) if updates else state
    slots: list[WorkingOrder | None] = list(state.orders)
    where = {o.user_order_id: i for i, o in reversed(tuple(enumerate(state.orders)))}  # the first per id wins
    if len(where) != len(slots):  # duplicate ids (never built by the connector): keep apply_event's exact lookups
        for update in updates:
            state = apply_event(state, update)
        return state
    ladder = state.ladder
    fills_base = 0 if ladder is None else ladder.fills_base
    own_fills = False
    transitions, terminal = TRANSITIONS, TERMINAL_STATES
    for update in updates:
        idx = where.get(update.user_order_id, -1)
        order = slots[idx] if idx >= 0 else None
        if order is None:
            # not tracked (never, or no longer: a terminal event removed it): apply_event raises its own error
            apply_event(_folded(state, slots, ladder, fills_base, own_fills), update)
            raise AssertionError("apply_event accepted an update for an untracked order")
        event = update.event
        new_state = transitions.get((order.state, event))
        filled = order.filled_base
        ok = True
        if event is _FILL:
            filled = order.base if update.filled_base == 0 else update.filled_base
            ok = filled == order.base
        elif event is _PARTIAL_FILL:
            filled = update.filled_base
            ok = order.filled_base <= filled < order.base
        if new_state is None or not ok:  # apply_event raises the exact error on the state folded so far
            apply_event(_folded(state, slots, ladder, fills_base, own_fills), update)
            raise AssertionError("apply_event accepted an update its checks forbid")
        if new_state in terminal:
            slots[idx] = None
        else:
            slots[idx] = _moved(order, new_state, filled)
        if filled == order.filled_base:
            continue
        # the same "own fill" rule as apply_event
        if ladder is not None and order.generation == ladder.generation and order.state is not _PENDING_CANCEL:
            fills_base += order.side.sign * (filled - order.filled_base)
            own_fills = True
    return _folded(state, slots, ladder, fills_base, own_fills)


_FILL, _PARTIAL_FILL = OrderEvent.FILL, OrderEvent.PARTIAL_FILL
_PENDING_CANCEL = OrderState.PENDING_CANCEL


def _folded(
    state: ConnectorState,
    slots: list[WorkingOrder | None],
    ladder: LadderMemo | None,
    fills_base: int,
    own_fills: bool,
) -> ConnectorState:
    """The state ``apply_events`` has reached: the orders still in their slots, in placement order, and the
    ladder's own fills."""
    if own_fills and ladder is not None:
        ladder = msgspec.structs.replace(ladder, fills_base=fills_base)
    return msgspec.structs.replace(state, orders=tuple(o for o in slots if o is not None), ladder=ladder)


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
