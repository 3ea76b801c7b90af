"""Unit tests of ``PlaceLegs`` on the paper venue (``botrunner.paper.legs``): both legs booked together at Drift's
prices and fees, or the whole command refused naming the leg; the margin views after spot trades; checkpoints."""

from __future__ import annotations

import msgspec
import pytest

from botrunner.connector.orders import OrderIntent, OrderType
from botrunner.core.catalogue import load_catalogue
from botrunner.core.fixed import ceil_div
from botrunner.core.policy import PostOnlyMode
from botrunner.core.precision import (
    BASE_PRECISION,
    BPS_PRECISION,
    PRICE_PRECISION,
    QUOTE_PRECISION,
    QUOTE_SPOT_MARKET_INDEX,
    SOL_SPOT_MARKET_INDEX,
)
from botrunner.core.side import Side
from botrunner.margin.calculation import calculate_margin
from botrunner.margin.model import MarginCategory
from botrunner.paper import persist
from botrunner.paper.config import PaperConfig, slippage_bps
from botrunner.paper.fees import fill_fee
from botrunner.paper.orders import round_to_tick
from botrunner.paper.queue import StaticBook
from botrunner.paper.spot import slippage_ppm
from botrunner.paper.venue import PaperVenue
from botrunner.venue.port import (
    CommandRejected,
    Deposit,
    Fill,
    Liquidity,
    PlaceLegs,
    RejectReason,
    SpotFill,
    SpotOrder,
)

SOL_PERP = load_catalogue().perp("SOL-PERP")
SOL_SPOT = load_catalogue().spot(SOL_SPOT_MARKET_INDEX)
USD = PRICE_PRECISION
USDC = QUOTE_PRECISION
SOL_1 = BASE_PRECISION
P150 = 150 * USD
T0 = 1_000


def venue(deposit: int = 10_000 * USDC, sol: int = 0, config: PaperConfig | None = None) -> PaperVenue:
    v = PaperVenue(SOL_PERP, config or PaperConfig(), deposit_quote=deposit, oracle_price=P150, now=T0)
    if sol:
        v.submit(Deposit(spot_market_index=SOL_SPOT_MARKET_INDEX, amount=sol), T0)
    return v


def perp(side: Side, base: int = SOL_1, limit: int | None = None, uid: int = 7, **kw: object) -> OrderIntent:
    worst = limit if limit is not None else (P150 * 101 // 100 if side is Side.BUY else P150 * 99 // 100)
    return OrderIntent(
        user_order_id=uid,
        side=side,
        price=worst,
        base=base,
        post_only=PostOnlyMode.NONE,
        reduce_only=bool(kw.get("reduce_only", False)),
        max_ts=0,
        placed_at=T0,
        anchor_price=P150,
        order_type=OrderType(kw.get("order_type", OrderType.MARKET)),
    )


def spot(side: Side, base: int = SOL_1, limit: int | None = None) -> SpotOrder:
    worst = limit if limit is not None else (P150 * 101 // 100 if side is Side.BUY else P150 * 99 // 100)
    return SpotOrder(spot_market_index=SOL_SPOT_MARKET_INDEX, side=side, base=base, limit_price=worst)


def state(v: PaperVenue) -> tuple[object, ...]:
    return (v.usdc, v.sol, v.position, v.ledger.fees, v.ledger.spot_fees, dict(v.orders), v.account())


def rejected(events: tuple[object, ...]) -> CommandRejected:
    assert len(events) == 1
    (event,) = events
    assert isinstance(event, CommandRejected)
    assert event.command == "PlaceLegs"
    return event


def test_place_legs_when_both_legs_fit_then_both_are_booked_at_drift_prices_and_fees() -> None:
    v = venue()
    events = v.submit(PlaceLegs(spot=spot(Side.BUY), perp=perp(Side.SELL), reason="enter"), T0)
    fill, spot_fill = events
    assert isinstance(fill, Fill)
    assert isinstance(spot_fill, SpotFill)
    # perp: the touch (the last price) minus the candle model's taker slippage for 1 SOL, on the tick, taker fee
    slip = slippage_bps(v.config, P150 // 1)  # notional of 1 SOL at 150 = 150 USDC
    perp_price = round_to_tick(P150 * (BPS_PRECISION - slip) // BPS_PRECISION, Side.BUY, SOL_PERP.tick_size)
    assert (fill.user_order_id, fill.side, fill.base, fill.price) == (7, Side.SELL, SOL_1, perp_price)
    assert fill.liquidity is Liquidity.TAKER and fill.complete and fill.order_filled_base == SOL_1
    assert fill.fee == fill_fee(fill.quote, v.config.fees.taker_ppm)
    assert v.position.base_asset_amount == -SOL_1
    # spot: the oracle plus the spot slippage (half-spread + square-root impact), rounded up to the spot tick
    spot_slip = slippage_ppm(150 * USDC, half_spread_ppm=29, impact_ppm=100, impact_notional=10_000 * USDC)
    spot_price = ceil_div(ceil_div(P150 * (10**6 + spot_slip), 10**6), SOL_SPOT.order_tick_size)
    spot_price *= SOL_SPOT.order_tick_size
    assert (spot_fill.side, spot_fill.base, spot_fill.price) == (Side.BUY, SOL_1, spot_price)
    assert spot_fill.quote == -spot_price  # 1 SOL
    assert spot_fill.fee == ceil_div(spot_price * 1_000, 10**6)  # Drift's spot taker fee: 10 bp, rounded up
    assert v.sol == SOL_1
    assert v.spot_balance(SOL_SPOT_MARKET_INDEX) == SOL_1
    assert v.usdc == 10_000 * USDC + spot_fill.quote - spot_fill.fee
    assert v.spot_balance(QUOTE_SPOT_MARKET_INDEX) == v.usdc
    assert v.ledger.spot_fees == spot_fill.fee and v.ledger.spot_fills == 1 and v.ledger.taker_fills == 1


def test_spot_slippage_grows_with_the_square_root_of_size() -> None:
    kw = {"half_spread_ppm": 29, "impact_ppm": 100, "impact_notional": 10_000 * USDC}
    assert slippage_ppm(0, **kw) == 29
    assert slippage_ppm(10_000 * USDC, **kw) == 129
    assert slippage_ppm(40_000 * USDC, **kw) == 229  # 4x the size, 2x the impact
    assert slippage_ppm(1 * USDC, **kw) == 29 + 1  # ceil(100 * sqrt(1e-4)) = 1
    assert slippage_ppm(10_001 * USDC, **kw) == 130  # rounded up, against the taker


@pytest.mark.parametrize(
    ("legs", "reason", "needle"),
    [
        # the spot leg's fill (150 * (1 + 30 ppm) = 150.0045) is above a limit at 150
        (PlaceLegs(spot=spot(Side.BUY, limit=P150), perp=perp(Side.SELL), reason="enter"), "invalid_order", "spot:"),
        # the perp leg's fill (150 - 10 bp) is below a limit at 150
        (PlaceLegs(spot=spot(Side.BUY), perp=perp(Side.SELL, limit=P150), reason="enter"), "invalid_order", "perp:"),
        # no SOL to sell, no SOL borrow
        (PlaceLegs(spot=spot(Side.SELL), perp=perp(Side.BUY), reason="exit"), "insufficient_balance", "SOL"),
        # 100 SOL at 150 needs ~15,000 USDC; 10,000 held
        (
            PlaceLegs(spot=spot(Side.BUY, 100 * SOL_1), perp=perp(Side.SELL, 100 * SOL_1), reason="enter"),
            "insufficient_balance",
            "USDC",
        ),
        (PlaceLegs(spot=spot(Side.BUY, SOL_1 + 1), perp=None, reason="enter"), "size_not_step_multiple", "spot:"),
        (PlaceLegs(spot=spot(Side.BUY, SOL_1 // 100), perp=None, reason="enter"), "size_below_minimum", "spot:"),
        (PlaceLegs(spot=spot(Side.BUY, limit=P150 + 1), perp=None, reason="enter"), "price_not_tick_multiple", "spot"),
        (
            PlaceLegs(spot=None, perp=perp(Side.SELL, order_type=OrderType.LIMIT), reason="enter"),
            "invalid_order",
            "MARKET",
        ),
        (
            PlaceLegs(spot=spot(Side.BUY), perp=perp(Side.BUY, reduce_only=True), reason="exit"),
            "reduce_only_increases",
            "perp",
        ),
        (
            PlaceLegs(
                spot=SpotOrder(spot_market_index=2, side=Side.BUY, base=SOL_1, limit_price=P150), perp=None, reason="x"
            ),
            "invalid_amount",
            "market 2",
        ),
    ],
)
def test_place_legs_when_one_leg_fails_then_nothing_changes(legs: PlaceLegs, reason: str, needle: str) -> None:
    v = venue()
    before = state(v)
    event = rejected(v.submit(legs, T0))
    assert event.reason is RejectReason(reason)
    assert needle in event.detail
    assert state(v) == before


def test_place_legs_when_the_account_after_both_breaks_initial_margin_then_refused_whole() -> None:
    # 1,000 USDC: a 95 SOL short (14,250 notional) needs 5 % initial = 712.5 plus the SOL bought at weight 0.8 is
    # not enough against it with the spot buy taking USDC out; the paper leverage cap is set out of the way
    v = venue(1_000 * USDC, config=PaperConfig(max_leverage_x10000=100 * 10_000))
    before = state(v)
    event = rejected(v.submit(PlaceLegs(spot=spot(Side.BUY), perp=perp(Side.SELL, 200 * SOL_1), reason="enter"), T0))
    assert event.reason is RejectReason.INSUFFICIENT_COLLATERAL
    assert event.detail.startswith("after both legs")
    assert state(v) == before


def test_place_legs_when_the_perp_leg_breaks_the_leverage_cap_then_refused_whole() -> None:
    v = venue(1_000 * USDC)  # 10x cap: 7 SOL short at 150 = 1,050 is fine, 70 SOL is not
    before = state(v)
    event = rejected(v.submit(PlaceLegs(spot=spot(Side.BUY), perp=perp(Side.SELL, 70 * SOL_1), reason="enter"), T0))
    assert event.reason is RejectReason.MAX_LEVERAGE
    assert state(v) == before


def test_exit_when_both_legs_close_then_flat_and_margin_views_follow_the_sol() -> None:
    v = venue()
    v.submit(PlaceLegs(spot=spot(Side.BUY, 10 * SOL_1), perp=perp(Side.SELL, 10 * SOL_1), reason="enter"), T0)
    spot_positions = v.account().spot_positions
    assert [p.market_index for p in spot_positions] == [QUOTE_SPOT_MARKET_INDEX, SOL_SPOT_MARKET_INDEX]
    report = v.report()
    # the hedge: the SOL deposit and the short move together, so the account's equity barely moves with the oracle
    assert report.equity == v.equity()
    v.on_price(T0 + 60, 120 * USD, 120 * USD)
    assert abs(v.equity() - report.equity) < 20 * USDC  # fees and slippage only, not 300 USDC of price move
    events = v.submit(
        PlaceLegs(
            spot=spot(Side.SELL, 10 * SOL_1, limit=100 * USD),
            perp=perp(Side.BUY, 10 * SOL_1, limit=140 * USD, reduce_only=True, uid=8),
            reason="exit",
        ),
        T0 + 60,
    )
    assert [type(e) for e in events] == [Fill, SpotFill]
    assert v.sol == 0 and v.position.base_asset_amount == 0
    assert [p.market_index for p in v.account().spot_positions] == [QUOTE_SPOT_MARKET_INDEX]


def test_place_legs_when_below_initial_margin_then_a_risk_reducing_leg_is_still_allowed() -> None:
    # a trade that raises the initial free collateral (here: buying back part of the short) is never refused for
    # margin, even when the account stays below initial margin after it
    v = venue(1_000 * USDC)
    v.submit(PlaceLegs(spot=None, perp=perp(Side.SELL, 60 * SOL_1), reason="enter"), T0)
    v.on_price(T0 + 1, 161 * USD, 161 * USD)  # 60 SOL short loses 660: below initial margin, above maintenance
    assert not calculate_margin(v.account(), v.markets(), MarginCategory.INITIAL).meets_margin_requirement
    assert not v.is_liquidatable()
    events = v.submit(
        PlaceLegs(spot=None, perp=perp(Side.BUY, 10 * SOL_1, limit=170 * USD, reduce_only=True), reason="rebalance"),
        T0 + 1,
    )
    assert isinstance(events[0], Fill)
    assert v.position.base_asset_amount == -50 * SOL_1
    assert not calculate_margin(v.account(), v.markets(), MarginCategory.INITIAL).meets_margin_requirement


def test_checkpoint_keeps_the_sol_balance_and_the_spot_ledger() -> None:
    v = venue()
    v.submit(PlaceLegs(spot=spot(Side.BUY, 3 * SOL_1), perp=perp(Side.SELL, 3 * SOL_1), reason="enter"), T0)
    restored = persist.restore(persist.checkpoint(v), SOL_PERP, PaperConfig())
    assert (restored.sol, restored.usdc, restored.position) == (v.sol, v.usdc, v.position)
    assert msgspec.structs.asdict(restored.ledger) == msgspec.structs.asdict(v.ledger)
    assert restored.report() == v.report()


def test_place_legs_with_a_book_when_the_perp_leg_walks_it_then_the_average_price_and_a_thin_book_refuses() -> None:
    v = venue()
    book = StaticBook(bids=((P150 - 1_000, 2 * SOL_1), (P150 - 3_000, 3 * SOL_1)), asks=((P150 + 1_000, SOL_1),))
    v.on_book(T0, book)
    events = v.submit(PlaceLegs(spot=spot(Side.BUY, 4 * SOL_1), perp=perp(Side.SELL, 4 * SOL_1), reason="enter"), T0)
    fill = events[0]
    assert isinstance(fill, Fill)
    assert fill.price == ((P150 - 1_000) * 2 + (P150 - 3_000) * 2) // 4  # the walk's average, rounded down
    before = state(v)
    # the asks hold 1 SOL: a 2 SOL buy leg cannot fill whole, so neither leg trades
    event = rejected(
        v.submit(PlaceLegs(spot=spot(Side.SELL, 2 * SOL_1), perp=perp(Side.BUY, 2 * SOL_1), reason="exit"), T0)
    )
    assert "book fills" in event.detail
    assert state(v) == before
