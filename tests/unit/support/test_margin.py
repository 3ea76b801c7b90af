"""The margin tests' shared helpers (``tests.support.margin``) build what they claim to build."""

from __future__ import annotations

from tests.support.margin import USDC, catalogue_markets, usdc_deposit


def test_catalogue_markets_builds_sol_perp_with_real_margin_ratios() -> None:
    m = catalogue_markets()
    assert m.perp_market(0).spec.margin_ratio_initial == 500
    assert m.perp_market(0).spec.margin_ratio_maintenance == 300


def test_usdc_deposit_helper_gives_exact_token_amount() -> None:
    from botrunner.margin import signed_token_amount

    m = catalogue_markets()
    assert signed_token_amount(usdc_deposit(m, 1234 * USDC), m.spot_market(0)) == 1234 * USDC
