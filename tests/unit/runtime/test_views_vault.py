"""What ``ctl bot`` (and the dashboard) shows of a two-leg paper bot beyond its legs
(``botrunner.runtime.views.two_leg_detail``): the carry's parts, which add up to the smoothed carry, and the engine
vault read from the paper venue's books — allocated capital, balances, the realised PnL split with the interest at
the backtest report's rule — and from the spot fills' books (``botrunner.margin.spot_basis``): the spot leg's entry
price (our weighted-average cost) and its realised trading PnL, added to the perp's."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from botrunner.bot.driver import BotDriver, RowBuffer
from botrunner.bot.pipeline import BotDefinition
from botrunner.bot.step import BarClose, FundingSettled
from botrunner.config import BotConfig, load_bot
from botrunner.core.records import SpotFillRow
from botrunner.margin.spot_basis import SpotBasis, spot_basis
from botrunner.paper.config import PaperConfig
from botrunner.paper.venue import PaperVenue
from botrunner.runtime.paper_bot import PaperBot
from botrunner.runtime.views import two_leg_detail, vault_view

ROOT = Path(__file__).resolve().parents[3]
T0 = 1_757_808_000
PRICE = 200_000_000
FAVOURABLE = 20_000_000  # $0.02 per SOL per hour, longs pay: the short leg receives


def _bot() -> BotConfig:
    bot = load_bot(ROOT / "config" / "bots" / "sol-delta-neutral.yaml")
    carry = msgspec.structs.replace(bot.strategy.carry, always_in=True)
    return msgspec.structs.replace(bot, strategy=msgspec.structs.replace(bot.strategy, carry=carry))


def _paper(bot: BotConfig) -> PaperBot:
    definition = BotDefinition.from_config(bot)
    config = PaperConfig(interest=bot.paper.interest).validate()  # the example's interest curves, as a backtest
    venue = PaperVenue(bot.market_spec, config, deposit_quote=bot.capital_quote, oracle_price=PRICE, now=T0)
    return PaperBot(BotDriver(definition, venue, definition.initial_state(T0), RowBuffer()), venue)


def _sink(paper: PaperBot) -> RowBuffer:
    sink = paper.driver.sink
    assert isinstance(sink, RowBuffer)
    return sink


def _books(paper: PaperBot) -> SpotBasis:
    return spot_basis(_sink(paper).spot_fills, 1, 9)


def test_before_any_decision_the_vault_is_the_deposit_and_the_carry_has_no_parts() -> None:
    paper = _paper(_bot())
    fields, vault = two_leg_detail(paper, _books(paper))
    assert "carry_deposit_apr_pct" not in fields and fields["reason"] == "no decision yet"
    assert vault.allocated == vault.usdc_balance == vault.equity == "10000.000000"
    assert vault.sol_balance == "0.000000000" and vault.realized_interest == "0.000000"
    assert fields["spot_entry"] == "-" and vault.spot_entry is None  # no fill holds SOL: no entry price
    assert vault.realized_trading == vault.perp_trading == vault.spot_trading == "0.000000"


def test_in_the_market_the_carry_parts_add_up_and_the_vault_holds_both_legs_and_the_interest() -> None:
    paper = _paper(_bot())
    driver, venue = paper.driver, paper.venue
    driver.feed(FundingSettled(T0, FAVOURABLE))
    driver.feed(BarClose(ts=T0 + 300, close_ts=T0 + 300, price=PRICE, oracle=PRICE))  # enters both legs
    for hour in range(1, 25):  # a day held: the carry engine sees funding; the venue accrues interest hourly
        driver.feed(FundingSettled(T0 + 3600 * hour, FAVOURABLE))
        driver.feed(BarClose(ts=T0 + 3600 * hour + 300, close_ts=T0 + 3600 * hour + 300, price=PRICE, oracle=PRICE))
    books = _books(paper)
    fields, vault = two_leg_detail(paper, books)

    deposit, funding = Decimal(fields["carry_deposit_apr_pct"]), Decimal(fields["carry_funding_apr_pct"])
    assert deposit == Decimal("1.97")  # the example's SOL curve: 1.9758 %/yr, in whole bps as the engine rounds
    assert deposit + funding == Decimal(fields["carry_apr_smoothed_pct"]) and funding > 0

    ledger = venue.ledger
    sol = venue.spot_balance(1)
    assert sol > 40 * 10**9  # 40 SOL bought, plus a day of deposit interest
    assert Decimal(vault.sol_balance) == Decimal(sol) / 10**9 == Decimal(fields["spot_sol"])
    assert Decimal(vault.interest_sol) == Decimal(ledger.interest_sol) / 10**9 > 0
    # the interest's USD value: the SOL earned at the oracle (its value with it minus without it) plus USDC's
    sol_interest_usd = Decimal(ledger.interest_sol) * PRICE // 10**9 / Decimal(10**6)
    assert abs(Decimal(vault.realized_interest) - Decimal(ledger.interest_usdc) / 10**6 - sol_interest_usd) <= Decimal(
        "0.000001"
    )
    # the venue settles funding from its own feed (the runtime's), not from the bot's FundingSettled: none here
    assert Decimal(vault.realized_funding) == Decimal(ledger.funding) / 10**6
    assert Decimal(vault.realized_fees) == Decimal(ledger.fees + ledger.spot_fees) / 10**6 > 0
    assert vault.allocated == "10000.000000" and Decimal(vault.available) > 0
    assert Decimal(vault.equity) == Decimal(venue.equity()) / 10**6

    # the spot leg's entry: the average cost of its fills (bought at the oracle plus the venue's slippage), not a
    # Drift field; nothing sold yet, so no spot trading PnL is realised
    assert books.fills >= 1 and books.base == sol - ledger.interest_sol  # the fills' SOL: the balance less interest
    entry = books.entry_price()
    assert entry is not None and fields["spot_entry"] == vault.spot_entry
    assert Decimal(vault.spot_entry) == Decimal(entry) / 10**6
    # the fills' prices weighted by their size (their quotes round up a buy's cost: at most one unit above)
    bought = [f for f in _sink(paper).spot_fills if f.side == "buy"]
    weighted = sum(f.price * f.base for f in bought) // sum(f.base for f in bought)
    assert weighted <= entry <= weighted + 1 and PRICE < entry < PRICE * 101 // 100
    assert books.fees == ledger.spot_fees and vault.spot_trading == "0.000000"
    assert Decimal(vault.realized_trading) == Decimal(vault.perp_trading) == Decimal(ledger.realized) / 10**6


def test_the_vault_s_trading_pnl_is_the_perp_s_plus_the_spot_fills_sold_against_their_average_cost() -> None:
    paper = _paper(_bot())
    sol = 10**9
    fills = [
        SpotFillRow(T0, 1, "buy", 100_000_000, 2 * sol, -200_000_000, 80_000),
        SpotFillRow(T0 + 60, 1, "buy", 200_000_000, 2 * sol, -400_000_000, 160_000),
        SpotFillRow(T0 + 120, 1, "sell", 180_000_000, sol, 180_000_000, 72_000),
    ]
    vault = vault_view(paper, spot_basis(fills, 1, 9))
    assert vault.spot_entry == "150.000000" and vault.spot_trading == "30.000000"  # 1 SOL at 180 against 150
    assert Decimal(vault.realized_trading) == Decimal(vault.perp_trading) + Decimal(vault.spot_trading)
    with pytest.raises(ValueError, match="spot books are market 0's, not SOL's"):
        vault_view(paper, SpotBasis(market_index=0, decimals=6))
