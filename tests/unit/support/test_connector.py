"""The connector tests' shared builders (``tests.support.connector``) are what they claim to be."""

from __future__ import annotations

from tests.support.connector import PRICE_150, R1_POLICY, SOL, SOL_1


def test_support_market_is_self_consistent() -> None:
    assert SOL.round_price_down(PRICE_150 + 99) == PRICE_150
    assert SOL.round_base_down(SOL_1 + 9_999_999) == SOL_1
    R1_POLICY.validate()
