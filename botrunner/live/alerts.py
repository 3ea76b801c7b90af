"""Health alerts for live and monitor bots (pure): OK, WARNING, CRITICAL, reported only when the level changes.

REQ 2.4/2.5 (delta-neutral-engine-live-mode-requirements.md): "a warning event under 50 % health, critical with
liquidation price under 20 % (configurable)". Our reading, with the Risk Governor's own thresholds
(``governors.risk_limits.RiskLimits``) rather than a second set of numbers to keep in step:

* CRITICAL when health < ``health_critical`` (20) OR the liquidation price is closer to the oracle than
  ``health_critical`` percent (20 % = 2,000 bp of ``|oracle - liquidation| / oracle``). The one configurable "20 %"
  of the requirement covers both readings of its sentence ("health below 20 %", "liquidation price within 20 %");
  the critical alert always carries the liquidation price.
* WARNING when health < ``health_warning`` (50) and not critical.
* OK otherwise. No liquidation price (flat, or nothing the oracle alone can reach) never raises the level.

Hysteresis (``AlertTracker``): a worse level is reported at once; a better one only once the metrics clear the
thresholds by ``health_hysteresis`` points and ``liq_distance_hysteresis_bps``, so a health oscillating 49/51 around
the warning line reports one WARNING, not one per reading. Every change of level, up or down, is one ``Alert``.
"""

from __future__ import annotations

import enum
from typing import assert_never

import msgspec

from botrunner.core.precision import BPS_PRECISION, PRICE_PRECISION
from botrunner.venue.port import AccountReport
from governors.risk_limits import RiskLimits
from governors.risk_sizing import distance_bps

_PERCENT_TO_BPS = BPS_PRECISION // 100


class AlertLevel(enum.Enum):
    """How worried to be about the account, in increasing order."""

    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0, 1, 2 in increasing severity (for comparisons)."""
        match self:
            case AlertLevel.OK:
                return 0
            case AlertLevel.WARNING:
                return 1
            case AlertLevel.CRITICAL:
                return 2
            case _:
                assert_never(self)


class Alert(msgspec.Struct, frozen=True, kw_only=True):
    """An account's alert level with the numbers behind it. ``distance_bps`` is ``|oracle - liq| / oracle``;
    ``liquidation_price`` and ``distance_bps`` are None when there is no liquidation price."""

    level: AlertLevel
    health: int
    liquidation_price: int | None
    distance_bps: int | None
    message: str


def liquidation_distance_bps(report: AccountReport) -> int | None:
    """How far the liquidation price is from the oracle, in bp of the oracle (rounded down: nearer is worse), as the
    Risk Governor measures it (``governors.risk_sizing.distance_bps``)."""
    return distance_bps(report.oracle, report.liquidation_price)


def _level(
    health: int, distance_bps: int | None, limits: RiskLimits, *, health_margin: int, distance_margin: int
) -> AlertLevel:
    """The level with every threshold raised by the given margins (0 for the plain assessment)."""
    critical_bps = limits.health_critical * _PERCENT_TO_BPS
    if health < limits.health_critical + health_margin or (
        distance_bps is not None and distance_bps < critical_bps + distance_margin
    ):
        return AlertLevel.CRITICAL
    if health < limits.health_warning + health_margin:
        return AlertLevel.WARNING
    return AlertLevel.OK


def _money(value: int) -> str:
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), PRICE_PRECISION)
    return f"{sign}{whole}.{frac * 100 // PRICE_PRECISION:02d}"


def _message(level: AlertLevel, health: int, liq: int | None, distance_bps: int | None, limits: RiskLimits) -> str:
    where = (
        "no liquidation price"
        if liq is None or distance_bps is None
        else f"liquidation price {_money(liq)} ({distance_bps / 100:.2f} % from the oracle)"
    )
    match level:
        case AlertLevel.OK:
            return f"account healthy again: health {health} (warning below {limits.health_warning}), {where}"
        case AlertLevel.WARNING:
            return f"health {health} is below {limits.health_warning}: {where}"
        case AlertLevel.CRITICAL:
            return (
                f"CRITICAL: health {health} (critical below {limits.health_critical}), {where} "
                f"(critical within {limits.health_critical} %)"
            )
        case _:
            assert_never(level)


def _alert(report: AccountReport, level: AlertLevel, distance_bps: int | None, limits: RiskLimits) -> Alert:
    return Alert(
        level=level,
        health=report.health,
        liquidation_price=report.liquidation_price,
        distance_bps=distance_bps,
        message=_message(level, report.health, report.liquidation_price, distance_bps, limits),
    )


def assess(report: AccountReport, limits: RiskLimits) -> Alert:
    """The alert level of ``report`` right now, without hysteresis (see the module doc for the thresholds)."""
    distance = liquidation_distance_bps(report)
    level = _level(report.health, distance, limits, health_margin=0, distance_margin=0)
    return _alert(report, level, distance, limits)


class AlertTracker(msgspec.Struct, frozen=True):
    """The last reported level. Immutable: ``observe`` returns the next tracker and the alert to emit, if any."""

    level: AlertLevel = AlertLevel.OK

    def observe(self, report: AccountReport, limits: RiskLimits) -> tuple[AlertTracker, Alert | None]:
        """The tracker after ``report``, and an ``Alert`` exactly when the level changed.

        The new level is the plain level if that is worse than the current one; otherwise the current level is
        kept for as long as the hysteresis thresholds still put the account there (it steps down no further than
        they allow).
        """
        distance = liquidation_distance_bps(report)
        plain = _level(report.health, distance, limits, health_margin=0, distance_margin=0)
        held = _level(
            report.health,
            distance,
            limits,
            health_margin=limits.health_hysteresis,
            distance_margin=limits.liq_distance_hysteresis_bps,
        )
        # held is never better than plain (its thresholds are higher): stay at the current level while held allows
        keep = self.level if self.level.rank <= held.rank else held
        level = plain if plain.rank >= keep.rank else keep
        if level is self.level:
            return self, None
        return AlertTracker(level), _alert(report, level, distance, limits)
