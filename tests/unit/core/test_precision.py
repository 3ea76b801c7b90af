"""``to_fixed`` and the loaders' ``parse_fixed``: a decimal becomes fixed point exactly or is refused, at any
length (Decimal's default 28-digit context used to round a long value to something integral and accept it)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from botrunner.core.precision import PRICE_PRECISION, to_fixed
from botrunner.marketdata._text import DataError, parse_fixed


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**30 - 1), st.integers(0, 10**6 - 1), st.booleans())
def test_any_value_with_six_decimals_converts_exactly(whole: int, fraction: int, negative: bool) -> None:
    text = f"{'-' if negative else ''}{whole}.{fraction:06d}"
    expected = (whole * PRICE_PRECISION + fraction) * (-1 if negative else 1)
    assert to_fixed(text, PRICE_PRECISION) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("123456789012345678901234567.0000001", "has more decimals than precision"),  # 34 digits: was rounded
        ("1" + "0" * 31 + ".5", "is out of range"),
        ("1e31", "is out of range"),
        ("1e999999999", "is out of range"),  # refused at once, never built as an int
        ("0.0000001", "has more decimals than precision"),
        ("1e-999999999", "has more decimals than precision"),  # was underflowed to 0 and accepted
        ("nan", "is not a finite number"),
        ("twelve", "is not a number"),
    ],
)
def test_values_that_do_not_fit_are_refused_naming_them(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^amount: '{text}' {message}"):
        to_fixed(text, PRICE_PRECISION, what="amount")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("123456789012345678901234567.0000001", "is finer than 1/1000000"),  # 34 digits: was rounded, then accepted
        ("1e31", "is out of range"),
        ("1e999999999", "is out of range"),
        ("1e-999999999", "is finer than 1/1000000"),  # was underflowed to 0 and accepted
    ],
)
def test_market_data_fields_take_the_same_exact_scaling(text: str, message: str) -> None:
    # the loaders' parse_fixed scales through the same scale_exactly as to_fixed
    with pytest.raises(DataError, match=f"^f.csv:3: price='{text}' {message}"):
        parse_fixed(text, PRICE_PRECISION, "f.csv:3", "price", exact=True)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10**30 - 1), st.integers(0, 10**6 - 1))
def test_market_data_fields_with_six_decimals_parse_exactly(whole: int, fraction: int) -> None:
    assert parse_fixed(f"{whole}.{fraction:06d}", PRICE_PRECISION, "f", "c", exact=True) == (
        whole * PRICE_PRECISION + fraction
    )
