"""Unit tests of the paper venue (``botrunner.paper.venue.PaperVenue``) on the real SOL-PERP spec: every order
rejection path, maker and taker fills, fees, the per-bar volume share, expiry, reduce-only clipping, funding,
PnL settlement, withdrawals and liquidation.
"""

from __future__ import annotations

from typing import TypeVar

import msgspec
import pytest

from botrunner.connector.commands import CancelAndPlace, CancelOrders, PlaceOrders, PlanReason
from botrunner.connector.orders import OrderIntent, OrderType
from botrunner.core.catalogue import load_catalogue
from botrunner.core.fixed import ceil_div
from botrunner.core.markets import PerpMarketSpec
from botrunner.core.policy import PostOnlyMode
from botrunner.core.precision import (
    BASE_PRECISION,
    BPS_PRECISION,
    LIQUIDATION_FEE_PRECISION,
    PRICE_PRECISION,
    QUOTE_PRECISION,
    QUOTE_SPOT_MARKET_INDEX,
)
from botrunner.core.side import Side
from botrunner.funding import funding_payment
from botrunner.paper.config import PaperConfig, slippage_bps
from botrunner.paper.fees import FeeSchedule, fill_fee
from botrunner.paper.venue import PaperVenue
from botrunner.venue.port import (
    BalanceChanged,
    CancelReason,
    CommandRejected,
    Deposit,
    Fill,
    FundingPaid,
    Liquidated,
    Liquidity,
    ModifyOrder,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderRejected,
    PnlSettled,
    RejectReason,
    SettlePnl,
    VenueEvent,
    Withdraw,
)

SOL = load_catalogue().perp("SOL-PERP")  # tick 0.0001 USD, step = minimum size = 0.01 SOL
TICK = SOL.tick_size
STEP = SOL.step_size
SOL_1 = BASE_PRECISION
USD = PRICE_PRECISION
USDC = QUOTE_PRECISION
P150 = 150 * USD
T0 = 1_000
FAR = T0 + 10**6  # a max_ts no test reaches
E = TypeVar("E")


def intent(
    uid: int,
    side: Side,
    price: int,
    base: int = SOL_1,
    *,
    post_only: PostOnlyMode = PostOnlyMode.MUST_POST_ONLY,
    reduce_only: bool = False,
    max_ts: int = FAR,
    placed_at: int = T0,
    order_type: OrderType = OrderType.LIMIT,
) -> OrderIntent:
    """An order intent; by default it expires long after every test (the connector always sets a ``max_ts``)."""
    return OrderIntent(
        user_order_id=uid,
        side=side,
        price=price,
        base=base,
        post_only=post_only,
        reduce_only=reduce_only,
        max_ts=max_ts,
        placed_at=placed_at,
        anchor_price=price or P150,
        order_type=order_type,
    )


def market(uid: int, side: Side, base: int, *, price: int = 0, reduce_only: bool = False) -> OrderIntent:
    return intent(
        uid, side, price, base, post_only=PostOnlyMode.NONE, reduce_only=reduce_only, order_type=OrderType.MARKET
    )


def venue(
    *,
    deposit_usdc: int = 10_000,
    price: int = P150,
    config: PaperConfig | None = None,
    spec: PerpMarketSpec = SOL,
) -> PaperVenue:
    return PaperVenue(spec, config or PaperConfig(), deposit_quote=deposit_usdc * USDC, oracle_price=price, now=T0)


def place(v: PaperVenue, *orders: OrderIntent, now: int = T0) -> tuple[VenueEvent, ...]:
    return v.submit(PlaceOrders(orders=orders, reason=PlanReason.LADDER_EMPTY), now)


def only(events: tuple[VenueEvent, ...] | list[VenueEvent], kind: type[E]) -> list[E]:
    return [e for e in events if isinstance(e, kind)]


def rejection(events: tuple[VenueEvent, ...]) -> RejectReason:
    (rejected,) = only(events, OrderRejected)
    assert not only(events, OrderAccepted)
    return rejected.reason


def maker_long(v: PaperVenue, base: int, price: int) -> None:
    """Open a long of ``base`` at exactly ``price`` (a resting bid the path then trades through); one second on."""
    now = v.now
    assert v.on_price(now, price + TICK, price) == []  # the path just above, so the bid rests
    assert only(place(v, intent(200, Side.BUY, price, base), now=now), OrderAccepted)
    fills = only(v.on_price(now + 1, price - TICK, price), Fill)
    assert sum(f.base for f in fills) == base


# ---------------------------------------------------------------------------------------------- rejections


def test_price_not_a_tick_multiple_is_rejected() -> None:
    v = venue()
    assert rejection(place(v, intent(1, Side.BUY, P150 - 10 * USD + TICK // 2))) is RejectReason.PRICE_NOT_TICK_MULTIPLE
    assert v.orders == {}


def test_size_not_a_step_multiple_is_rejected() -> None:
    v = venue()
    assert rejection(place(v, intent(1, Side.BUY, 140 * USD, SOL_1 + STEP // 2))) is RejectReason.SIZE_NOT_STEP_MULTIPLE


def test_size_below_minimum_is_rejected_on_a_market_whose_minimum_exceeds_its_step() -> None:
    # On SOL-PERP the minimum equals the step, so any positive size below it already fails the step check; a market
    # with a minimum of 5 steps is needed to reach this path.
    spec = msgspec.structs.replace(SOL, min_order_size=5 * STEP)
    v = venue(spec=spec)
    assert rejection(place(v, intent(1, Side.BUY, 140 * USD, 4 * STEP))) is RejectReason.SIZE_BELOW_MINIMUM
    assert only(place(v, intent(2, Side.BUY, 140 * USD, 5 * STEP)), OrderAccepted)


def test_the_33rd_open_order_is_rejected_too_many_open_orders() -> None:
    v = venue()
    bids = tuple(intent(uid, Side.BUY, 100 * USD + uid * TICK, STEP) for uid in range(1, 33))
    assert len(only(place(v, *bids), OrderAccepted)) == 32
    assert rejection(place(v, intent(40, Side.SELL, 200 * USD, STEP))) is RejectReason.TOO_MANY_OPEN_ORDERS
    assert len(v.orders) == 32


def test_a_batch_that_would_exceed_32_open_orders_accepts_up_to_32_and_rejects_the_rest() -> None:
    v = venue()
    place(v, *(intent(uid, Side.BUY, 100 * USD + uid * TICK, STEP) for uid in range(1, 21)))
    events = place(v, *(intent(uid, Side.SELL, 200 * USD + uid * TICK, STEP) for uid in range(21, 34)))
    assert [e.user_order_id for e in only(events, OrderAccepted)] == list(range(21, 33))
    assert [(e.user_order_id, e.reason) for e in only(events, OrderRejected)] == [
        (33, RejectReason.TOO_MANY_OPEN_ORDERS)
    ]
    assert len(v.orders) == 32


def test_a_user_order_id_already_open_is_rejected() -> None:
    v = venue()
    place(v, intent(7, Side.BUY, 140 * USD))
    assert rejection(place(v, intent(7, Side.SELL, 160 * USD))) is RejectReason.USER_ORDER_ID_IN_USE
    assert v.orders[7].side is Side.BUY


def test_an_order_whose_max_ts_has_passed_is_rejected_expired_on_arrival() -> None:
    v = venue()
    assert rejection(place(v, intent(1, Side.BUY, 140 * USD, max_ts=T0 - 1, placed_at=T0 - 60))) is (
        RejectReason.EXPIRED_ON_ARRIVAL
    )
    # max_ts == now is still alive (Drift expires only when now > max_ts)
    assert only(place(v, intent(2, Side.BUY, 140 * USD, max_ts=T0, placed_at=T0 - 60)), OrderAccepted)


def test_reduce_only_that_can_only_increase_the_position_is_rejected() -> None:
    v = venue()
    assert rejection(place(v, intent(1, Side.SELL, 160 * USD, reduce_only=True))) is (
        RejectReason.REDUCE_ONLY_INCREASES
    )
    maker_long(v, SOL_1, P150)
    assert rejection(place(v, intent(2, Side.BUY, 140 * USD, reduce_only=True), now=T0 + 1)) is (
        RejectReason.REDUCE_ONLY_INCREASES
    )
    assert only(place(v, intent(3, Side.SELL, 160 * USD, reduce_only=True), now=T0 + 1), OrderAccepted)


@pytest.mark.parametrize(("side", "price"), [(Side.BUY, P150), (Side.BUY, P150 + TICK), (Side.SELL, P150)])
def test_must_post_only_that_crosses_or_touches_is_rejected(side: Side, price: int) -> None:
    v = venue()
    assert rejection(place(v, intent(1, side, price))) is RejectReason.POST_ONLY_WOULD_CROSS
    assert v.orders == {}
    assert v.position.base_asset_amount == 0


def test_try_post_only_that_crosses_is_skipped_without_trading() -> None:
    v = venue()
    events = place(v, intent(1, Side.SELL, P150 - USD, post_only=PostOnlyMode.TRY_POST_ONLY))
    assert rejection(events) is RejectReason.POST_ONLY_SKIPPED
    assert not only(events, Fill)
    assert v.orders == {}


@pytest.mark.parametrize(("side", "expected"), [(Side.BUY, P150 - TICK), (Side.SELL, P150 + TICK)])
def test_slide_post_only_that_crosses_is_repriced_one_tick_behind_the_touch_and_rests(
    side: Side, expected: int
) -> None:
    v = venue()
    crossing = P150 + side.sign * 2 * USD
    events = place(v, intent(1, side, crossing, post_only=PostOnlyMode.SLIDE))
    (accepted,) = only(events, OrderAccepted)
    assert accepted.price == expected
    assert accepted.post_only
    assert not only(events, Fill)
    assert v.orders[1].price == expected


def test_a_slide_order_that_does_not_cross_keeps_its_price() -> None:
    v = venue()
    (accepted,) = only(place(v, intent(1, Side.BUY, 149 * USD, post_only=PostOnlyMode.SLIDE)), OrderAccepted)
    assert accepted.price == 149 * USD


def test_an_order_whose_initial_margin_is_not_covered_is_rejected_insufficient_collateral() -> None:
    v = venue(deposit_usdc=1_000)  # initial margin 5 %: at most ~20x; 25x is refused by Drift's own check
    base = 170 * SOL_1  # 25 500 USD at 150: 25.5x
    assert rejection(place(v, intent(1, Side.BUY, 140 * USD, base))) is RejectReason.INSUFFICIENT_COLLATERAL


def test_the_paper_leverage_cap_rejects_a_15x_order_drift_would_allow() -> None:
    v = venue(deposit_usdc=1_000)
    base_15x = 100 * SOL_1  # 100 SOL at 150 = 15 000 USD = 15x; under Drift's ~20x initial margin
    assert rejection(place(v, intent(1, Side.BUY, 140 * USD, base_15x))) is RejectReason.MAX_LEVERAGE
    assert only(place(v, intent(2, Side.BUY, 140 * USD, 60 * SOL_1)), OrderAccepted)  # 9x worst case


def test_the_leverage_cap_counts_every_open_order_on_the_same_side() -> None:
    v = venue(deposit_usdc=1_000)
    assert only(place(v, intent(1, Side.BUY, 140 * USD, 60 * SOL_1)), OrderAccepted)  # 9x
    assert rejection(place(v, intent(2, Side.BUY, 139 * USD, 10 * SOL_1))) is RejectReason.MAX_LEVERAGE  # 10.5x
    # an ask does not grow the worst-case position (bids dominate), so it passes
    assert only(place(v, intent(3, Side.SELL, 160 * USD, 10 * SOL_1)), OrderAccepted)


def test_cancel_of_an_unknown_id_is_rejected_and_a_known_one_is_cancelled() -> None:
    v = venue()
    place(v, intent(1, Side.BUY, 140 * USD))
    events = v.submit(CancelOrders(user_order_ids=(1, 9), reason=PlanReason.VERDICT_PAUSE), T0)
    assert events == (
        OrderCancelled(ts=T0, user_order_id=1, reason=CancelReason.REQUESTED, filled_base=0),
        OrderRejected(ts=T0, user_order_id=9, reason=RejectReason.UNKNOWN_ORDER, detail="cancel"),
    )
    assert v.orders == {}


def test_cancel_and_place_frees_the_id_before_placing_it_again() -> None:
    v = venue()
    place(v, intent(1, Side.BUY, 140 * USD))
    events = v.submit(
        CancelAndPlace(cancel_ids=(1,), orders=(intent(1, Side.BUY, 141 * USD),), reason=PlanReason.BAND_CHANGED), T0
    )
    assert [type(e) for e in events] == [OrderCancelled, OrderAccepted]
    assert v.orders[1].price == 141 * USD


# ---------------------------------------------------------------------------------------------- maker fills


def test_a_resting_bid_does_not_fill_on_a_touch_with_the_default_trade_through() -> None:
    v = venue()
    place(v, intent(1, Side.BUY, 149 * USD))
    assert v.on_price(T0 + 1, 149 * USD, 149 * USD) == []
    assert 1 in v.orders


def test_a_resting_bid_fills_as_maker_at_its_own_price_when_the_path_trades_one_tick_through() -> None:
    v = venue()
    place(v, intent(1, Side.BUY, 149 * USD, 2 * SOL_1))
    (fill,) = only(v.on_price(T0 + 1, 149 * USD - TICK, 149 * USD), Fill)
    assert (fill.price, fill.base, fill.liquidity, fill.complete) == (149 * USD, 2 * SOL_1, Liquidity.MAKER, True)
    assert fill.quote == -298 * USDC
    assert v.position.base_asset_amount == 2 * SOL_1
    assert v.orders == {}


def test_a_maker_fill_is_at_the_order_price_even_when_the_path_gaps_far_through() -> None:
    v = venue()
    place(v, intent(1, Side.SELL, 151 * USD))
    (fill,) = only(v.on_price(T0 + 1, 160 * USD, 151 * USD), Fill)
    assert fill.price == 151 * USD
    assert fill.liquidity is Liquidity.MAKER


def test_a_resting_ask_needs_the_configured_trade_through_ticks() -> None:
    v = venue(config=PaperConfig(trade_through_ticks=3))
    place(v, intent(1, Side.SELL, 151 * USD))
    assert v.on_price(T0 + 1, 151 * USD + 2 * TICK, 151 * USD) == []
    assert only(v.on_price(T0 + 2, 151 * USD + 3 * TICK, 151 * USD), Fill)


def test_with_zero_trade_through_a_touch_fills_the_bid() -> None:
    v = venue(config=PaperConfig(trade_through_ticks=0))
    place(v, intent(1, Side.BUY, 149 * USD))
    assert v.on_price(T0 + 1, 149 * USD + TICK, 149 * USD) == []
    (fill,) = only(v.on_price(T0 + 2, 149 * USD, 149 * USD), Fill)
    assert fill.price == 149 * USD


def test_maker_fills_go_best_price_first_then_oldest_first() -> None:
    v = venue(deposit_usdc=100_000)
    place(v, intent(1, Side.BUY, 148 * USD, SOL_1), now=T0)
    place(v, intent(2, Side.BUY, 149 * USD, SOL_1), now=T0 + 1)
    place(v, intent(3, Side.BUY, 149 * USD, SOL_1), now=T0 + 2)
    fills = only(v.on_price(T0 + 3, 140 * USD, 140 * USD, bar_ts=T0, bar_volume=25 * SOL_1), Fill)
    # budget 10 % of 25 SOL = 2.5 SOL: both 149 bids (older first), then half of the 148 bid
    assert [(f.user_order_id, f.base) for f in fills] == [(2, SOL_1), (3, SOL_1), (1, SOL_1 // 2)]
    fills_148 = only(v.on_price(T0 + 4, 140 * USD, 140 * USD, bar_ts=T0 + 60, bar_volume=5 * SOL_1), Fill)
    assert [(f.user_order_id, f.base, f.complete) for f in fills_148] == [(1, SOL_1 // 2, True)]


# ---------------------------------------------------------------------------------------------- fees


def test_a_maker_fill_earns_the_rebate_rounded_down_in_magnitude() -> None:
    v = venue()
    price = 123_456_700
    base = 37 * STEP  # 0.37 SOL: notional 45.678979 USD, rebate 0.25 bp = 1141.97 micro -> 1141
    place(v, intent(1, Side.BUY, price, base))
    (fill,) = only(v.on_price(T0 + 1, price - TICK, price), Fill)
    assert fill.quote == -45_678_979
    assert fill.fee == fill_fee(45_678_979, -25) == -1_141
    assert v.ledger.fees == -1_141


def test_fill_fee_rounds_a_taker_fee_up_and_a_rebate_down() -> None:
    assert fill_fee(1_000_001, 400) == 401
    assert fill_fee(1_000_000, 400) == 400
    assert fill_fee(1_000_001, -25) == -25
    assert fill_fee(39_999, -25) == 0
    assert fill_fee(0, 400) == 0
    with pytest.raises(ValueError, match="notional"):
        fill_fee(-1, 400)


def test_a_fee_schedule_whose_rebate_exceeds_the_taker_fee_is_refused() -> None:
    with pytest.raises(ValueError, match="maker_ppm"):
        FeeSchedule(taker_ppm=100, maker_ppm=-101).validate()


# ---------------------------------------------------------------------------------------------- taker fills


def _buy_price_against_taker(touch: int, slip: int) -> int:
    exact_up = ceil_div(touch * (BPS_PRECISION + slip), BPS_PRECISION)
    return ceil_div(exact_up, TICK) * TICK


def _sell_price_against_taker(touch: int, slip: int) -> int:
    return touch * (BPS_PRECISION - slip) // BPS_PRECISION // TICK * TICK


@pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
def test_a_non_post_only_limit_that_crosses_takes_with_slippage_between_min_and_max(side: Side) -> None:
    v = venue()
    events = place(v, intent(1, side, P150 + side.sign * 5 * USD, 2 * SOL_1, post_only=PostOnlyMode.NONE))
    (fill,) = only(events, Fill)
    assert fill.liquidity is Liquidity.TAKER
    slip_paid = (fill.price - P150) * side.sign * BPS_PRECISION
    assert 10 * P150 <= slip_paid <= 30 * P150 + BPS_PRECISION * TICK  # within [min, max] bps, up to one tick
    assert fill.fee == fill_fee(abs(fill.quote), 400)
    assert v.ledger.taker_fills == 1


def test_a_small_market_buy_pays_minimum_slippage_rounded_up_to_the_tick() -> None:
    v = venue()
    (fill,) = only(place(v, market(1, Side.BUY, SOL_1)), Fill)
    slip = slippage_bps(v.config, 150 * USDC)
    assert slip == 11  # 10 bps + the linear size term (150 of 100 000 USD), rounded up
    assert fill.price == _buy_price_against_taker(P150, slip) == 150_165_000


def test_a_market_sell_above_the_full_notional_pays_maximum_slippage_rounded_down_to_the_tick() -> None:
    v = venue(deposit_usdc=1_000_000)
    (fill,) = only(place(v, market(1, Side.SELL, 700 * SOL_1)), Fill)  # 105 000 USD >= 100 000
    assert slippage_bps(v.config, 105_000 * USDC) == 30
    assert fill.price == _sell_price_against_taker(P150, 30) == 149_550_000
    assert fill.base == 700 * SOL_1
    assert v.position.base_asset_amount == -700 * SOL_1


def test_a_market_sell_on_an_odd_touch_rounds_its_price_down_against_the_seller() -> None:
    v = venue(price=150_000_100)
    (fill,) = only(place(v, market(1, Side.SELL, SOL_1)), Fill)
    assert fill.price == _sell_price_against_taker(150_000_100, 11) == 149_835_000


def test_a_market_buy_on_an_odd_touch_rounds_its_price_up_against_the_buyer() -> None:
    v = venue(price=150_000_100)  # exact slipped price 150.16510011 (11 bps)
    (fill,) = only(place(v, market(1, Side.BUY, SOL_1)), Fill)
    assert fill.price == _buy_price_against_taker(150_000_100, 11) == 150_165_200


def test_a_market_order_leaves_nothing_resting() -> None:
    v = venue()
    events = place(v, market(1, Side.BUY, SOL_1))
    assert [type(e) for e in events] == [OrderAccepted, Fill]
    assert v.orders == {}


def test_a_market_buy_whose_limit_is_below_the_touch_does_not_fill_below_the_touch() -> None:
    v = venue()
    events = place(v, market(1, Side.BUY, SOL_1, price=140 * USD))
    assert all(f.price >= P150 for f in only(events, Fill))


@pytest.mark.parametrize("mode", [PostOnlyMode.MUST_POST_ONLY, PostOnlyMode.TRY_POST_ONLY, PostOnlyMode.SLIDE])
def test_a_post_only_market_order_never_takes_liquidity(mode: PostOnlyMode) -> None:
    v = venue()
    order = msgspec.structs.replace(market(1, Side.BUY, SOL_1), post_only=mode)
    events = place(v, order)
    assert not [f for f in only(events, Fill) if f.liquidity is Liquidity.TAKER]


# ---------------------------------------------------------------------------------------------- volume share


def open_remaining(v: PaperVenue, uid: int) -> int:
    (order,) = [o for o in v.open_orders() if o.user_order_id == uid]
    return order.remaining_base


def test_the_bar_volume_share_caps_maker_fills_and_the_rest_keeps_resting() -> None:
    v = venue()
    place(v, intent(1, Side.BUY, 149 * USD, 25 * SOL_1))
    bar = T0 - T0 % 60
    (first,) = only(v.on_price(T0 + 1, 148 * USD, 149 * USD, bar_ts=bar, bar_volume=100 * SOL_1), Fill)
    assert (first.base, first.order_filled_base, first.complete) == (10 * SOL_1, 10 * SOL_1, False)
    assert v.orders[1].filled == 10 * SOL_1
    # the same bar again: its 10 % is used up
    assert v.on_price(T0 + 2, 147 * USD, 149 * USD, bar_ts=bar, bar_volume=100 * SOL_1) == []
    (second,) = only(v.on_price(T0 + 61, 148 * USD, 149 * USD, bar_ts=bar + 60, bar_volume=100 * SOL_1), Fill)
    assert second.order_filled_base == 20 * SOL_1
    assert open_remaining(v, 1) == 5 * SOL_1


def test_the_volume_budget_is_rounded_down_to_the_step() -> None:
    v = venue()
    place(v, intent(1, Side.BUY, 149 * USD, SOL_1))
    (fill,) = only(v.on_price(T0 + 1, 148 * USD, 149 * USD, bar_ts=T0, bar_volume=SOL_1 + 5 * STEP - 1), Fill)
    assert fill.base == 10 * STEP  # 10 % of 1.0499... SOL = 0.10499 -> 0.10


def test_a_bar_volume_without_bar_ts_still_caps_maker_fills() -> None:
    v = venue()
    place(v, intent(1, Side.BUY, 149 * USD, 25 * SOL_1))
    (fill,) = only(v.on_price(T0 + 1, 148 * USD, 149 * USD, bar_volume=100 * SOL_1), Fill)
    assert fill.base == 10 * SOL_1


# ---------------------------------------------------------------------------------------------- expiry


def test_an_order_past_its_max_ts_expires_before_it_could_fill_and_never_fills_afterwards() -> None:
    v = venue()
    place(v, intent(1, Side.BUY, 149 * USD, max_ts=T0 + 10, placed_at=T0))
    events = v.on_price(T0 + 11, 140 * USD, 140 * USD)
    assert events == [OrderExpired(ts=T0 + 11, user_order_id=1, filled_base=0)]
    assert v.orders == {}
    assert not only(v.on_price(T0 + 12, 130 * USD, 130 * USD), Fill)
    assert v.position.base_asset_amount == 0


def test_an_order_still_fills_at_exactly_its_max_ts() -> None:
    v = venue()
    place(v, intent(1, Side.BUY, 149 * USD, max_ts=T0 + 10, placed_at=T0))
    assert only(v.on_price(T0 + 10, 148 * USD, 148 * USD), Fill)


def test_expire_without_a_price_reports_the_filled_part() -> None:
    v = venue()
    place(v, intent(1, Side.BUY, 149 * USD, 3 * SOL_1, max_ts=T0 + 10, placed_at=T0))
    v.on_price(T0 + 1, 148 * USD, 149 * USD, bar_ts=T0, bar_volume=10 * SOL_1)
    assert v.expire(T0 + 11) == [OrderExpired(ts=T0 + 11, user_order_id=1, filled_base=SOL_1)]


# ---------------------------------------------------------------------------------------------- reduce-only


def test_a_resting_reduce_only_fill_is_clipped_to_the_position_and_the_rest_cancelled_when_flat() -> None:
    v = venue()
    maker_long(v, SOL_1, P150)
    place(v, intent(2, Side.SELL, 151 * USD, 3 * SOL_1, reduce_only=True), now=T0 + 1)
    events = v.on_price(T0 + 2, 152 * USD, 151 * USD)
    fill, cancel = events
    assert isinstance(fill, Fill) and isinstance(cancel, OrderCancelled)
    assert (fill.base, fill.reduce_only, fill.complete) == (SOL_1, True, False)
    assert (cancel.user_order_id, cancel.reason, cancel.filled_base) == (2, CancelReason.REDUCE_ONLY_FLAT, SOL_1)
    assert v.position.base_asset_amount == 0
    assert v.orders == {}


def test_a_reduce_only_market_order_larger_than_the_position_only_closes_it() -> None:
    v = venue()
    maker_long(v, 2 * SOL_1, P150)
    events = place(v, market(3, Side.SELL, 5 * SOL_1, reduce_only=True), now=T0 + 1)
    (fill,) = only(events, Fill)
    assert fill.base == 2 * SOL_1
    (cancel,) = only(events, OrderCancelled)
    assert cancel.reason is CancelReason.REDUCE_ONLY_FLAT
    assert v.position.base_asset_amount == 0


def test_a_reduce_only_order_left_with_nothing_to_reduce_is_cancelled_without_filling() -> None:
    v = venue()
    maker_long(v, SOL_1, P150)
    place(v, intent(2, Side.SELL, 155 * USD, SOL_1, reduce_only=True), now=T0 + 1)
    place(v, market(3, Side.SELL, SOL_1), now=T0 + 1)  # flat now; order 2 has nothing to reduce
    events = v.on_price(T0 + 2, 156 * USD, 155 * USD)
    assert events == [OrderCancelled(ts=T0 + 2, user_order_id=2, reason=CancelReason.REDUCE_ONLY_FLAT, filled_base=0)]
    assert v.position.base_asset_amount == 0


# ---------------------------------------------------------------------------------------------- funding

RATE = 12_345_678  # 0.0123 USD per SOL for the period


def test_a_long_pays_a_positive_funding_rate() -> None:
    v = venue()
    maker_long(v, 3 * SOL_1, P150)
    equity = v.equity()
    (paid,) = v.apply_funding(T0 + 3_600, RATE, RATE)
    assert isinstance(paid, FundingPaid)
    assert paid.payment == funding_payment(RATE, 3 * SOL_1) == -37_037
    assert (paid.position_base, paid.rate) == (3 * SOL_1, RATE)
    assert v.ledger.funding == paid.payment
    assert v.equity() == equity + paid.payment


def test_a_short_receives_a_positive_funding_rate_at_the_short_rate() -> None:
    v = venue()
    place(v, intent(1, Side.SELL, P150 + USD, 3 * SOL_1))
    v.on_price(T0 + 1, P150 + USD + TICK, P150 + USD)
    (paid,) = v.apply_funding(T0 + 3_600, RATE, RATE - 1_000_000)  # asymmetric: shorts get less
    assert isinstance(paid, FundingPaid)
    assert paid.rate == RATE - 1_000_000
    assert paid.payment == funding_payment(RATE - 1_000_000, -3 * SOL_1) > 0
    assert v.ledger.funding == paid.payment


def test_funding_while_flat_pays_nothing_but_is_reported() -> None:
    v = venue()
    assert v.apply_funding(T0 + 3_600, RATE, RATE) == [
        FundingPaid(ts=T0 + 3_600, position_base=0, rate=RATE, payment=0)
    ]
    assert v.ledger.funding == 0


def test_funding_accumulates_period_by_period() -> None:
    v = venue()
    maker_long(v, 2 * SOL_1, P150)
    periods = ((T0 + 3_600, RATE), (T0 + 7_200, -3 * RATE))
    payments = [p.payment for ts, r in periods for p in only(v.apply_funding(ts, r, r), FundingPaid)]
    assert payments == [funding_payment(RATE, 2 * SOL_1), funding_payment(-3 * RATE, 2 * SOL_1)]
    assert v.ledger.funding == sum(payments)


# ---------------------------------------------------------------------------------------------- settle, deposit


def test_settle_pnl_moves_exactly_the_unsettled_pnl_into_usdc_and_leaves_equity_unchanged() -> None:
    v = venue()
    maker_long(v, 4 * SOL_1, P150)
    v.on_price(T0 + 10, 157 * USD, 157 * USD)
    v.apply_funding(T0 + 3_600, RATE, RATE)
    before = v.report()
    (settled,) = v.submit(SettlePnl(), T0 + 3_600)
    assert settled == PnlSettled(ts=T0 + 3_600, amount=before.unsettled_pnl)
    after = v.report()
    assert after.usdc_balance == before.usdc_balance + before.unsettled_pnl
    assert after.unsettled_pnl == 0
    assert after.equity == before.equity
    assert v.ledger.settled == before.unsettled_pnl


def test_settling_a_loss_takes_it_from_usdc() -> None:
    v = venue()
    maker_long(v, 4 * SOL_1, P150)
    v.on_price(T0 + 10, 140 * USD, 140 * USD)
    equity = v.equity()
    (settled,) = v.submit(SettlePnl(), T0 + 10)
    assert isinstance(settled, PnlSettled) and settled.amount < 0
    assert v.usdc == 10_000 * USDC + settled.amount
    assert v.equity() == equity


def test_a_withdrawal_beyond_the_balance_is_rejected_and_changes_nothing() -> None:
    v = venue(deposit_usdc=1_000)
    (rejected,) = v.submit(Withdraw(spot_market_index=QUOTE_SPOT_MARKET_INDEX, amount=1_000 * USDC + 1), T0)
    assert isinstance(rejected, CommandRejected) and rejected.reason is RejectReason.INSUFFICIENT_BALANCE
    assert v.usdc == 1_000 * USDC
    assert v.ledger.withdrawals == 0


def test_a_withdrawal_that_breaches_initial_margin_is_rejected_and_the_balance_untouched() -> None:
    v = venue(deposit_usdc=1_000)
    maker_long(v, 60 * SOL_1, P150)  # ~9x: initial requirement ~450 USD
    usdc = v.usdc
    (rejected,) = v.submit(Withdraw(spot_market_index=QUOTE_SPOT_MARKET_INDEX, amount=700 * USDC), T0 + 1)
    assert isinstance(rejected, CommandRejected) and rejected.reason is RejectReason.INSUFFICIENT_COLLATERAL
    assert v.usdc == usdc
    assert v.ledger.withdrawals == 0
    (ok,) = v.submit(Withdraw(spot_market_index=QUOTE_SPOT_MARKET_INDEX, amount=100 * USDC), T0 + 1)
    assert ok == BalanceChanged(ts=T0 + 1, spot_market_index=QUOTE_SPOT_MARKET_INDEX, amount=-100 * USDC)
    assert v.ledger.withdrawals == 100 * USDC


@pytest.mark.parametrize(("index", "amount"), [(QUOTE_SPOT_MARKET_INDEX, 0), (QUOTE_SPOT_MARKET_INDEX, -5), (7, 10)])
def test_a_deposit_of_a_non_positive_amount_or_unknown_market_is_rejected(index: int, amount: int) -> None:
    v = venue()
    (rejected,) = v.submit(Deposit(spot_market_index=index, amount=amount), T0)
    assert isinstance(rejected, CommandRejected) and rejected.reason is RejectReason.INVALID_AMOUNT
    assert v.ledger.deposits == 10_000 * USDC


# ---------------------------------------------------------------------------------------------- modify


def test_modify_reprices_a_resting_order_under_the_same_id() -> None:
    v = venue()
    place(v, intent(1, Side.BUY, 140 * USD))
    events = v.submit(ModifyOrder(user_order_id=1, price=141 * USD), T0 + 5)
    assert [type(e) for e in events] == [OrderCancelled, OrderAccepted]
    assert v.orders[1].price == 141 * USD
    assert v.orders[1].placed_at == T0 + 5


def _modify_without_raising(v: PaperVenue, command: ModifyOrder, now: int) -> tuple[VenueEvent, ...]:
    try:
        return v.submit(command, now)
    except ValueError as exc:  # OrderError
        raise AssertionError(f"submit raised {exc!r}") from exc


def test_modify_of_an_order_past_its_max_ts_returns_events_instead_of_raising() -> None:
    v = venue()
    place(v, intent(1, Side.BUY, 140 * USD, max_ts=T0 + 10, placed_at=T0))
    events = _modify_without_raising(v, ModifyOrder(user_order_id=1, price=141 * USD), T0 + 20)
    assert 1 not in v.orders
    assert not only(events, OrderAccepted)


def test_an_order_without_expiry_can_be_modified_and_listed() -> None:
    v = venue()
    assert only(place(v, intent(1, Side.BUY, 140 * USD, max_ts=0, placed_at=0)), OrderAccepted)
    try:
        listed = v.open_orders()
    except ValueError as exc:
        raise AssertionError(f"open_orders raised {exc!r}") from exc
    assert [o.user_order_id for o in listed] == [1]
    _modify_without_raising(v, ModifyOrder(user_order_id=1, price=141 * USD), T0 + 5)
    assert v.orders[1].price == 141 * USD


def test_modify_that_shrinks_a_partly_filled_order_to_its_fill_just_cancels_it() -> None:
    v = venue()
    place(v, intent(1, Side.BUY, 149 * USD, 3 * SOL_1))
    v.on_price(T0 + 1, 148 * USD, 149 * USD, bar_ts=T0, bar_volume=10 * SOL_1)  # 1 SOL fills
    events = v.submit(ModifyOrder(user_order_id=1, base=SOL_1), T0 + 2)
    assert events == (OrderCancelled(ts=T0 + 2, user_order_id=1, reason=CancelReason.REQUESTED, filled_base=SOL_1),)
    assert v.orders == {}


def test_modify_of_an_unknown_id_is_rejected() -> None:
    v = venue()
    (rejected,) = v.submit(ModifyOrder(user_order_id=3, price=141 * USD), T0)
    assert isinstance(rejected, OrderRejected) and rejected.reason is RejectReason.UNKNOWN_ORDER


# ---------------------------------------------------------------------------------------------- liquidation


def test_a_9x_long_hit_by_a_large_drop_is_liquidated_back_above_maintenance() -> None:
    v = venue(deposit_usdc=10_000)
    maker_long(v, 600 * SOL_1, P150)  # 90 000 USD: 9x
    assert only(
        place(v, intent(5, Side.SELL, 170 * USD, SOL_1), intent(6, Side.BUY, 120 * USD, SOL_1), now=T0 + 1),
        OrderAccepted,
    )
    assert v.on_price(T0 + 2, 145 * USD, 145 * USD) == []  # -3.3 %: healthy
    oracle = 136 * USD  # -9.3 %: below maintenance (3 %), not bankrupt (-11.1 %)
    events = v.on_price(T0 + 3, oracle, oracle)
    cancels = only(events, OrderCancelled)
    assert sorted(c.user_order_id for c in cancels) == [5, 6]
    assert all(c.reason is CancelReason.LIQUIDATION for c in cancels)
    (liq,) = only(events, Liquidated)
    assert liq.total_collateral < liq.maintenance_requirement
    assert liq.price == oracle
    assert -600 * SOL_1 < liq.base < 0 and liq.base % STEP == 0  # partial, in steps
    notional = -liq.base * oracle // BASE_PRECISION
    assert liq.fee == ceil_div(notional * (SOL.liquidator_fee + SOL.if_liquidation_fee), LIQUIDATION_FEE_PRECISION)
    assert v.position.base_asset_amount == 600 * SOL_1 + liq.base
    assert v.orders == {}
    assert not v.is_liquidatable()
    assert v.ledger.liquidations == 1 and v.ledger.liquidation_fees == liq.fee


def test_the_liquidation_fee_rounds_up() -> None:
    v = venue(deposit_usdc=10_000)
    maker_long(v, 600 * SOL_1, P150)
    oracle = 136 * USD + 3_700  # an odd oracle so the fee is fractional before rounding
    (liq,) = only(v.on_price(T0 + 2, oracle, oracle), Liquidated)
    notional = -liq.base * oracle // BASE_PRECISION
    exact = notional * (SOL.liquidator_fee + SOL.if_liquidation_fee)
    assert exact % LIQUIDATION_FEE_PRECISION != 0
    assert liq.fee == exact // LIQUIDATION_FEE_PRECISION + 1


def test_a_smaller_drop_does_not_liquidate() -> None:
    v = venue(deposit_usdc=10_000)
    maker_long(v, 600 * SOL_1, P150)
    assert v.on_price(T0 + 2, 140 * USD, 140 * USD) == []  # -6.7 %
    assert not v.is_liquidatable()
    assert v.position.base_asset_amount == 600 * SOL_1


def test_a_long_breached_by_its_open_asks_on_a_rally_is_liquidated() -> None:
    v = venue(deposit_usdc=100, price=20 * USD)
    maker_long(v, STEP, 20 * USD)  # long 0.01 SOL
    assert only(place(v, intent(1, Side.SELL, 400 * USD, 49 * SOL_1), now=v.now), OrderAccepted)  # 9.8x worst case
    assert v.on_price(v.now + 1, 60 * USD, 60 * USD) == []  # healthy; the cached liquidation price is None here
    v.on_price(v.now + 1, 70 * USD, 70 * USD)  # requirement 3 % of 49 SOL * 70 = 102.9 > collateral 100.5
    assert not v.is_liquidatable()
