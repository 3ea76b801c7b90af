"""A live bot's spot rates read from the chain (botrunner.live.rates): every real SpotMarket snapshot of protocol-v2's
tests, decoded with driftpy, gives the deposit and borrow APR of Drift's curve formula at its utilisation; and the
two-leg step counts the venue's own rate when the venue has one."""

from __future__ import annotations

import base64
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from botrunner.bot.driver import BotDriver, RowBuffer
from botrunner.bot.pipeline import BotDefinition
from botrunner.bot.step import BarClose, FundingSettled
from botrunner.config import load_bot
from botrunner.drift.codec import decode_account
from botrunner.live.rates import chain_rates
from botrunner.margin.interest import RatePoint
from botrunner.paper.config import PaperConfig
from botrunner.paper.venue import PaperVenue
from tests.support.margin import protocol_v2_entries

SPOT_MARKET_DISCRIMINATOR = "64b1086ba8414127"  # sha256("account:SpotMarket")[:8]
SEGMENTS = ((0.85, 0.05), (0.90, 0.10), (0.95, 0.15), (0.99, 0.20), (0.995, 0.25), (1.0, 0.25))


def _spot_markets() -> list[Any]:
    raws = [base64.b64decode(e["b64"]) for e in protocol_v2_entries() if e["disc"] == SPOT_MARKET_DISCRIMINATOR]
    return [decode_account(raw, expect="SpotMarket", what="protocol-v2 snapshot") for raw in raws]


def _formula(sm: Any) -> tuple[float, float, float]:
    """(utilisation, borrow APR, deposit APR) as fractions of 1, straight from the curve's definition in real
    numbers: tokens = scaled balance x cumulative interest; borrow rate linear to the kink, then the extra rate
    spread over the fixed segments by weight, floored at min_borrow_rate x 0.5 %; deposit rate = borrow rate x
    utilisation x (1 - insurance factor)."""
    scale = Fraction(10 ** (19 - int(sm.decimals)))
    deposits = Fraction(int(sm.deposit_balance) * int(sm.cumulative_deposit_interest)) / scale
    borrows = Fraction(int(sm.borrow_balance) * int(sm.cumulative_borrow_interest)) / scale
    u = float(borrows / deposits) if deposits else (0.0 if not borrows else 1.0)
    opt_u = int(sm.optimal_utilization) / 1e6
    opt_r = int(sm.optimal_borrow_rate) / 1e6
    extra = int(sm.max_borrow_rate) / 1e6 - opt_r
    if u <= opt_u:
        rate = opt_r * u / opt_u
    else:
        rate, prev = opt_r, opt_u
        for end, weight in SEGMENTS:
            if u <= end:
                rate += extra * weight * (u - prev) / (end - prev)
                break
            rate += extra * weight
            prev = end
    rate = max(rate, int(sm.min_borrow_rate) * 0.005)
    return u, rate, rate * u * (1 - int(sm.insurance_fund.total_factor) / 1e6)


def test_rates_of_every_real_spot_market_snapshot_follow_the_curve_formula() -> None:
    markets = _spot_markets()
    assert len(markets) == 7  # the SpotMarket buffers of the file (USDC x4, SOL x2, BTC)
    checked = 0
    for sm in markets:
        rates = chain_rates({int(sm.market_index): sm})[int(sm.market_index)]
        u, borrow, deposit = _formula(sm)
        # integer maths in 1e6 rounds down at each step: a few units of 1e-6 a year at most
        assert abs(rates.utilization - u * 1e6) <= 1, sm.market_index
        assert abs(rates.borrow_rate - borrow * 1e6) <= 5, (sm.market_index, rates, borrow)
        assert abs(rates.deposit_rate - deposit * 1e6) <= 5, (sm.market_index, rates, deposit)
        assert 0 <= rates.deposit_rate <= rates.borrow_rate
        checked += u > 0
    assert checked >= 5  # most snapshots have borrows: the check is not only of empty markets


def test_rates_of_the_sol_snapshot_are_the_hand_checked_figures() -> None:
    """SOL spot (liquidation test snapshot line 8941): 37.5678 % utilisation, 14 % / 80 % x u = 6.5743 % borrow,
    x u x 0.8 = 1.9758 % deposit (the figures tests/unit/margin/test_interest.py checks on the curve itself)."""
    raw = next(base64.b64decode(e["b64"]) for e in protocol_v2_entries() if e["fn"] == "test" and e["line"] == 8941)
    sm = decode_account(raw, expect="SpotMarket", what="snapshot")
    assert chain_rates({1: sm})[1] == RatePoint(375_678, 65_743, 19_758)


class _ChainRatedVenue(PaperVenue):
    """A paper venue that reports rates of its own, as the live venue does from the chain."""

    rates = RatePoint(500_000, 250_000, 100_000)  # 10 % deposit APR

    def spot_rates(self, spot_market_index: int) -> RatePoint | None:
        return self.rates if spot_market_index == 1 else None


@pytest.mark.parametrize(("venue_cls", "apr_bps"), [(PaperVenue, 197), (_ChainRatedVenue, 1_000)])
def test_legs_step_counts_the_venues_own_deposit_apr_when_it_has_one(venue_cls: type[PaperVenue], apr_bps: int) -> None:
    bot = load_bot(Path(__file__).resolve().parents[3] / "config" / "bots" / "sol-delta-neutral.yaml")
    definition = BotDefinition.from_config(bot)
    t0, price = 1_757_808_000, 200_000_000
    venue = venue_cls(bot.market_spec, PaperConfig(), deposit_quote=bot.capital_quote, oracle_price=price, now=t0)
    rows = RowBuffer()
    driver = BotDriver(definition, venue, definition.initial_state(t0), rows)
    driver.feed(FundingSettled(t0, 0))  # no funding: the carry is the deposit APR alone
    driver.feed(BarClose(ts=t0 + 300, close_ts=t0 + 300, price=price, oracle=price))
    # paper: the configured curve (paper.interest.sol, 1.9758 %); a venue with its own rate: that rate
    assert rows.legs[-1].smoothed_carry_apr_bps == apr_bps
