"""GridConfig: the knobs of the Pionex-style grid/curve strategy (MVP spec §3). Immutable once loaded.

Everything is an integer: seconds, basis points (1e4), counts. ``validate()`` rejects impossible values with a
``ValueError`` that names the field, so a bad YAML file fails at load time, not mid-trade.
"""

from __future__ import annotations

import enum
from itertools import pairwise

import msgspec

from botrunner.core.invalid import InvalidField
from botrunner.core.precision import BPS_PRECISION


class CurveType(enum.Enum):
    """How price maps to target position inside the range."""

    LINEAR = "linear"  # target moves continuously (rounded to the order step) from max long to max short
    STEPWISE = "stepwise"  # grid-like: the target changes by exactly one level size at each range grid line


class Bias(enum.Enum):
    """Directional lean, implemented as an asymmetric ladder (more rungs on the favoured side)."""

    BULLISH = "bullish"
    NEUTRAL = "neutral"
    BEARISH = "bearish"


class GridMode(enum.Enum):
    """What happens when the mark leaves the range."""

    BOUNDED = "bounded"  # open no new exposure, manage exits only
    INFINITY = "infinity"  # the range re-centres on the mark (follows price); the Risk Governor still caps it


class GridConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Parameters of the grid/curve strategy. Defaults are the MVP spec's.

    Range: for each lookback window ``lookbacks_s[i]`` the strategy takes the ``percentile_low_bps`` and
    ``percentile_high_bps`` percentiles of the sampled mark prices and blends the windows with ``weights_bps[i]``.
    A window takes part only once it holds ``min_samples`` samples spanning at least ``min_coverage_bps`` of its
    lookback; the weights are renormalised over the windows that take part.

    Sampling: the price history keeps one sample per ``sample_interval_s`` bucket (the latest price seen in that
    bucket), so feeding every mark tick costs the same memory as feeding bar closes. Feeding 5-minute closes with
    the default 60 s interval is fine (one sample per bar); a smaller interval than the feed is harmless.
    """

    lookbacks_s: tuple[int, ...] = (3_600, 14_400, 86_400, 604_800)  # 1h, 4h, 1D, 1W
    weights_bps: tuple[int, ...] = (3_500, 3_000, 2_500, 1_000)  # 0.35 / 0.30 / 0.25 / 0.10
    percentile_low_bps: int = 500  # 5th percentile
    percentile_high_bps: int = 9_500  # 95th percentile
    curve: CurveType = CurveType.LINEAR
    bias: Bias = Bias.NEUTRAL
    mode: GridMode = GridMode.BOUNDED
    # Under a bias, round(grid_levels * bias_skew_bps / 1e4) rungs move from the disfavoured side to the favoured
    # one (each side keeps at least one rung): 5 levels, 4000 bps, bullish -> 7 bids and 3 asks.
    bias_skew_bps: int = 4_000
    sample_interval_s: int = 60
    min_samples: int = 10
    min_coverage_bps: int = 5_000  # a window's samples must span >= half its lookback before it is used
    # A range narrower than this fraction of its mid is widened symmetrically, so a dead-flat market cannot swing
    # the target from max long to max short across a single tick.
    min_range_bps: int = 50

    def validate(self) -> None:
        """Raise ``InvalidField`` naming the first impossible field."""
        n = len(self.lookbacks_s)
        # (holds, field, rule, the other fields the rule names)
        checks: tuple[tuple[bool, str, str, tuple[str, ...]], ...] = (
            (n >= 1, "lookbacks_s", "must name at least one window", ()),
            (
                len(self.weights_bps) == n,
                "weights_bps",
                f"must have one weight per lookback ({n})",
                ("lookbacks_s",),
            ),
            (all(lb > 0 for lb in self.lookbacks_s), "lookbacks_s", "must all be > 0 seconds", ()),
            (all(a < b for a, b in pairwise(self.lookbacks_s)), "lookbacks_s", "must be strictly ascending", ()),
            (all(w >= 0 for w in self.weights_bps), "weights_bps", "must all be >= 0", ()),
            (sum(self.weights_bps) == BPS_PRECISION, "weights_bps", f"must sum to {BPS_PRECISION}", ()),
            (0 <= self.percentile_low_bps <= BPS_PRECISION, "percentile_low_bps", "must be in [0, 10000]", ()),
            (0 <= self.percentile_high_bps <= BPS_PRECISION, "percentile_high_bps", "must be in [0, 10000]", ()),
            (
                self.percentile_low_bps < self.percentile_high_bps,
                "percentile_low_bps",
                "must be < percentile_high_bps",
                ("percentile_high_bps",),
            ),
            (0 <= self.bias_skew_bps <= BPS_PRECISION, "bias_skew_bps", "must be in [0, 10000]", ()),
            (self.sample_interval_s >= 1, "sample_interval_s", "must be >= 1", ()),
            (
                all(lb >= self.sample_interval_s for lb in self.lookbacks_s),
                "lookbacks_s",
                "must each be >= sample_interval_s",
                ("sample_interval_s",),
            ),
            (self.min_samples >= 1, "min_samples", "must be >= 1", ()),
            (0 <= self.min_coverage_bps <= BPS_PRECISION, "min_coverage_bps", "must be in [0, 10000]", ()),
            (0 <= self.min_range_bps <= BPS_PRECISION, "min_range_bps", "must be in [0, 10000]", ()),
        )
        for ok, field, rule, related in checks:
            if not ok:
                raise InvalidField("GridConfig", field, rule, related)
