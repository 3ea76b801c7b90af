"""The Risk Governor's configuration: every hard limit A-G, its hysteresis and the cool-down, per bot.

All fields are integers in the units their names say: ``_bps`` basis points (1e4 = 100 %), health in percentage
points 0..100 (Drift's definition), ``_quote`` quote 1e6, ``_x10000`` leverage 1e4 (10_000 = 1x), ``_ppm_per_hour``
parts per million of the price per hour (Drift's PERCENTAGE_PRECISION; 100 ppm = 1 bp), ``_s`` seconds.

Defaults and where they come from (seeds in ``/work/shared/seeds``, data in ``/work/shared/data``):

* ``health_warning`` 50, ``health_critical`` 20: delta-neutral-engine-live-mode-requirements.md lines 50-51
  ("drops below 50 % ... warning", "below 20 % ... critical alert").
* ``min_health_after_trade`` 60: same file line 131 ("Health_Ratio would drop below 60 % after a trade ... reject").
* ``max_leverage_x10000`` 5x: same file lines 85 and 130 ("configured maximum (default: 5x)").
* ``min_liq_distance_bps`` 15 %: funding-bot-technical-documentation.md lines 299 and 493
  (``liquidation_distance_min_pct: 15.0``).
* ``cool_down_s`` 300: funding-bot-technical-documentation.md line 457 (circuit breaker ``cooldown = 300.0``).
* ``stress_move_bps`` 10 %: measured on Binance SOL/USDT 1 h candles 2023-01 .. 2025-10 (shared data): the worst
  adverse move inside a 1-week window from its open has median 6.8 %, p90 17.9 %, p99 34 %. 10 % is a default
  a strategy tightens by passing its own 1W range as ``RiskInputs.stress_move_bps`` (the larger one wins).
* ``max_oracle_mark_divergence_bps`` 1 %: Drift SOL-PERP hourly mark/oracle TWAP gap, 2025-04 .. 2025-10:
  median 2.5 bp, p99 19.7 bp, p99.9 98.6 bp, max 122 bp. A gap beyond 1 % is an outlier worth pausing for.
* ``funding_clamp_ppm_per_hour`` 1 bp/h (~88 % APR) and ``funding_reduce_only_ppm_per_hour`` 5 bp/h (~438 % APR):
  Drift SOL-PERP hourly funding over the same window has |rate| p99 0.74 bp/h, p99.9 4.0 bp/h, max 5.0 bp/h;
  Drift clamps it at 12.5 bp/h for tier B or better (shared/data README).
* ``max_daily_loss_bps`` 10 % of the day-start equity: our reasoning: a 2 % adverse move at the 5x cap, i.e. an
  ordinary day at full leverage must not trip it, an unusual one must. ``max_daily_loss_quote`` (absolute) and
  ``max_notional_quote`` are off (``None``) unless a bot sets them: no universal dollar figure exists.
* ``max_data_age_s`` 30: our reasoning: below Drift's own margin-staleness window for oracles (on the order of a
  hundred slots, ~45 s), so the bot stops before its numbers are worse than the venue's.
* Hysteresis margins (our reasoning: a few times the metric's normal step-to-step noise): health 5 points,
  liquidation distance 2.5 %, leverage 0.25x, notional 5 % of the cap, divergence 25 bp, funding 0.25 bp/h,
  daily loss 2 % of day-start equity.
"""

from __future__ import annotations

import msgspec

from botrunner.core.invalid import InvalidField
from botrunner.core.precision import BPS_PRECISION, LEVERAGE_PRECISION


class RiskLimits(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One bot's hard limits. Frozen; build from config, then call ``validate()`` once."""

    # A) liquidation buffer: liquidation price distance AND health; the tighter one wins
    min_liq_distance_bps: int = 1_500  # |oracle - liquidation price| / oracle must stay >= this
    liq_distance_hysteresis_bps: int = 250
    min_health_after_trade: int = 60  # no band edge may leave health below this (trade gate)
    health_warning: int = 50  # current health below this => REDUCE_ONLY
    health_critical: int = 20  # current health below this => REDUCE_ONLY + liquidation defence
    health_hysteresis: int = 5  # health points above a threshold before a health trigger re-arms
    min_health_under_stress: int = 50  # health a band edge must keep after the adverse stress move
    # B) leverage cap
    max_leverage_x10000: int = 5 * LEVERAGE_PRECISION
    leverage_hysteresis_x10000: int = 2_500
    # C) max daily loss (tighter of the two wins); a breach latches REDUCE_ONLY
    max_daily_loss_bps: int = 1_000  # of day-start equity
    max_daily_loss_quote: int | None = None
    daily_loss_hysteresis_bps: int = 200  # of day-start equity
    # D) max notional |position| * oracle
    max_notional_quote: int | None = None
    notional_hysteresis_bps: int = 500  # of the cap
    # E) funding guardrail, adverse rate as ppm of price per hour for the side that pays
    funding_clamp_ppm_per_hour: int = 100  # beyond: CLAMP, the band may not grow the paying side
    funding_reduce_only_ppm_per_hour: int = 500  # beyond, with the position on the paying side: REDUCE_ONLY
    funding_hysteresis_ppm_per_hour: int = 25
    # F) oracle / mark divergence => PAUSE
    max_oracle_mark_divergence_bps: int = 100
    divergence_hysteresis_bps: int = 25
    # stress sizing: the band's edges must survive this adverse move (plus the current oracle/mark gap)
    stress_move_bps: int = 1_000
    # data freshness => PAUSE
    max_data_age_s: int = 30
    # de-escalation is slow: a latched trigger releases only after this long without a breach
    cool_down_s: int = 300

    def validate(self) -> RiskLimits:
        """Raise ``InvalidField`` naming the first impossible field; return ``self`` so calls chain."""
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if value is None and name in ("max_daily_loss_quote", "max_notional_quote"):
                continue
            if not isinstance(value, int) or isinstance(value, bool):
                raise InvalidField("RiskLimits", name, f"must be an integer, got {value!r}")
            if value < 0:
                raise InvalidField("RiskLimits", name, "must be >= 0")
        # (holds, field, rule, the other fields the rule names)
        checks: tuple[tuple[bool, str, str, tuple[str, ...]], ...] = (
            (
                self.health_critical < self.health_warning,
                "health_warning",
                "must exceed health_critical",
                ("health_critical",),
            ),
            (
                self.health_warning <= self.min_health_after_trade <= 100,
                "min_health_after_trade",
                "must lie in [health_warning, 100]",
                ("health_warning",),
            ),
            (
                self.health_critical <= self.min_health_under_stress <= 100,
                "min_health_under_stress",
                "must lie in [health_critical, 100]",
                ("health_critical",),
            ),
            (
                self.health_warning + self.health_hysteresis <= 100,
                "health_hysteresis",
                "is too large: health_warning + health_hysteresis must be <= 100",
                ("health_warning",),
            ),
            (self.health_critical >= 1, "health_critical", "must be >= 1", ()),
            (self.min_liq_distance_bps < BPS_PRECISION, "min_liq_distance_bps", "must be < 10000 (100 %)", ()),
            (
                self.liq_distance_hysteresis_bps + self.min_liq_distance_bps < BPS_PRECISION,
                "liq_distance_hysteresis_bps",
                "is too large: min_liq_distance_bps + liq_distance_hysteresis_bps must be < 10000",
                ("min_liq_distance_bps",),
            ),
            (self.max_leverage_x10000 > 0, "max_leverage_x10000", "must be > 0", ()),
            (
                self.leverage_hysteresis_x10000 < self.max_leverage_x10000,
                "leverage_hysteresis_x10000",
                "must be below max_leverage_x10000",
                ("max_leverage_x10000",),
            ),
            (0 < self.max_daily_loss_bps <= BPS_PRECISION, "max_daily_loss_bps", "must be in (0, 10000]", ()),
            (
                self.daily_loss_hysteresis_bps < self.max_daily_loss_bps,
                "daily_loss_hysteresis_bps",
                "must be below max_daily_loss_bps",
                ("max_daily_loss_bps",),
            ),
            (
                self.max_daily_loss_quote is None or self.max_daily_loss_quote > 0,
                "max_daily_loss_quote",
                "must be > 0 when set",
                (),
            ),
            (
                self.max_notional_quote is None or self.max_notional_quote > 0,
                "max_notional_quote",
                "must be > 0 when set",
                (),
            ),
            (self.notional_hysteresis_bps < BPS_PRECISION, "notional_hysteresis_bps", "must be < 10000", ()),
            (
                self.funding_clamp_ppm_per_hour <= self.funding_reduce_only_ppm_per_hour,
                "funding_reduce_only_ppm_per_hour",
                "must be >= funding_clamp_ppm_per_hour",
                ("funding_clamp_ppm_per_hour",),
            ),
            (
                self.funding_hysteresis_ppm_per_hour <= self.funding_clamp_ppm_per_hour,
                "funding_hysteresis_ppm_per_hour",
                "must be <= funding_clamp_ppm_per_hour",
                ("funding_clamp_ppm_per_hour",),
            ),
            (self.max_oracle_mark_divergence_bps > 0, "max_oracle_mark_divergence_bps", "must be > 0", ()),
            (
                self.divergence_hysteresis_bps <= self.max_oracle_mark_divergence_bps,
                "divergence_hysteresis_bps",
                "must be <= max_oracle_mark_divergence_bps",
                ("max_oracle_mark_divergence_bps",),
            ),
            (self.stress_move_bps < BPS_PRECISION, "stress_move_bps", "must be < 10000 (100 %)", ()),
            (self.max_data_age_s > 0, "max_data_age_s", "must be > 0", ()),
        )
        for ok, field, rule, related in checks:
            if not ok:
                raise InvalidField("RiskLimits", field, rule, related)
        return self
