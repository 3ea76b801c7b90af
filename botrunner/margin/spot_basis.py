"""The spot leg's entry price and realised trading PnL, from its fills: our weighted-average cost, not a Drift
field (Drift keeps an entry price for a perp position, ``quote_entry_amount``, but none for a spot balance).

The books follow the perp position's rule (``botrunner.margin.what_if.apply_perp_fill``) so both legs of a
two-leg bot are read the same way:

* ``base`` is the tokens the fills moved (signed: + held, - borrowed; interest is not in it — the venue's balance
  is, and the interest is its own PnL bucket);
* ``entry_quote`` is the signed USDC the open balance was traded for (quote 1e6: a held balance's is negative, it
  was paid; a borrowed one's positive, it was received), so the unrealised PnL at ``price`` is
  ``token_value(base, price) + entry_quote``;
* a fill that adds to the balance (or opens it) adds its ``quote`` to ``entry_quote``: the basis is the
  weighted-average cost;
* a fill that reduces the balance takes the reduced share of ``entry_quote`` with it (``tdiv``: truncated toward
  zero, as Drift reduces ``quote_entry_amount``; exact when the balance closes) and realises
  ``quote + that share``; the average cost of what remains is unchanged up to that rounding (under one quote unit
  in ``entry_quote``);
* a fill that crosses zero (a sell beyond the SOL held borrows SOL: a reversed carry, behind ``allow_reverse``,
  which the two-leg step refuses today) is split explicitly: the part that closes the balance takes
  ``tdiv(quote * closed, fill base)`` of the fill's quote and realises against the whole old basis; the rest of
  the quote, exactly, opens the other side at the fill's price.

So ``realized + entry_quote`` equals the sum of the fills' quotes exactly, whatever the order and the rounding:
realised + unrealised at any price = the fills' cash flows + what the tokens are worth at that price. Fees are
never in ``realized`` (they are their own PnL bucket): ``fees`` sums them. Integers in Drift precisions
throughout (price and quote 1e6, tokens at the spot market's decimals).
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from botrunner.core.fixed import tdiv
from botrunner.core.records import SpotFillRow
from botrunner.margin.spot_balance import token_value


class SpotFillError(ValueError):
    """A spot fill the books cannot take (an unknown side, a non-positive size, a quote of the wrong sign)."""


class SpotBasis(msgspec.Struct, frozen=True, kw_only=True):
    """One spot market's books from its fills (the module doc): ``base`` tokens (signed, the market's
    ``decimals``), ``entry_quote`` (quote 1e6, signed), ``realized`` trading PnL before fees and ``fees`` paid
    (quote 1e6, + a cost), and how many fills made them."""

    market_index: int
    decimals: int
    base: int = 0
    entry_quote: int = 0
    realized: int = 0
    fees: int = 0
    fills: int = 0

    def entry_price(self) -> int | None:
        """The open balance's average entry price (1e6), truncated toward zero (as the perp's); None when flat."""
        if self.base == 0:
            return None
        return abs(tdiv(self.entry_quote * 10**self.decimals, self.base))

    def unrealized(self, price: int) -> int:
        """The open balance's trading PnL at ``price`` (1e6) before fees: its value there (``token_value``, as the
        margin engine values a balance) plus what it was traded for."""
        return token_value(self.base, self.decimals, price) + self.entry_quote


def _signed_quote_ok(side: str, quote: int) -> bool:
    return quote <= 0 if side == "buy" else quote >= 0


def apply_spot_fill(basis: SpotBasis, fill: SpotFillRow) -> SpotBasis:
    """``basis`` after ``fill`` (of ``basis.market_index``): see the module doc for each case and its rounding."""
    where = f"spot fill at ts={fill.ts} (market {fill.market_index})"
    if fill.market_index != basis.market_index:
        raise SpotFillError(f"{where}: the books are spot market {basis.market_index}'s")
    if fill.side not in ("buy", "sell"):
        raise SpotFillError(f"{where}: side must be buy or sell, got {fill.side!r}")
    if fill.base <= 0:
        raise SpotFillError(f"{where}: base must be > 0 tokens, got {fill.base}")
    if not _signed_quote_ok(fill.side, fill.quote):
        raise SpotFillError(
            f"{where}: a {fill.side}'s quote must be {'<=' if fill.side == 'buy' else '>='} 0, got {fill.quote}"
        )
    delta = fill.base if fill.side == "buy" else -fill.base
    base, entry, realized = basis.base, basis.entry_quote, basis.realized
    if base == 0 or (base > 0) == (delta > 0):  # opens or adds: the weighted-average cost takes the fill in
        base, entry = base + delta, entry + fill.quote
    elif fill.base <= abs(base):  # reduces (or closes): the reduced share of the cost leaves, the rest is realised
        share = tdiv(entry * fill.base, abs(base))  # exact when the balance closes (fill.base == |base|)
        realized += fill.quote + share
        base, entry = base + delta, entry - share
    else:  # crosses zero: close the whole balance with its share of the fill, open the other side with the rest
        closed = abs(base)
        closing_quote = tdiv(fill.quote * closed, fill.base)
        realized += closing_quote + entry
        base, entry = base + delta, fill.quote - closing_quote
    return msgspec.structs.replace(
        basis, base=base, entry_quote=entry, realized=realized, fees=basis.fees + fill.fee, fills=basis.fills + 1
    )


def spot_basis(fills: Iterable[SpotFillRow], market_index: int, decimals: int) -> SpotBasis:
    """The books of spot market ``market_index`` (token ``decimals``) from ``fills`` in the order they happened;
    fills of other markets are not its."""
    return extend_spot_basis(SpotBasis(market_index=market_index, decimals=decimals), fills)


def extend_spot_basis(basis: SpotBasis, fills: Iterable[SpotFillRow]) -> SpotBasis:
    """``basis`` after ``fills`` (in order); fills of other spot markets are skipped."""
    for fill in fills:
        if fill.market_index == basis.market_index:
            basis = apply_spot_fill(basis, fill)
    return basis
