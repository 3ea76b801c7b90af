"""Spot balances: scaled balance -> token amount -> quote value (protocol-v2 ``math/spot_balance.rs``)."""

from __future__ import annotations

import msgspec

from botrunner.core.fixed import ceil_div, tdiv
from botrunner.margin.model import BalanceType, SpotMarketState, SpotPosition


class StrictPrice(msgspec.Struct, frozen=True):
    """Rust ``StrictOraclePrice``: with ``twap_5min`` set (strict mode), assets use min(price, twap) and
    liabilities max(price, twap)."""

    current: int
    twap_5min: int | None = None

    def max_price(self) -> int:
        return self.current if self.twap_5min is None else max(self.current, self.twap_5min)

    def min_price(self) -> int:
        return self.current if self.twap_5min is None else min(self.current, self.twap_5min)


def token_amount(scaled_balance: int, market: SpotMarketState, balance_type: BalanceType) -> int:
    """Unsigned token amount (mint decimals): deposits round down, borrows round up (Rust ``get_token_amount``)."""
    precision_decrease: int = 10 ** (19 - market.spec.decimals)
    if balance_type is BalanceType.DEPOSIT:
        return scaled_balance * market.cumulative_deposit_interest // precision_decrease
    return ceil_div(scaled_balance * market.cumulative_borrow_interest, precision_decrease)


def deposit_token_amount(scaled_balance: int, market: SpotMarketState) -> int:
    """Token amount of a deposit scaled balance."""
    return token_amount(scaled_balance, market, BalanceType.DEPOSIT)


def signed_token_amount(position: SpotPosition, market: SpotMarketState) -> int:
    """Token amount, negative for borrows."""
    amount = token_amount(position.scaled_balance, market, position.balance_type)
    return amount if position.balance_type is BalanceType.DEPOSIT else -amount


def scaled_balance_for(amount: int, market: SpotMarketState, balance_type: BalanceType) -> int:
    """The smallest scaled balance whose token amount is at least ``amount`` (for building test accounts and
    what-ifs from human amounts)."""
    if amount < 0:
        raise ValueError(f"spot market {market.market_index}: token amount {amount} must be >= 0")
    precision_decrease: int = 10 ** (19 - market.spec.decimals)
    interest = (
        market.cumulative_deposit_interest if balance_type is BalanceType.DEPOSIT else market.cumulative_borrow_interest
    )
    scaled = ceil_div(amount * precision_decrease, interest)
    while token_amount(scaled, market, balance_type) < amount:  # pragma: no cover - ceil already suffices
        scaled += 1
    return scaled


def token_value(amount: int, decimals: int, price: int) -> int:
    """Rust ``get_token_value``: quote value (1e6), flooring negatives (a borrow never looks smaller)."""
    if amount == 0:
        return 0
    product = amount * price
    scale: int = 10**decimals
    if product < 0:
        return product // scale
    return tdiv(product, scale)


def strict_token_value(amount: int, decimals: int, price: StrictPrice) -> int:
    """Rust ``get_strict_token_value``: assets at the lower, liabilities at the higher of oracle and twap."""
    if amount == 0:
        return 0
    p = price.min_price() if amount > 0 else price.max_price()
    return token_value(amount, decimals, p)
