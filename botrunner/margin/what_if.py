"""What-if: the account after a hypothetical perp fill (protocol-v2 ``controller/position.rs``
``update_position_and_market`` bookkeeping, funding settled first as ``settle_funding_payment`` does)."""

from __future__ import annotations

import msgspec

from botrunner.core.fixed import ceil_div, tdiv
from botrunner.core.precision import BASE_PRICE_TO_QUOTE
from botrunner.margin.model import Account, Markets, PerpMarketState, PerpPosition
from botrunner.margin.perp_position import unsettled_funding


def fill_quote_delta(base_delta: int, price: int) -> int:
    """Quote change of filling ``base_delta`` (1e9, signed) at ``price`` (1e6): buys pay, sells receive, and
    rounding always goes against the account."""
    if price <= 0:
        raise ValueError(f"fill price {price} must be > 0")
    notional = abs(base_delta) * price
    return -ceil_div(notional, BASE_PRICE_TO_QUOTE) if base_delta > 0 else notional // BASE_PRICE_TO_QUOTE


def settle_funding(position: PerpPosition, market: PerpMarketState) -> PerpPosition:
    """Move unsettled funding into the quote amounts and reset the funding checkpoint."""
    funding = unsettled_funding(position, market)
    rate = (
        market.cumulative_funding_rate_long if position.base_asset_amount > 0 else market.cumulative_funding_rate_short
    )
    if funding == 0 and rate == position.last_cumulative_funding_rate:
        return position  # already settled: the replace below would build an equal position
    return msgspec.structs.replace(
        position,
        quote_asset_amount=position.quote_asset_amount + funding,
        quote_break_even_amount=position.quote_break_even_amount + funding,
        last_cumulative_funding_rate=rate,
    )


def apply_perp_fill(
    position: PerpPosition, market: PerpMarketState, base_delta: int, price: int, *, fee: int = 0
) -> PerpPosition:
    """``position`` after filling ``base_delta`` at ``price`` and paying ``fee`` (quote 1e6; negative = a maker
    rebate received, which Drift credits to the quote and break-even amounts the same way)."""
    if base_delta == 0:
        return position
    pos = settle_funding(position, market)
    qd = fill_quote_delta(base_delta, price)
    base = pos.base_asset_amount
    new_base = base + base_delta
    entry = pos.quote_entry_amount
    break_even = pos.quote_break_even_amount
    if base == 0 or (base > 0) == (base_delta > 0):  # open or increase
        entry += qd
        break_even += qd - fee
    elif abs(base_delta) <= abs(base):  # reduce or close: entry shrinks in proportion
        entry -= tdiv(entry * abs(base_delta), abs(base))
        break_even -= tdiv(break_even * abs(base_delta), abs(base))
        if new_base == 0:
            entry = break_even = 0
    else:  # flip: the part beyond the old size opens a new position at the fill price
        opened = tdiv(qd * abs(new_base), abs(base_delta))
        entry = opened
        break_even = opened - fee
    rate = market.cumulative_funding_rate_long if new_base > 0 else market.cumulative_funding_rate_short
    return msgspec.structs.replace(
        pos,
        base_asset_amount=new_base,
        quote_asset_amount=pos.quote_asset_amount + qd - fee,
        quote_entry_amount=entry,
        quote_break_even_amount=break_even,
        last_cumulative_funding_rate=rate if new_base != 0 else pos.last_cumulative_funding_rate,
    )


def with_perp_position(account: Account, position: PerpPosition) -> Account:
    """``account`` with its position in ``position.market_index`` replaced (or added in a free slot)."""
    slots = list(account.perp_positions)
    for i, p in enumerate(slots):
        if p.market_index == position.market_index and not p.is_available:
            slots[i] = position
            return msgspec.structs.replace(account, perp_positions=tuple(slots))
    for i, p in enumerate(slots):
        if p.is_available:
            slots[i] = position
            return msgspec.structs.replace(account, perp_positions=tuple(slots))
    if len(slots) >= 8:
        raise ValueError(f"no free perp slot for market {position.market_index}: the account already has 8")
    return msgspec.structs.replace(account, perp_positions=(*slots, position))


def apply_fill(
    account: Account, markets: Markets, market_index: int, base_delta: int, price: int, *, fee: int = 0
) -> Account:
    """``account`` after a hypothetical fill of ``base_delta`` (1e9, signed) at ``price`` in perp ``market_index``."""
    market = markets.perp_market(market_index)
    current = account.perp_position(market_index) or PerpPosition(market_index=market_index)
    return with_perp_position(account, apply_perp_fill(current, market, base_delta, price, fee=fee))


def _price_of(quote_amount: int, base: int) -> int:
    return 0 if base == 0 else abs(tdiv(quote_amount * BASE_PRICE_TO_QUOTE, base))


def entry_price(position: PerpPosition) -> int:
    """Average entry price (1e6) from ``quote_entry_amount``; 0 when flat. Truncated toward zero."""
    return _price_of(position.quote_entry_amount, position.base_asset_amount)


def break_even_price(position: PerpPosition) -> int:
    """Break-even price (1e6) from ``quote_break_even_amount`` (fees and funding included); 0 when flat."""
    return _price_of(position.quote_break_even_amount, position.base_asset_amount)
