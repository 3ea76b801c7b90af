"""Capital conservation on the external venue's paper account over random trades, price moves, funding and
liquidations: no operation creates or destroys money, collateral never goes negative, an accepted risk-adding
trade always leaves the initial margin covered, and a round trip back to flat realises exactly the fills' cash."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from botrunner.core.side import Side
from botrunner.marketdata.venue_data import Coin, Venue
from botrunner.marketdata.venue_funding import FundingPoint
from botrunner.paper.external import (
    EXTERNAL_MARKETS,
    ExternalAccount,
    ExternalFill,
    ExternalRejection,
    liquidate,
    open_account,
    settle_funding,
    trade,
)
from botrunner.venue.port import Liquidity

USDC = 10**6
PRICE = 10**6

trade_op = st.tuples(
    st.just("trade"),
    st.sampled_from(Side),
    st.integers(min_value=1, max_value=400),
    st.integers(min_value=-300, max_value=300),  # price move, bps
    st.sampled_from(Liquidity),
)
funding_op = st.tuples(st.just("funding"), st.integers(min_value=-4 * 10**8, max_value=4 * 10**8))
move_op = st.tuples(st.just("move"), st.integers(min_value=-2_000, max_value=2_000))


@settings(max_examples=300, deadline=None)
@given(
    market=st.sampled_from(sorted(EXTERNAL_MARKETS, key=str)),
    deposit=st.integers(min_value=0, max_value=50_000 * USDC),
    price0=st.integers(min_value=1 * PRICE, max_value=100_000 * PRICE),
    ops=st.lists(st.one_of(trade_op, funding_op, move_op), max_size=40),
)
def test_capital_is_conserved(
    market: tuple[Venue, Coin], deposit: int, price0: int, ops: list[tuple[object, ...]]
) -> None:
    rules = EXTERNAL_MARKETS[market]
    account = open_account(rules, deposit)
    price = price0
    ts = 0
    cash_since_flat = 0  # the fills' signed quote since the position was last flat
    realised_since_flat = 0
    for op in ops:
        ts += rules.funding_interval_s
        before = account
        match op:
            case ("trade", Side() as side, int(steps), int(move), Liquidity() as liq):
                price = max(1, price + price * move // 10_000)
                account, result = trade(
                    account, ts=ts, side=side, base=steps * rules.step_base, price=price, liquidity=liq
                )
                if isinstance(result, ExternalFill):
                    cash_since_flat += result.quote
                    realised_since_flat += result.realised_pnl
                    grew = abs(account.base) > abs(before.base) or (account.base > 0) != (before.base > 0)
                    if grew and account.base != 0:
                        assert account.equity(price) >= account.initial_requirement(price)
                else:
                    assert isinstance(result, ExternalRejection) and account == before
            case ("funding", int(rate)):
                account, _ = settle_funding(account, FundingPoint(ts, rules.funding_interval_s, rate), price)
            case ("move", int(move)):
                price = max(1, price + price * move // 10_000)
            case _:
                raise AssertionError(op)
        account, event = liquidate(account, ts, price)
        if event is not None:
            assert account.base == 0
        assert account.conserved(), account
        assert account.collateral >= 0
        assert not account.is_liquidatable(price)
        if account.base == 0:
            # back to flat: everything realised since the last flat moment is exactly the quote cash of the fills
            # (the entry cost is carried exactly and released whole at the close)
            if event is None:  # (a liquidation's close is not a fill: its cash is in event.realised_pnl)
                assert realised_since_flat == cash_since_flat
            cash_since_flat = 0
            realised_since_flat = 0
    _check_ledger(account)


def _check_ledger(account: ExternalAccount) -> None:
    assert account.fees_paid >= 0 or account.rules.maker_ppm < 0
    assert account.liquidation_penalties >= 0 and account.bad_debt >= 0
