"""Exposure intents: every intent normalises to a valid, step-aligned band inside what was asked for."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from botrunner.core.catalogue import load_catalogue
from botrunner.core.intents import ExposureBand, IntentError, TargetPosition, make_band, normalise
from botrunner.core.markets import PerpMarketSpec

STEP = 10_000_000  # 0.01 SOL


def market(step: int = STEP) -> PerpMarketSpec:
    """The real SOL-PERP spec, with the order step (and minimum size) overridden for rounding cases."""
    return msgspec.structs.replace(load_catalogue().perp("SOL-PERP"), step_size=step, min_order_size=step)


def test_make_band_when_edges_off_step_then_rounds_inward() -> None:
    band = make_band(-15_000_001, 29_999_999, 3_000_000, market())
    assert band == ExposureBand(-10_000_000, 20_000_000, 0)


def test_make_band_when_preferred_off_step_then_rounds_to_nearest_step() -> None:
    assert make_band(0, 100_000_000, 16_000_000, market()).preferred_base == 20_000_000
    assert make_band(-100_000_000, 0, -16_000_000, market()).preferred_base == -20_000_000
    assert make_band(0, 100_000_000, 14_000_000, market()).preferred_base == 10_000_000


def test_make_band_when_inverted_then_error_names_both_edges() -> None:
    with pytest.raises(IntentError, match=r"inverted: min_base 5 > max_base 4"):
        make_band(5, 4, 4, market())


def test_make_band_when_preferred_outside_then_error() -> None:
    with pytest.raises(IntentError, match="preferred_base 11 outside the band"):
        make_band(0, 10, 11, market())
    with pytest.raises(IntentError, match="preferred_base -1 outside the band"):
        make_band(0, 10, -1, market())


def test_make_band_when_no_step_multiple_inside_then_error() -> None:
    with pytest.raises(IntentError, match="holds no multiple of the step"):
        make_band(1, STEP - 1, 5, market())


def test_target_position_normalises_to_a_band_around_the_step_rounded_target() -> None:
    band = normalise(TargetPosition(base=123_456_789, tolerance_base=20_000_000), market())
    assert band == ExposureBand(100_000_000, 140_000_000, 120_000_000)


def test_target_position_when_negative_then_snaps_toward_zero() -> None:
    band = normalise(TargetPosition(base=-123_456_789), market())
    assert band == ExposureBand(-120_000_000, -120_000_000, -120_000_000)


def test_target_position_when_negative_tolerance_then_error() -> None:
    with pytest.raises(IntentError, match="tolerance_base must be >= 0"):
        normalise(TargetPosition(base=0, tolerance_base=-1), market())


bases = st.integers(min_value=-(10**13), max_value=10**13)
steps = st.sampled_from([1, 1_000, 10_000_000, 100_000_000, 1_000_000_000])


def _assert_valid(band: ExposureBand, step: int) -> None:
    assert band.min_base <= band.preferred_base <= band.max_base
    assert band.min_base % step == 0
    assert band.max_base % step == 0
    assert band.preferred_base % step == 0


@settings(max_examples=300, deadline=None)
@given(a=bases, b=bases, c=bases, step=steps)
def test_normalised_band_is_step_aligned_valid_and_inside_the_request(a: int, b: int, c: int, step: int) -> None:
    lo, pref, hi = sorted((a, b, c))
    m = market(step)
    try:
        band = normalise(ExposureBand(lo, hi, pref), m)
    except IntentError:
        # only legitimate when no step multiple fits in [lo, hi]
        assert -((-lo) // step) * step > hi
        return
    _assert_valid(band, step)
    assert band.is_within(ExposureBand(lo, hi, pref))
    # preferred moves by at most one step from the request (nearest rounding, then clamped inward)
    assert abs(band.preferred_base - pref) <= step


@settings(max_examples=300, deadline=None)
@given(base=bases, tol=st.integers(min_value=0, max_value=10**12), step=steps)
def test_target_position_band_contains_the_rounded_target(base: int, tol: int, step: int) -> None:
    m = market(step)
    band = normalise(TargetPosition(base=base, tolerance_base=tol), m)
    _assert_valid(band, step)
    target = m.round_base_down(base)
    assert band.preferred_base == target
    assert abs(target) <= abs(base)
    assert band.min_base >= target - tol
    assert band.max_base <= target + tol


@settings(max_examples=200, deadline=None)
@given(a=bases, b=bases, pref=bases)
def test_inverted_band_or_preferred_outside_is_always_rejected(a: int, b: int, pref: int) -> None:
    assume(a != b)
    lo, hi = min(a, b), max(a, b)
    with pytest.raises(IntentError):
        make_band(hi, lo, pref, market())
    assume(not lo <= pref <= hi)
    with pytest.raises(IntentError):
        make_band(lo, hi, pref, market())
