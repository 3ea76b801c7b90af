"""The two-leg what-if: a spot trade against USDC plus a perp fill, priced by the Drift-exact engine."""

from __future__ import annotations

from botrunner.margin.legs import LegsTrade, LegsWhatIf, apply_legs, apply_spot_trade, spot_amount, spot_trade_quote
from botrunner.margin.metrics import account_margin
from tests.support.margin import SOL, USDC, account, catalogue_markets, perp_at, sol_deposit, usdc_deposit

MARKETS = catalogue_markets(140 * USDC)


def test_spot_buy_moves_sol_and_pays_usdc_rounded_against_the_account() -> None:
    acct = account(usdc_deposit(MARKETS, 1_000 * USDC))
    after = apply_spot_trade(acct, MARKETS, 1, 3 * SOL + 1, 140 * USDC, fee=USDC)
    assert spot_amount(after, MARKETS, 1) == 3 * SOL + 1
    # 3.000000001 SOL x $140 = $420.00000014 -> pays $420.000001 (rounded up), plus the $1 fee
    assert spot_amount(after, MARKETS, 0) == 1_000 * USDC - 420_000_001 - USDC
    assert spot_trade_quote(-(SOL + 1), 140 * USDC, 9) == 140_000_000  # a sell receives the rounded-down quote


def test_spot_buy_beyond_usdc_borrows_usdc() -> None:
    acct = account(usdc_deposit(MARKETS, 100 * USDC))
    after = apply_spot_trade(acct, MARKETS, 1, SOL, 140 * USDC)
    assert spot_amount(after, MARKETS, 0) == -40 * USDC


def test_hedged_entry_keeps_health_high_and_counts_sol_at_its_asset_weight() -> None:
    acct = account(usdc_deposit(MARKETS, 10_000 * USDC))
    whatif = LegsWhatIf(acct, MARKETS, 0, 1)
    now = whatif.project_legs(0, 0)
    after = whatif.project_legs(-50 * SOL, 50 * SOL)
    assert now.health == 100 and now.leverage == 0
    # $7,000 of SOL: collateral $3,000 USDC + $7,000 x 0.9 (maintenance weight) ; perp $7,000 short x 3 %
    assert after.maintenance.total_collateral == 3_000 * USDC + 6_300 * USDC
    assert after.leverage == 7_000  # 0.7x: $7,000 of perp on $10,000 net
    # the same figures as building the hedged account by hand
    by_hand = account(
        usdc_deposit(MARKETS, 3_000 * USDC), sol_deposit(MARKETS, 50 * SOL), perps=(perp_at(-50 * SOL, 140 * USDC),)
    )
    assert account_margin(by_hand, MARKETS).health == after.health


def test_fees_and_slippage_cost_collateral() -> None:
    acct = account(usdc_deposit(MARKETS, 10_000 * USDC))
    plain = LegsWhatIf(acct, MARKETS, 0, 1).project_legs(-50 * SOL, 50 * SOL)
    costly = LegsWhatIf(acct, MARKETS, 0, 1, perp_fee_bps=10, spot_fee_bps=10, slippage_bps=20)
    trade = costly.trade(-50 * SOL, 50 * SOL)
    assert trade.spot_price > 140 * USDC > trade.perp_price  # buys above, sells below the oracle
    assert costly.project_legs(-50 * SOL, 50 * SOL).maintenance.total_collateral < plain.maintenance.total_collateral


def test_apply_legs_zero_trade_is_identity() -> None:
    acct = account(usdc_deposit(MARKETS, 10 * USDC))
    trade = LegsTrade(perp_delta=0, perp_price=140 * USDC, spot_delta=0, spot_price=140 * USDC)
    assert apply_legs(acct, MARKETS, 0, 1, trade) == acct
