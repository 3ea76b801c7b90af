"""Capital rules for live mode (botrunner.live.capital): deposits, withdrawals, transfers, settle schedule."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from botrunner.bot.settle import SettlePolicy, SettleReason, settle_due
from botrunner.config.live import LiveSettings
from botrunner.live.capital import (
    CapitalError,
    InsufficientBalance,
    MarginBreach,
    after_withdrawal,
    check_deposit,
    check_transfer,
    check_withdraw,
)
from botrunner.margin import (
    Account,
    BalanceType,
    MarginCategory,
    Markets,
    PerpPosition,
    SpotPosition,
    account_margin,
    calculate_margin,
    scaled_balance_for,
    signed_token_amount,
)
from botrunner.venue.port import RejectReason
from tests.support.margin import SOL, USDC, account, catalogue_markets, perp_at, sol_deposit, usdc_deposit

RESERVE = 17_000_000
LIVE = LiveSettings()
NOW = 1_700_000_000


def usdc_of(a: Account, m: Markets) -> int:
    sp = a.spot_position(0)
    return 0 if sp is None else signed_token_amount(sp, m.spot_market(0))


# --- deposits ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("amount", [0, -1])
def test_deposit_when_amount_not_positive_then_rejected(amount: int) -> None:
    with pytest.raises(CapitalError, match="deposit amount must be > 0"):
        check_deposit(amount, 100 * USDC, spot_market_index=0, gas_reserve_lamports=RESERVE)


def test_deposit_when_above_wallet_balance_then_rejected_naming_both() -> None:
    with pytest.raises(
        InsufficientBalance, match=r"deposit 100\.000001 USDC exceeds the wallet balance 100\.000000 USDC"
    ):
        check_deposit(100 * USDC + 1, 100 * USDC, spot_market_index=0, gas_reserve_lamports=RESERVE)


def test_deposit_when_usdc_within_balance_then_accepted_whatever_the_reserve() -> None:
    check_deposit(100 * USDC, 100 * USDC, spot_market_index=0, gas_reserve_lamports=RESERVE)


def test_deposit_when_sol_would_eat_into_gas_reserve_then_rejected() -> None:
    with pytest.raises(InsufficientBalance, match=r"leave 0\.016999999 SOL .* below the gas reserve 0\.017000000 SOL"):
        check_deposit(SOL - RESERVE + 1, SOL, spot_market_index=1, gas_reserve_lamports=RESERVE)


def test_deposit_when_sol_leaves_exactly_the_reserve_then_accepted() -> None:
    check_deposit(SOL - RESERVE, SOL, spot_market_index=1, gas_reserve_lamports=RESERVE)


# --- withdrawals ----------------------------------------------------------------------------------------------


def test_withdraw_when_no_positions_then_whole_deposit_allowed() -> None:
    m = catalogue_markets()
    a = account(usdc_deposit(m, 500 * USDC))
    check_withdraw(500 * USDC, 0, a, m)
    assert after_withdrawal(a, m.spot_market(0), 500 * USDC).spot_position(0) is None


@pytest.mark.parametrize("amount", [0, -5 * USDC])
def test_withdraw_when_amount_not_positive_then_rejected(amount: int) -> None:
    m = catalogue_markets()
    with pytest.raises(CapitalError, match="withdraw amount must be > 0"):
        check_withdraw(amount, 0, account(usdc_deposit(m, 500 * USDC)), m)


def test_withdraw_when_above_deposit_then_rejected_as_it_would_borrow() -> None:
    m = catalogue_markets()
    a = account(usdc_deposit(m, 500 * USDC))
    with pytest.raises(
        InsufficientBalance, match=r"500\.000001 USDC exceeds .* deposit 500\.000000 USDC .*never open a borrow"
    ):
        check_withdraw(500 * USDC + 1, 0, a, m)


def test_withdraw_when_position_is_a_borrow_then_rejected() -> None:
    m = catalogue_markets()
    borrow = SpotPosition(
        market_index=1,
        scaled_balance=scaled_balance_for(SOL, m.spot_market(1), BalanceType.BORROW),
        balance_type=BalanceType.BORROW,
    )
    a = account(usdc_deposit(m, 10_000 * USDC), borrow)
    with pytest.raises(InsufficientBalance, match=r"deposit 0\.000000000 SOL"):
        check_withdraw(1, 1, a, m)


def test_withdraw_when_spot_market_unknown_then_rejected() -> None:
    m = catalogue_markets()
    with pytest.raises(CapitalError, match="spot market 7 is unknown"):
        check_withdraw(1, 7, account(usdc_deposit(m, 500 * USDC)), m)


def test_withdraw_when_it_would_leave_health_below_80_then_rejected() -> None:
    m = catalogue_markets(150 * USDC)
    # 10 SOL long at 150: maintenance requirement 3 % of $1500 = $45 (+ nothing else); health 80 needs tc >= $219.5.
    a = account(usdc_deposit(m, 1_000 * USDC), perps=(perp_at(10 * SOL, 150 * USDC),))
    check_withdraw(780 * USDC, 0, a, m)  # $220 left: health round(100 * 175 / 220 = 79.5) = 80
    with pytest.raises(MarginBreach, match=r"would leave health 79 % < minimum 80 %"):
        check_withdraw(781 * USDC, 0, a, m)  # $219 left: health round(100 * 174 / 219 = 79.45) = 79
    with pytest.raises(MarginBreach, match="health"):
        check_withdraw(900 * USDC, 0, a, m)


def test_withdraw_when_health_ok_but_initial_margin_not_met_then_rejected() -> None:
    # SOL-PERP's positive unrealized pnl counts 0 toward initial collateral but fully toward maintenance: health
    # stays high while the initial requirement ($75 = 5 % of $1500) is no longer covered by the USDC left.
    m = catalogue_markets(150 * USDC)
    a = account(usdc_deposit(m, 100 * USDC), perps=(perp_at(10 * SOL, 100 * USDC),))
    after = after_withdrawal(a, m.spot_market(0), 50 * USDC)
    assert account_margin(after, m).health >= 80
    with pytest.raises(MarginBreach, match=r"below the initial margin requirement 75\.000000 USD"):
        check_withdraw(50 * USDC, 0, a, m)
    # $75 must stay: the program takes one scaled unit more than 25 USDC (see the next test), so 25 USDC leaves
    # 74.999999 and one unit less is the most that can go
    check_withdraw(25 * USDC - 1, 0, a, m)
    with pytest.raises(MarginBreach, match=r"initial collateral 74\.999999 USD"):
        check_withdraw(25 * USDC, 0, a, m)


def test_withdraw_when_amount_is_an_exact_number_of_scaled_units_then_the_program_takes_one_more() -> None:
    # protocol-v2 update_spot_balances, leaving Drift: get_spot_balance(amount, round_up) = amount * 1e13 // 1e10
    # + 1 scaled units for USDC at interest 1.0. 500 USDC is 500e9 units; 100 USDC takes 100e9 + 1 of them, which
    # leave 399.999999 USDC, not 400.
    m = catalogue_markets()
    a = account(usdc_deposit(m, 500 * USDC))
    after = after_withdrawal(a, m.spot_market(0), 100 * USDC)
    assert usdc_of(after, m) == 400 * USDC - 1


def test_withdraw_when_sol_twap_below_oracle_then_initial_margin_priced_strictly() -> None:
    # 10 SOL long at 150 backed by SOL deposits (initial asset weight 0.8). After withdrawing 9.2 SOL the 0.8 SOL
    # left is worth $96 at the oracle but $64 at the 5-minute twap of 100: the program prices withdrawals strictly.
    m = catalogue_markets(150 * USDC)
    a = account(sol_deposit(m, 10 * SOL), perps=(perp_at(10 * SOL, 150 * USDC),))
    check_withdraw(9_200_000_000, 1, a, m, min_health=0)
    low_twap = msgspec.structs.replace(m.spot_market(1), oracle_price_twap_5min=100 * USDC)
    strict_markets = Markets(perp=m.perp, spot={**m.spot, 1: low_twap})
    # 63.999999: the program leaves one lamport less than 0.8 SOL (its scaled decrease rounds up)
    with pytest.raises(MarginBreach, match=r"initial collateral 63\.999999 USD below .* 75\.000000 USD"):
        check_withdraw(9_200_000_000, 1, a, strict_markets, min_health=0)


def test_withdraw_when_custom_min_health_then_used() -> None:
    m = catalogue_markets(150 * USDC)
    a = account(usdc_deposit(m, 1_000 * USDC), perps=(perp_at(10 * SOL, 150 * USDC),))
    with pytest.raises(MarginBreach, match="minimum 95 %"):
        check_withdraw(500 * USDC, 0, a, m, min_health=95)


def test_withdraw_when_sol_with_interest_then_remaining_deposit_floored() -> None:
    m = catalogue_markets()
    sol_market = msgspec.structs.replace(m.spot_market(1), cumulative_deposit_interest=10_123_456_789)
    m = Markets(perp=m.perp, spot={**m.spot, 1: sol_market})
    a = account(sol_deposit(m, 3 * SOL + 7))
    check_withdraw(SOL, 1, a, m)
    after = after_withdrawal(a, sol_market, SOL)
    remaining = signed_token_amount(
        after.spot_position(1) or SpotPosition(market_index=1, scaled_balance=0), sol_market
    )
    before = signed_token_amount(a.spot_position(1) or SpotPosition(market_index=1, scaled_balance=0), sol_market)
    assert before - SOL - 2 <= remaining <= before - SOL


def test_transfer_when_source_would_break_health_then_rejected_like_withdraw() -> None:
    m = catalogue_markets(150 * USDC)
    a = account(usdc_deposit(m, 1_000 * USDC), perps=(perp_at(10 * SOL, 150 * USDC),), sub_account_id=2)
    check_transfer(700 * USDC, 0, a, m, to_sub_account_id=3)
    with pytest.raises(MarginBreach, match="health"):
        check_transfer(900 * USDC, 0, a, m, to_sub_account_id=3)


def test_transfer_when_to_itself_then_rejected() -> None:
    m = catalogue_markets()
    a = account(usdc_deposit(m, 1_000 * USDC), sub_account_id=2)
    with pytest.raises(CapitalError, match="sub-account 2 to itself") as refused:
        check_transfer(USDC, 0, a, m, to_sub_account_id=2)
    assert refused.value.reason is RejectReason.INVALID_AMOUNT


def test_each_kind_of_refusal_carries_the_reason_the_paper_venue_gives_for_it() -> None:
    # what the live venue reports (CommandRejected.reason) for each refusal, as the paper venue does for the same
    # case: an amount that is no amount, more than is there, or a withdrawal the margin cannot spare
    m = catalogue_markets(150 * USDC)
    a = account(usdc_deposit(m, 1_000 * USDC), perps=(perp_at(10 * SOL, 150 * USDC),))
    cases = [
        (lambda: check_withdraw(0, 0, a, m), RejectReason.INVALID_AMOUNT),
        (lambda: check_withdraw(1, 7, a, m), RejectReason.INVALID_AMOUNT),
        (lambda: check_withdraw(1_000 * USDC + 1, 0, a, m), RejectReason.INSUFFICIENT_BALANCE),
        (
            lambda: check_deposit(2, 1, spot_market_index=0, gas_reserve_lamports=RESERVE),
            RejectReason.INSUFFICIENT_BALANCE,
        ),
        (lambda: check_withdraw(900 * USDC, 0, a, m), RejectReason.INSUFFICIENT_COLLATERAL),
    ]
    for attempt, reason in cases:
        with pytest.raises(CapitalError) as refused:
            attempt()
        assert refused.value.reason is reason, (refused.value, reason)


# --- settle schedule --------------------------------------------------------------------------------------------


def _policy(live: LiveSettings) -> SettlePolicy:
    return SettlePolicy(threshold_quote=live.settle_threshold_quote, every_s=live.settle_every_s)


def due(pnl: int, pos: int, prev: int, last: int, now: int = NOW) -> SettleReason | None:
    return settle_due(
        unsettled_pnl=pnl,
        position_base=pos,
        previous_position_base=prev,
        last_settle_ts=last,
        now=now,
        policy=_policy(LIVE),
    )


def test_settle_when_position_just_closed_above_threshold_then_position_closed() -> None:
    assert due(5 * USDC, 0, SOL, NOW) is SettleReason.POSITION_CLOSED
    assert due(-5 * USDC, 0, -SOL, NOW) is SettleReason.POSITION_CLOSED


def test_settle_when_schedule_elapsed_above_threshold_then_schedule() -> None:
    assert due(2 * USDC, SOL, SOL, NOW - 3600) is SettleReason.SCHEDULE
    assert due(2 * USDC, SOL, SOL, NOW - 3599) is None


def test_settle_when_pnl_exactly_at_threshold_then_not_due() -> None:
    assert due(USDC, 0, SOL, 0) is None
    assert due(-USDC, 0, SOL, 0) is None
    assert due(USDC + 1, 0, SOL, 0) is SettleReason.POSITION_CLOSED


def test_settle_when_flat_and_was_flat_then_only_schedule_applies() -> None:
    assert due(5 * USDC, 0, 0, NOW) is None
    assert due(5 * USDC, 0, 0, NOW - 3600) is SettleReason.SCHEDULE


# --- properties ---------------------------------------------------------------------------------------------------

prices = st.integers(20 * USDC, 400 * USDC)
interest = st.integers(10**10, 13 * 10**9)


@st.composite
def funded_accounts(draw: st.DrawFn) -> tuple[Account, Markets]:
    """USDC (and maybe SOL) deposits with interest accrued, maybe a SOL-PERP position and open orders."""
    oracle = draw(prices)
    m = catalogue_markets(oracle)
    twap = oracle * draw(st.integers(80, 120)) // 100  # strict (withdrawal) pricing uses min(oracle, twap)
    spot = {
        i: msgspec.structs.replace(s, cumulative_deposit_interest=draw(interest), oracle_price_twap_5min=twap)
        for i, s in m.spot.items()
    }
    spot[0] = msgspec.structs.replace(spot[0], oracle_price_twap_5min=USDC)
    m = Markets(perp=m.perp, spot=spot)
    base = draw(st.integers(-100, 100)) * SOL // 2
    notional = abs(base) * oracle // SOL
    # collateral from 5 % to 4x the perp notional, so withdrawals cross the health and initial-margin limits
    usdc = notional * draw(st.integers(5, 400)) // 100 if base else draw(st.integers(0, 50_000 * USDC))
    spots = [usdc_deposit(m, usdc)]
    if draw(st.booleans()):
        spots.append(sol_deposit(m, draw(st.integers(0, 20 * SOL))))
    perps: tuple[PerpPosition, ...] = ()
    if base:
        pos = perp_at(base, oracle * draw(st.integers(70, 130)) // 100)
        if draw(st.booleans()):
            pos = msgspec.structs.replace(pos, open_bids=SOL, open_asks=-SOL, open_orders=draw(st.integers(1, 8)))
        perps = (pos,)
    return account(*spots, perps=perps), m


def _on_chain_after_withdrawal(a: Account, market_index: int, amount: int, m: Markets) -> Account:
    """The account as the Drift program leaves it after ``withdraw`` (reduce-only) of ``amount``: a model written
    from protocol-v2 ``controller/spot_balance.rs::update_spot_balances`` (``is_leaving_drift``) and
    ``math/spot_balance.rs::get_spot_balance`` / ``get_token_amount``, independent of ``after_withdrawal``."""
    market = m.spot_market(market_index)
    position = a.spot_position(market_index)
    assert position is not None and position.balance_type is BalanceType.DEPOSIT
    precision = 10 ** (19 - market.spec.decimals)
    interest = market.cumulative_deposit_interest
    current_tokens = position.scaled_balance * interest // precision  # get_token_amount, deposit
    if current_tokens > amount:
        balance_delta = amount * precision // interest  # get_spot_balance ...
        if balance_delta != 0:
            balance_delta += 1  # ... with round_up: leaving Drift
    else:
        balance_delta = position.scaled_balance  # the whole balance goes
    left = msgspec.structs.replace(position, scaled_balance=position.scaled_balance - balance_delta)
    return msgspec.structs.replace(a, spot_positions=tuple(left if s is position else s for s in a.spot_positions))


@settings(max_examples=300, deadline=None)
@given(funded_accounts(), st.sampled_from([0, 1]), st.integers(1, 10_000), st.data())
def test_property_passing_withdrawal_never_leaves_health_below_min_nor_a_borrow(
    am: tuple[Account, Markets], index: int, share_bps: int, data: st.DataObject
) -> None:
    a, m = am
    market = m.spot_market(index)
    sp = a.spot_position(index)
    deposit = 0 if sp is None else signed_token_amount(sp, market)
    amount = max(1, deposit * share_bps // 10_000 + (share_bps % 3) - 1)  # around the deposit, past it sometimes
    chain = _on_chain_after_withdrawal(a, index, amount, m) if amount <= deposit else None
    # aim the health floor at the health this withdrawal leaves, so both sides of the boundary are exercised
    near = [account_margin(chain, m).health + d for d in (-1, 0, 1)] if chain else []
    min_health = data.draw(st.sampled_from([h for h in near if 0 <= h <= 100] or [80]) | st.integers(0, 100))
    try:
        check_withdraw(amount, index, a, m, min_health=min_health)
    except CapitalError as refused:
        if chain is not None:  # rejected within the deposit: some rule must really be broken (no over-blocking)
            initial = calculate_margin(chain, m, MarginCategory.INITIAL, strict=True)
            assert account_margin(chain, m).health < min_health or not initial.meets_margin_requirement
            assert refused.reason is RejectReason.INSUFFICIENT_COLLATERAL
        else:
            assert refused.reason is RejectReason.INSUFFICIENT_BALANCE
        return
    assert chain is not None and 0 < amount <= deposit
    # what the check assumed is left is what the program leaves
    assert after_withdrawal(a, market, amount) == chain
    left = chain.spot_position(index)
    assert left is None or left.balance_type is BalanceType.DEPOSIT
    assert account_margin(chain, m).health >= min_health
    initial = calculate_margin(chain, m, MarginCategory.INITIAL, strict=True)
    assert initial.total_collateral >= initial.margin_requirement


@settings(max_examples=200, deadline=None)
@given(funded_accounts(), st.integers(-(10**12), 0), st.sampled_from([0, 1]), st.integers(0, 10**12))
def test_property_amounts_not_positive_always_rejected(
    am: tuple[Account, Markets], amount: int, index: int, balance: int
) -> None:
    a, m = am
    for attempt in (
        lambda: check_deposit(amount, balance, spot_market_index=index, gas_reserve_lamports=RESERVE),
        lambda: check_withdraw(amount, index, a, m, min_health=0),
        lambda: check_transfer(amount, index, a, m, min_health=0),
    ):
        with pytest.raises(CapitalError) as refused:
            attempt()
        assert refused.value.reason is RejectReason.INVALID_AMOUNT


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**15), st.integers(1, 10**15), st.sampled_from([0, 1, 5]), st.integers(0, SOL))
def test_property_deposit_above_wallet_balance_always_rejected(
    balance: int, excess: int, index: int, reserve: int
) -> None:
    with pytest.raises(InsufficientBalance):
        check_deposit(balance + excess, balance, spot_market_index=index, gas_reserve_lamports=reserve)


positions = st.integers(-(10**12), 10**12)
times = st.integers(0, 2 * 10**9)


@settings(max_examples=300, deadline=None)
@given(
    st.builds(LiveSettings, settle_threshold_quote=st.integers(0, 100 * USDC), settle_every_s=st.integers(60, 10**6)),
    st.tuples(positions, positions),
    st.tuples(times, times),
)
def test_property_settle_never_fires_at_or_below_threshold(
    live: LiveSettings, pos_prev: tuple[int, int], last_now: tuple[int, int]
) -> None:
    pos, prev = pos_prev
    last, now = last_now
    threshold = live.settle_threshold_quote
    for pnl in (threshold, -threshold, threshold // 2, 0):
        reason = settle_due(
            unsettled_pnl=pnl,
            position_base=pos,
            previous_position_base=prev,
            last_settle_ts=last,
            now=now,
            policy=_policy(live),
        )
        assert reason is None
