"""Decimal rendering of the recorded integers: exact at any magnitude (the CSV contract never rounds)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from botrunner.core.precision import PRICE_PRECISION, to_decimal
from botrunner.core.records import fixed, optional_fixed

# far beyond Decimal's default 28-digit context, which rounded (or raised InvalidOperation) here
HUGE = st.integers(-(10**60), 10**60)
DECIMALS = st.integers(0, 18)


def _digits_back(text: str, decimals: int) -> int:
    """The integer a rendering stands for, read back with string operations only."""
    sign = -1 if text.startswith("-") else 1
    whole, dot, frac = text.lstrip("-").partition(".")
    assert whole.isdigit() and (whole == "0" or not whole.startswith("0"))
    if decimals == 0:
        assert not dot
        return sign * int(whole)
    assert dot and len(frac) == decimals and frac.isdigit()
    return sign * int(whole + frac)


def test_fixed_when_examples_then_exact_strings() -> None:
    assert fixed(-1_500_000, 6) == "-1.500000"
    assert fixed(-1, 6) == "-0.000001"
    assert fixed(0, 6) == "0.000000"
    assert fixed(7, 0) == "7"
    assert fixed(10**30, 9) == "1000000000000000000000.000000000"
    assert fixed(-(10**40) - 1, 6) == "-10000000000000000000000000000000000.000001"
    assert optional_fixed(None, 6) == ""
    assert to_decimal(1_500_000, PRICE_PRECISION) == Decimal("1.500000")
    assert to_decimal(10**30 + 1, 10**9).as_tuple() == Decimal("1000000000000000000000.000000001").as_tuple()


@settings(max_examples=500, deadline=None)
@given(HUGE, DECIMALS)
def test_fixed_and_to_decimal_when_any_magnitude_then_exact_and_agree(value: int, decimals: int) -> None:
    text = fixed(value, decimals)
    assert _digits_back(text, decimals) == value
    d = to_decimal(value, 10**decimals)
    # built independently of fixed(): a Decimal from integer digits and an exponent is exact at any length
    assert d.as_tuple() == Decimal(f"{value}E-{decimals}").as_tuple()  # same digits, exactly ``decimals`` places
    assert format(d, "f") == text


def test_to_decimal_when_precision_not_a_power_of_ten_then_refused() -> None:
    with pytest.raises(ValueError, match="power of ten"):
        to_decimal(1, 2)
