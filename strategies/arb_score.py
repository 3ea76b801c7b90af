"""The confluence score of a cross-venue funding-arbitrage opportunity (issue 22; the spread-arbitrage seed's
"Confluence Metric Calculation Module", ``../shared/seeds/spread-arbitrage-design.md``). Pure: no I/O, no clock.

An opportunity is *long the perp where funding is cheap, short it where funding is rich*. Its score is an integer
0..100, computed in two stages:

1. **Hard constraints first** (:class:`HardConstraint`), each PASSED, FAILED or UNCHECKABLE:

   - depth near the touch >= 2x the position's notional (the thinner of the two legs);
   - quote freshness: the older of the two quotes is under 200 ms old;
   - funding delta > 0.01 % per 8 h (strictly).

   **Any FAILED constraint makes the score 0**, with the reason (the first failure in the order above; all are
   listed). An UNCHECKABLE one (the data cannot say: offline history has no order-book depth and no quote age) is
   not silently passed: the score is still computed, so offline ranking means something, but the result is
   ``provisional`` and ``tradable`` is False — an entry rule must require ``tradable``.

2. **Soft metrics** (:class:`SoftMetric`), weighted 9/8/7/6/5/5 (of 40): funding delta, order-book imbalance, open
   interest vs its 24 h average, VWAP deviation, ATR trend, distance to liquidation clusters. Each maps its raw
   value to a sub-score 0..100 (the mappings below are this module's choice; the seed gives only the weights). A
   metric the data cannot supply is ``None``: shown as unavailable and left out, and the weights of the others are
   renormalised to sum to one. The score is ``floor(sum(w * s) / sum(w))`` over the available metrics (rounded
   down: rounding can delay an entry, never cause one). Funding delta is always available (the hard constraint
   needs it), so the sum of weights is never zero.

Sub-score mappings (linear between the two anchors, clamped):

====================  ================================================  ======  ===================
metric                raw input                                         0 at    100 at
====================  ================================================  ======  ===================
funding delta         per 8 h, 1e12 fraction                            0.01 %  0.10 % (10x the min)
book imbalance        favourable imbalance, bps of the near-touch depth -100 %  +100 %
open interest         OI / its 24 h average - 1, bps                    -20 %   +20 % (crowding persists)
VWAP deviation        |price - VWAP|, bps                               100 bp  0 bp
ATR trend             ATR now / its average, bps (10000 = flat)         150 %   50 % (calming market)
liquidation clusters  distance from price to the nearest cluster, bps   0 bp    500 bp
====================  ================================================  ======  ===================

"Favourable" imbalance: the long leg buys, so ask-heavy depth on its venue helps; the short leg sells, so bid-heavy
depth on its venue helps; the input is the average of the two, in bps of each venue's near-touch depth.
"""

from __future__ import annotations

import enum
from typing import Final, assert_never

import msgspec

from botrunner.core.precision import BPS_PRECISION
from botrunner.funding import ONE_HOUR_S
from botrunner.marketdata.funding import FUNDING_FRACTION_PRECISION

MAX_SCORE: Final = 100
EIGHT_HOURS_S: Final = 8 * ONE_HOUR_S


class HardConstraint(enum.StrEnum):
    DEPTH = "depth"  # depth near the touch >= 2x position
    FRESHNESS = "freshness"  # quotes younger than 200 ms
    FUNDING_DELTA = "funding_delta"  # > 0.01 % per 8 h


class CheckStatus(enum.StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    UNCHECKABLE = "not checkable"  # the data has no such figure (offline: no depth, no quote age)


class SoftMetric(enum.StrEnum):
    FUNDING_DELTA = "funding_delta"
    BOOK_IMBALANCE = "book_imbalance"
    OPEN_INTEREST = "open_interest"
    VWAP_DEVIATION = "vwap_deviation"
    ATR_TREND = "atr_trend"
    LIQUIDATION_CLUSTERS = "liquidation_clusters"


SOFT_WEIGHTS: Final[dict[SoftMetric, int]] = {
    SoftMetric.FUNDING_DELTA: 9,
    SoftMetric.BOOK_IMBALANCE: 8,
    SoftMetric.OPEN_INTEREST: 7,
    SoftMetric.VWAP_DEVIATION: 6,
    SoftMetric.ATR_TREND: 5,
    SoftMetric.LIQUIDATION_CLUSTERS: 5,
}


class ScoreThresholds(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The hard constraints' numbers (the seed's defaults)."""

    min_depth_multiple: int = 2  # depth near the touch >= this x position notional
    max_quote_age_ms: int = 200  # strictly under
    min_funding_delta_per_8h: int = FUNDING_FRACTION_PRECISION // 10_000  # 0.01 %, strictly above
    full_funding_delta_per_8h: int = FUNDING_FRACTION_PRECISION // 1_000  # 0.10 %: sub-score 100

    def validate(self) -> ScoreThresholds:
        if self.min_depth_multiple <= 0:
            raise ValueError(f"ScoreThresholds.min_depth_multiple must be > 0, got {self.min_depth_multiple}")
        if self.max_quote_age_ms <= 0:
            raise ValueError(f"ScoreThresholds.max_quote_age_ms must be > 0, got {self.max_quote_age_ms}")
        if not 0 <= self.min_funding_delta_per_8h < self.full_funding_delta_per_8h:
            raise ValueError(
                "ScoreThresholds: need 0 <= min_funding_delta_per_8h < full_funding_delta_per_8h, got "
                f"{self.min_funding_delta_per_8h}, {self.full_funding_delta_per_8h}"
            )
        return self


class ScoreInputs(msgspec.Struct, frozen=True, kw_only=True):
    """One opportunity's raw figures (module docstring for units); None = the data cannot supply it."""

    position_notional: int  # quote 1e6, > 0
    funding_delta_per_8h: int  # short leg's rate - long leg's rate, 1e12 fraction of price per 8 h
    depth_notional: int | None = None  # the thinner leg's depth near the touch on the side taken, quote 1e6
    quote_age_ms: int | None = None  # the older leg's quote age
    book_imbalance_bps: int | None = None
    open_interest_vs_avg_bps: int | None = None
    vwap_deviation_bps: int | None = None
    atr_ratio_bps: int | None = None
    liquidation_distance_bps: int | None = None


class HardCheck(msgspec.Struct, frozen=True):
    constraint: HardConstraint
    status: CheckStatus
    detail: str


class MetricScore(msgspec.Struct, frozen=True):
    """A soft metric's weight and sub-score (None: unavailable, weight given to the others)."""

    metric: SoftMetric
    weight: int
    sub_score: int | None


class ArbScore(msgspec.Struct, frozen=True):
    """The score, why, and how it was made."""

    score: int
    checks: tuple[HardCheck, ...]
    metrics: tuple[MetricScore, ...]

    @property
    def failures(self) -> tuple[HardCheck, ...]:
        return tuple(c for c in self.checks if c.status is CheckStatus.FAILED)

    @property
    def reason(self) -> str | None:
        """Why the score is 0 (the first failed hard constraint), or None."""
        failures = self.failures
        return f"{failures[0].constraint}: {failures[0].detail}" if failures else None

    @property
    def unchecked(self) -> tuple[HardConstraint, ...]:
        return tuple(c.constraint for c in self.checks if c.status is CheckStatus.UNCHECKABLE)

    @property
    def provisional(self) -> bool:
        """Scored, but a hard constraint could not be checked: not a trading signal."""
        return not self.failures and bool(self.unchecked)

    @property
    def tradable(self) -> bool:
        """Every hard constraint was checked and passed."""
        return all(c.status is CheckStatus.PASSED for c in self.checks)

    @property
    def unavailable(self) -> tuple[SoftMetric, ...]:
        return tuple(m.metric for m in self.metrics if m.sub_score is None)


def _linear(value: int, zero_at: int, full_at: int) -> int:
    """0 at ``zero_at``, 100 at ``full_at`` (either direction), linear between, clamped, rounded down."""
    # floor of a positive quotient either way: when both factors are negative Python's // still floors it
    return max(0, min(MAX_SCORE, (value - zero_at) * MAX_SCORE // (full_at - zero_at)))


def sub_score(metric: SoftMetric, inputs: ScoreInputs, thresholds: ScoreThresholds) -> int | None:
    """The metric's sub-score 0..100 from the raw input (module docstring's table), None when unavailable."""
    match metric:
        case SoftMetric.FUNDING_DELTA:
            return _linear(
                inputs.funding_delta_per_8h, thresholds.min_funding_delta_per_8h, thresholds.full_funding_delta_per_8h
            )
        case SoftMetric.BOOK_IMBALANCE:
            value = inputs.book_imbalance_bps
            return None if value is None else _linear(value, -BPS_PRECISION, BPS_PRECISION)
        case SoftMetric.OPEN_INTEREST:
            value = inputs.open_interest_vs_avg_bps
            return None if value is None else _linear(value, -2_000, 2_000)
        case SoftMetric.VWAP_DEVIATION:
            value = inputs.vwap_deviation_bps
            return None if value is None else _linear(abs(value), 100, 0)
        case SoftMetric.ATR_TREND:
            value = inputs.atr_ratio_bps
            return None if value is None else _linear(value, 15_000, 5_000)
        case SoftMetric.LIQUIDATION_CLUSTERS:
            value = inputs.liquidation_distance_bps
            return None if value is None else _linear(value, 0, 500)
        case _:
            assert_never(metric)


def hard_checks(inputs: ScoreInputs, thresholds: ScoreThresholds) -> tuple[HardCheck, ...]:
    """The three hard constraints, in the seed's order."""
    need = thresholds.min_depth_multiple * inputs.position_notional
    if inputs.depth_notional is None:
        depth = HardCheck(HardConstraint.DEPTH, CheckStatus.UNCHECKABLE, "no order-book depth in the data")
    elif inputs.depth_notional >= need:
        depth = HardCheck(HardConstraint.DEPTH, CheckStatus.PASSED, f"depth {inputs.depth_notional} >= {need}")
    else:
        depth = HardCheck(
            HardConstraint.DEPTH,
            CheckStatus.FAILED,
            f"depth near the touch {inputs.depth_notional} < {thresholds.min_depth_multiple}x position {need} "
            "(quote 1e6)",
        )
    if inputs.quote_age_ms is None:
        fresh = HardCheck(HardConstraint.FRESHNESS, CheckStatus.UNCHECKABLE, "no quote time in the data")
    elif inputs.quote_age_ms < thresholds.max_quote_age_ms:
        fresh = HardCheck(HardConstraint.FRESHNESS, CheckStatus.PASSED, f"quote age {inputs.quote_age_ms} ms")
    else:
        fresh = HardCheck(
            HardConstraint.FRESHNESS,
            CheckStatus.FAILED,
            f"quote age {inputs.quote_age_ms} ms >= {thresholds.max_quote_age_ms} ms",
        )
    pct = inputs.funding_delta_per_8h * 100 / FUNDING_FRACTION_PRECISION
    if inputs.funding_delta_per_8h > thresholds.min_funding_delta_per_8h:
        delta = HardCheck(HardConstraint.FUNDING_DELTA, CheckStatus.PASSED, f"{pct:.4f} % per 8 h")
    else:
        minimum = thresholds.min_funding_delta_per_8h * 100 / FUNDING_FRACTION_PRECISION
        delta = HardCheck(
            HardConstraint.FUNDING_DELTA, CheckStatus.FAILED, f"funding delta {pct:.4f} % per 8 h <= {minimum:g} %"
        )
    return (depth, fresh, delta)


def score(inputs: ScoreInputs, thresholds: ScoreThresholds | None = None) -> ArbScore:
    """The confluence score of ``inputs`` (module docstring)."""
    limits = (thresholds or ScoreThresholds()).validate()
    if inputs.position_notional <= 0:
        raise ValueError(f"position_notional must be > 0, got {inputs.position_notional}")
    checks = hard_checks(inputs, limits)
    metrics = tuple(MetricScore(m, w, sub_score(m, inputs, limits)) for m, w in SOFT_WEIGHTS.items())
    if any(c.status is CheckStatus.FAILED for c in checks):
        return ArbScore(0, checks, metrics)
    weight = sum(m.weight for m in metrics if m.sub_score is not None)
    weighted = sum(m.weight * m.sub_score for m in metrics if m.sub_score is not None)
    return ArbScore(weighted // weight, checks, metrics)


def per_8h(rate_per_hour: int) -> int:
    """A 1e12 per-hour fraction as per 8 h (the unit of the hard constraint)."""
    return rate_per_hour * EIGHT_HOURS_S // ONE_HOUR_S
