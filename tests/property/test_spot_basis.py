"""Hypothesis properties of the spot leg's books (``botrunner.margin.spot_basis``) over random fill sequences on
SOL (9 decimals), crossing zero included (a reversed carry borrows SOL):

* conservation: realised + unrealised at any price = the fills' quotes + what the tokens are worth there, exactly;
  the tokens are the signed sum of the fills, the fees the sum of theirs, and never in the realised PnL;
* a fill that reduces the balance leaves its average cost unchanged up to one quote unit of ``entry_quote``;
* order-independence where it must hold: fills that only add to one side give the same books in any order; any
  sequence that ends flat has realised exactly its cash flows (so any order of the same fills that ends flat
  realises the same).
"""

from __future__ import annotations

import random

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from botrunner.core.records import SpotFillRow
from botrunner.margin.spot_balance import token_value
from botrunner.margin.spot_basis import SpotBasis, apply_spot_fill, spot_basis

SOL = 1
DECIMALS = 9
TOKEN = 10**DECIMALS

sizes = st.integers(1, 50 * TOKEN)
prices = st.integers(1_000_000, 1_000_000_000)  # $1 .. $1000 (1e6)
fees = st.integers(0, 5_000_000)


def _fill(side: str, base: int, price: int, fee: int, ts: int = 0) -> SpotFillRow:
    # the quote as the paper venue rounds it: a buy pays the ceiling, a sell receives the floor
    quote = -(-(base * price) // TOKEN) if side == "buy" else base * price // TOKEN
    return SpotFillRow(ts, SOL, side, price, base, -quote if side == "buy" else quote, fee)


fills = st.builds(_fill, st.sampled_from(("buy", "sell")), sizes, prices, fees)
buys = st.builds(_fill, st.just("buy"), sizes, prices, fees)


def _books(rows: list[SpotFillRow]) -> SpotBasis:
    return spot_basis(rows, SOL, DECIMALS)


@settings(max_examples=400, deadline=None)
@given(st.lists(fills, max_size=30), prices)
def test_realised_plus_unrealised_is_the_fills_cash_flows_at_any_price(rows: list[SpotFillRow], price: int) -> None:
    books = _books(rows)
    base = sum(r.base if r.side == "buy" else -r.base for r in rows)
    cash = sum(r.quote for r in rows)
    assert books.base == base and books.fees == sum(r.fee for r in rows) and books.fills == len(rows)
    assert books.realized + books.unrealized(price) == cash + token_value(base, DECIMALS, price)
    assert books.realized + books.entry_quote == cash
    if base == 0:
        assert books.entry_quote == 0 and books.entry_price() is None and books.realized == cash


@settings(max_examples=300, deadline=None)
@given(st.lists(fills, max_size=30))
def test_fees_never_move_the_trading_books(rows: list[SpotFillRow]) -> None:
    free = [msgspec.structs.replace(r, fee=0) for r in rows]
    with_fees, without = _books(rows), _books(free)
    assert msgspec.structs.replace(with_fees, fees=0) == without


@settings(max_examples=400, deadline=None)
@given(st.lists(fills, max_size=20), sizes, prices, fees)
def test_a_reducing_fill_leaves_the_average_cost_unchanged_up_to_rounding(
    rows: list[SpotFillRow], size: int, price: int, fee: int
) -> None:
    before = _books(rows)
    if before.base == 0:
        return
    held = abs(before.base)
    reduce = min(size, held)
    after = apply_spot_fill(before, _fill("sell" if before.base > 0 else "buy", reduce, price, fee))
    remaining = held - reduce
    assert abs(after.base) == remaining
    # entry_quote is the old one scaled to what remains, off by less than one quote unit
    assert abs(after.entry_quote * held - before.entry_quote * remaining) < held
    if remaining:
        old, new = before.entry_price(), after.entry_price()
        assert old is not None and new is not None
        # one quote unit over the tokens that remain, plus each price's own truncation
        assert abs(new - old) <= -(-TOKEN // remaining) + 1
    else:
        assert after.entry_quote == 0 and after.entry_price() is None


@settings(max_examples=300, deadline=None)
@given(st.lists(buys, min_size=1, max_size=15), st.randoms(use_true_random=False))
def test_fills_that_only_add_give_the_same_books_in_any_order(rows: list[SpotFillRow], rnd: random.Random) -> None:
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    assert _books(shuffled) == _books(rows)
    books = _books(rows)
    assert books.realized == 0 and books.entry_quote == sum(r.quote for r in rows)


@settings(max_examples=300, deadline=None)
@given(st.lists(fills, min_size=1, max_size=15), st.randoms(use_true_random=False))
def test_any_order_that_ends_flat_realises_the_same(rows: list[SpotFillRow], rnd: random.Random) -> None:
    base = sum(r.base if r.side == "buy" else -r.base for r in rows)
    if base:  # close what is left at the last fill's price, so the sequence ends flat
        rows = [*rows, _fill("sell" if base > 0 else "buy", abs(base), rows[-1].price, 0)]
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    a, b = _books(rows), _books(shuffled)
    assert a.base == b.base == 0 and a.entry_quote == b.entry_quote == 0
    assert a.realized == b.realized == sum(r.quote for r in rows)
