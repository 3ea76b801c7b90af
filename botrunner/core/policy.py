"""ExecutionPolicy: how the connector works a band. Per bot, from its YAML; immutable once loaded."""

from __future__ import annotations

import enum

import msgspec

from botrunner.core.invalid import InvalidField


class PostOnlyMode(enum.Enum):
    """Drift's PostOnlyParams for resting orders."""

    NONE = "none"  # may take liquidity
    MUST_POST_ONLY = "must_post_only"  # the venue rejects an order that would cross
    TRY_POST_ONLY = "try_post_only"  # the venue silently skips an order that would cross
    SLIDE = "slide"  # the venue reprices a crossing order to rest one tick behind the touch


class RampInPolicy(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """On start or restart, grow the worked band from ``initial_fraction_bps`` of its size to the whole band
    linearly over ``duration_s`` seconds, so a restart never dumps a full ladder into the book at once."""

    duration_s: int = 600
    initial_fraction_bps: int = 2_500  # 25 %


class ExecutionPolicy(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The knobs of the PerpsConnector (MVP spec §4). Integers: bps, seconds, base 1e9."""

    grid_levels: int = 5  # rungs per side
    step_bps: int = 30  # spacing between rungs, % of the anchor (mark), in bps
    base_size_per_level: int = 100_000_000  # 0.1 base unit per rung
    post_only: PostOnlyMode = PostOnlyMode.MUST_POST_ONLY  # maker-preferred
    max_slippage_bps: int = 30  # for taker orders (risk defence): worst acceptable price vs oracle
    requote_threshold_bps: int = 10  # re-quote when the anchor moved this far from where the ladder was built
    ttl_s: int = 3_600  # Drift max_ts: every resting order expires this long after placement
    ramp_in: RampInPolicy = RampInPolicy()

    def validate(self) -> None:
        """Raise ``InvalidField`` naming the first impossible field."""
        checks = (
            (self.grid_levels >= 1, "grid_levels", "must be >= 1"),
            (self.grid_levels <= 16, "grid_levels", "must be <= 16 per side (32 open orders per Drift user)"),
            (self.step_bps > 0, "step_bps", "must be > 0"),
            (self.base_size_per_level > 0, "base_size_per_level", "must be > 0"),
            (self.max_slippage_bps >= 0, "max_slippage_bps", "must be >= 0"),
            (self.requote_threshold_bps >= 0, "requote_threshold_bps", "must be >= 0"),
            (self.ttl_s > 0, "ttl_s", "must be > 0"),
            (self.ramp_in.duration_s >= 0, "ramp_in.duration_s", "must be >= 0"),
            (0 < self.ramp_in.initial_fraction_bps <= 10_000, "ramp_in.initial_fraction_bps", "must be in (0, 10000]"),
        )
        for ok, field, rule in checks:
            if not ok:
                raise InvalidField("ExecutionPolicy", field, rule)
