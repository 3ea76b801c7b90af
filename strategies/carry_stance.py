"""The delta-neutral bot's interim carry stance and leg execution knobs (issue 19), until the carry engine
(``strategies.carry``, its own branch) is merged: a smoothed funding rate, the expected carry APR of the hedged
position, and an in/out stance with hysteresis and a minimum hold.

Pure: integers, no I/O, no clock (times come in as arguments).

Carry of spot SOL + short SOL-PERP, in bps per year of the hedged notional::

    funding_apr = rate / (oracle * 1e3) * 8760 * 1e4        # rate: 1e9 quote per base per hour, + = longs pay
    carry_apr   = deposit_apr + (funding_apr * 50 % if funding_apr > 0 else funding_apr)

Favourable funding counts at half (the source spec's conservative estimate), unfavourable in full. The smoothed
rate is an EWMA over the settled prints with weight ``1 / smoothing_prints`` (24 hourly prints ≈ a 24 h average),
never the last print alone. Stance: enter when the smoothed carry is at least ``enter_apr_bps``; leave when it has
been below ``exit_apr_bps`` (< enter: the hysteresis band) and the position has been held ``min_hold_s``.
"""

from __future__ import annotations

import msgspec

from botrunner.core.invalid import InvalidField
from botrunner.core.precision import BPS_PRECISION, FUNDING_RATE_BUFFER

HOURS_PER_YEAR = 8_760
FAVOURABLE_SHARE_BPS = 5_000  # favourable funding counted at 50 %


class CarrySettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``strategy.carry`` of a delta-neutral bot. APRs in bps (100 = 1 % a year)."""

    smoothing_prints: int = 24  # EWMA weight 1/N over the hourly funding prints
    deposit_apr_bps: int = 0  # the SOL deposit's APR assumed while no rate series is merged
    enter_apr_bps: int = 200  # enter when the smoothed carry is at least this
    exit_apr_bps: int = 0  # leave when it falls below this (and the minimum hold has passed)
    min_hold_s: int = 86_400
    slippage_tolerance_bps: int = 50  # the legs' worst-price limits: oracle +- this
    always_in: bool = False  # ignore the carry stance (stay hedged whatever funding does)

    def validate(self) -> None:
        """Raise ``InvalidField`` naming the first impossible field."""
        checks: tuple[tuple[bool, str, str, tuple[str, ...]], ...] = (
            (self.smoothing_prints >= 1, "smoothing_prints", "must be >= 1", ()),
            (-BPS_PRECISION <= self.deposit_apr_bps <= BPS_PRECISION, "deposit_apr_bps", "must be in [-1e4, 1e4]", ()),
            (
                self.exit_apr_bps <= self.enter_apr_bps,
                "exit_apr_bps",
                "must be <= enter_apr_bps (the hysteresis band)",
                ("enter_apr_bps",),
            ),
            (self.min_hold_s >= 0, "min_hold_s", "must be >= 0", ()),
            (0 < self.slippage_tolerance_bps < BPS_PRECISION, "slippage_tolerance_bps", "must be in (0, 10000)", ()),
        )
        for ok, field, rule, related in checks:
            if not ok:
                raise InvalidField("CarrySettings", field, rule, related)


class CarryStance(msgspec.Struct, frozen=True, kw_only=True):
    """The stance after the last print: the smoothed rate (None before the first print), in or out and since when."""

    smoothed_rate: int | None = None
    in_market: bool = False
    since: int = 0
    reason: str = "no_funding_yet"


def smooth(previous: int | None, rate: int, prints: int) -> int:
    """One EWMA step (floor division keeps it an exact integer function of the prints)."""
    if previous is None:
        return rate
    return previous + (rate - previous) // prints


def funding_apr_bps(rate: int, oracle: int) -> int:
    """The funding APR a short receives (+) or pays (-) at ``rate``, bps of the notional."""
    magnitude = abs(rate) * HOURS_PER_YEAR * BPS_PRECISION // (oracle * FUNDING_RATE_BUFFER)
    return magnitude if rate >= 0 else -magnitude  # truncated toward zero: the sign never rounds away


def carry_apr_bps(rate: int, oracle: int, settings: CarrySettings) -> int:
    """Expected carry APR (bps): the deposit APR plus funding, favourable at half, unfavourable in full."""
    funding = funding_apr_bps(rate, oracle)
    if funding > 0:
        funding = funding * FAVOURABLE_SHARE_BPS // BPS_PRECISION
    return settings.deposit_apr_bps + funding


def on_print(stance: CarryStance, rate: int, settings: CarrySettings) -> CarryStance:
    """A funding print (1e9 quote per base per hour): the smoothed rate moves; the stance is re-evaluated at the
    next decision (``evaluate``), where the oracle is known."""
    smoothed = smooth(stance.smoothed_rate, rate, settings.smoothing_prints)
    return CarryStance(smoothed_rate=smoothed, in_market=stance.in_market, since=stance.since, reason=stance.reason)


def evaluate(stance: CarryStance, oracle: int, now: int, settings: CarrySettings) -> CarryStance:  # noqa: PLR0911  <why: one return per stance transition>
    """The stance at a decision at ``now`` (see the module doc)."""
    if settings.always_in:
        since = stance.since if stance.in_market else now
        return CarryStance(smoothed_rate=stance.smoothed_rate, in_market=True, since=since, reason="always_in")
    if stance.smoothed_rate is None:
        return CarryStance(in_market=False, since=stance.since, reason="no_funding_yet")
    carry = carry_apr_bps(stance.smoothed_rate, oracle, settings)
    smoothed = stance.smoothed_rate
    if not stance.in_market:
        if carry >= settings.enter_apr_bps:
            return CarryStance(smoothed_rate=smoothed, in_market=True, since=now, reason="carry_above_enter")
        return CarryStance(smoothed_rate=smoothed, in_market=False, since=stance.since, reason="carry_below_enter")
    if carry < settings.exit_apr_bps:
        if now - stance.since >= settings.min_hold_s:
            return CarryStance(smoothed_rate=smoothed, in_market=False, since=now, reason="carry_below_exit")
        return CarryStance(smoothed_rate=smoothed, in_market=True, since=stance.since, reason="min_hold")
    return CarryStance(smoothed_rate=smoothed, in_market=True, since=stance.since, reason="carry_holds")


def break_even_hours(cost_quote: int, notional_quote: int, carry_bps: int) -> int | None:
    """Hours for the carry on ``notional_quote`` to pay ``cost_quote`` (None: carry <= 0, never)."""
    hourly = notional_quote * carry_bps // (BPS_PRECISION * HOURS_PER_YEAR)
    if hourly <= 0:
        return None
    return -(-cost_quote // hourly)
