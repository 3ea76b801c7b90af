"""Order lifecycle: the transition table, and apply_event on the connector state."""

from __future__ import annotations

import itertools

import pytest

from botrunner.connector import (
    LIVE_STATES,
    TERMINAL_STATES,
    TRANSITIONS,
    ConnectorState,
    IllegalTransition,
    OrderEvent,
    OrderState,
    OrderUpdate,
    WorkingOrder,
    apply_event,
    transition,
)
from botrunner.core.policy import PostOnlyMode
from botrunner.core.side import Side

S, E = OrderState, OrderEvent


def _order(uid: int = 7, state: OrderState = S.PENDING_NEW, base: int = 100_000_000) -> WorkingOrder:
    return WorkingOrder(
        user_order_id=uid,
        side=Side.BUY,
        price=149_000_000,
        base=base,
        post_only=PostOnlyMode.MUST_POST_ONLY,
        reduce_only=False,
        max_ts=4_000,
        placed_at=400,
        anchor_price=150_000_000,
        state=state,
    )


def _state(*orders: WorkingOrder) -> ConnectorState:
    return ConnectorState(started_at=0, orders=orders)


def test_lifecycle_every_pair_not_in_table_raises_and_every_pair_in_table_returns_its_target() -> None:
    for state, event in itertools.product(OrderState, OrderEvent):
        if (state, event) in TRANSITIONS:
            assert transition(1, state, event) is TRANSITIONS[(state, event)]
        else:
            with pytest.raises(IllegalTransition) as info:
                transition(1, state, event)
            assert info.value.state is state
            assert info.value.event is event
            assert info.value.user_order_id == 1


def test_lifecycle_terminal_states_have_no_way_out() -> None:
    for state, event in itertools.product(TERMINAL_STATES, OrderEvent):
        assert (state, event) not in TRANSITIONS


def test_lifecycle_nothing_returns_to_pending_new_and_every_state_can_end() -> None:
    assert S.PENDING_NEW not in TRANSITIONS.values()
    reachable_end = set(TERMINAL_STATES)
    changed = True
    while changed:
        changed = False
        for (src, _), dst in TRANSITIONS.items():
            if dst in reachable_end and src not in reachable_end:
                reachable_end.add(src)
                changed = True
    assert reachable_end == set(OrderState)


def test_lifecycle_fills_and_cancel_requests_accepted_from_every_live_state() -> None:
    for state in LIVE_STATES:
        assert TRANSITIONS[(state, E.FILL)] is S.FILLED
        assert TRANSITIONS[(state, E.CANCEL_REQUESTED)] is S.PENDING_CANCEL
        assert TRANSITIONS[(state, E.EXPIRE)] is S.EXPIRED


@pytest.mark.parametrize(
    ("path", "final"),
    [
        ([E.ACK, E.FILL], None),
        ([E.ACK, E.PARTIAL_FILL, E.PARTIAL_FILL, E.FILL], None),
        ([E.REJECT], None),
        ([E.ACK, E.CANCEL_REQUESTED, E.CANCEL], None),
        ([E.CANCEL_REQUESTED, E.ACK, E.CANCEL], None),
        ([E.ACK, E.PARTIAL_FILL, E.CANCEL_REQUESTED, E.PARTIAL_FILL, E.FILL], None),
        ([E.ACK, E.EXPIRE], None),
        ([E.ACK, E.CANCEL_REQUESTED, E.EXPIRE], None),
        ([E.PARTIAL_FILL, E.ACK], "illegal"),  # a partially filled order cannot be acked again
        ([E.ACK, E.ACK], "illegal"),
        ([E.ACK], S.OPEN),
        ([E.ACK, E.PARTIAL_FILL], S.PARTIALLY_FILLED),
        ([E.ACK, E.CANCEL_REQUESTED, E.PARTIAL_FILL], S.PENDING_CANCEL),
    ],
)
def test_lifecycle_paths_through_apply_event(path: list[OrderEvent], final: OrderState | str | None) -> None:
    state = _state(_order())
    filled = 0
    try:
        for event in path:
            if event is E.PARTIAL_FILL:
                filled += 20_000_000
            state = apply_event(state, OrderUpdate(7, event, filled if event is E.PARTIAL_FILL else 0))
    except IllegalTransition as exc:
        assert final == "illegal"
        assert isinstance(exc.resync_state, ConnectorState)
        assert exc.resync_state.needs_resync
        return
    assert final != "illegal"
    order = state.order(7)
    if final is None:
        assert order is None  # terminal: the order is forgotten and its id is free
    else:
        assert order is not None
        assert order.state is final
        assert order.filled_base == filled


def test_apply_event_when_order_unknown_then_raises_and_requests_resync() -> None:
    state = _state(_order(uid=7))
    with pytest.raises(IllegalTransition) as info:
        apply_event(state, OrderUpdate(8, E.ACK))
    assert info.value.state is None
    resynced = info.value.resync_state
    assert isinstance(resynced, ConnectorState)
    assert resynced.needs_resync
    assert "8" in resynced.resync_reason
    assert resynced.orders == state.orders


def test_apply_event_when_partial_fill_shrinks_or_overflows_then_illegal() -> None:
    state = apply_event(_state(_order(state=S.OPEN)), OrderUpdate(7, E.PARTIAL_FILL, 50_000_000))
    with pytest.raises(IllegalTransition):
        apply_event(state, OrderUpdate(7, E.PARTIAL_FILL, 40_000_000))
    with pytest.raises(IllegalTransition):
        apply_event(state, OrderUpdate(7, E.PARTIAL_FILL, 100_000_000))  # that is a FILL
    with pytest.raises(IllegalTransition):
        apply_event(state, OrderUpdate(7, E.FILL, 90_000_000))


def test_apply_event_when_event_after_terminal_then_unknown_order() -> None:
    state = apply_event(_state(_order(state=S.OPEN)), OrderUpdate(7, E.FILL))
    assert state.orders == ()
    with pytest.raises(IllegalTransition):
        apply_event(state, OrderUpdate(7, E.FILL))
