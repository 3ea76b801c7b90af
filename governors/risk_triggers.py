"""The Risk Governor's automatic triggers: a closed list, each tied to one reason and the action it imposes.

A trigger is a limit that is watched on the *current* account or market every step and, once breached, latches
(see ``governors.hysteresis``). Band sizing (CLAMP of the edges) is not a trigger: it is recomputed every step.
"""

from __future__ import annotations

import enum

from botrunner.core.verdict import RiskAction, RiskReason


class Trigger(enum.Enum):
    """Every automatic trigger. The value is the stable name persisted in ``RiskState``."""

    # Members are singletons compared by identity: hash them by identity too (C) rather than by name (Python),
    # as they key the hot dict lookups. (Set iteration order never depended on a hash: names hash randomly.)
    __hash__ = object.__hash__

    HEALTH_WARNING = "health_warning"  # A: health < warning                      => REDUCE_ONLY
    HEALTH_CRITICAL = "health_critical"  # A/G: health < critical (liq. defence)  => REDUCE_ONLY
    LIQUIDATION_DISTANCE = "liquidation_distance"  # A: liq price within buffer  => REDUCE_ONLY
    LEVERAGE = "leverage"  # B: account leverage > cap                           => REDUCE_ONLY
    DAILY_LOSS = "daily_loss"  # C: loss since day start > limit                 => REDUCE_ONLY
    NOTIONAL = "notional"  # D: |position| * oracle > cap                        => REDUCE_ONLY
    FUNDING_CLAMP = "funding_clamp"  # E: |rate| > clamp threshold               => CLAMP (paying side frozen)
    FUNDING_REDUCE_ONLY = "funding_reduce_only"  # E: position pays > threshold  => REDUCE_ONLY
    ORACLE_MARK_DIVERGENCE = "oracle_mark_divergence"  # F                       => PAUSE
    STALE_DATA = "stale_data"  # market data older than max_data_age_s           => PAUSE

    @property
    def reason(self) -> RiskReason:
        return _REASON[self]

    @property
    def action(self) -> RiskAction:
        return _ACTION[self]


_REASON = {
    Trigger.HEALTH_WARNING: RiskReason.HEALTH_WARNING,
    Trigger.HEALTH_CRITICAL: RiskReason.HEALTH_CRITICAL,
    Trigger.LIQUIDATION_DISTANCE: RiskReason.LIQUIDATION_DISTANCE,
    Trigger.LEVERAGE: RiskReason.LEVERAGE_CAP,
    Trigger.DAILY_LOSS: RiskReason.DAILY_LOSS,
    Trigger.NOTIONAL: RiskReason.MAX_NOTIONAL,
    Trigger.FUNDING_CLAMP: RiskReason.FUNDING_GUARDRAIL,
    Trigger.FUNDING_REDUCE_ONLY: RiskReason.FUNDING_GUARDRAIL,
    Trigger.ORACLE_MARK_DIVERGENCE: RiskReason.ORACLE_MARK_DIVERGENCE,
    Trigger.STALE_DATA: RiskReason.STALE_MARKET_DATA,
}

_ACTION = {
    Trigger.HEALTH_WARNING: RiskAction.REDUCE_ONLY,
    # PAUSE would cancel the reduce-only orders and leave a near-liquidation position alone; REDUCE_ONLY keeps the
    # exits working and lets the Execution Governor run its liquidation defence first.
    Trigger.HEALTH_CRITICAL: RiskAction.REDUCE_ONLY,
    Trigger.LIQUIDATION_DISTANCE: RiskAction.REDUCE_ONLY,
    Trigger.LEVERAGE: RiskAction.REDUCE_ONLY,
    # Passivbot's tiered stop halts at RED; we keep reduce-only exits alive instead of freezing a losing book.
    Trigger.DAILY_LOSS: RiskAction.REDUCE_ONLY,
    Trigger.NOTIONAL: RiskAction.REDUCE_ONLY,
    Trigger.FUNDING_CLAMP: RiskAction.CLAMP,
    Trigger.FUNDING_REDUCE_ONLY: RiskAction.REDUCE_ONLY,
    # Margin and liquidation maths trust the oracle; when it disagrees with the book or is old, no order is safe.
    Trigger.ORACLE_MARK_DIVERGENCE: RiskAction.PAUSE,
    Trigger.STALE_DATA: RiskAction.PAUSE,
}
