"""Drift's health has one integer implementation; check it against the exact rational definition."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from botrunner.margin.metrics import health_from


def _rational_health(tc: int, mr: int) -> int:
    # The SDK's definition, verbatim in exact arithmetic: Python's round() rounds halves to even.
    if mr == 0 and tc >= 0:
        return 100
    if tc <= 0:
        return 0
    return round(min(Fraction(100), max(Fraction(0), (1 - Fraction(mr, tc)) * 100)))


@settings(max_examples=2000, deadline=None)
@given(tc=st.integers(-(10**12), 10**12), mr=st.integers(0, 10**12))
def test_integer_health_equals_the_rational_definition(tc: int, mr: int) -> None:
    assert health_from(tc, mr) == _rational_health(tc, mr)


def test_halves_round_to_even_as_the_sdk_does() -> None:
    assert health_from(200, 185) == 8  # 7.5 -> 8
    assert health_from(200, 15) == 92  # 92.5 -> 92
    assert health_from(100, 100) == 0
    assert health_from(100, 0) == 100
    assert health_from(0, 0) == 100  # no requirement and no collateral: healthy, as the SDK says


def test_view_and_engine_agree_a_settled_market_has_no_liquidation_price() -> None:
    import msgspec

    from botrunner.core.catalogue import load_catalogue
    from botrunner.margin import AccountMarginView, PerpMarketStatus, apply_fill, liquidation_price
    from botrunner.margin.fresh import usdc_funded

    sol = load_catalogue().perp("SOL-PERP")
    account, markets = usdc_funded(sol, 1_000 * 10**6, 200 * 10**6)
    account = apply_fill(account, markets, sol.market_index, 40 * 10**9, 200 * 10**6)  # 8x long: liquidatable
    live = AccountMarginView(account, markets, sol.market_index).current().liquidation_price
    assert live is not None and live < 200 * 10**6
    settled_market = msgspec.structs.replace(
        # settled at 170: the 40 SOL long lost $1,200 of its $1,000, so it is past maintenance for good
        markets.perp[sol.market_index],
        status=PerpMarketStatus.SETTLEMENT,
        expiry_price=170 * 10**6,
    )
    settled = msgspec.structs.replace(markets, perp={sol.market_index: settled_market})
    view = AccountMarginView(account, settled, sol.market_index)
    assert liquidation_price(account, settled, sol.market_index) is None
    assert view.current().liquidation_price is None
    assert view.project(40 * 10**9, 150 * 10**6).liquidation_price is None
