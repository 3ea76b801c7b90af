"""The arbitrage portfolio's books (strategies.arb_portfolio): over any sequence of opens, closes and leg-outs,
available + open positions == starting capital + realised PnL, and realised PnL == the closed trades' PnL minus the
leg-out losses; a refused operation changes nothing."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from strategies.arb_exits import ExitReason
from strategies.arb_portfolio import allocate, book_leg_out, close, start

USD = 10**6
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("open"), st.integers(-10 * USD, 20_000 * USD)),
        st.tuples(st.just("close"), st.integers(-500 * USD, 500 * USD)),
        st.tuples(st.just("leg_out"), st.integers(-5 * USD, 50 * USD)),
    ),
    max_size=60,
)


@settings(max_examples=1_000, deadline=None)
@given(st.integers(1, 100_000 * USD), OPS, st.data())
def test_capital_is_conserved_and_pnl_is_trades_minus_leg_out_losses(
    capital: int, ops: list[tuple[str, int]], data: st.DataObject
) -> None:
    book = start(capital)
    next_id, now = 1, 0
    for op, amount in ops:
        now += 60
        before = book
        try:
            match op:
                case "open":
                    book = allocate(book, next_id, amount, now)
                    next_id += 1
                case "close":
                    ids = [o.trade_id for o in book.open] or [next_id + 99]
                    trade_id = data.draw(st.sampled_from(ids))
                    book = close(book, trade_id, amount, now, ExitReason.MAX_HOLD)
                case _:
                    book = book_leg_out(book, amount)
        except ValueError:
            assert book == before
        assert book.conserved()
        assert book.attributed()
        assert book.leg_out_count + len(book.closed) <= len(ops)
