"""The Risk Governor's test double (``tests.support.risk_doubles``): it must be right for the governor tests to
mean anything."""

from __future__ import annotations

from tests.support.risk_doubles import Account, FakeProjection, px, sol, usd


def test_fake_when_flat_then_health_100_no_liquidation_price() -> None:
    snap = FakeProjection.from_account(Account(usd(1_000), 0, 0, px(150))).current()
    assert (snap.health, snap.leverage, snap.liquidation_price) == (100, 0, None)


def test_fake_health_and_leverage_match_hand_computation() -> None:
    # 10 SOL long at 150 with $1,000: notional 1,500, maint 3 % = 45, tc 1,000 => health round(95.5) = 96, 1.5x
    snap = FakeProjection.from_account(Account(usd(1_000), sol(10), px(150), px(150))).current()
    assert snap.margin_requirement_maintenance == usd(45)
    assert snap.health == 96
    assert snap.leverage == 15_000


def test_fake_at_its_liquidation_price_health_is_about_zero() -> None:
    for base in (sol(30), sol(-30)):
        proj = FakeProjection.from_account(Account(usd(1_000), base, px(150), px(150)))
        liq = proj.current().liquidation_price
        assert liq is not None
        at_liq = proj.project(base, liq)
        assert at_liq.health <= 1
        # one dollar on the safe side of the liquidation price the account is still healthy
        safe = proj.project(base, liq + (px(1) if base > 0 else -px(1)))
        assert safe.health > at_liq.health


def test_fake_project_fills_at_current_oracle_so_collateral_is_unchanged() -> None:
    proj = FakeProjection.from_account(Account(usd(1_000), sol(5), px(140), px(150)))
    before = proj.current().total_collateral_maintenance
    after = proj.project(sol(-20), px(150)).total_collateral_maintenance
    assert before == after == usd(1_050)
