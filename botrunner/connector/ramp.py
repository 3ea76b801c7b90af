"""Ramp-in: after a start or restart, work only part of the band's room, growing linearly to all of it.

The worked band is the approved band with its distance from the current position scaled by the ramp fraction,
so a restart never dumps the whole ladder into the book at once. It always lies inside the approved band.
"""

from __future__ import annotations

from botrunner.core.intents import ExposureBand
from botrunner.core.policy import RampInPolicy
from botrunner.core.precision import BPS_PRECISION


def ramp_fraction_bps(ramp: RampInPolicy, started_at: int, now: int) -> int:
    """Fraction of the band's room to work, in bps: ``initial_fraction_bps`` at ``started_at``, 100 % after
    ``duration_s`` seconds (linear, truncated)."""
    elapsed = now - started_at
    if ramp.duration_s <= 0 or elapsed >= ramp.duration_s:
        return BPS_PRECISION
    if elapsed <= 0:
        return ramp.initial_fraction_bps
    grown = (BPS_PRECISION - ramp.initial_fraction_bps) * elapsed // ramp.duration_s
    return ramp.initial_fraction_bps + grown


def ramp_band(band: ExposureBand, position_base: int, fraction_bps: int, quantum_base: int = 0) -> ExposureBand:
    """The band worked during ramp-in. Unchanged at 100 % or when the position lies outside the band (reducing
    toward the band is never slowed down). Each side's room is scaled, truncated toward the position and, when
    ``quantum_base`` > 0 (the policy's rung size), down to a whole number of rungs: the ramp then adds whole rungs
    instead of regrowing a partial one every few seconds. The result lies inside ``band``."""
    if fraction_bps >= BPS_PRECISION or not band.contains(position_base):
        return band
    down = (position_base - band.min_base) * fraction_bps // BPS_PRECISION
    up = (band.max_base - position_base) * fraction_bps // BPS_PRECISION
    if quantum_base > 0:
        down -= down % quantum_base
        up -= up % quantum_base
    lo, hi = position_base - down, position_base + up
    return ExposureBand(lo, hi, min(max(band.preferred_base, lo), hi))
