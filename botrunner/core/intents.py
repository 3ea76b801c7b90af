"""Exposure intent: the only thing a strategy may say.

A strategy never sees orders. It says how much base it wants to hold, either as an exact ``TargetPosition`` or as
an ``ExposureBand`` (min, max, preferred). Everything downstream (risk, execution, connector) works on the band.
"""

from __future__ import annotations

import msgspec

from botrunner.core.markets import PerpMarketSpec
from botrunner.core.side import Side


class IntentError(ValueError):
    """An intent that cannot be honoured as stated (inverted band, size off the step, ...)."""


class ExposureBand(msgspec.Struct, frozen=True):
    """Acceptable signed base position (1e9): anywhere in [min_base, max_base], ideally preferred_base."""

    min_base: int
    max_base: int
    preferred_base: int

    def contains(self, base: int) -> bool:
        return self.min_base <= base <= self.max_base

    def clamp(self, base: int) -> int:
        return min(max(base, self.min_base), self.max_base)

    def is_within(self, outer: ExposureBand) -> bool:
        """True when this band lies entirely inside ``outer``."""
        return outer.min_base <= self.min_base and self.max_base <= outer.max_base


class TargetPosition(msgspec.Struct, frozen=True):
    """Hold exactly ``base`` (1e9), tolerating ``tolerance_base`` either side before trading."""

    base: int
    tolerance_base: int = 0


Intent = ExposureBand | TargetPosition


def make_band(min_base: int, max_base: int, preferred_base: int, market: PerpMarketSpec) -> ExposureBand:
    """Validate and round a band to the market's step: edges move inward, never outward.

    Raises ``IntentError`` naming the offending values when min > max or preferred lies outside [min, max].
    """
    if min_base > max_base:
        raise IntentError(f"exposure band inverted: min_base {min_base} > max_base {max_base}")
    if not min_base <= preferred_base <= max_base:
        raise IntentError(f"preferred_base {preferred_base} outside the band [{min_base}, {max_base}]")
    step = market.step_size
    lo = -((-min_base) // step) * step  # round min up (inward)
    hi = (max_base // step) * step  # round max down (inward)
    if lo > hi:
        raise IntentError(
            f"exposure band [{min_base}, {max_base}] holds no multiple of the step {step} for {market.symbol}"
        )
    # preferred rounds to the nearest step multiple, then is kept inside the rounded band
    pref = ((preferred_base + step // 2) // step) * step
    return ExposureBand(lo, hi, min(max(pref, lo), hi))


def normalise(intent: Intent, market: PerpMarketSpec) -> ExposureBand:
    """Every intent becomes a step-rounded ``ExposureBand``."""
    match intent:
        case ExposureBand(min_base=lo, max_base=hi, preferred_base=pref):
            return make_band(lo, hi, pref, market)
        case TargetPosition(base=base, tolerance_base=tol):
            if tol < 0:
                raise IntentError(f"tolerance_base must be >= 0, got {tol}")
            target = market.round_base_down(base)  # an exact target snaps toward zero, never beyond the ask
            return make_band(target - tol, target + tol, target, market)


class LadderLevel(msgspec.Struct, frozen=True):
    """One rung a strategy would like worked: rest ``base`` (1e9, > 0) on ``side`` at ``price`` (1e6)."""

    price: int
    side: Side
    base: int


class StrategyDecision(msgspec.Struct, frozen=True, kw_only=True):
    """A strategy's whole output for one step: the band, plus the ladder rungs the connector and UI use.

    ``levels`` may be empty (e.g. a TargetPosition strategy); the connector then builds the ladder from the bot's
    ExecutionPolicy. A two-leg strategy says more (``TwoLegDecision``).
    ``range_low``/``range_high`` (1e6, 0 when unknown) and ``in_range`` describe the grid range for
    reports; ``note`` is a short machine-readable tag explaining the decision (e.g. "bounded_above_range").
    """

    band: ExposureBand
    levels: tuple[LadderLevel, ...] = ()
    range_low: int = 0
    range_high: int = 0
    in_range: bool = True
    note: str = ""


class TwoLegDecision(StrategyDecision, frozen=True, kw_only=True):
    """A two-leg strategy's decision (the delta-neutral engine): ``band`` is the perp leg as for every strategy,
    ``spot_band`` the second instrument of the same subaccount: the wanted signed token amount of its spot deposit
    (1e9 for SOL; negative = borrow). A subclass, not an optional field, so a perp-only decision (the grid) encodes
    exactly as before."""

    spot_band: ExposureBand
