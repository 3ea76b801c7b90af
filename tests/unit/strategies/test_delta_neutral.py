"""The delta-neutral strategy's rules: the source spec's three scenarios, entry, exit, the halt and the config."""

from __future__ import annotations

import msgspec
import pytest

from botrunner.core.catalogue import load_catalogue
from botrunner.core.invalid import InvalidField
from strategies.delta_neutral import (
    CarryInput,
    DeltaNeutralConfig,
    DeltaNeutralState,
    LegsNote,
    LegsView,
    clear_halt,
    decide_legs,
    drift_bps,
    initial_state,
    leverage_cap_x10000,
    mismatch_bound_base,
)

SOL = 10**9
USD = 10**6
SOL_PERP = load_catalogue().perp("SOL-PERP")
SOL_SPOT = load_catalogue().spot(1)
NOW = 1_760_000_000
IN = CarryInput(in_market=True, reason="carry_positive")
OUT = CarryInput(in_market=False, reason="carry_negative")
CFG = DeltaNeutralConfig()


def view(
    spot: float,
    perp: float,
    *,
    last: int | None = None,
    carry: CarryInput = IN,
    equity: int = 10_000 * USD,
    oracle: int = 140 * USD,
) -> LegsView:
    return LegsView(
        spot_base=round(spot * SOL),
        perp_base=round(perp * SOL),
        oracle=oracle,
        mark=oracle,
        now=NOW,
        last_rebalance_ts=last,
        equity_quote=equity,
        market=SOL_PERP,
        spot_market=SOL_SPOT,
        carry=carry,
    )


def test_scenario_1_when_net_long_10_vs_minus_9_then_expand_short_by_1() -> None:
    _, decision, numbers = decide_legs(CFG, initial_state(), view(10, -9))
    assert decision.note == "rebalance_expand_short"
    assert decision.band.min_base == decision.band.max_base == decision.band.preferred_base == -10 * SOL
    assert decision.spot_band.preferred_base == 10 * SOL  # the spot leg is not traded by a rebalance
    assert numbers.net_delta_base == 1 * SOL
    assert numbers.drift_bps == 1_000  # +10 %
    assert numbers.correction_base == 1 * SOL


def test_scenario_2_when_net_short_10_vs_minus_11_then_reduce_short_by_1() -> None:
    _, decision, numbers = decide_legs(CFG, initial_state(), view(10, -11))
    assert decision.note == "rebalance_reduce_short"
    assert decision.band == decision.band.__class__(-10 * SOL, -10 * SOL, -10 * SOL)
    assert numbers.net_delta_base == -1 * SOL
    assert numbers.drift_bps == -1_000
    assert numbers.correction_base == 1 * SOL


def test_scenario_3_when_last_rebalance_10_min_ago_and_drift_2_5_pct_then_skip_1200_s_remaining() -> None:
    _, decision, numbers = decide_legs(CFG, initial_state(), view(10, -9.75, last=NOW - 600))
    assert numbers.drift_bps == 250
    assert decision.note == "cooldown"
    assert numbers.cooldown_remaining_s == 1_200
    assert decision.band.preferred_base == round(-9.75 * SOL)  # hold
    assert numbers.correction_base == 0


def test_when_cooldown_elapsed_then_rebalance() -> None:
    _, decision, _ = decide_legs(CFG, initial_state(), view(10, -9.75, last=NOW - 1_800))
    assert decision.note == "rebalance_expand_short"


def test_when_within_tolerance_then_hold() -> None:
    _, decision, numbers = decide_legs(CFG, initial_state(), view(10, -9.9))
    assert numbers.drift_bps == 100  # exactly 1 %: not beyond
    assert decision.note == "within_tolerance"


def test_when_correction_below_minimum_then_skip() -> None:
    # 0.3 SOL spot, -0.29 perp: drift 3.3 % but the correction 0.01 SOL is below min_trade 0.02
    config = DeltaNeutralConfig(min_trade_base=SOL // 50)
    _, decision, _ = decide_legs(config, initial_state(), view(0.3, -0.29))
    assert decision.note == "below_min_size"


def test_when_flat_and_in_market_then_enter_both_legs_same_base() -> None:
    _, decision, numbers = decide_legs(DeltaNeutralConfig(target_base=5 * SOL), initial_state(), view(0, 0))
    assert decision.note == "enter"
    assert decision.spot_band.preferred_base == 5 * SOL
    assert decision.band.preferred_base == -5 * SOL
    assert numbers.target_spot_base == -numbers.target_perp_base


def test_when_entry_by_capital_fraction_then_sized_on_equity() -> None:
    # 90 % of $10,000 at $140 = 64.2857 SOL -> 64.28 SOL (both steps)
    _, decision, _ = decide_legs(CFG, initial_state(), view(0, 0))
    assert decision.spot_band.preferred_base == 64_280_000_000


def test_when_entry_above_leverage_cap_then_capped() -> None:
    # 1,000 SOL wanted on $10,000: the 5x cap allows (5 + 1) / 2 * 10,000 = $30,000 of spot
    _, decision, _ = decide_legs(DeltaNeutralConfig(target_base=1_000 * SOL), initial_state(), view(0, 0))
    assert decision.spot_band.preferred_base * 140 // SOL <= 30_000
    assert decision.spot_band.preferred_base == 214_280_000_000


def test_when_out_of_market_with_legs_then_exit_flattens_both_exactly() -> None:
    _, decision, _ = decide_legs(CFG, initial_state(), view(10, -10, carry=OUT, last=NOW))
    assert decision.note == "exit"  # the cooldown never delays an exit
    assert decision.band.preferred_base == 0 and decision.spot_band.preferred_base == 0


def test_when_out_of_market_and_flat_then_out_of_market() -> None:
    _, decision, _ = decide_legs(CFG, initial_state(), view(0, 0, carry=OUT))
    assert decision.note == "out_of_market"


def test_when_mismatch_beyond_bound_then_halt_and_stay_halted_until_cleared() -> None:
    # $500 at $140 = 3.571 SOL; 5 SOL of unhedged delta trips it
    state, decision, numbers = decide_legs(CFG, initial_state(), view(10, -5))
    assert decision.note == "halted_leg_mismatch" and state.halted
    assert decision.band.preferred_base == -5 * SOL and decision.spot_band.preferred_base == 10 * SOL
    assert numbers.mismatch_bound_base == 3_571_428_571
    # hedged again, but still halted: only an operator clears it
    state, decision, _ = decide_legs(CFG, state, view(10, -10))
    assert decision.note == "halted_leg_mismatch" and state.halted
    state = clear_halt(state)
    state, decision, _ = decide_legs(CFG, state, view(10, -10))
    assert decision.note == "within_tolerance" and not state.halted


def test_when_cleared_but_still_mismatched_then_halts_again() -> None:
    state, _, _ = decide_legs(CFG, initial_state(), view(10, -5))
    state, decision, _ = decide_legs(CFG, clear_halt(state), view(10, -5))
    assert decision.note == "halted_leg_mismatch" and state.halted


def test_when_no_spot_then_drift_undefined_not_a_division_by_zero() -> None:
    assert drift_bps(0, 0) is None
    assert drift_bps(5, 0) is None
    _, decision, numbers = decide_legs(CFG, initial_state(), view(0, -1))
    assert numbers.drift_bps is None
    assert decision.note == "rebalance_reduce_short"
    assert decision.band.preferred_base == 0


def test_when_expansion_over_leverage_cap_then_capped_at_the_cap() -> None:
    # equity $1,670, 36 SOL bought at $140 ($3,370 of USDC borrowed): 5x leaves (8,350 - 3,370) / 140 = 35.57 SOL
    _, decision, _ = decide_legs(CFG, initial_state(), view(36, -35, equity=1_670 * USD))
    assert decision.note == "rebalance_expand_short"
    assert decision.band.preferred_base == -35_570_000_000
    # at the cap already: an expansion is refused rather than cut into a reduction
    _, decision, _ = decide_legs(CFG, initial_state(), view(36.2, -35.57, equity=1_670 * USD))
    assert decision.note == "leverage_cap"
    assert decision.band.preferred_base == -35_570_000_000


def test_when_over_the_cap_by_more_than_the_margin_then_delever_both_legs_equally() -> None:
    # equity $1,000: 35 SOL short + $4,040 borrowed = 8.94x; cutting d from both legs: 8,940 - 280 d <= 5,000
    _, decision, numbers = decide_legs(CFG, initial_state(), view(36, -35, equity=1_000 * USD, last=NOW))
    assert decision.note == "delever"  # not held by the cooldown
    assert decision.spot_band.preferred_base == 36 * SOL - 14_080_000_000
    assert decision.band.preferred_base == -35 * SOL + 14_080_000_000
    assert numbers.net_delta_base == SOL  # the cut keeps the net delta


def test_when_over_the_cap_within_the_margin_then_no_delever() -> None:
    # 4,900 + 3,370 = 8,270 on $1,620 = 5.1x: over 5x, inside the 5 % margin
    _, decision, _ = decide_legs(CFG, initial_state(), view(36, -35, equity=1_620 * USD))
    assert decision.note != "delever"


def test_leverage_cap_never_above_market_max() -> None:
    tight = msgspec.structs.replace(SOL_PERP, margin_ratio_initial=5_000)  # market max 2x
    assert leverage_cap_x10000(CFG, tight) == 20_000
    assert leverage_cap_x10000(CFG, SOL_PERP) == 50_000


def test_mismatch_bound_floor_is_min_orders() -> None:
    assert mismatch_bound_base(CFG, SOL_PERP, 1_000_000 * USD) == 5 * SOL_PERP.min_order_size


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("drift_tolerance_bps", 0),
        ("cooldown_s", -1),
        ("min_trade_base", 0),
        ("max_leverage_x10000", 0),
        ("mismatch_min_orders", 0),
        ("mismatch_quote", -1),
        ("target_base", 0),
        ("target_capital_bps", 0),
    ],
)
def test_config_validate_names_the_field(field: str, value: int) -> None:
    with pytest.raises(InvalidField, match=rf"DeltaNeutralConfig\.{field} "):
        msgspec.structs.replace(CFG, **{field: value}).validate()


def test_config_forbids_unknown_fields() -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"cooldown": 1}, DeltaNeutralConfig)


def test_state_round_trips() -> None:
    state = DeltaNeutralState(halted=True, halted_at=NOW, halted_net_delta=SOL, halted_bound=SOL // 2)
    assert msgspec.json.decode(msgspec.json.encode(state), type=DeltaNeutralState) == state


def test_note_values_are_the_decision_notes() -> None:
    assert {n.value for n in LegsNote} >= {"enter", "exit", "cooldown", "halted_leg_mismatch"}
