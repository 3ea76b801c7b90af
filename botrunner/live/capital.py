"""Capital rules for live mode: validate deposits, withdrawals and transfers (when to settle PnL is the bot's rule,
``botrunner.bot.settle``, shared with paper and backtests).

Pure: no I/O, no clock (``now`` is passed in, unix seconds). Amounts are in the spot market's token units (USDC 1e6,
SOL lamports 1e9). Every rejection is a ``CapitalError`` whose one-line message names the amount and the limit, so
``botrunner ctl deposit / withdraw / transfer`` can print it as it is.

Issue 5 §4: "amount positive and <= wallet balance; withdrawals reduce-only so they never open a borrow; reject a
withdrawal that would leave health < 80 %". On top of the 80 % health floor a withdrawal must keep the account's
initial margin met (initial free collateral >= 0), which is what Drift's program itself enforces for withdrawals:
without it the transaction would fail on chain after costing gas.
"""

from __future__ import annotations

from typing import ClassVar

import msgspec

from botrunner.core.catalogue import UnknownMarketError, load_catalogue
from botrunner.core.precision import QUOTE_PRECISION, SOL_SPOT_MARKET_INDEX, to_decimal
from botrunner.margin import Account, BalanceType, MarginCategory, Markets, SpotMarketState, SpotPosition
from botrunner.margin.calculation import calculate_margin
from botrunner.margin.metrics import health
from botrunner.margin.spot_balance import signed_token_amount
from botrunner.venue.port import RejectReason

DEFAULT_MIN_HEALTH = 80  # issue 5 §4: "reject a withdrawal that would leave health < 80 %"


class CapitalError(ValueError):
    """A deposit, withdrawal or transfer that must not be sent; the message names the amount and the limit.
    ``reason`` is what the venue reports the refusal as, the same reason the paper venue gives for the same case."""

    reason: ClassVar[RejectReason] = RejectReason.INVALID_AMOUNT  # not > 0, an unknown spot market, to itself


class InsufficientBalance(CapitalError):
    """More than the wallet holds (a deposit, also keeping the gas reserve) or than the deposit (a withdrawal)."""

    reason = RejectReason.INSUFFICIENT_BALANCE


class MarginBreach(CapitalError):
    """A withdrawal that would leave health below the minimum or the initial margin requirement unmet."""

    reason = RejectReason.INSUFFICIENT_COLLATERAL


def _fmt(amount: int, spot_market_index: int) -> str:
    try:  # the bundled catalogue: symbol and decimals even where no market state is at hand (deposits)
        spot = load_catalogue().spot(spot_market_index)
    except UnknownMarketError:
        return f"{amount} (spot market {spot_market_index} token units)"
    return f"{to_decimal(amount, 10**spot.decimals):f} {spot.symbol}"


def _positive(action: str, amount: int, spot_market_index: int) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise CapitalError(f"{action} amount must be > 0, got {amount!r} (spot market {spot_market_index})")


def check_deposit(amount: int, wallet_balance: int, *, spot_market_index: int, gas_reserve_lamports: int) -> None:
    """Raise ``CapitalError`` unless ``0 < amount <= wallet_balance``; for SOL (spot market 1) the wallet must also
    keep ``gas_reserve_lamports`` after the deposit, since the same SOL pays every later transaction fee."""
    _positive("deposit", amount, spot_market_index)
    if amount > wallet_balance:
        raise InsufficientBalance(
            f"deposit {_fmt(amount, spot_market_index)} exceeds the wallet balance "
            f"{_fmt(wallet_balance, spot_market_index)}"
        )
    if spot_market_index == SOL_SPOT_MARKET_INDEX and wallet_balance - amount < gas_reserve_lamports:
        raise InsufficientBalance(
            f"deposit {_fmt(amount, spot_market_index)} would leave {_fmt(wallet_balance - amount, spot_market_index)}"
            f" in the wallet, below the gas reserve {_fmt(gas_reserve_lamports, spot_market_index)}"
        )


def _deposit_of(account: Account, market: SpotMarketState) -> tuple[SpotPosition | None, int]:
    position = account.spot_position(market.market_index)
    if position is None or position.balance_type is not BalanceType.DEPOSIT:
        return position, 0
    return position, signed_token_amount(position, market)


def after_withdrawal(account: Account, market: SpotMarketState, amount: int) -> Account:
    """``account`` after withdrawing ``amount`` (``0 < amount <=`` its deposit) from spot market ``market``, with
    the scaled balance the program leaves (protocol-v2 ``update_spot_balances``, leaving Drift): less than the
    whole deposit takes ``amount * precision // interest`` scaled units PLUS ONE (``get_spot_balance`` rounding
    up), so the remaining deposit can be one token unit below ``deposit - amount``; the whole deposit takes the
    whole balance. Checking this balance, not ``deposit - amount``, never lets through a withdrawal the program's
    own margin check would refuse over that unit.
    """
    position, deposit = _deposit_of(account, market)
    if position is None or not 0 < amount <= deposit:
        raise ValueError(f"after_withdrawal: amount {amount} outside 1..{deposit} (spot market {market.market_index})")
    scaled = 0
    if amount < deposit:
        precision_increase: int = 10 ** (19 - market.spec.decimals)
        taken = amount * precision_increase // market.cumulative_deposit_interest
        scaled = position.scaled_balance - (taken + 1 if taken else 0)
    remaining = msgspec.structs.replace(position, scaled_balance=scaled)
    spots = tuple(remaining if s is position else s for s in account.spot_positions)
    return msgspec.structs.replace(account, spot_positions=spots)


def check_withdraw(
    amount: int, spot_market_index: int, account: Account, markets: Markets, *, min_health: int = DEFAULT_MIN_HEALTH
) -> None:
    """Raise ``CapitalError`` unless the withdrawal is safe:

    * ``amount > 0``;
    * ``amount <=`` the sub-account's deposit in that spot market: withdrawals are reduce-only and never open a
      borrow (send them with ``reduce_only=True`` too);
    * afterwards health (Drift's SDK definition, maintenance margin) stays ``>= min_health``, and the initial
      margin requirement is still met, with assets at min(oracle, 5-minute twap) as the program prices them for
      withdrawals (strict).
    """
    if not 0 <= min_health <= 100:
        raise ValueError(f"check_withdraw: min_health must be in 0..100, got {min_health}")
    _positive("withdraw", amount, spot_market_index)
    market = markets.spot.get(spot_market_index)
    if market is None:
        raise CapitalError(f"withdraw {_fmt(amount, spot_market_index)}: spot market {spot_market_index} is unknown")
    symbol, decimals = market.spec.symbol, market.spec.decimals

    def fmt(x: int) -> str:
        return f"{to_decimal(x, 10**decimals):f} {symbol}"

    _, deposit = _deposit_of(account, market)
    if amount > deposit:
        raise InsufficientBalance(
            f"withdraw {fmt(amount)} exceeds the sub-account's {symbol} deposit {fmt(deposit)} "
            "(withdrawals are reduce-only: they never open a borrow)"
        )
    after = after_withdrawal(account, market, amount)
    maintenance = calculate_margin(after, markets, MarginCategory.MAINTENANCE)
    health_after = health(after, maintenance)
    if health_after < min_health:
        raise MarginBreach(f"withdraw {fmt(amount)} would leave health {health_after} % < minimum {min_health} %")
    initial = calculate_margin(after, markets, MarginCategory.INITIAL, strict=True)
    if not initial.meets_margin_requirement:
        collateral = to_decimal(initial.total_collateral, QUOTE_PRECISION)
        requirement = to_decimal(initial.margin_requirement, QUOTE_PRECISION)
        raise MarginBreach(
            f"withdraw {fmt(amount)} would leave initial collateral {collateral:f} USD below the initial margin "
            f"requirement {requirement:f} USD"
        )


def check_transfer(
    amount: int,
    spot_market_index: int,
    from_account: Account,
    markets: Markets,
    *,
    min_health: int = DEFAULT_MIN_HEALTH,
    to_sub_account_id: int | None = None,
) -> None:
    """A transfer between sub-accounts is a withdrawal from the source (same rules as ``check_withdraw``) and a
    deposit into the destination, which only adds collateral there. Given ``to_sub_account_id``, a transfer to
    the source itself is rejected (it would cost a fee and change nothing)."""
    if to_sub_account_id is not None and to_sub_account_id == from_account.sub_account_id:
        raise CapitalError(f"transfer from sub-account {to_sub_account_id} to itself")
    check_withdraw(amount, spot_market_index, from_account, markets, min_health=min_health)
