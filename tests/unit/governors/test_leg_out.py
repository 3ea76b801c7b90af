"""governors.leg_out: the named paths of one pair execution (harder leg first, follow, hedge, unwind, stuck) and the
idempotent close."""

from __future__ import annotations

import pytest

from botrunner.core.side import Side
from governors.leg_out import (
    ArbLeg,
    Cancelled,
    CancelOrder,
    ExitGuard,
    Filled,
    Finished,
    LegOut,
    LegOutConfig,
    OrderKind,
    Outcome,
    PairExecution,
    PlaceOrder,
    Rejected,
    Tick,
)

STEP = 10_000_000
USD = 10**6
SOL = 10**9


def _open(bound_ms: int = 500, size: int = SOL) -> PairExecution:
    return PairExecution(
        LegOutConfig(bound_ms=bound_ms, step_base=STEP),
        drift_side=Side.BUY,
        drift_size=0,
        external_size=0,
        target=size,
        drift_price=150 * USD,
        external_price=151 * USD,
        first_order_id=1,
    )


def test_the_drift_leg_goes_first_and_the_external_follows_its_fills() -> None:
    ex = _open()
    (first,) = ex.start(0)
    assert isinstance(first, PlaceOrder)
    assert (first.leg, first.side, first.base, first.kind) == (ArbLeg.DRIFT, Side.BUY, SOL, OrderKind.LIMIT)
    (follow,) = ex.on_event(Filled(1, SOL // 4, 150 * USD, 10))  # a partial fill: the external leg follows it
    assert isinstance(follow, PlaceOrder)
    assert (follow.leg, follow.side, follow.base) == (ArbLeg.EXTERNAL, Side.SELL, SOL // 4)
    (more,) = ex.on_event(Filled(1, 3 * SOL // 4, 150 * USD, 20))
    assert isinstance(more, PlaceOrder) and more.base == 3 * SOL // 4
    assert ex.on_event(Filled(2, SOL // 4, 151 * USD, 30)) == []
    (done,) = ex.on_event(Filled(3, 3 * SOL // 4, 151 * USD, 40))
    assert done == Finished(Outcome.COMPLETED, SOL, SOL, 40)


def test_a_drift_leg_that_fills_nothing_in_its_window_is_cancelled_and_the_entry_abandoned() -> None:
    ex = _open()
    ex.start(0)
    assert ex.wake_at_ms() == 2_000  # the Drift leg's own window (nothing is naked while it waits)
    assert ex.on_event(Tick(1_999)) == []
    assert ex.on_event(Tick(2_000)) == [CancelOrder(1, ArbLeg.DRIFT)]
    assert ex.on_event(Cancelled(1, 2_020)) == [Finished(Outcome.ABANDONED, 0, 0, 2_020)]


def test_an_external_leg_that_does_not_fill_within_the_bound_is_hedged_at_market_with_a_leg_out_record() -> None:
    ex = _open(bound_ms=300)
    ex.start(0)
    ex.on_event(Filled(1, SOL, 150 * USD, 100))  # naked from t=100
    assert ex.wake_at_ms() == 400
    assert ex.on_event(Tick(399)) == []
    cancel, hedge = ex.on_event(Tick(400))
    assert cancel == CancelOrder(2, ArbLeg.EXTERNAL)
    assert isinstance(hedge, PlaceOrder)
    assert (hedge.leg, hedge.kind, hedge.side, hedge.base) == (ArbLeg.EXTERNAL, OrderKind.MARKET, Side.SELL, SOL)
    (leg_out,) = ex.on_event(Filled(3, SOL, 150 * USD, 400))  # sold 1 USD below the planned 151
    assert leg_out == LegOut(
        ahead=ArbLeg.DRIFT,
        hedged_on=ArbLeg.EXTERNAL,
        naked_since_ms=100,
        at_ms=400,
        base=SOL,
        hedge_price=150 * USD,
        reference_price=151 * USD,
        loss_quote=USD,
    )
    assert ex.on_event(Cancelled(2, 410)) == [Finished(Outcome.HEDGED, SOL, SOL, 410)]


def test_a_refused_hedge_unwinds_the_drift_leg_and_refusals_beyond_the_limit_stop_the_machine() -> None:
    ex = _open(bound_ms=100)
    ex.start(0)
    ex.on_event(Filled(1, SOL, 150 * USD, 0))
    _, hedge = ex.on_event(Tick(100))
    assert isinstance(hedge, PlaceOrder) and hedge.kind is OrderKind.MARKET
    (unwind,) = ex.on_event(Rejected(hedge.order_id, 100))
    assert isinstance(unwind, PlaceOrder)
    assert (unwind.leg, unwind.side, unwind.base, unwind.reduce_only) == (ArbLeg.DRIFT, Side.SELL, SOL, True)
    leg_out, *_ = ex.on_event(Filled(unwind.order_id, SOL, 149 * USD, 100))
    assert isinstance(leg_out, LegOut) and leg_out.hedged_on is ArbLeg.DRIFT and leg_out.loss_quote == 1 * USD
    assert ex.on_event(Cancelled(2, 120))[-1] == Finished(Outcome.UNWOUND, 0, 0, 120)

    stuck = PairExecution(
        LegOutConfig(bound_ms=100, step_base=STEP, max_market_rejects=2),
        drift_side=Side.SELL,
        drift_size=0,
        external_size=0,
        target=SOL,
        drift_price=150 * USD,
        external_price=151 * USD,
        first_order_id=1,
    )
    stuck.start(0)
    stuck.on_event(Filled(1, SOL, 150 * USD, 0))
    _, first = stuck.on_event(Tick(100))
    assert isinstance(first, PlaceOrder)
    (second,) = stuck.on_event(Rejected(first.order_id, 100))
    assert isinstance(second, PlaceOrder)
    assert stuck.on_event(Rejected(second.order_id, 100)) == [Finished(Outcome.STUCK, SOL, 0, 100)]


def test_a_close_moves_both_legs_down_drift_first() -> None:
    ex = PairExecution(
        LegOutConfig(),
        drift_side=Side.SELL,
        drift_size=SOL,
        external_size=SOL,
        target=0,
        drift_price=150 * USD,
        external_price=151 * USD,
        first_order_id=7,
    )
    (first,) = ex.start(0)
    assert isinstance(first, PlaceOrder)
    assert (first.order_id, first.leg, first.side, first.reduce_only) == (7, ArbLeg.DRIFT, Side.BUY, True)
    (follow,) = ex.on_event(Filled(7, SOL, 150 * USD, 5))
    assert isinstance(follow, PlaceOrder)
    assert (follow.leg, follow.side, follow.reduce_only) == (ArbLeg.EXTERNAL, Side.SELL, True)


def test_a_close_in_flight_is_never_doubled() -> None:
    guard = ExitGuard()
    first = _open()
    assert guard.begin(first, 0)
    assert guard.busy
    assert guard.begin(_open(), 1) == []  # the second request sends nothing
    first.on_event(Tick(2_000))
    first.on_event(Cancelled(1, 2_001))
    assert not guard.busy
    assert guard.begin(_open(), 2_100)


def test_bad_inputs_are_refused() -> None:
    ex = _open()
    ex.start(0)
    with pytest.raises(ValueError, match="not open"):
        ex.on_event(Filled(99, SOL, 1, 0))
    with pytest.raises(ValueError, match="unfilled rest"):
        ex.on_event(Filled(1, 2 * SOL, 1, 0))
    with pytest.raises(ValueError, match="bound_ms"):
        LegOutConfig(bound_ms=0).validate()
