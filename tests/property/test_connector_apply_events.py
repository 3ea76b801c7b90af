"""``apply_events`` (the session's one-pass batch) is ``apply_event`` folded over the updates: the same state, or
the same ``IllegalTransition`` with the same ``resync_state``, for any order set and any update sequence."""

from __future__ import annotations

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from botrunner.connector import (
    TERMINAL_STATES,
    TRANSITIONS,
    ConnectorState,
    IllegalTransition,
    LadderMemo,
    OrderEvent,
    OrderState,
    OrderUpdate,
    WorkingOrder,
    apply_event,
    apply_events,
)
from botrunner.core.directive import ExecutionMode
from botrunner.core.intents import ExposureBand
from botrunner.core.policy import ExecutionPolicy, PostOnlyMode
from botrunner.core.side import Side

BASE = 300_000_000


def _order(uid: int, state: OrderState, filled: int, side: Side, generation: int) -> WorkingOrder:
    return WorkingOrder(
        user_order_id=uid,
        side=side,
        price=149_000_000,
        base=BASE,
        post_only=PostOnlyMode.MUST_POST_ONLY,
        reduce_only=False,
        max_ts=4_000,
        placed_at=400,
        anchor_price=150_000_000,
        state=state,
        filled_base=filled,
        generation=generation,
    )


LIVE = [s for s in OrderState if s not in TERMINAL_STATES]


@st.composite
def states(draw: st.DrawFn) -> ConnectorState:
    uids = draw(st.lists(st.integers(1, 12), max_size=8, unique=True))
    if uids and draw(st.integers(0, 9)) == 0:
        uids.append(uids[0])  # now and then a duplicate id (never built by the connector): the lookups must hold
    orders = tuple(
        _order(
            uid,
            draw(st.sampled_from(LIVE)),
            draw(st.sampled_from([0, BASE // 3])),
            draw(st.sampled_from(Side)),
            draw(st.integers(1, 2)),
        )
        for uid in uids
    )
    band = ExposureBand(-BASE, BASE, 0)
    ladder = (
        None
        if draw(st.booleans())
        else LadderMemo(
            generation=1,
            anchor=150_000_000,
            mode=ExecutionMode.GRID,
            urgent=False,
            band=band,
            worked_band=band,
            position_base=0,
            levels=(),
            policy=ExecutionPolicy(),
            rungs=(),
            fills_base=draw(st.integers(-BASE, BASE)),
        )
    )
    return ConnectorState(started_at=0, orders=orders, ladder=ladder)


@st.composite
def batches(draw: st.DrawFn, state: ConnectorState) -> list[OrderUpdate]:
    """Updates mostly for tracked orders and mostly legal from the order's state when drawn (so long runs go
    through), with unknown ids, illegal events and impossible fill sizes mixed in."""
    out: list[OrderUpdate] = []
    for _ in range(draw(st.integers(0, 12))):
        tracked = bool(state.orders) and draw(st.integers(0, 9)) > 0
        order = draw(st.sampled_from(state.orders)) if tracked else None
        uid = order.user_order_id if order is not None else draw(st.integers(1, 13))
        legal = [e for (s, e) in TRANSITIONS if order is not None and s is order.state]
        if legal and draw(st.integers(0, 5)) > 0:
            event = draw(st.sampled_from(legal))
        else:
            event = draw(st.sampled_from(OrderEvent))
        filled = draw(st.sampled_from([0, BASE // 3, 2 * BASE // 3, BASE, BASE + 1]))
        out.append(OrderUpdate(uid, event, filled))
    return out


def _fold(state: ConnectorState, batch: list[OrderUpdate]) -> ConnectorState | IllegalTransition:
    try:
        for update in batch:
            state = apply_event(state, update)
    except IllegalTransition as exc:
        return exc
    return state


@settings(max_examples=600, deadline=None)
@given(st.data())
def test_apply_events_equals_apply_event_folded_over_the_updates(data: st.DataObject) -> None:
    state = data.draw(states())
    batch = data.draw(batches(state))
    expected = _fold(state, batch)
    try:
        got: ConnectorState | IllegalTransition = apply_events(state, batch)
    except IllegalTransition as exc:
        got = exc
    if isinstance(expected, IllegalTransition):
        assert isinstance(got, IllegalTransition)
        assert str(got) == str(expected)
        assert msgspec.json.encode(got.resync_state) == msgspec.json.encode(expected.resync_state)
    else:
        assert isinstance(got, ConnectorState)
        assert msgspec.json.encode(got) == msgspec.json.encode(expected)
