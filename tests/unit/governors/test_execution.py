"""Execution Governor: strict priority defence > reduction > grid."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from botrunner.core.directive import ExecutionMode
from botrunner.core.intents import ExposureBand
from botrunner.core.verdict import RiskAction, RiskFinding, RiskReason, Verdict
from governors.execution import decide

SOL_1 = 10**9
BAND = ExposureBand(-5 * SOL_1, 5 * SOL_1, 0)


def _v(action: RiskAction, band: ExposureBand = BAND, *reasons: RiskReason) -> Verdict:
    return Verdict(action, band, tuple(RiskFinding(r, action, 0, 0, "x") for r in reasons))


def test_execution_when_pause_then_halt_even_with_defence_flags() -> None:
    d = decide(_v(RiskAction.PAUSE), 3 * SOL_1, health_critical=True, liquidation_defence=True)
    assert d.mode is ExecutionMode.HALT
    assert d.reasons == ("verdict_pause",)
    assert not d.urgent


def test_execution_when_reduce_only_then_defend_maker() -> None:
    d = decide(_v(RiskAction.REDUCE_ONLY), 3 * SOL_1)
    assert d.mode is ExecutionMode.DEFEND
    assert not d.urgent
    assert d.reasons == ("verdict_reduce_only",)


def test_execution_when_liquidation_defence_then_defend_urgent_over_grid() -> None:
    d = decide(_v(RiskAction.APPROVE), 0, liquidation_defence=True)
    assert d.mode is ExecutionMode.DEFEND and d.urgent
    assert "liquidation_defence" in d.reasons


def test_execution_when_health_critical_finding_then_urgent_liquidation_defence() -> None:
    d = decide(_v(RiskAction.CLAMP, BAND, RiskReason.HEALTH_CRITICAL), 0)
    assert d.mode is ExecutionMode.DEFEND
    assert d.urgent
    assert d.reasons == ("health_critical", "liquidation_defence")


def test_execution_when_only_the_health_flag_then_defend_without_urgency() -> None:
    d = decide(_v(RiskAction.APPROVE), 0, health_critical=True)
    assert (d.mode, d.urgent, d.reasons) == (ExecutionMode.DEFEND, False, ("health_critical",))


def test_execution_when_position_outside_band_then_reduce_before_grid() -> None:
    assert decide(_v(RiskAction.APPROVE), 6 * SOL_1).mode is ExecutionMode.REDUCE
    assert decide(_v(RiskAction.CLAMP), -6 * SOL_1).reasons == ("position_below_band",)


def test_execution_when_inside_band_and_healthy_then_grid() -> None:
    d = decide(_v(RiskAction.APPROVE), 5 * SOL_1)
    assert d.mode is ExecutionMode.GRID
    assert d.band == BAND


@settings(max_examples=300, deadline=None)
@given(
    action=st.sampled_from(RiskAction),
    lo=st.integers(-10, 10),
    width=st.integers(0, 10),
    pos=st.integers(-20, 20),
    critical=st.booleans(),
    liq=st.booleans(),
)
def test_execution_property_strict_priority(
    *, action: RiskAction, lo: int, width: int, pos: int, critical: bool, liq: bool
) -> None:
    band = ExposureBand(lo * SOL_1, (lo + width) * SOL_1, lo * SOL_1)
    d = decide(_v(action, band), pos * SOL_1, health_critical=critical, liquidation_defence=liq)
    assert d.band == band  # the governor never widens or moves the approved band
    if action is RiskAction.PAUSE:
        expected = ExecutionMode.HALT
    elif action is RiskAction.REDUCE_ONLY or critical or liq:
        expected = ExecutionMode.DEFEND
    elif not band.contains(pos * SOL_1):
        expected = ExecutionMode.REDUCE
    else:
        expected = ExecutionMode.GRID
    assert d.mode is expected
    assert d.urgent == (liq and expected is ExecutionMode.DEFEND)
    assert d.reasons
