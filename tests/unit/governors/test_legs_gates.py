"""The delta-neutral cost gate: revenue over the horizon against fees, slippage and transaction costs."""

from __future__ import annotations

import msgspec
import pytest

from botrunner.core.invalid import InvalidField
from governors.legs_gates import CostGateConfig, CostInputs, CostVerdict, check_cost, describe

SOL = 10**9
USD = 10**6
PRICE = 140 * USD
CFG = CostGateConfig()
# 0.01 % per hour of $140 = $0.014 per SOL per hour: quote per base 1e9 -> 14_000_000
RATE = 14_000_000


def entry(size: int, rate: int, **kw: int) -> CostInputs:
    return CostInputs(
        perp_base=0, perp_delta=-size, spot_base=0, spot_delta=size, oracle=PRICE, funding_rate=rate, **kw
    )


def test_when_shorts_are_paid_enough_then_pass() -> None:
    # 10 SOL short over 7 days at $0.014/SOL/h = $23.52, counted at 50 % = $11.76
    result = check_cost(CFG, entry(10 * SOL, RATE))
    assert result.funding_quote == 11_760_000
    # fees: $1,400 x 350 ppm + $1,400 x 1000 ppm = $0.49 + $1.40; slippage $2,800 x 500 ppm = $1.40;
    # tx 25,000 lamports at $140 = $0.0035; doubled for the unwind
    assert result.fees_quote == 1_890_000 and result.slippage_quote == 1_400_000 and result.tx_cost_quote == 3_500
    assert result.cost_quote == 2 * (1_890_000 + 1_400_000 + 3_500)
    assert result.verdict is CostVerdict.PASS and not result.blocked


def test_when_funding_negative_then_revenue_below_cost() -> None:
    result = check_cost(CFG, entry(10 * SOL, -RATE))
    assert result.funding_quote == -23_520_000  # unfavourable counted in full
    assert result.blocked


def test_when_deposit_interest_pays_then_counted() -> None:
    result = check_cost(CFG, entry(10 * SOL, 0, deposit_apr_bps=500))
    # $1,400 x 5 % x 7 / 365 = $1.342465...
    assert result.interest_quote == 1_342_465
    assert result.blocked  # $1.34 < $6.59 of costs


def test_when_trade_only_reduces_then_never_blocked() -> None:
    reduce = CostInputs(
        perp_base=-10 * SOL, perp_delta=SOL, spot_base=10 * SOL, spot_delta=0, oracle=PRICE, funding_rate=-RATE
    )
    result = check_cost(CFG, reduce)
    assert result.verdict is CostVerdict.REDUCING and not result.blocked


def test_no_trade() -> None:
    result = check_cost(CFG, entry(0, RATE))
    assert result.verdict is CostVerdict.NO_TRADE and result.cost_quote == 0


def test_describe_gives_the_numbers() -> None:
    line = describe(check_cost(CFG, entry(10 * SOL, -RATE)))
    assert "revenue_below_cost" in line and "-$23.520000" in line


def test_config_validate_names_the_field() -> None:
    with pytest.raises(InvalidField, match=r"CostGateConfig\.horizon_s"):
        msgspec.structs.replace(CFG, horizon_s=0).validate()
