"""The Risk Governor's answer, shared by the governors, the connector and the operator surfaces."""

from __future__ import annotations

import enum

import msgspec

from botrunner.core.intents import ExposureBand


class RiskAction(enum.Enum):
    """Ordered from least to most restrictive; ``RiskAction.worst`` picks the most restrictive."""

    # Members are singletons compared by identity: hash them by identity too (C) rather than by name (Python),
    # as they key the hot dict lookups. (Set iteration order never depended on a hash: names hash randomly.)
    __hash__ = object.__hash__

    APPROVE = "APPROVE"  # trade the strategy's band as is
    CLAMP = "CLAMP"  # trade a narrower band that fits every limit
    REDUCE_ONLY = "REDUCE_ONLY"  # cancel every order that adds exposure; keep only reduce-only ones
    PAUSE = "PAUSE"  # cancel every order; leave the position untouched

    @property
    def severity(self) -> int:
        return _SEVERITY[self]

    @staticmethod
    def worst(actions: list[RiskAction]) -> RiskAction:
        return max(actions, key=_SEVERITY.__getitem__, default=RiskAction.APPROVE)


_SEVERITY = {RiskAction.APPROVE: 0, RiskAction.CLAMP: 1, RiskAction.REDUCE_ONLY: 2, RiskAction.PAUSE: 3}


class RiskReason(enum.Enum):
    """Machine-readable reasons, one per hard limit A-G and per automatic trigger."""

    LIQUIDATION_DISTANCE = "liquidation_distance"  # A: liquidation price too close to the oracle
    HEALTH_BUFFER = "health_buffer"  # A: health below the buffer (or a trade would leave it there)
    HEALTH_WARNING = "health_warning"
    HEALTH_CRITICAL = "health_critical"
    LEVERAGE_CAP = "leverage_cap"  # B
    DAILY_LOSS = "daily_loss"  # C
    MAX_NOTIONAL = "max_notional"  # D
    FUNDING_GUARDRAIL = "funding_guardrail"  # E
    ORACLE_MARK_DIVERGENCE = "oracle_mark_divergence"  # F
    REDUCE_ONLY_TRIGGER = (
        "reduce_only_trigger"  # G: no longer given (the operator's flag is OPERATOR); old rows hold it
    )
    STRESS_CAP = "stress_cap"  # band capped so a stress move still leaves the buffers intact
    STALE_MARKET_DATA = "stale_market_data"
    OPERATOR = "operator"  # an operator command (pause, reduce-only, flatten)
    COOL_DOWN = "cool_down"  # held in a restrictive state until the cool-down elapses
    LEG_MISMATCH = "leg_mismatch"  # two-leg bot: unhedged delta beyond the hard bound (halt until cleared)


class RiskFinding(msgspec.Struct, frozen=True):
    """One limit that fired: which, what it did, the measured value and the limit, in the stated unit."""

    reason: RiskReason
    action: RiskAction
    value: int
    limit: int
    unit: str  # e.g. "bps", "health_pct", "quote_1e6", "base_1e9", "leverage_1e4"
    detail: str = ""


class Verdict(msgspec.Struct, frozen=True):
    """What the bot may do this step. ``band`` is the approved band (narrowed under CLAMP)."""

    action: RiskAction
    band: ExposureBand
    findings: tuple[RiskFinding, ...] = ()

    @property
    def reasons(self) -> tuple[RiskReason, ...]:
        return tuple(f.reason for f in self.findings)
