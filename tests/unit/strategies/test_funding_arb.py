"""strategies.funding_arb: the entry rule's gates in order, the direction, the sizing and the projected profit."""

from __future__ import annotations

import msgspec
import pytest

from botrunner.core.side import Side
from strategies.funding_arb import EntryInputs, FundingArbSettings, SkipReason, decide_entry, direction

USD = 10**6
SOL = 10**9
SETTINGS = FundingArbSettings()
# Drift pays longs 0.002 %/h (shorts pay), Hyperliquid charges longs 0.003 %/h: long Drift, short Hyperliquid
GOOD = EntryInputs(
    score=80,
    drift_rate=-20_000_000,
    external_rate=30_000_000,
    price=150 * USD,
    available_quote=10_000 * USD,
    step_base=10_000_000,
    drift_taker_ppm=350,
    external_taker_ppm=450,
    slippage_ppm=200,
)


def test_long_where_funding_is_cheaper_short_where_richer() -> None:
    assert direction(-5, 10) is Side.BUY  # Drift cheaper for longs: long Drift
    assert direction(10, -5) is Side.SELL
    assert direction(3, 3) is None


def test_a_good_opportunity_is_entered_with_half_the_capital() -> None:
    decision = decide_entry(SETTINGS, GOOD)
    plan = decision.plan
    assert plan is not None and decision.skip is None
    assert plan.drift_side is Side.BUY
    assert plan.base == 33_330_000_000  # $5,000 / $150 = 33.333 SOL, down to the 0.01 step
    assert plan.notional == 4_999_500_000
    assert plan.net_rate == 50_000_000
    assert plan.funding_quote == 4_999_500_000 * 50_000_000 * 72 // 10**12  # 17.998200 USD over 72 h
    assert plan.fees_quote == 2 * 3_999_600  # (3.5 + 4.5 bps) of the notional, in and out
    assert plan.slippage_quote == 4 * 999_900  # 2 bps of the notional per fill, 4 fills
    assert plan.projected_quote == plan.funding_quote - plan.fees_quote - plan.slippage_quote


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"score": 69}, SkipReason.SCORE),
        ({"drift_rate": 7, "external_rate": 7}, SkipReason.NO_EDGE),
        ({"available_quote": 199 * USD}, SkipReason.CAPITAL),
        ({"external_rate": -19_000_000}, SkipReason.UNPROFITABLE),  # a 0.0001 %/h edge never pays 16 bps of costs
    ],
)
def test_each_gate_skips_with_its_reason(changes: dict[str, object], reason: SkipReason) -> None:
    decision = decide_entry(SETTINGS, msgspec.structs.replace(GOOD, **changes))
    assert decision.plan is None and decision.skip is reason


def test_the_threshold_and_the_cap_are_configurable() -> None:
    assert decide_entry(FundingArbSettings(entry_score=90), GOOD).skip is SkipReason.SCORE
    capped = decide_entry(FundingArbSettings(max_position_quote=1_000 * USD), GOOD).plan
    assert capped is not None and capped.notional <= 1_000 * USD


def test_impossible_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="position_share_bps"):
        FundingArbSettings(position_share_bps=6_000).validate()
    with pytest.raises(ValueError, match=r"exits\.min_hold_s"):
        FundingArbSettings(exits=msgspec.structs.replace(SETTINGS.exits, min_hold_s=-1)).validate()
