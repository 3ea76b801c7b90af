"""Execution Governor: decides, in strict priority, what the connector works on this step.

1. Risk / liquidation defence: PAUSE ⇒ HALT (cancel everything, leave the position); REDUCE_ONLY, a critical
   health flag or the liquidation-defence flag ⇒ DEFEND (reduce-only orders on the reducing side only; urgent
   — crossing the spread within max slippage of the oracle — when ``liquidation_defence`` is set).
2. Exposure reduction: position outside the approved band ⇒ REDUCE (reduce toward the band edge; rungs that add
   exposure are suppressed).
3. The grid: GRID works the approved band.

Pure: one function of the verdict, the position and two flags. The connector's planner consumes the directive.
"""

from __future__ import annotations

from typing import assert_never

from botrunner.core.directive import ExecutionDirective, ExecutionMode
from botrunner.core.verdict import RiskAction, RiskReason, Verdict


def decide(
    verdict: Verdict,
    position_base: int,
    *,
    health_critical: bool = False,
    liquidation_defence: bool = False,
) -> ExecutionDirective:
    """Pick the execution mode for this step (strict priority: defence, reduction, grid).

    A ``HEALTH_CRITICAL`` finding in the verdict means both: the Risk Governor raises it only to ask for
    liquidation defence, so the verdict alone carries that request and no caller has to translate it. The flags
    let a shell add the same requests on its own. A PAUSE verdict wins over every flag: the Risk Governor has said
    to leave the position alone.
    """
    band = verdict.band
    critical_finding = RiskReason.HEALTH_CRITICAL in verdict.reasons
    critical = health_critical or critical_finding
    liquidation_defence = liquidation_defence or critical_finding
    match verdict.action:
        case RiskAction.PAUSE:
            return ExecutionDirective(mode=ExecutionMode.HALT, band=band, reasons=("verdict_pause",))
        case RiskAction.REDUCE_ONLY:
            reasons = ["verdict_reduce_only"]
        case RiskAction.APPROVE | RiskAction.CLAMP:
            reasons = []
        case _ as unreachable:
            assert_never(unreachable)
    if critical:
        reasons.append("health_critical")
    if liquidation_defence:
        reasons.append("liquidation_defence")
    if reasons:
        return ExecutionDirective(
            mode=ExecutionMode.DEFEND, band=band, reasons=tuple(reasons), urgent=liquidation_defence
        )
    if position_base > band.max_base:
        return ExecutionDirective(mode=ExecutionMode.REDUCE, band=band, reasons=("position_above_band",))
    if position_base < band.min_base:
        return ExecutionDirective(mode=ExecutionMode.REDUCE, band=band, reasons=("position_below_band",))
    return ExecutionDirective(mode=ExecutionMode.GRID, band=band, reasons=("grid",))
