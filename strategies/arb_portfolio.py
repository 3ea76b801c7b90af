"""The funding-arbitrage portfolio's books: capital allocated to open pairs, closed trades, leg-out losses. Pure and
immutable (each operation returns the next ``Portfolio``). Money is quote 1e6.

Two identities hold after every operation (tests/property/test_arb_portfolio.py):

- **capital conservation**: ``available + sum(open allocations) == starting + realised``;
- **PnL attribution**: ``realised == sum(closed trades' PnL) - sum(leg-out losses)``.

A trade's PnL is what the pair made at the prices the plan traded at (funding, basis, fees, slippage); what a
market hedge or an unwind cost beyond that is the leg-out loss, booked on its own, so a report can say how much
the execution risk cost. An entry that was unwound never became a trade: its whole cost is a leg-out loss.
"""

from __future__ import annotations

import msgspec

from strategies.arb_exits import ExitReason


class OpenAllocation(msgspec.Struct, frozen=True):
    trade_id: int
    allocated: int
    opened_s: int


class ClosedTrade(msgspec.Struct, frozen=True, kw_only=True):
    trade_id: int
    opened_s: int
    closed_s: int
    allocated: int
    pnl: int  # excluding the trade's leg-out losses
    reason: ExitReason | None  # None: closed by the end of the backtest


class Portfolio(msgspec.Struct, frozen=True, kw_only=True):
    starting: int
    available: int
    realised: int = 0
    open: tuple[OpenAllocation, ...] = ()
    closed: tuple[ClosedTrade, ...] = ()
    leg_out_count: int = 0
    leg_out_loss: int = 0

    @property
    def allocated(self) -> int:
        return sum(o.allocated for o in self.open)

    def conserved(self) -> bool:
        return self.available + self.allocated == self.starting + self.realised

    def attributed(self) -> bool:
        return self.realised == sum(t.pnl for t in self.closed) - self.leg_out_loss

    @property
    def wins(self) -> int:
        return sum(1 for t in self.closed if t.pnl > 0)

    @property
    def losses(self) -> int:
        return sum(1 for t in self.closed if t.pnl <= 0)


def start(capital: int) -> Portfolio:
    if capital <= 0:
        raise ValueError(f"starting capital must be > 0, got {capital}")
    return Portfolio(starting=capital, available=capital)


def allocate(book: Portfolio, trade_id: int, amount: int, now_s: int) -> Portfolio:
    """Set ``amount`` aside for a new pair; refused beyond the available capital or for a known id."""
    if not 0 < amount <= book.available:
        raise ValueError(f"trade {trade_id}: cannot allocate {amount} of {book.available} available")
    if any(o.trade_id == trade_id for o in book.open):
        raise ValueError(f"trade {trade_id} is already open")
    return msgspec.structs.replace(
        book, available=book.available - amount, open=(*book.open, OpenAllocation(trade_id, amount, now_s))
    )


def close(book: Portfolio, trade_id: int, pnl: int, now_s: int, reason: ExitReason | None) -> Portfolio:
    """Return a pair's allocation and its PnL (excluding its leg-out losses) to the available capital."""
    found = [o for o in book.open if o.trade_id == trade_id]
    if not found:
        raise ValueError(f"trade {trade_id} is not open")
    alloc = found[0]
    trade = ClosedTrade(
        trade_id=trade_id, opened_s=alloc.opened_s, closed_s=now_s, allocated=alloc.allocated, pnl=pnl, reason=reason
    )
    return msgspec.structs.replace(
        book,
        available=book.available + alloc.allocated + pnl,
        realised=book.realised + pnl,
        open=tuple(o for o in book.open if o.trade_id != trade_id),
        closed=(*book.closed, trade),
    )


def book_leg_out(book: Portfolio, loss: int) -> Portfolio:
    """A market hedge's or unwind's cost (positive = a loss) against the plan, paid from the available capital."""
    return msgspec.structs.replace(
        book,
        available=book.available - loss,
        realised=book.realised - loss,
        leg_out_count=book.leg_out_count + 1,
        leg_out_loss=book.leg_out_loss + loss,
    )
