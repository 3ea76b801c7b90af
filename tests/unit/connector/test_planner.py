"""Planner behaviour: requote minimality, TTL, verdict handling, ramp-in, ids, resync, venue limits."""

from __future__ import annotations

import msgspec
import pytest

from botrunner.connector import (
    CancelAndPlace,
    CancelOrders,
    ConnectorState,
    MarketQuote,
    OrderEvent,
    OrderState,
    OrderUpdate,
    PlaceOrders,
    PlanReason,
    PlanResult,
    QuoteError,
    WorkingOrder,
    apply_event,
    plan,
    request_resync,
    resync,
)
from botrunner.connector.commands import cancelled_ids, placed_orders
from botrunner.core.directive import ExecutionDirective
from botrunner.core.intents import ExposureBand, LadderLevel
from botrunner.core.policy import ExecutionPolicy, PostOnlyMode, RampInPolicy
from botrunner.core.side import Side
from botrunner.core.verdict import RiskAction, Verdict
from governors.execution import decide
from tests.support.connector import PRICE_150, R1_POLICY, SOL, SOL_1, ack_all

BAND5 = ExposureBand(-5 * SOL_1, 5 * SOL_1, 0)
TENTH = SOL_1 // 10
T0 = 1_700_000_000


def _quote(mark: int = PRICE_150, spread_ticks: int = 1) -> MarketQuote:
    return MarketQuote(
        mark_price=mark,
        oracle_price=mark,
        best_bid=mark - spread_ticks * SOL.tick_size,
        best_ask=mark + spread_ticks * SOL.tick_size,
    )


def _directive(action: RiskAction = RiskAction.APPROVE, band: ExposureBand = BAND5, pos: int = 0) -> ExecutionDirective:
    return decide(Verdict(action, band), pos)


def _plan(
    state: ConnectorState,
    *,
    pos: int = 0,
    now: int = T0,
    quote: MarketQuote | None = None,
    directive: ExecutionDirective | None = None,
    policy: ExecutionPolicy = R1_POLICY,
    levels: tuple[LadderLevel, ...] = (),
) -> PlanResult:
    return plan(
        state,
        directive=directive or _directive(pos=pos),
        policy=policy,
        market=SOL,
        quote=quote or _quote(),
        position_base=pos,
        now=now,
        levels=levels,
    )


_placed = placed_orders
_cancelled = cancelled_ids


def _working(state: ConnectorState) -> list[WorkingOrder]:
    return [o for o in state.orders if o.state is not OrderState.PENDING_CANCEL]


def _fill(state: ConnectorState, uid: int) -> tuple[ConnectorState, int]:
    """Fill an order completely; return the new state and the signed base traded."""
    order = state.order(uid)
    assert order is not None
    return apply_event(state, OrderUpdate(uid, OrderEvent.FILL)), order.side.sign * order.remaining_base


def _live_ladder() -> ConnectorState:
    first = _plan(ConnectorState.initial(T0 - 10_000))
    return ack_all(first.state, first.commands)


def test_planner_when_flat_and_no_orders_then_places_full_ladder_with_expiry() -> None:
    result = _plan(ConnectorState.initial(T0 - 10_000))
    assert len(result.commands) == 1
    cmd = result.commands[0]
    assert isinstance(cmd, PlaceOrders)
    assert cmd.reason is PlanReason.LADDER_EMPTY
    assert [o.user_order_id for o in cmd.orders] == list(range(1, 11))
    assert all(o.max_ts == T0 + R1_POLICY.ttl_s and o.placed_at == T0 for o in cmd.orders)
    assert all(o.anchor_price == PRICE_150 for o in cmd.orders)
    assert {o.state for o in result.state.orders} == {OrderState.PENDING_NEW}


def test_planner_when_nothing_changes_then_no_commands_before_and_after_acks() -> None:
    first = _plan(ConnectorState.initial(T0 - 10_000))
    assert _plan(first.state).commands == ()
    acked = ack_all(first.state, first.commands)
    assert _plan(acked).commands == ()
    assert _plan(acked, now=T0 + 100).commands == ()


def test_planner_when_mark_moves_less_than_threshold_then_keeps_ladder() -> None:
    state = _live_ladder()
    assert _plan(state, quote=_quote(PRICE_150 + 149_000)).commands == ()  # 9.9 bps


def test_planner_when_mark_moves_threshold_then_one_atomic_cancel_and_place() -> None:
    state = _live_ladder()
    result = _plan(state, quote=_quote(PRICE_150 + 150_000))  # exactly 10 bps
    (cmd,) = result.commands
    assert isinstance(cmd, CancelAndPlace)
    assert cmd.reason is PlanReason.REQUOTE_PRICE_MOVED
    assert sorted(cmd.cancel_ids) == list(range(1, 11))
    assert [o.user_order_id for o in cmd.orders] == list(range(11, 21))
    assert all(o.anchor_price == PRICE_150 + 150_000 for o in cmd.orders)


def test_planner_when_ttl_reached_then_requotes_with_ttl_reason() -> None:
    state = _live_ladder()
    assert _plan(state, now=T0 + R1_POLICY.ttl_s - 1).commands == ()
    (cmd,) = _plan(state, now=T0 + R1_POLICY.ttl_s).commands
    assert isinstance(cmd, CancelAndPlace)
    assert cmd.reason is PlanReason.TTL_EXPIRED
    assert len(cmd.cancel_ids) == 10 and len(cmd.orders) == 10


def test_planner_when_own_rungs_fill_then_no_requote_until_ladder_empty() -> None:
    state = _live_ladder()
    pos = 0
    bids = [o.user_order_id for o in state.orders if o.side is Side.BUY]
    for uid in bids:
        state, traded = _fill(state, uid)
        pos += traded
        assert _plan(state, pos=pos).commands == ()
    asks = [o.user_order_id for o in state.orders]
    for uid in asks[:-1]:
        state, traded = _fill(state, uid)
        pos += traded
        assert _plan(state, pos=pos).commands == ()
    state, traded = _fill(state, asks[-1])
    pos += traded
    (cmd,) = _plan(state, pos=pos).commands
    assert isinstance(cmd, PlaceOrders) and cmd.reason is PlanReason.LADDER_EMPTY


def test_planner_when_position_changes_outside_our_fills_then_replaces_only_affected_rungs() -> None:
    state = _live_ladder()
    pos = 5 * SOL_1 - 150_000_000  # e.g. a manual trade: 4.85 long, room for 0.15 of bids
    (cmd,) = _plan(state, pos=pos).commands
    assert isinstance(cmd, CancelAndPlace)
    assert cmd.reason is PlanReason.POSITION_CHANGED
    bids = sorted(o.user_order_id for o in state.orders if o.side is Side.BUY)
    assert sorted(cmd.cancel_ids) == bids[1:]  # bid 1 still fits; bids 2..5 go
    assert [(o.side, o.base) for o in cmd.orders] == [(Side.BUY, 50_000_000)]  # the partial second rung


def test_planner_when_band_clamped_then_band_changed_and_nothing_outside_new_band() -> None:
    state = _live_ladder()
    clamped = ExposureBand(-250_000_000, 250_000_000, 0)
    result = _plan(state, directive=_directive(RiskAction.CLAMP, clamped))
    (cmd,) = result.commands
    assert cmd.reason is PlanReason.BAND_CHANGED
    assert len(_cancelled(cmd)) == 6  # rungs 3..5 both sides
    working = _working(result.state)
    assert sum(o.base for o in working if o.side is Side.BUY) == 250_000_000
    assert sum(o.base for o in working if o.side is Side.SELL) == 250_000_000


def test_planner_when_pause_then_cancels_everything_and_places_nothing() -> None:
    state = _live_ladder()
    halt = _directive(RiskAction.PAUSE)
    result = _plan(state, directive=halt, pos=SOL_1)
    (cmd,) = result.commands
    assert isinstance(cmd, CancelOrders)
    assert cmd.reason is PlanReason.VERDICT_PAUSE
    assert sorted(cmd.user_order_ids) == list(range(1, 11))
    assert _working(result.state) == []
    assert _plan(result.state, directive=halt, pos=SOL_1).commands == ()


def test_planner_when_reduce_only_while_long_then_purges_and_keeps_only_reduce_only_asks() -> None:
    state = _live_ladder()
    pos = 300_000_000
    result = _plan(state, directive=_directive(RiskAction.REDUCE_ONLY, pos=pos), pos=pos)
    (cmd,) = result.commands
    assert isinstance(cmd, CancelAndPlace)
    assert cmd.reason is PlanReason.REDUCE_ONLY_PURGE
    assert len(cmd.cancel_ids) == 10
    assert all(o.side is Side.SELL and o.reduce_only for o in cmd.orders)
    assert sum(o.base for o in cmd.orders) == pos


def test_planner_when_reduce_only_and_flat_then_no_orders() -> None:
    state = _live_ladder()
    result = _plan(state, directive=_directive(RiskAction.REDUCE_ONLY))
    (cmd,) = result.commands
    assert isinstance(cmd, CancelOrders)
    assert _working(result.state) == []
    assert _plan(result.state, directive=_directive(RiskAction.REDUCE_ONLY)).commands == ()


def test_planner_when_liquidation_defence_then_crossing_reduce_only_order_from_oracle() -> None:
    state = _live_ladder()
    pos = -2 * SOL_1
    directive = decide(Verdict(RiskAction.REDUCE_ONLY, BAND5), pos, liquidation_defence=True)
    quote = MarketQuote(mark_price=PRICE_150, oracle_price=PRICE_150 - 1_000_000, best_bid=None, best_ask=PRICE_150)
    (cmd,) = _plan(state, directive=directive, pos=pos, quote=quote).commands
    assert cmd.reason is PlanReason.LIQUIDATION_DEFENCE
    (order,) = _placed(cmd)
    assert order.side is Side.BUY and order.reduce_only and order.post_only is PostOnlyMode.NONE
    assert order.base == 2 * SOL_1
    assert order.price == SOL.round_price_down(149_000_000 * 10_030 // 10_000)


def test_planner_when_position_outside_band_then_exposure_reduction() -> None:
    pos = 6 * SOL_1
    result = _plan(ConnectorState.initial(T0), directive=_directive(pos=pos), pos=pos)
    (cmd,) = result.commands
    assert cmd.reason is PlanReason.EXPOSURE_REDUCTION
    orders = _placed(cmd)
    assert all(o.side is Side.SELL for o in orders)
    assert orders[0].base == SOL_1 and orders[0].reduce_only


def test_planner_cancel_in_flight_ids_never_reused() -> None:
    first = _plan(ConnectorState.initial(T0 - 10_000))
    state = first.state
    seen_reserved: set[int] = {o.user_order_id for o in state.orders}
    mark = PRICE_150
    for _ in range(30):  # 30 requotes, no acks at all: every id stays reserved until confirmed
        mark = mark * 10_011 // 10_000
        result = _plan(state, quote=_quote(mark))
        if not result.commands:
            break
        new_ids = {o.user_order_id for o in _placed(result.commands[0])}
        assert not new_ids & {o.user_order_id for o in state.orders}
        in_flight = sum(1 for o in state.orders if o.state is OrderState.PENDING_CANCEL)
        assert not new_ids or in_flight + len(new_ids) <= 32  # even if no earlier cancel has landed
        assert not new_ids & seen_reserved  # no id comes back while its order's cancel is unconfirmed
        seen_reserved |= new_ids
        state = result.state
    assert len({o.user_order_id for o in state.orders}) == len(state.orders)


def test_planner_after_id_wraparound_skips_ids_whose_cancel_is_in_flight() -> None:
    in_flight = tuple(
        WorkingOrder(
            user_order_id=uid,
            side=Side.BUY,
            price=140_000_000,
            base=TENTH,
            post_only=PostOnlyMode.MUST_POST_ONLY,
            reduce_only=False,
            max_ts=T0 + 100,
            placed_at=T0 - 100,
            anchor_price=0,
            state=OrderState.PENDING_CANCEL,
        )
        for uid in (1, 2, 4)
    )
    state = ConnectorState(started_at=T0 - 10_000, orders=in_flight, id_cursor=254)
    (cmd,) = _plan(state).commands
    assert [o.user_order_id for o in _placed(cmd)] == [255, 3, 5, 6, 7, 8, 9, 10, 11, 12]


def test_planner_when_resync_needed_then_plans_nothing_and_resync_cancels_adopted_orders_atomically() -> None:
    state = request_resync(_live_ladder(), "tx failed")
    assert _plan(state, quote=_quote(PRICE_150 * 2)).commands == ()
    venue = [
        msgspec.structs.replace(o, state=OrderState.OPEN, user_order_id=o.user_order_id + 100) for o in state.orders[:3]
    ]
    adopted = resync(state, venue)
    assert not adopted.needs_resync and adopted.ladder is None
    (cmd,) = _plan(adopted).commands
    assert isinstance(cmd, CancelAndPlace)
    assert sorted(cmd.cancel_ids) == [101, 102, 103]
    assert len(cmd.orders) == 10
    assert not {o.user_order_id for o in cmd.orders} & {101, 102, 103}


def test_planner_ramp_in_grows_worked_band_and_places_added_rungs() -> None:
    policy = msgspec.structs.replace(R1_POLICY, ramp_in=RampInPolicy(duration_s=600, initial_fraction_bps=1_000))
    band = ExposureBand(-SOL_1, SOL_1, 0)
    start = ConnectorState.initial(T0)
    first = _plan(start, policy=policy, directive=_directive(band=band))
    (cmd,) = first.commands
    assert [(o.side, o.base) for o in _placed(cmd)] == [(Side.BUY, TENTH), (Side.SELL, TENTH)]  # 10 % of ±1
    state = ack_all(first.state, first.commands)
    assert _plan(state, policy=policy, directive=_directive(band=band), now=T0 + 30).commands == ()
    grown = _plan(state, policy=policy, directive=_directive(band=band), now=T0 + 300)
    (cmd,) = grown.commands
    assert isinstance(cmd, PlaceOrders)
    assert cmd.reason is PlanReason.RAMP_IN
    assert len(cmd.orders) == 8  # ±0.55 worked: all 5 rungs a side fit now
    later = ack_all(grown.state, grown.commands)
    assert _plan(later, policy=policy, directive=_directive(band=band), now=T0 + 900).commands == ()


def test_planner_post_only_never_sends_crossing_rungs_and_does_not_churn() -> None:
    wide_cross = MarketQuote(mark_price=PRICE_150, oracle_price=PRICE_150, best_bid=150_500_000, best_ask=149_500_000)
    result = _plan(ConnectorState.initial(T0 - 10_000), quote=wide_cross)
    orders = _placed(result.commands[0])
    assert len(orders) == 8
    assert all(o.price < 149_500_000 for o in orders if o.side is Side.BUY)
    assert all(o.price > 150_500_000 for o in orders if o.side is Side.SELL)
    assert _plan(ack_all(result.state, result.commands), quote=wide_cross).commands == ()


def test_planner_when_requote_at_old_anchor_would_leave_nothing_working_then_rebuilds_in_the_same_step() -> None:
    # Regression (found by Hypothesis): an outside trade re-sizes the reducing rung at the ladder's old anchor, where
    # the book has since moved onto it (post-only would cross). The step used to cancel the old rung and place
    # nothing, so the NEXT plan, with no new event, rebuilt the now empty ladder (ladder_empty): not idempotent.
    policy = msgspec.structs.replace(R1_POLICY, step_bps=5)  # rungs 5 bps out, requote at 10 bps
    flat = ExposureBand(0, 0, 0)
    pos = -2 * SOL_1  # short, outside the flat band: REDUCE works one reduce-only bid
    first = _plan(ConnectorState.initial(T0), pos=pos, directive=_directive(band=flat, pos=pos), policy=policy)
    (cmd,) = first.commands
    assert cmd.reason is PlanReason.EXPOSURE_REDUCTION
    (old,) = _placed(cmd)
    assert old.side is Side.BUY and old.price == 149_925_000 and old.base == 2 * SOL_1
    state = ack_all(first.state, first.commands)

    pos = -SOL_1  # an outside trade bought back half
    mark = PRICE_150 * 9_991 // 10_000  # 9 bps down: below the requote threshold, the ladder keeps its anchor
    quote = _quote(mark)  # best ask 149.8651 <= 149.925: the re-sized rung at the old anchor would cross
    directive = _directive(band=flat, pos=pos)
    result = _plan(state, pos=pos, quote=quote, directive=directive, policy=policy)
    (cmd,) = result.commands
    assert isinstance(cmd, CancelAndPlace)  # one atomic step: nothing is left for the next plan to do
    assert cmd.reason is PlanReason.POSITION_CHANGED
    assert cmd.cancel_ids == (old.user_order_id,)
    (new,) = cmd.orders
    assert (new.side, new.base, new.reduce_only) == (Side.BUY, SOL_1, True)
    assert new.anchor_price == mark and new.price == SOL.round_price_down(mark * 9_995 // 10_000) < mark
    assert _plan(result.state, pos=pos, quote=quote, directive=directive, policy=policy).commands == ()
    acked = ack_all(result.state, result.commands)
    assert _plan(acked, pos=pos, quote=quote, directive=directive, policy=policy).commands == ()


def test_planner_when_strategy_gives_forty_levels_then_never_more_than_32_orders() -> None:
    levels = tuple(
        LadderLevel(price=PRICE_150 - (k + 1) * 100_000, side=Side.BUY, base=10_000_000) for k in range(20)
    ) + tuple(LadderLevel(price=PRICE_150 + (k + 1) * 100_000, side=Side.SELL, base=10_000_000) for k in range(20))
    result = _plan(ConnectorState.initial(T0 - 10_000), levels=levels)
    assert len(_placed(result.commands[0])) == 32
    # the 8 dropped are the farthest rungs
    prices = {o.price for o in _placed(result.commands[0])}
    assert PRICE_150 - 100_000 in prices and PRICE_150 - 20 * 100_000 not in prices


def test_planner_when_levels_change_then_levels_changed_reason() -> None:
    levels = (LadderLevel(price=149_000_000, side=Side.BUY, base=TENTH),)
    first = _plan(ConnectorState.initial(T0 - 10_000), levels=levels)
    state = ack_all(first.state, first.commands)
    assert _plan(state, levels=levels).commands == ()
    moved = (LadderLevel(price=148_000_000, side=Side.BUY, base=TENTH),)
    (cmd,) = _plan(state, levels=moved).commands
    assert cmd.reason is PlanReason.LEVELS_CHANGED
    assert len(_cancelled(cmd)) == 1 and _placed(cmd)[0].price == 148_000_000


def test_market_quote_rejects_impossible_prices() -> None:
    with pytest.raises(QuoteError, match="mark_price"):
        MarketQuote(mark_price=0, oracle_price=1)
    with pytest.raises(QuoteError, match="best_ask"):
        MarketQuote(mark_price=1, oracle_price=1, best_ask=-5)


def test_planner_when_several_reasons_hold_then_the_first_rule_of_the_table_names_the_command() -> None:
    state = _live_ladder()
    # expired AND the mark moved 20 bps: the TTL rule comes first
    (cmd,) = _plan(state, now=T0 + R1_POLICY.ttl_s, quote=_quote(PRICE_150 + 300_000)).commands
    assert cmd.reason is PlanReason.TTL_EXPIRED
    # the band AND the levels changed: the band rule comes first
    levels = (LadderLevel(price=149_000_000, side=Side.BUY, base=TENTH),)
    narrower = ExposureBand(-SOL_1 // 10, SOL_1 // 10, 0)
    (cmd,) = _plan(state, directive=_directive(band=narrower), levels=levels).commands
    assert cmd.reason is PlanReason.BAND_CHANGED
