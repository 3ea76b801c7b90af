"""The Execution Governor's answer, shared by the governors, the connector and the pipeline."""

from __future__ import annotations

import enum

import msgspec

from botrunner.core.intents import ExposureBand


class ExecutionMode(enum.Enum):
    """What the connector does this step, most restrictive first."""

    HALT = "halt"  # cancel every order, place nothing
    DEFEND = "defend"  # reduce-only orders on the reducing side only, never flipping the position
    REDUCE = "reduce"  # position outside the band: reduce toward it, no exposure-adding rungs
    GRID = "grid"  # work the band with the ladder


class ExecutionDirective(msgspec.Struct, frozen=True, kw_only=True):
    """The governor's decision. ``band`` is always the verdict's approved band; ``urgent`` asks DEFEND to cross
    the spread (reduce-only limit within ``max_slippage_bps`` of the oracle) instead of resting maker orders.
    ``reasons`` are machine-readable tags, most important first."""

    mode: ExecutionMode
    band: ExposureBand
    reasons: tuple[str, ...]
    urgent: bool = False
