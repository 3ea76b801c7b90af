"""The spot leg's books (``botrunner.margin.spot_basis``) on worked examples: the weighted-average cost, a sell
realising against it, a sell through zero (a borrow) split explicitly, fees kept apart, and bad fills refused
with what and where."""

from __future__ import annotations

import pytest

from botrunner.core.records import SpotFillRow
from botrunner.margin.spot_basis import SpotBasis, SpotFillError, apply_spot_fill, spot_basis

SOL = 10**9
USD = 10**6


def _buy(sol: int, usd: int, ts: int = 0, fee: int = 0) -> SpotFillRow:
    return SpotFillRow(ts, 1, "buy", usd * USD, sol * SOL, -sol * usd * USD, fee)


def _sell(sol: int, usd: int, ts: int = 0, fee: int = 0) -> SpotFillRow:
    return SpotFillRow(ts, 1, "sell", usd * USD, sol * SOL, sol * usd * USD, fee)


def test_buys_average_their_cost_and_sells_realise_against_it() -> None:
    books = spot_basis([_buy(1, 100), _buy(1, 200)], 1, 9)
    assert books.base == 2 * SOL and books.entry_quote == -300 * USD and books.entry_price() == 150 * USD
    books = apply_spot_fill(books, _sell(1, 180))
    assert books.realized == 30 * USD and books.entry_price() == 150 * USD and books.base == SOL
    assert books.unrealized(170 * USD) == 20 * USD


def test_a_sell_through_zero_closes_at_the_old_cost_and_opens_a_borrow_at_the_fill_price() -> None:
    books = spot_basis([_buy(1, 100), _buy(1, 200), _sell(1, 180), _sell(2, 160)], 1, 9)
    assert books.realized == (30 + 10) * USD  # 1 SOL held at 150 sold at 160
    assert books.base == -SOL and books.entry_quote == 160 * USD and books.entry_price() == 160 * USD
    assert books.unrealized(150 * USD) == 10 * USD  # the borrowed SOL is worth less: a gain
    books = apply_spot_fill(books, _buy(1, 150))
    assert books.base == 0 and books.entry_price() is None and books.realized == 50 * USD
    assert (
        books.realized == sum(f.quote for f in [_buy(1, 100), _buy(1, 200), _sell(1, 180), _sell(2, 160)]) - 150 * USD
    )


def test_fees_are_their_own_bucket() -> None:
    books = spot_basis([_buy(2, 100, fee=70_000), _sell(1, 110, fee=38_500)], 1, 9)
    assert books.realized == 10 * USD and books.fees == 108_500 and books.entry_price() == 100 * USD


def test_other_markets_fills_are_not_the_books_and_a_flat_book_has_no_entry() -> None:
    usdc = SpotFillRow(0, 0, "buy", USD, 5 * USD, -5 * USD, 0)
    books = spot_basis([usdc], 1, 9)
    assert books == SpotBasis(market_index=1, decimals=9) and books.entry_price() is None
    assert books.unrealized(123 * USD) == 0


def test_the_entry_price_truncates_toward_zero() -> None:
    books = spot_basis([SpotFillRow(0, 1, "buy", 0, 3 * SOL, -100 * USD, 0)], 1, 9)
    assert books.entry_price() == 33_333_333  # $33.333333|3


@pytest.mark.parametrize(
    ("fill", "message"),
    [
        (SpotFillRow(7, 1, "hold", USD, SOL, 0, 0), "spot fill at ts=7 (market 1): side must be buy or sell"),
        (SpotFillRow(7, 1, "buy", USD, 0, 0, 0), "spot fill at ts=7 (market 1): base must be > 0"),
        (SpotFillRow(7, 1, "buy", USD, SOL, USD, 0), "spot fill at ts=7 (market 1): a buy's quote must be <= 0"),
        (SpotFillRow(7, 1, "sell", USD, SOL, -USD, 0), "spot fill at ts=7 (market 1): a sell's quote must be >= 0"),
        (SpotFillRow(7, 0, "buy", USD, SOL, -USD, 0), "spot fill at ts=7 (market 0): the books are spot market 1's"),
    ],
)
def test_a_bad_fill_is_refused_naming_it(fill: SpotFillRow, message: str) -> None:
    with pytest.raises(SpotFillError, match=message.replace("(", r"\(").replace(")", r"\)")):
        apply_spot_fill(SpotBasis(market_index=1, decimals=9), fill)
