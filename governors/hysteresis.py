"""Latching with hysteresis and a cool-down: escalate at once, de-escalate slowly, never flap on noise.

A trigger latches the first step its metric is past the limit. It stays latched until BOTH
  * the metric is back past ``limit ± hysteresis`` (on the safe side), and
  * ``cool_down_s`` seconds have passed since the last step at which the metric was past the limit
    (the latch time when it never breached again; counting from the last breach is the safer reading of
    "since it latched": a metric that re-breaches keeps the bot restricted for a full cool-down).
A metric oscillating inside the hysteresis band therefore changes the latch at most once (the first breach).
Pure: the caller passes ``now``.
"""

from __future__ import annotations

import enum
from typing import assert_never

import msgspec

from governors.risk_triggers import Trigger


class BadWhen(enum.Enum):
    """Which side of the limit is dangerous."""

    BELOW = "below"  # e.g. health, liquidation distance
    ABOVE = "above"  # e.g. leverage, divergence, data age


class Threshold(msgspec.Struct, frozen=True):
    """A limit with its re-arm margin. ``None`` metrics (e.g. no liquidation price) count as safe."""

    limit: int
    hysteresis: int
    bad_when: BadWhen

    def breached(self, value: int | None) -> bool:
        if value is None:
            return False
        match self.bad_when:
            case BadWhen.BELOW:
                return value < self.limit
            case BadWhen.ABOVE:
                return value > self.limit
            case _:
                assert_never(self.bad_when)

    def recovered(self, value: int | None) -> bool:
        """True when the metric is far enough on the safe side for a latch to release."""
        if value is None:
            return True
        match self.bad_when:
            case BadWhen.BELOW:
                return value >= self.limit + self.hysteresis
            case BadWhen.ABOVE:
                return value <= self.limit - self.hysteresis
            case _:
                assert_never(self.bad_when)


class Latch(msgspec.Struct, frozen=True):
    """A trigger that fired: when it first latched and when its metric was last past the limit (unix s)."""

    trigger: Trigger
    latched_at: int
    last_breach_at: int


class LatchStatus(enum.Enum):
    CLEAR = "clear"  # not latched, not breached
    BREACHED = "breached"  # metric past the limit now (freshly latched or still)
    HELD_BY_HYSTERESIS = "held_by_hysteresis"  # back inside the limit, not yet past limit +/- hysteresis
    HELD_BY_COOL_DOWN = "held_by_cool_down"  # recovered, but the cool-down has not elapsed
    RELEASED = "released"  # was latched, released this step


def step_latch(
    latch: Latch | None,
    trigger: Trigger,
    threshold: Threshold,
    value: int | None,
    *,
    now: int,
    cool_down_s: int,
) -> tuple[Latch | None, LatchStatus]:
    """Advance one trigger's latch by one observation. Escalation is immediate; release needs recovery past the
    hysteresis margin AND the cool-down."""
    if threshold.breached(value):
        if latch is None:
            return Latch(trigger, now, now), LatchStatus.BREACHED
        return Latch(trigger, latch.latched_at, max(latch.last_breach_at, now)), LatchStatus.BREACHED
    if latch is None:
        return None, LatchStatus.CLEAR
    if not threshold.recovered(value):
        return latch, LatchStatus.HELD_BY_HYSTERESIS
    if now - latch.last_breach_at < cool_down_s:
        return latch, LatchStatus.HELD_BY_COOL_DOWN
    return None, LatchStatus.RELEASED
