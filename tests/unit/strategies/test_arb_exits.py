"""strategies.arb_exits: each layer's rules, the debounce and the minimum-hold gate, on named cases."""

from __future__ import annotations

import msgspec
import pytest

from strategies.arb_exits import (
    ExitConfig,
    ExitInputs,
    ExitLayer,
    ExitMemory,
    ExitReason,
    apr_bps,
    evaluate,
    remember,
)

H = 3_600
OPEN = 1_000_000
EDGE = 50_000_000  # 0.005 % per hour: ~43.8 % APR
CALM = ExitInputs(
    now_s=OPEN + 72 * H,
    opened_s=OPEN,
    drift_liq_distance_bps=5_000,
    external_liq_distance_bps=5_000,
    drift_notional=1_000 * 10**6,
    external_notional=1_000 * 10**6,
    net_rate_now=EDGE,
    net_rate_avg=EDGE,
    entry_net_rate=EDGE,
    net_pnl_quote=0,
    entry_basis_bps=0,
    basis_bps=0,
    best_alternative_apr_bps=None,
    last_rotation_s=None,
)
CONFIG = ExitConfig()


def _reason(**changes: object) -> ExitReason | None:
    decision, _ = evaluate(CONFIG, msgspec.structs.replace(CALM, **changes), ExitMemory())
    return None if decision is None else decision.reason


def test_a_calm_position_past_the_min_hold_is_kept() -> None:
    assert _reason() is None


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"drift_liq_distance_bps": 1_499}, ExitReason.LIQUIDATION_DISTANCE),
        ({"external_liq_distance_bps": 1_000}, ExitReason.LIQUIDATION_DISTANCE),
        ({"external_notional": 1_031 * 10**6}, ExitReason.DELTA_BREACH),
        ({"net_pnl_quote": 4_000_000}, ExitReason.TAKE_PROFIT),
        ({"net_rate_avg": EDGE // 5 - 1}, ExitReason.EDGE_COLLAPSE),
        ({"net_pnl_quote": 1_000_000}, ExitReason.PROFIT_TARGET),
        ({"now_s": OPEN + 14 * 24 * H}, ExitReason.MAX_HOLD),
        ({"entry_basis_bps": 20, "basis_bps": 4}, ExitReason.BASIS_CONVERGENCE),
        ({"best_alternative_apr_bps": apr_bps(EDGE) + 8_000}, ExitReason.BETTER_OPPORTUNITY),
    ],
)
def test_each_rule_fires_with_its_reason(changes: dict[str, object], reason: ExitReason) -> None:
    assert _reason(**changes) is reason


def test_the_thresholds_are_exclusive_where_the_seed_says_under() -> None:
    assert _reason(drift_liq_distance_bps=1_500) is None
    assert _reason(external_notional=1_030 * 10**6) is None  # exactly 3 % is not a breach
    assert _reason(entry_basis_bps=20, basis_bps=5) is None  # closed by 75 %, not 80 %


def test_negative_ev_needs_a_negative_average_edge() -> None:
    # the average edge turns negative while the entry edge was also negative (no edge collapse to speak of)
    assert _reason(net_rate_avg=-1, entry_net_rate=-1) is ExitReason.NEGATIVE_EV


def test_the_min_hold_gate_blocks_standard_and_opportunity_exits_only() -> None:
    young = OPEN + 47 * H
    assert _reason(now_s=young, net_pnl_quote=1_000_000) is None  # profit target waits
    assert _reason(now_s=young, best_alternative_apr_bps=10**6) is None
    assert _reason(now_s=young, net_pnl_quote=4_000_000) is ExitReason.TAKE_PROFIT  # early exits pass
    assert _reason(now_s=young, drift_liq_distance_bps=10) is ExitReason.LIQUIDATION_DISTANCE


def test_edge_collapse_waits_two_hours() -> None:
    assert _reason(now_s=OPEN + 2 * H - 1, net_rate_avg=0) is None
    assert _reason(now_s=OPEN + 2 * H, net_rate_avg=0) is ExitReason.EDGE_COLLAPSE


def test_rotation_respects_its_cooldown() -> None:
    better = apr_bps(EDGE) + 9_000
    assert _reason(best_alternative_apr_bps=better, last_rotation_s=CALM.now_s - 23 * H) is None
    assert _reason(best_alternative_apr_bps=better, last_rotation_s=CALM.now_s - 24 * H) is (
        ExitReason.BETTER_OPPORTUNITY
    )


def test_a_funding_flip_is_debounced() -> None:
    memory = ExitMemory()
    adverse = msgspec.structs.replace(CALM, net_rate_now=-1)
    for hour in range(3):
        decision, memory = evaluate(CONFIG, msgspec.structs.replace(adverse, now_s=CALM.now_s + hour * H), memory)
        assert decision is None
    decision, memory = evaluate(CONFIG, msgspec.structs.replace(adverse, now_s=CALM.now_s + 3 * H), memory)
    assert decision is not None and decision.reason is ExitReason.FUNDING_FLIP
    assert decision.layer is ExitLayer.EMERGENCY
    # one good hour breaks the run
    assert remember(memory, CALM) == ExitMemory(None)


def test_bad_config_is_refused() -> None:
    with pytest.raises(ValueError, match="max_hold_s"):
        ExitConfig(min_hold_s=10, max_hold_s=5).validate()
    with pytest.raises(ValueError, match="min_liq_distance_bps"):
        ExitConfig(min_liq_distance_bps=20_000).validate()
