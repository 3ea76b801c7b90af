"""Hypothesis properties of the paper account's interest booking (``PaperAccount.accrue_interest``) over random
balances (a USDC deposit or borrow, a SOL deposit) and random growth of the markets' cumulative interest: a deposit
never loses and a borrow never gains, each balance moves exactly by its ``InterestAccrued``, the amount is what the
balance's Drift scaled balance is worth more (within one token unit of the exact product), and the equity moves by
the interest and nothing else (at the same oracle)."""

from __future__ import annotations

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from botrunner.core.catalogue import load_catalogue
from botrunner.core.precision import QUOTE_PRECISION, SOL_SPOT_MARKET_INDEX
from botrunner.margin.model import SpotMarketState
from botrunner.margin.spot_balance import token_value
from botrunner.paper.config import PaperConfig
from botrunner.paper.venue import PaperVenue
from botrunner.venue.port import Deposit, InterestAccrued, VenueEvent

SOL_PERP = load_catalogue().perp("SOL-PERP")
T0 = 1_000


def _grown(market: SpotMarketState, deposit_ppb: int, borrow_ppb: int) -> SpotMarketState:
    return msgspec.structs.replace(
        market,
        cumulative_deposit_interest=market.cumulative_deposit_interest * (10**9 + deposit_ppb) // 10**9,
        cumulative_borrow_interest=market.cumulative_borrow_interest * (10**9 + borrow_ppb) // 10**9,
    )


@settings(max_examples=500, deadline=None)
@given(
    usdc=st.integers(-(10**12), 10**12).filter(bool),
    sol=st.integers(0, 10**13),
    steps=st.lists(st.tuples(st.integers(0, 10**8), st.integers(0, 10**8), st.integers(0, 10**8)), max_size=4),
    oracle=st.integers(1, 10**9),
)
def test_interest_moves_each_balance_by_its_event_and_the_equity_by_the_interest(
    usdc: int, sol: int, steps: list[tuple[int, int, int]], oracle: int
) -> None:
    v = PaperVenue(SOL_PERP, PaperConfig(), deposit_quote=QUOTE_PRECISION, oracle_price=oracle, now=T0)
    account = v._account
    if sol:
        v.submit(Deposit(spot_market_index=SOL_SPOT_MARKET_INDEX, amount=sol), T0)
    account.usdc = usdc
    account.changed()
    for usdc_growth, sol_growth, borrow_extra in steps:
        before = (account.usdc, account.sol, v.equity())
        usdc_before_market, sol_before_market = account.usdc_market, account.sol_market
        out: list[VenueEvent] = []
        account.accrue_interest(
            _grown(usdc_before_market, usdc_growth, usdc_growth + borrow_extra),
            _grown(sol_before_market, sol_growth, sol_growth + borrow_extra),
            out,
        )
        amounts = {e.spot_market_index: e.amount for e in out if isinstance(e, InterestAccrued)}
        assert len(out) == len(amounts) == (before[0] != 0) + (before[1] != 0)
        usdc_interest, sol_interest = amounts.get(0, 0), amounts.get(1, 0)
        assert (account.usdc, account.sol) == (before[0] + usdc_interest, before[1] + sol_interest)
        # a deposit earns, a borrow pays; about balance x growth (the scaled balance rounds by < 1 token unit)
        if before[0] > 0:
            exact = before[0] * account.usdc_market.cumulative_deposit_interest
            assert usdc_interest >= 0
            assert abs(usdc_interest - (exact // usdc_before_market.cumulative_deposit_interest - before[0])) <= 2
        elif before[0] < 0:
            exact = -before[0] * account.usdc_market.cumulative_borrow_interest
            assert usdc_interest <= 0
            assert abs(-usdc_interest - (exact // usdc_before_market.cumulative_borrow_interest + before[0])) <= 2
        assert sol_interest >= 0
        # the equity moves by the interest only (the SOL's value floors: within one quote unit)
        expected = before[2] + usdc_interest + token_value(sol_interest, 9, oracle)
        assert abs(v.equity() - expected) <= 1
        assert account.current() == account.account()
    assert v.ledger.interest_sol == account.sol - sol
