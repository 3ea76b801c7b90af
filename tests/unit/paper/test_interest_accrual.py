"""Unit tests of the paper account's interest booking (``PaperAccount.accrue_interest``): a Drift interest update
moves the markets' cumulative interest, each balance gains (deposit) or owes (borrow) what its scaled balance is
worth more, ``InterestAccrued`` per balance, the margin views follow, and a checkpoint keeps it all."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from botrunner.core.catalogue import load_catalogue
from botrunner.core.precision import (
    BASE_PRECISION,
    PRICE_PRECISION,
    QUOTE_PRECISION,
    QUOTE_SPOT_MARKET_INDEX,
    SOL_SPOT_MARKET_INDEX,
    SPOT_CUMULATIVE_INTEREST_PRECISION,
)
from botrunner.margin.interest import SpotRateCurve, rates_at
from botrunner.margin.model import BalanceType, SpotMarketState
from botrunner.paper import persist
from botrunner.paper.account import drift_scaled_balance
from botrunner.paper.accrual import Accrual
from botrunner.paper.config import InterestSettings, MarketRates, PaperConfig
from botrunner.paper.venue import PaperVenue
from botrunner.venue.port import Deposit, InterestAccrued, SettlePnl, VenueEvent

SOL_PERP = load_catalogue().perp("SOL-PERP")
ONE = SPOT_CUMULATIVE_INTEREST_PRECISION
USDC = QUOTE_PRECISION
USD = PRICE_PRECISION
T0 = 1_000
# a curve with SOL's shape (kink at 80 %, 5 % / 100 % borrow APR), 10 % to the insurance stakers
SOL_CURVE = SpotRateCurve(
    optimal_utilization=800_000, optimal_borrow_rate=50_000, max_borrow_rate=1_000_000, insurance_total_factor=100_000
)


def grown(market: SpotMarketState, deposit_ppm: int, borrow_ppm: int) -> SpotMarketState:
    """``market`` after its cumulative deposit / borrow interest grew by these parts per million."""
    return msgspec.structs.replace(
        market,
        cumulative_deposit_interest=market.cumulative_deposit_interest * (10**6 + deposit_ppm) // 10**6,
        cumulative_borrow_interest=market.cumulative_borrow_interest * (10**6 + borrow_ppm) // 10**6,
    )


def venue_with(usdc: int, sol: int = 0) -> PaperVenue:
    v = PaperVenue(SOL_PERP, PaperConfig(), deposit_quote=usdc, oracle_price=150 * PRICE_PRECISION, now=T0)
    if sol:
        v.submit(Deposit(spot_market_index=SOL_SPOT_MARKET_INDEX, amount=sol), T0)
    return v


def test_accrue_interest_when_both_deposits_grow_then_each_earns_and_an_event_per_market() -> None:
    v = venue_with(10_000 * USDC, 2 * BASE_PRECISION)
    account = v._account
    equity_before = v.equity()
    out: list[VenueEvent] = []
    account.accrue_interest(grown(account.usdc_market, 10_000, 20_000), grown(account.sol_market, 5_000, 9_000), out)
    assert out == [
        InterestAccrued(ts=T0, spot_market_index=QUOTE_SPOT_MARKET_INDEX, amount=100 * USDC),  # +1 %
        InterestAccrued(ts=T0, spot_market_index=SOL_SPOT_MARKET_INDEX, amount=BASE_PRECISION // 100),  # +0.5 %
    ]
    assert (v.usdc, v.sol) == (10_100 * USDC, 2_010_000_000)
    assert (v.ledger.interest_usdc, v.ledger.interest_sol) == (100 * USDC, 10_000_000)
    # the margin views follow the new balances (the account's caches were invalidated)
    assert v.equity() == equity_before + 100 * USDC + 10_000_000 * 150 * PRICE_PRECISION // BASE_PRECISION
    assert account.current() == account.account()


def test_accrue_interest_when_usdc_is_borrowed_then_it_pays_the_borrow_rate_rounded_against_it() -> None:
    v = venue_with(100 * USDC)
    account = v._account
    account.usdc = -50 * USDC - 1  # a borrow (as after settling a loss)
    account.changed()
    market = account.usdc_market
    out: list[VenueEvent] = []
    new = grown(market, 1_000, 3_333)
    account.accrue_interest(new, account.sol_market, out)
    scaled = drift_scaled_balance(50 * USDC + 1, market, BalanceType.BORROW)
    ceil = lambda a: -(-a // 10**13)  # noqa: E731  token_amount of a borrow: scaled * interest / 1e13, rounded up
    owed = -(ceil(scaled * new.cumulative_borrow_interest) - ceil(scaled * ONE))
    assert out == [InterestAccrued(ts=T0, spot_market_index=QUOTE_SPOT_MARKET_INDEX, amount=owed)]
    assert owed < 0 and v.usdc == -50 * USDC - 1 + owed
    assert v.ledger.interest_usdc == owed


def test_accrue_interest_when_nothing_is_held_then_no_event_but_the_markets_move() -> None:
    v = venue_with(100 * USDC)
    account = v._account
    v.submit(SettlePnl(), T0)
    account.usdc = 0
    account.changed()
    out: list[VenueEvent] = []
    usdc_market = grown(account.usdc_market, 1_000, 2_000)
    account.accrue_interest(usdc_market, account.sol_market, out)
    assert out == []
    assert account.usdc_market == usdc_market


def test_checkpoint_keeps_the_interest_state() -> None:
    v = venue_with(10_000 * USDC, 2 * BASE_PRECISION)
    account = v._account
    account.accrue_interest(grown(account.usdc_market, 1_234, 2_000), grown(account.sol_market, 777, 999), [])
    restored = persist.restore(persist.checkpoint(v), SOL_PERP, PaperConfig())
    assert restored._account.usdc_market == account.usdc_market
    assert restored._account.sol_market == account.sol_market
    assert (restored.usdc, restored.sol) == (v.usdc, v.sol)
    assert (restored.ledger.interest_usdc, restored.ledger.interest_sol) == (
        v.ledger.interest_usdc,
        v.ledger.interest_sol,
    )
    assert restored.report() == v.report()
    # and the next update books the same interest on both
    out_a: list[VenueEvent] = []
    out_b: list[VenueEvent] = []
    account.accrue_interest(grown(account.usdc_market, 500, 600), account.sol_market, out_a)
    restored._account.accrue_interest(
        grown(restored._account.usdc_market, 500, 600), restored._account.sol_market, out_b
    )
    assert out_a == out_b


YEAR = 365 * 24 * 3600


def simple(market: SpotMarketState, deposit_rate: int, borrow_rate: int, dt: int) -> SpotMarketState:
    """A stand-in for one interest update (rates ppm a year, simple over ``dt``): the schedule is under test here,
    not the interest maths (``botrunner.margin.interest``)."""
    dep = market.cumulative_deposit_interest
    bor = market.cumulative_borrow_interest
    return msgspec.structs.replace(
        market,
        cumulative_deposit_interest=dep + dep * deposit_rate * dt // (YEAR * 10**6),
        cumulative_borrow_interest=bor + bor * borrow_rate * dt // (YEAR * 10**6),
    )


def accrual_venue(seen: list[tuple[int, int]] | None = None) -> PaperVenue:
    def usdc_rates(market: SpotMarketState, ts: int) -> tuple[int, int]:
        if seen is not None:
            seen.append((market.market_index, ts))
        return 100_000, 150_000  # 10 % / 15 % a year

    accrual = Accrual(
        usdc_rates=usdc_rates, sol_rates=lambda m, t: (50_000, 80_000), accumulate=simple, every_s=3_600, last_ts=T0
    )
    v = PaperVenue(
        SOL_PERP,
        PaperConfig(),
        deposit_quote=10_000 * USDC,
        oracle_price=150 * PRICE_PRECISION,
        now=T0,
        accrual=accrual,
    )
    v.submit(Deposit(spot_market_index=SOL_SPOT_MARKET_INDEX, amount=2 * BASE_PRECISION), T0)
    return v


def test_venue_accrues_at_the_cadence_and_before_every_command() -> None:
    seen: list[tuple[int, int]] = []
    v = accrual_venue(seen)
    price = 150 * PRICE_PRECISION
    assert v.on_price(T0 + 3_599, price, price) == []  # not due yet
    events = v.on_price(T0 + 3_600, price, price)
    assert [type(e) for e in events] == [InterestAccrued, InterestAccrued]
    assert [e.spot_market_index for e in events] == [QUOTE_SPOT_MARKET_INDEX, SOL_SPOT_MARKET_INDEX]
    # 10 % a year on 10,000 USDC over an hour: 0.114155 USDC (the stand-in maths, rounded down)
    first = 10_000 * USDC * 100_000 * 3_600 // (YEAR * 10**6)
    assert events[0].amount == first
    assert seen == [(QUOTE_SPOT_MARKET_INDEX, T0)]  # the rate in force at the start of the interval
    # a command 10 s later is an interaction: the markets update first
    events = v.submit(SettlePnl(), T0 + 3_610)
    assert isinstance(events[0], InterestAccrued) and events[0].amount > 0
    assert seen[-1] == (QUOTE_SPOT_MARKET_INDEX, T0 + 3_600)
    assert v.ledger.interest_usdc == first + events[0].amount


def test_venue_without_accrual_books_no_interest() -> None:
    v = venue_with(10_000 * USDC, 2 * BASE_PRECISION)
    price = 150 * PRICE_PRECISION
    assert v.on_price(T0 + 10 * 86_400, price, price) == []
    assert (v.usdc, v.sol) == (10_000 * USDC, 2 * BASE_PRECISION)


def test_a_restored_venue_goes_on_from_the_last_interest_update() -> None:
    v = accrual_venue()
    price = 150 * PRICE_PRECISION
    v.on_price(T0 + 3_600, price, price)
    data = persist.checkpoint(v)
    twin = persist.restore(
        data,
        SOL_PERP,
        PaperConfig(),
        accrual=Accrual(
            usdc_rates=lambda m, t: (100_000, 150_000),
            sol_rates=lambda m, t: (50_000, 80_000),
            accumulate=simple,
            every_s=3_600,
            last_ts=0,  # replaced by the checkpoint's
        ),
    )
    assert twin._accrual is not None and twin._accrual.last_ts == T0 + 3_600
    assert v.on_price(T0 + 7_300, price, price) == twin.on_price(T0 + 7_300, price, price)
    assert (twin.usdc, twin.sol, twin.report()) == (v.usdc, v.sol, v.report())


def test_config_with_a_rate_series_accrues_its_rates_and_a_checkpoint_keeps_the_clock(tmp_path: Path) -> None:
    rates = tmp_path / "usdc.csv"
    rates.write_text("ts,deposit_apr,borrow_apr\n0,0.10,0.15\n")
    config = PaperConfig(
        interest=InterestSettings(
            usdc=MarketRates(series=str(rates)),
            sol=MarketRates(utilization=500_000, curve=SOL_CURVE),
        )
    )
    v = PaperVenue(SOL_PERP, config, deposit_quote=10_000 * USDC, oracle_price=150 * USD, now=T0)
    v.submit(Deposit(spot_market_index=SOL_SPOT_MARKET_INDEX, amount=2 * BASE_PRECISION), T0)
    events = v.on_price(T0 + 3_600, 150 * USD, 150 * USD)
    usdc_event, sol_event = events
    assert isinstance(usdc_event, InterestAccrued) and isinstance(sol_event, InterestAccrued)
    # 10 % a year over an hour on 10,000 USDC: cumulative 1e10 grows by 1e10 * 100_000 * 3600 // 31_536_000 // 1e6
    growth = ONE * (100_000 * 3_600) // 31_536_000 // 10**6
    assert usdc_event.amount == 10_000 * USDC * (ONE + growth) // ONE - 10_000 * USDC
    point = rates_at(SOL_CURVE, 500_000)
    sol_growth = ONE * (point.deposit_rate * 3_600) // 31_536_000 // 10**6
    assert sol_event.amount == 2 * BASE_PRECISION * (ONE + sol_growth) // ONE - 2 * BASE_PRECISION > 0
    twin = persist.restore(persist.checkpoint(v), SOL_PERP, config)
    assert twin._accrual is not None and twin._accrual.last_ts == T0 + 3_600
    assert v.on_price(T0 + 7_200, 150 * USD, 150 * USD) == twin.on_price(T0 + 7_200, 150 * USD, 150 * USD)


@pytest.mark.parametrize(
    ("rates", "needle"),
    [
        (MarketRates(), "exactly one"),
        (MarketRates(series="x.csv", utilization=1, curve=SOL_CURVE), "exactly one"),
        (MarketRates(utilization=500_000), "go together"),
        (MarketRates(utilization=1_000_001, curve=SOL_CURVE), "utilization must be in"),
        (MarketRates(series=" "), "empty path"),
    ],
)
def test_interest_settings_when_impossible_then_a_one_line_error_naming_the_field(
    rates: MarketRates, needle: str
) -> None:
    with pytest.raises(ValueError, match=needle) as info:
        PaperConfig(interest=InterestSettings(usdc=rates, sol=MarketRates(series="s.csv"))).validate()
    assert "PaperConfig.interest.usdc" in str(info.value)
    with pytest.raises(ValueError, match="every_s"):
        InterestSettings(usdc=MarketRates(series="a"), sol=MarketRates(series="b"), every_s=0).validate()
