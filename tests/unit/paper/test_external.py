"""The external venue's paper perp account: margin, fees, slippage, funding at the venue's interval, liquidation."""

from __future__ import annotations

import pytest

from botrunner.core.side import Side
from botrunner.marketdata.venue_data import Coin, Venue
from botrunner.marketdata.venue_funding import FundingPoint
from botrunner.paper.external import (
    EXTERNAL_MARKETS,
    ExternalFill,
    ExternalRejection,
    external_rules,
    funding_amount,
    liquidate,
    next_funding_ts,
    open_account,
    settle_funding,
    taker_price,
    taker_slippage_ppm,
    trade,
)
from botrunner.venue.port import Liquidity

USDC = 10**6
SOL = 10**9
PRICE = 10**6
HL_SOL = external_rules(Venue.HYPERLIQUID, Coin.SOL)
BN_SOL = external_rules(Venue.BINANCE, Coin.SOL)


def test_default_rules_are_the_documented_figures() -> None:
    assert (HL_SOL.initial_margin_ratio, HL_SOL.maintenance_margin_ratio) == (500, 250)  # 20x, half of IM
    hl_btc = external_rules(Venue.HYPERLIQUID, Coin.BTC)
    assert (hl_btc.initial_margin_ratio, hl_btc.maintenance_margin_ratio) == (250, 125)  # 40x
    assert (HL_SOL.taker_ppm, HL_SOL.maker_ppm, HL_SOL.funding_interval_s) == (450, 150, 3600)
    assert (BN_SOL.initial_margin_ratio, BN_SOL.maintenance_margin_ratio) == (500, 50)
    assert (BN_SOL.taker_ppm, BN_SOL.maker_ppm, BN_SOL.funding_interval_s) == (500, 200, 8 * 3600)
    assert all(r.source for r in EXTERNAL_MARKETS.values())
    with pytest.raises(ValueError, match="drift/SOL"):
        external_rules(Venue.DRIFT, Coin.SOL)


def test_slippage_is_2_to_5_bps_by_size_against_depth() -> None:
    assert taker_slippage_ppm(0, 100_000 * USDC) == 200
    assert taker_slippage_ppm(50_000 * USDC, 100_000 * USDC) == 350  # half the depth: 2 + 1.5 bps
    assert taker_slippage_ppm(100_000 * USDC, 100_000 * USDC) == 500
    assert taker_slippage_ppm(10**6 * USDC, 100_000 * USDC) == 500  # capped
    assert taker_slippage_ppm(1_000 * USDC, None) == 500  # unknown depth costs the cap
    assert taker_price(Side.BUY, 100 * PRICE, 500) == 100_050_000
    assert taker_price(Side.SELL, 100 * PRICE, 500) == 99_950_000
    assert taker_price(Side.BUY, 3, 200) == 4  # rounded against the taker


def test_open_close_round_trip_books_pnl_and_fees() -> None:
    a = open_account(HL_SOL, 1_000 * USDC)
    a, fill = trade(a, ts=1, side=Side.SELL, base=10 * SOL, price=150 * PRICE, liquidity=Liquidity.TAKER)
    assert isinstance(fill, ExternalFill)
    assert fill.quote == 1_500 * USDC and fill.fee == 675_000  # 0.045 % of $1,500
    assert a.base == -10 * SOL and a.unrealised_pnl(150 * PRICE) == 0
    assert a.unrealised_pnl(140 * PRICE) == 100 * USDC  # a short gains as the price falls
    a, fill = trade(a, ts=2, side=Side.BUY, base=10 * SOL, price=140 * PRICE, liquidity=Liquidity.MAKER)
    assert isinstance(fill, ExternalFill) and fill.realised_pnl == 100 * USDC and fill.fee == 210_000
    assert a.base == 0 and a.quote_entry == 0
    assert a.collateral == 1_000 * USDC + 100 * USDC - 675_000 - 210_000
    assert a.conserved()


def test_flip_realises_the_closed_part_and_opens_the_rest_at_the_fill() -> None:
    a = open_account(HL_SOL, 1_000 * USDC)
    a, _ = trade(a, ts=1, side=Side.BUY, base=2 * SOL, price=100 * PRICE, liquidity=Liquidity.MAKER)
    a, fill = trade(a, ts=2, side=Side.SELL, base=5 * SOL, price=110 * PRICE, liquidity=Liquidity.MAKER)
    assert isinstance(fill, ExternalFill) and fill.realised_pnl == 20 * USDC
    assert a.base == -3 * SOL and a.quote_entry == 330 * USDC
    assert a.conserved()


def test_risk_adding_trade_beyond_initial_margin_is_rejected_reducing_is_not() -> None:
    a = open_account(HL_SOL, 100 * USDC)  # 20x: at most ~$2,000 of notional
    same, verdict = trade(a, ts=1, side=Side.BUY, base=14 * SOL, price=150 * PRICE, liquidity=Liquidity.TAKER)  # $2,100
    assert isinstance(verdict, ExternalRejection) and "insufficient margin" in verdict.reason
    assert same == a
    a, fill = trade(a, ts=1, side=Side.BUY, base=13 * SOL, price=150 * PRICE, liquidity=Liquidity.TAKER)  # $1,950 + fee
    assert isinstance(fill, ExternalFill)
    a, fill = trade(
        a, ts=2, side=Side.SELL, base=13 * SOL, price=100 * PRICE, liquidity=Liquidity.TAKER
    )  # a reduce always goes through
    assert isinstance(fill, ExternalFill)


def test_step_and_price_are_checked() -> None:
    a = open_account(BN_SOL, 100 * USDC)
    with pytest.raises(ValueError, match="multiple of 1000000000"):
        trade(
            a, ts=1, side=Side.BUY, base=SOL // 2, price=100 * PRICE, liquidity=Liquidity.TAKER
        )  # Binance SOL trades whole SOL
    with pytest.raises(ValueError, match="price must be > 0"):
        trade(a, ts=1, side=Side.BUY, base=SOL, price=0, liquidity=Liquidity.TAKER)


def test_funding_positive_rate_longs_pay_shorts_receive() -> None:
    point = FundingPoint(7200, 3600, 10**8)  # 0.01 %/h
    assert funding_amount(10 * SOL, 150 * PRICE, point) == -150_000  # a long pays 0.01 % of $1,500
    assert funding_amount(-10 * SOL, 150 * PRICE, point) == 150_000
    assert funding_amount(10 * SOL, 150 * PRICE, FundingPoint(7200, 3600, -1)) == 0  # floored against the account
    assert funding_amount(-10 * SOL, 150 * PRICE, FundingPoint(7200, 3600, -1)) == -1


def test_funding_settles_at_the_venue_interval_once() -> None:
    a = open_account(BN_SOL, 1_000 * USDC)
    a, _ = trade(a, ts=1, side=Side.SELL, base=10 * SOL, price=150 * PRICE, liquidity=Liquidity.TAKER)
    with pytest.raises(ValueError, match="settles every 28800 s, got a 3600 s"):
        settle_funding(a, FundingPoint(28800, 3600, 10**8), 150 * PRICE)
    a, settled = settle_funding(a, FundingPoint(28800, 28800, 10**8), 150 * PRICE)
    assert settled.amount == 1_200_000  # 0.01 %/h x 8 h of $1,500, received by the short
    assert a.funding_received == 1_200_000 and a.conserved()
    with pytest.raises(ValueError, match="not after the last settlement"):
        settle_funding(a, FundingPoint(28800, 28800, 10**8), 150 * PRICE)
    assert next_funding_ts(28800, BN_SOL) == 57600
    assert next_funding_ts(3601, HL_SOL) == 7200


def test_liquidation_below_maintenance_closes_all_and_forfeits_the_maintenance_margin() -> None:
    a = open_account(HL_SOL, 100 * USDC)
    a, _ = trade(a, ts=1, side=Side.BUY, base=10 * SOL, price=150 * PRICE, liquidity=Liquidity.MAKER)  # $1,500 at 15x
    liq = a.liquidation_price()
    assert liq is not None
    assert not a.is_liquidatable(liq + 1) and a.is_liquidatable(liq - 1)
    same, none = liquidate(a, 2, liq + 1)
    assert none is None and same == a
    a, event = liquidate(a, 3, 142 * PRICE)
    assert event is not None and a.base == 0 and a.liquidations == 1
    assert event.penalty > 0 and event.bad_debt == 0
    assert a.collateral >= 0 and a.conserved()


def test_liquidation_past_zero_records_bad_debt_not_negative_collateral() -> None:
    a = open_account(HL_SOL, 100 * USDC)
    a, _ = trade(a, ts=1, side=Side.BUY, base=10 * SOL, price=150 * PRICE, liquidity=Liquidity.MAKER)
    a, event = liquidate(a, 2, 100 * PRICE)  # a $500 loss on $100 of collateral
    assert event is not None and event.penalty == 0 and event.bad_debt > 0
    assert a.collateral == 0 and a.conserved()


def test_short_liquidation_price_is_above_the_entry() -> None:
    a = open_account(HL_SOL, 100 * USDC)
    a, _ = trade(a, ts=1, side=Side.SELL, base=10 * SOL, price=150 * PRICE, liquidity=Liquidity.MAKER)
    liq = a.liquidation_price()
    assert liq is not None and liq > 150 * PRICE
    assert not a.is_liquidatable(liq - 1) and a.is_liquidatable(liq + 1)
