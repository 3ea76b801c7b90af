"""The two-leg risk check on the Drift-exact margin engine."""

from __future__ import annotations

import pytest

from botrunner.core.catalogue import load_catalogue
from botrunner.core.verdict import RiskAction, RiskReason
from botrunner.margin.legs import LegsTrade, LegsWhatIf, apply_legs
from governors.risk_legs import LegsLimits, LegsRequest, check_legs, leverage_cap
from tests.support.margin import SOL, USDC, account, catalogue_markets, sol_deposit, usdc_deposit

MARKETS = catalogue_markets(140 * USDC)
SOL_PERP = load_catalogue().perp("SOL-PERP")
STEP = 10_000_000  # lcm of the perp step (0.01) and the spot step (0.0001)
BOUND = 3 * SOL
LIMITS = LegsLimits()


def request(spot: int, perp: int, spot_d: int, perp_d: int) -> LegsRequest:
    return LegsRequest(
        spot_base=spot,
        perp_base=perp,
        spot_delta=spot_d,
        perp_delta=perp_d,
        mismatch_bound_base=BOUND,
        leg_step=STEP,
        market=SOL_PERP,
    )


def flat(usdc: int) -> LegsWhatIf:
    return LegsWhatIf(account(usdc_deposit(MARKETS, usdc)), MARKETS, 0, 1)


def hedged(usdc: int, size: int) -> LegsWhatIf:
    """``usdc`` of USDC that bought ``size`` SOL at $140 (borrowing USDC beyond it) and shorted the same."""
    trade = LegsTrade(perp_delta=-size, perp_price=140 * USDC, spot_delta=size, spot_price=140 * USDC)
    return LegsWhatIf(apply_legs(account(usdc_deposit(MARKETS, usdc)), MARKETS, 0, 1, trade), MARKETS, 0, 1)


def test_when_entry_within_limits_then_approve() -> None:
    v = check_legs(LIMITS, request(0, 0, 50 * SOL, -50 * SOL), flat(10_000 * USDC))
    assert v.action is RiskAction.APPROVE
    assert (v.spot_delta, v.perp_delta) == (50 * SOL, -50 * SOL)
    assert v.leverage_after <= 50_000 and v.health_after >= 60


def test_when_entry_over_leverage_cap_then_clamp_both_legs_equally() -> None:
    # $10,000 buying 300 SOL ($42,000) borrows $32,000 USDC: leverage (42 + 32) / 10 = 7.4x > 5x
    v = check_legs(LIMITS, request(0, 0, 300 * SOL, -300 * SOL), flat(10_000 * USDC))
    assert v.action is RiskAction.CLAMP
    assert v.spot_delta == -v.perp_delta > 0
    assert v.spot_delta < 300 * SOL and v.spot_delta % STEP == 0
    assert v.leverage_after <= 50_000 and v.health_after >= 60
    assert RiskReason.LEVERAGE_CAP in v.reasons
    # one step more would break the cap or the health threshold
    more = flat(10_000 * USDC).project_legs(-(v.spot_delta + STEP), v.spot_delta + STEP)
    assert more.leverage > 50_000 or more.health < 60


def test_when_health_threshold_binds_then_clamp_keeps_health() -> None:
    limits = LegsLimits(max_leverage_x10000=200_000, min_health_after_trade=90)
    v = check_legs(limits, request(0, 0, 300 * SOL, -300 * SOL), flat(10_000 * USDC))
    assert v.action is RiskAction.CLAMP and v.health_after >= 90
    assert RiskReason.HEALTH_BUFFER in v.reasons


def test_when_legs_mismatched_now_then_pause_and_trade_nothing() -> None:
    acct = account(usdc_deposit(MARKETS, 10_000 * USDC), sol_deposit(MARKETS, 10 * SOL))
    v = check_legs(LIMITS, request(10 * SOL, 0, 0, -SOL), LegsWhatIf(acct, MARKETS, 0, 1))
    assert v.action is RiskAction.PAUSE and (v.spot_delta, v.perp_delta) == (0, 0)
    assert v.reasons == (RiskReason.LEG_MISMATCH,)


def test_when_trade_would_break_the_hedge_then_pause() -> None:
    v = check_legs(LIMITS, request(10 * SOL, -10 * SOL, 0, -5 * SOL), hedged(10_000 * USDC, 10 * SOL))
    assert v.action is RiskAction.PAUSE and v.reasons == (RiskReason.LEG_MISMATCH,)


def test_when_account_over_cap_now_then_reduce_only_keeps_only_reductions() -> None:
    # 100 SOL hedged on $3,000 of USDC ($11,000 borrowed): (14,000 + 11,000) / 3,000 = 8.3x, over 5x already
    whatif = hedged(3_000 * USDC, 100 * SOL)
    assert whatif.project_legs(0, 0).leverage == 83_333
    grow = check_legs(LIMITS, request(100 * SOL, -100 * SOL, 0, -SOL), whatif)
    assert grow.action is RiskAction.REDUCE_ONLY and (grow.spot_delta, grow.perp_delta) == (0, 0)
    shrink = check_legs(LIMITS, request(100 * SOL, -100 * SOL, -2 * SOL, 2 * SOL), whatif)
    assert shrink.action is RiskAction.REDUCE_ONLY and (shrink.spot_delta, shrink.perp_delta) == (-2 * SOL, 2 * SOL)


def test_no_trade_is_approved() -> None:
    v = check_legs(LIMITS, request(0, 0, 0, 0), flat(100 * USDC))
    assert v.action is RiskAction.APPROVE and v.findings == ()


def test_leverage_cap_never_above_market() -> None:
    assert leverage_cap(LegsLimits(max_leverage_x10000=1_000_000), SOL_PERP) == 200_000  # 1 / 5 %


def test_limits_validate() -> None:
    with pytest.raises(ValueError, match="min_health_after_trade"):
        LegsLimits(min_health_after_trade=101).validate()
