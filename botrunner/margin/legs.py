"""Two-leg what-if: the account after a spot trade and a perp fill together (the delta-neutral engine's entry,
rebalance and exit), priced by the Drift-exact margin engine.

A spot trade in a SOL market moves its token balance and pays (or receives) USDC in the quote spot market, the way
Drift's spot fill settles (``controller/spot_balance.rs`` ``update_spot_balances`` on both markets): buys pay the
rounded-up quote, sells receive the rounded-down quote, so rounding always goes against the account. A SOL deposit
then counts as collateral at its asset weight in ``calculate_margin``; a balance that crosses zero becomes a borrow.
Nothing here changes the existing what-ifs (``what_if.apply_fill``); it composes them.
"""

from __future__ import annotations

import msgspec

from botrunner.core.fixed import ceil_div
from botrunner.core.precision import QUOTE_SPOT_MARKET_INDEX
from botrunner.margin.metrics import AccountMargin, account_margin
from botrunner.margin.model import Account, BalanceType, Markets, SpotPosition
from botrunner.margin.spot_balance import scaled_balance_for, signed_token_amount
from botrunner.margin.what_if import apply_fill


def spot_amount(account: Account, markets: Markets, index: int) -> int:
    """Signed token amount of spot market ``index`` in ``account`` (0 when it holds none; negative = borrow)."""
    for sp in account.spot_positions:
        if sp.market_index == index and not sp.is_available:
            return signed_token_amount(sp, markets.spot_market(index))
    return 0


def with_spot_amount(account: Account, markets: Markets, index: int, amount: int) -> Account:
    """``account`` with spot market ``index`` holding exactly ``amount`` tokens (signed), open orders kept."""
    market = markets.spot_market(index)
    kind = BalanceType.DEPOSIT if amount >= 0 else BalanceType.BORROW
    scaled = scaled_balance_for(abs(amount), market, kind)
    slots = list(account.spot_positions)
    for i, sp in enumerate(slots):
        if sp.market_index == index:
            slots[i] = msgspec.structs.replace(sp, scaled_balance=scaled, balance_type=kind)
            return msgspec.structs.replace(account, spot_positions=tuple(slots))
    new = SpotPosition(market_index=index, scaled_balance=scaled, balance_type=kind)
    return msgspec.structs.replace(account, spot_positions=(*slots, new))


def spot_trade_quote(token_delta: int, price: int, decimals: int) -> int:
    """USDC change (1e6, signed) of buying (``token_delta`` > 0) or selling tokens at ``price`` (1e6): a buy pays
    the rounded-up notional, a sell receives the rounded-down one."""
    if price <= 0:
        raise ValueError(f"spot trade price {price} must be > 0")
    notional = abs(token_delta) * price
    scale: int = 10**decimals
    return -ceil_div(notional, scale) if token_delta > 0 else notional // scale


def apply_spot_trade(
    account: Account, markets: Markets, index: int, token_delta: int, price: int, *, fee: int = 0
) -> Account:
    """``account`` after trading ``token_delta`` (signed, token precision) of spot market ``index`` against USDC at
    ``price`` (1e6) and paying ``fee`` (quote 1e6, from USDC)."""
    if token_delta == 0 and fee == 0:
        return account
    if index == QUOTE_SPOT_MARKET_INDEX:
        raise ValueError("a spot trade needs a non-quote market; USDC is what it is paid with")
    decimals = markets.spot_market(index).spec.decimals
    quote = spot_trade_quote(token_delta, price, decimals) - fee
    moved = with_spot_amount(account, markets, index, spot_amount(account, markets, index) + token_delta)
    usdc = spot_amount(moved, markets, QUOTE_SPOT_MARKET_INDEX)
    return with_spot_amount(moved, markets, QUOTE_SPOT_MARKET_INDEX, usdc + quote)


class LegsTrade(msgspec.Struct, frozen=True, kw_only=True):
    """One two-leg trade: perp ``perp_delta`` (base 1e9, signed) at ``perp_price`` and spot ``spot_delta`` (token,
    signed) at ``spot_price`` (both 1e6), with their fees (quote 1e6)."""

    perp_delta: int
    perp_price: int
    spot_delta: int
    spot_price: int
    perp_fee: int = 0
    spot_fee: int = 0


def apply_legs(account: Account, markets: Markets, perp_index: int, spot_index: int, trade: LegsTrade) -> Account:
    """``account`` after both legs of ``trade`` (spot first, then the perp; the order changes nothing, both are
    booked before any margin check, as in one transaction)."""
    after_spot = apply_spot_trade(account, markets, spot_index, trade.spot_delta, trade.spot_price, fee=trade.spot_fee)
    if trade.perp_delta == 0 and trade.perp_fee == 0:
        return after_spot
    return apply_fill(after_spot, markets, perp_index, trade.perp_delta, trade.perp_price, fee=trade.perp_fee)


def fee_of(notional_quote: int, fee_bps: int) -> int:
    """A taker fee (quote 1e6) on ``notional_quote``, rounded up (against the account)."""
    return ceil_div(abs(notional_quote) * fee_bps, 10_000)


class LegsWhatIf:
    """The Risk Governor's two-leg projection of one account (``governors.risk_legs.LegsProjection``).

    ``project_legs(perp_delta, spot_delta)`` fills the perp leg at the perp oracle moved by ``slippage_bps``
    against the trade and the spot leg likewise at the spot oracle, charges ``perp_fee_bps``/``spot_fee_bps`` on
    each leg's notional, and returns the account's ``AccountMargin`` (health, leverage, both calculations).
    """

    __slots__ = (
        "_account",
        "_markets",
        "_perp_fee_bps",
        "_perp_index",
        "_slippage_bps",
        "_spot_fee_bps",
        "_spot_index",
    )

    def __init__(
        self,
        account: Account,
        markets: Markets,
        perp_index: int,
        spot_index: int,
        *,
        perp_fee_bps: int = 0,
        spot_fee_bps: int = 0,
        slippage_bps: int = 0,
    ) -> None:
        if min(perp_fee_bps, spot_fee_bps, slippage_bps) < 0:
            raise ValueError("LegsWhatIf: fees and slippage must be >= 0 bps")
        self._account, self._markets = account, markets
        self._perp_index, self._spot_index = perp_index, spot_index
        self._perp_fee_bps, self._spot_fee_bps, self._slippage_bps = perp_fee_bps, spot_fee_bps, slippage_bps

    def _price(self, oracle: int, delta: int) -> int:
        move = ceil_div(oracle * self._slippage_bps, 10_000)
        return oracle + move if delta > 0 else max(1, oracle - move)

    def trade(self, perp_delta: int, spot_delta: int) -> LegsTrade:
        """The priced trade ``project_legs`` books."""
        perp_oracle = self._markets.perp_market(self._perp_index).oracle_price
        spot_market = self._markets.spot_market(self._spot_index)
        perp_price = self._price(perp_oracle, perp_delta)
        spot_price = self._price(spot_market.oracle_price, spot_delta)
        perp_notional = abs(perp_delta) * perp_price // 10**9
        spot_notional = abs(spot_delta) * spot_price // 10**spot_market.spec.decimals
        return LegsTrade(
            perp_delta=perp_delta,
            perp_price=perp_price,
            spot_delta=spot_delta,
            spot_price=spot_price,
            perp_fee=fee_of(perp_notional, self._perp_fee_bps) if perp_delta else 0,
            spot_fee=fee_of(spot_notional, self._spot_fee_bps) if spot_delta else 0,
        )

    def project_legs(self, perp_delta: int, spot_delta: int) -> AccountMargin:
        """Health, leverage and margin of the account after the two-leg trade (zero deltas: the account now)."""
        account = self._account
        if perp_delta or spot_delta:
            trade = self.trade(perp_delta, spot_delta)
            account = apply_legs(account, self._markets, self._perp_index, self._spot_index, trade)
        return account_margin(account, self._markets)
