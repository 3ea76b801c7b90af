"""The carry engine: when a delta-neutral bot should be in the market at all (issue 19, item 3).

A hedged position is spot SOL held as a Drift deposit plus an equal SOL-PERP short. Its price risk nets out; what is
left is the carry: the deposit APR of the SOL plus the funding the short receives (or minus what it pays), against
the one-off cost of getting in and out (fees, slippage, transaction costs). This module answers, purely:

- what the funding "really" is: a smoothed rate (EWMA with a half-life, or a time-weighted average over a window) of
  Drift's hourly prints, not the last print (:func:`observe_funding`, :func:`smoothed_funding`);
- what the position is expected to earn: :func:`estimate` (hedged) and :func:`estimate_reverse` (long perp +
  borrowed SOL), as an APR and as quote per hour for a notional, with the hours and days to break even;
- whether to be in: :func:`stance`, a small state machine with hysteresis (:class:`StanceDecision`).

Units (all integers, Drift precisions where Drift has one):
- Drift funding rate in: FUNDING_RATE_PRECISION 1e9 quote per 1 base per hour, positive = longs pay (the short
  receives); oracle price 1e6. It becomes a fraction of the oracle price per hour in FUNDING_FRACTION_PRECISION 1e12.
- APRs (inputs, parameters, outputs): APR_PRECISION 1e6 = 100 % per year, simple (not compounded), the unit of
  Drift's spot rates (``botrunner.margin.interest.SPOT_RATE_PRECISION``) and of the rate-series files. A year is
  365 days = 8_760 hours, protocol-v2's ONE_YEAR, so funding and interest annualise on the same year.
- Money: quote 1e6 (USDC). Times: unix seconds; durations: seconds.

Rounding: every estimate rounds against the position (APRs and hourly carry down, break-even time up), so rounding
can delay an entry but never causes one.
"""

from __future__ import annotations

import enum
import math
from fractions import Fraction
from typing import Final, assert_never

import msgspec

from botrunner.core.invalid import InvalidField
from botrunner.core.precision import BPS_PRECISION, FUNDING_RATE_PRECISION, PRICE_PRECISION

APR_PRECISION: Final = 10**6  # 1e6 = 100 % per year (Drift SPOT_RATE_PRECISION)
FUNDING_FRACTION_PRECISION: Final = 10**12  # fraction of price per hour: 1e12 = 100 % per hour
ONE_HOUR_S: Final = 3_600
HOURS_PER_YEAR: Final = 8_760  # protocol-v2 ONE_YEAR (365 days) in hours
ONE_DAY_S: Final = 86_400


class Smoothing(enum.Enum):
    """How the hourly funding prints are smoothed into the rate the engine trusts."""

    EWMA = "ewma"  # exponentially weighted, weight of a print halves every ``half_life_s`` (gaps decay by time)
    TWAP = "twap"  # time-weighted average of the prints over the last ``twap_window_s``


class NegativeFundingPolicy(enum.Enum):
    """What "the carry turned against us" means for a hedged position.

    The source spec: stay hedged while the FULL carry (deposit APR included) is positive, unwind when it is not.
    That is ``CARRY`` (the default). ``FUNDING`` is the stricter reading some funding bots use ("funding flip"
    exit): the funding alone must not be negative past the band, whatever the deposit earns.
    """

    CARRY = "carry"
    FUNDING = "funding"


class CarryPosition(enum.Enum):
    """The stance: out of the market, hedged (spot SOL + short perp), or reversed (long perp + borrowed SOL)."""

    OUT = "out"
    HEDGED = "hedged"
    REVERSE = "reverse"


class StanceReason(enum.StrEnum):
    """Why :func:`stance` answered as it did (machine-readable; one per decision)."""

    NO_FUNDING_DATA = "no_funding_data"  # no funding print observed yet: never enter blind
    STALE_FUNDING = "stale_funding"  # the last print is older than max_funding_age_s: no entry on old data
    NO_ESTIMATE = "no_estimate"  # the caller gave no estimate for the held position: hold, change nothing
    CARRY_NOT_POSITIVE = "carry_not_positive"  # out: expected carry <= 0 (or under min_entry_apr)
    BREAK_EVEN_BEYOND_HORIZON = "break_even_beyond_horizon"  # out: costs take longer than the horizon to earn back
    REENTRY_COOLDOWN = "reentry_cooldown"  # out: too soon after the last exit to enter again
    ENTER = "enter"  # out -> hedged: break-even within the horizon
    ENTER_REVERSE = "enter_reverse"  # out -> reverse (only with allow_reverse and borrow capacity)
    HOLD = "hold"  # in: the carry (or funding, by policy) is not below the band
    HOLD_ADVERSE = "hold_adverse"  # in: below the band, but not for exit_after_s yet
    HOLD_MIN_HOLD = "hold_min_hold"  # in: adverse long enough, but the minimum hold has not passed
    EXIT_ADVERSE = "exit_adverse"  # in -> out: below the band for exit_after_s and the minimum hold passed
    EXIT_EMERGENCY = "exit_emergency"  # in -> out: adverse beyond emergency_exit_apr, at once
    EXIT_REVERSE_DISABLED = "exit_reverse_disabled"  # reverse -> out: allow_reverse is off


class CarryParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The carry engine's knobs. Defaults and their reasons:

    - ``smoothing``/``half_life_s`` 24 h: the issue asks for a 24 h TWAP or EWMA, never the last print; an EWMA
      with a 24 h half-life reacts within a day but one spiky hour moves it by ~3 % of the spike.
    - ``favourable_funding_bps`` 5_000: the live-mode spec's "conservative funding rate estimates (50 % of current
      rate)"; adverse funding always counts at 100 % (a cost is never discounted).
    - ``break_even_horizon_s`` 7 days: enter only when the smoothed carry earns entry + exit costs back within a
      week. xfundingv2 (bbgo) sizes its minimum holding time the same way (costs / funding income).
    - ``exit_band_apr`` 1 %/yr and ``exit_after_s`` 8 h: exit when the carry stays below -1 % APR for 8 h. The
      entry needs carry > 0 with costs repaid inside the horizon, so entry and exit thresholds are separated by at
      least the band plus costs/horizon: a carry hovering near zero cannot make the bot churn.
    - ``min_hold_s`` 48 h: the funding-bot spec's min_hold gate (trade age < 48 h skips the standard exits);
      ``reentry_after_s`` 24 h: after an exit, stay out a day (the same debounce on the other side).
    - ``emergency_exit_apr`` 100 %/yr: a carry that bad exits at once, past the hold (the funding-bot spec's
      "funding flip" emergency layer overrides its gates); ``None`` disables it.
    - ``max_funding_age_s`` 3 h: no entry on a smoothed rate whose last print is older (Drift prints hourly).
    - ``allow_reverse`` false: reversing (long perp + borrowed SOL) borrows at the SOL borrow rate and adds
      liquidation risk on the borrow; it is never proposed unless the operator turns it on.
    - ``min_entry_apr`` 0: an optional floor on the carry to enter (bbgo xfundingv2 defaults to 5 %); off by
      default because the break-even horizon already demands carry >= costs / horizon.
    """

    smoothing: Smoothing = Smoothing.EWMA
    half_life_s: int = 86_400  # EWMA half-life, s
    twap_window_s: int = 86_400  # TWAP window, s
    favourable_funding_bps: int = 5_000  # weight of funding in the position's favour, 1e4 = 100 %
    break_even_horizon_s: int = 7 * ONE_DAY_S  # enter only if break-even within this, s
    min_entry_apr: int = 0  # carry APR floor to enter, 1e6
    exit_band_apr: int = 10_000  # hysteresis band below zero, APR 1e6 (10_000 = 1 %/yr)
    exit_after_s: int = 8 * ONE_HOUR_S  # adverse for this long before exiting, s
    min_hold_s: int = 48 * ONE_HOUR_S  # minimum time in the market before a (non-emergency) exit, s
    reentry_after_s: int = 24 * ONE_HOUR_S  # minimum time out of the market before entering again, s
    emergency_exit_apr: int | None = 1_000_000  # exit at once below -this APR (1e6); None = never
    max_funding_age_s: int = 3 * ONE_HOUR_S  # no entry when the last funding print is older, s
    negative_funding: NegativeFundingPolicy = NegativeFundingPolicy.CARRY
    allow_reverse: bool = False  # may the engine propose long perp + borrowed SOL

    def validate(self) -> None:
        """Raise :class:`InvalidField` naming the first impossible value."""
        name = type(self).__name__
        for field in ("half_life_s", "twap_window_s", "break_even_horizon_s"):
            if getattr(self, field) <= 0:
                raise InvalidField(name, field, "must be > 0")
        for field in ("exit_band_apr", "exit_after_s", "min_hold_s", "reentry_after_s", "max_funding_age_s"):
            if getattr(self, field) < 0:
                raise InvalidField(name, field, "must be >= 0")
        if not 0 <= self.favourable_funding_bps <= BPS_PRECISION:
            raise InvalidField(name, "favourable_funding_bps", "must be in [0, 10000] (never over 100 %)")
        if self.emergency_exit_apr is not None and self.emergency_exit_apr <= self.exit_band_apr:
            raise InvalidField(
                name, "emergency_exit_apr", "must be above exit_band_apr (or null)", related=("exit_band_apr",)
            )


class FundingPrint(msgspec.Struct, frozen=True):
    """One funding print as the engine keeps it: ``ts`` (unix s), ``rate`` fraction of the oracle per hour (1e12,
    + = longs pay), ``span_s`` the time it stands for (since the previous print; one hour for the first)."""

    ts: int
    rate: int
    span_s: int


class CarryState(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the engine remembers; a value (replace, never mutate), checkpointable with msgspec.

    ``position``/``since_ts``: the current stance and when it last changed (None: never changed).
    ``adverse_since_ts``: start of the current uninterrupted run of adverse estimates while in (None: not adverse).
    ``ewma``: the EWMA of the funding fraction per hour (1e12); ``prints``: the prints inside the TWAP window;
    ``last_funding_ts``: the newest print's ts. All None/empty before the first print.
    """

    position: CarryPosition = CarryPosition.OUT
    since_ts: int | None = None
    adverse_since_ts: int | None = None
    ewma: int | None = None
    prints: tuple[FundingPrint, ...] = ()
    last_funding_ts: int | None = None


class CarryEstimate(msgspec.Struct, frozen=True, kw_only=True):
    """Expected carry of a position of ``notional`` (quote 1e6), from the smoothed funding at ``funding_ts``.

    APRs 1e6 per year, rounded down. ``funding_apr``: the smoothed funding as the position's APR, unweighted
    (+ = received); ``weighted_funding_apr``: favourable funding at ``favourable_funding_bps``, adverse at 100 %;
    ``interest_apr``: the spot leg's interest (deposit APR hedged; minus the borrow APR, plus the proceeds' deposit
    APR reversed); ``carry_apr`` = weighted funding + interest. ``carry_per_hour``: quote 1e6 per hour for the
    notional (rounded down). ``break_even_s``: (entry + exit costs) / hourly carry in seconds, rounded up; None
    when the carry is <= 0 (never).
    """

    position: CarryPosition
    notional: int
    costs: int
    funding_ts: int
    funding_apr: int
    weighted_funding_apr: int
    interest_apr: int
    carry_apr: int
    carry_per_hour: int
    break_even_s: int | None

    @property
    def break_even_hours(self) -> Fraction | None:
        """Hours to break even (exact fraction of the rounded-up seconds), None = never."""
        return None if self.break_even_s is None else Fraction(self.break_even_s, ONE_HOUR_S)

    @property
    def break_even_days(self) -> Fraction | None:
        """Days to break even (exact fraction of the rounded-up seconds), None = never."""
        return None if self.break_even_s is None else Fraction(self.break_even_s, ONE_DAY_S)


class StanceDecision(msgspec.Struct, frozen=True):
    """The engine's answer: the position to hold and why. ``changed``: this call moved the stance."""

    position: CarryPosition
    reason: StanceReason
    changed: bool = False

    @property
    def in_market(self) -> bool:
        """True when hedged or reversed."""
        return self.position is not CarryPosition.OUT


# --- funding -------------------------------------------------------------------------------------------------------


def funding_fraction(rate: int, oracle: int) -> int:
    """Drift's funding ``rate`` (1e9 quote per base per hour) as a fraction of ``oracle`` (1e6) per hour, 1e12.

    rate/1e9 quote per base over oracle/1e6 quote per base = rate * 1e6 / (1e9 * oracle); scaled by 1e12 that is
    rate * 1e9 / oracle. Rounded down (toward "less in the short's favour"), so a smoothed rate is never flattered.
    """
    if oracle <= 0:
        raise ValueError(f"oracle price {oracle} must be > 0")
    return rate * (FUNDING_FRACTION_PRECISION * PRICE_PRECISION // FUNDING_RATE_PRECISION) // oracle


def _ewma_decay(elapsed_s: int, half_life_s: int) -> Fraction:
    """Weight the old EWMA keeps after ``elapsed_s``: 2^(-elapsed/half_life), as a fraction of 1e12.

    The power is computed in binary floating point and rounded to 1e-12 once; it weights a signal, it books no
    money, and the same inputs give the same integer on every IEEE-754 machine this runs on.
    """
    return Fraction(
        round(math.pow(2.0, -elapsed_s / half_life_s) * FUNDING_FRACTION_PRECISION), FUNDING_FRACTION_PRECISION
    )


def observe_funding(state: CarryState, params: CarryParams, ts: int, rate: int, oracle: int) -> CarryState:
    """Fold one Drift funding print (``rate`` 1e9 quote per base per hour at ``ts``, ``oracle`` 1e6) into the state.

    The EWMA decays by the time since the previous print, so a gap in the data weighs as the time it was, not as
    one print; the TWAP keeps each print for the span since its predecessor (one hour for the first, capped at the
    window). A print at the newest ts with the same rate is a replay and changes nothing; any other print at or
    before the newest ts is an error (the series must move forward).
    """
    frac = funding_fraction(rate, oracle)
    last_ts = state.last_funding_ts
    if last_ts is not None and ts <= last_ts:
        if ts == last_ts and state.prints and state.prints[-1].rate == frac:
            return state
        raise ValueError(f"funding print at ts {ts} is not after the last one at {last_ts}")
    if state.ewma is None or last_ts is None:
        ewma = frac
        span = ONE_HOUR_S
    else:
        decay = _ewma_decay(ts - last_ts, params.half_life_s)
        ewma = math.floor(state.ewma * decay + frac * (1 - decay))
        span = ts - last_ts
    span = min(span, params.twap_window_s)
    start = ts - params.twap_window_s
    kept = tuple(p for p in state.prints if p.ts > start)
    return msgspec.structs.replace(state, ewma=ewma, prints=(*kept, FundingPrint(ts, frac, span)), last_funding_ts=ts)


def smoothed_funding(state: CarryState, params: CarryParams) -> int | None:
    """The smoothed funding fraction per hour (1e12, + = longs pay), by ``params.smoothing``; None before any print.

    The TWAP weighs each print by the part of its span inside the window ending at the newest print, rounded down.
    """
    match params.smoothing:
        case Smoothing.EWMA:
            return state.ewma
        case Smoothing.TWAP:
            if state.last_funding_ts is None or not state.prints:
                return None
            start = state.last_funding_ts - params.twap_window_s
            total = weight = 0
            for p in state.prints:
                w = min(p.span_s, p.ts - start)
                if w > 0:
                    total += p.rate * w
                    weight += w
            return total // weight if weight else None
        case _:
            assert_never(params.smoothing)


# --- estimate ------------------------------------------------------------------------------------------------------


def _weighted(funding_apr: Fraction, params: CarryParams) -> Fraction:
    """Favourable funding (> 0 for the position) at favourable_funding_bps; adverse funding in full."""
    return funding_apr * Fraction(params.favourable_funding_bps, BPS_PRECISION) if funding_apr > 0 else funding_apr


def _build(
    position: CarryPosition,
    params: CarryParams,
    *,
    funding_ts: int,
    funding_apr: Fraction,
    interest_apr: Fraction,
    notional: int,
    costs: int,
) -> CarryEstimate:
    if notional < 0 or costs < 0:
        raise ValueError(f"notional {notional} and costs {costs} must be >= 0 (quote 1e6)")
    weighted = _weighted(funding_apr, params)
    carry = weighted + interest_apr  # APR as a fraction of 1 per year
    per_hour = carry * notional / HOURS_PER_YEAR  # quote 1e6 per hour, exact
    if carry > 0 and notional > 0:
        break_even_s: int | None = math.ceil(Fraction(costs) * ONE_HOUR_S / per_hour)
    else:
        break_even_s = None
    return CarryEstimate(
        position=position,
        notional=notional,
        costs=costs,
        funding_ts=funding_ts,
        funding_apr=math.floor(funding_apr * APR_PRECISION),
        weighted_funding_apr=math.floor(weighted * APR_PRECISION),
        interest_apr=math.floor(interest_apr * APR_PRECISION),
        carry_apr=math.floor(carry * APR_PRECISION),
        carry_per_hour=math.floor(per_hour),
        break_even_s=break_even_s,
    )


def _funding_apr(state: CarryState, params: CarryParams) -> tuple[int, Fraction] | None:
    """(newest print ts, smoothed funding as an APR fraction, + = longs pay) or None before any print."""
    smoothed = smoothed_funding(state, params)
    if smoothed is None or state.last_funding_ts is None:
        return None
    return state.last_funding_ts, Fraction(smoothed * HOURS_PER_YEAR, FUNDING_FRACTION_PRECISION)


def estimate(
    state: CarryState, params: CarryParams, *, notional: int, deposit_apr: int, costs: int
) -> CarryEstimate | None:
    """Expected carry of spot SOL deposited + SOL-PERP short of ``notional`` (quote 1e6 per leg).

    ``deposit_apr``: the SOL deposit APR in force (1e6; from a rate series or the curve); ``costs``: entry plus
    exit costs in quote 1e6 (fees, slippage, transaction costs of both legs both ways). The short receives the
    funding when it is positive (longs pay). None before any funding print.
    """
    got = _funding_apr(state, params)
    if got is None:
        return None
    ts, funding = got
    return _build(
        CarryPosition.HEDGED,
        params,
        funding_ts=ts,
        funding_apr=funding,
        interest_apr=Fraction(deposit_apr, APR_PRECISION),
        notional=notional,
        costs=costs,
    )


def estimate_reverse(
    state: CarryState, params: CarryParams, *, notional: int, borrow_apr: int, proceeds_apr: int = 0, costs: int
) -> CarryEstimate | None:
    """Expected carry of SOL-PERP long + borrowed SOL sold for USDC, of ``notional`` (quote 1e6 per leg).

    The long receives the funding when it is negative; the borrow costs ``borrow_apr`` (SOL borrow APR, 1e6) and
    the USDC proceeds earn ``proceeds_apr`` (USDC deposit APR, 1e6; 0 = not counted). None before any print.
    """
    got = _funding_apr(state, params)
    if got is None:
        return None
    ts, funding = got
    interest = Fraction(proceeds_apr - borrow_apr, APR_PRECISION)
    return _build(
        CarryPosition.REVERSE,
        params,
        funding_ts=ts,
        funding_apr=-funding,
        interest_apr=interest,
        notional=notional,
        costs=costs,
    )


# --- stance --------------------------------------------------------------------------------------------------------


def _adverse_metric(est: CarryEstimate, params: CarryParams) -> int:
    """The APR (1e6) whose sign decides an exit, by the negative-funding policy."""
    match params.negative_funding:
        case NegativeFundingPolicy.CARRY:
            return est.carry_apr
        case NegativeFundingPolicy.FUNDING:
            return est.weighted_funding_apr
        case _:
            assert_never(params.negative_funding)


def _entry_block(est: CarryEstimate, params: CarryParams) -> StanceReason | None:
    """Why ``est`` may not be entered (None: it may)."""
    if est.carry_apr <= 0 or est.carry_apr < params.min_entry_apr or _adverse_metric(est, params) < 0:
        return StanceReason.CARRY_NOT_POSITIVE
    if est.break_even_s is None or est.break_even_s > params.break_even_horizon_s:
        return StanceReason.BREAK_EVEN_BEYOND_HORIZON
    return None


def _move(
    state: CarryState, now: int, position: CarryPosition, reason: StanceReason
) -> tuple[CarryState, StanceDecision]:
    new = msgspec.structs.replace(state, position=position, since_ts=now, adverse_since_ts=None)
    return new, StanceDecision(position, reason, changed=True)


def _stay(state: CarryState, reason: StanceReason) -> tuple[CarryState, StanceDecision]:
    return state, StanceDecision(state.position, reason)


def stance(
    state: CarryState,
    params: CarryParams,
    *,
    now: int,
    hedged: CarryEstimate | None,
    reverse: CarryEstimate | None = None,
    borrow_capacity: int = 0,
) -> tuple[CarryState, StanceDecision]:
    """Decide the stance at ``now`` (unix s) from the current estimates; returns the new state and the decision.

    Out: enter hedged when ``hedged`` is fresh, its carry positive (and >= min_entry_apr, and, under the FUNDING
    policy, its funding not negative) and its break-even within the horizon, and ``reentry_after_s`` has passed
    since the last exit. Otherwise, only with ``allow_reverse``, enter reversed on the same terms for ``reverse``
    when ``borrow_capacity`` (quote 1e6 the account can borrow) covers its notional.

    In: the adverse measure (carry, or funding by policy) below ``-exit_band_apr`` starts a run; the position exits
    when the run has lasted ``exit_after_s`` and ``min_hold_s`` has passed since entry. Below
    ``-emergency_exit_apr`` it exits at once. A reversed position exits at once when ``allow_reverse`` is off. An
    estimate missing while in changes nothing (the bot does not unwind on a data hole; the risk governor owns that).
    """
    match state.position:
        case CarryPosition.OUT:
            return _when_out(state, params, now=now, hedged=hedged, reverse=reverse, borrow_capacity=borrow_capacity)
        case CarryPosition.HEDGED:
            return _when_in(state, params, now, hedged)
        case CarryPosition.REVERSE:
            if not params.allow_reverse:
                return _move(state, now, CarryPosition.OUT, StanceReason.EXIT_REVERSE_DISABLED)
            return _when_in(state, params, now, reverse)
        case _:
            assert_never(state.position)


def _when_out(
    state: CarryState,
    params: CarryParams,
    *,
    now: int,
    hedged: CarryEstimate | None,
    reverse: CarryEstimate | None,
    borrow_capacity: int,
) -> tuple[CarryState, StanceDecision]:
    if hedged is None or state.last_funding_ts is None:
        return _stay(state, StanceReason.NO_FUNDING_DATA)
    if now - hedged.funding_ts > params.max_funding_age_s:
        return _stay(state, StanceReason.STALE_FUNDING)
    if state.since_ts is not None and now - state.since_ts < params.reentry_after_s:
        return _stay(state, StanceReason.REENTRY_COOLDOWN)
    block = _entry_block(hedged, params)
    if block is None:
        return _move(state, now, CarryPosition.HEDGED, StanceReason.ENTER)
    if (
        params.allow_reverse
        and reverse is not None
        and now - reverse.funding_ts <= params.max_funding_age_s
        and borrow_capacity >= reverse.notional
        and _entry_block(reverse, params) is None
    ):
        return _move(state, now, CarryPosition.REVERSE, StanceReason.ENTER_REVERSE)
    return _stay(state, block)


def _when_in(
    state: CarryState, params: CarryParams, now: int, est: CarryEstimate | None
) -> tuple[CarryState, StanceDecision]:
    if est is None:
        return _stay(state, StanceReason.NO_ESTIMATE)
    metric = _adverse_metric(est, params)
    if params.emergency_exit_apr is not None and metric < -params.emergency_exit_apr:
        return _move(state, now, CarryPosition.OUT, StanceReason.EXIT_EMERGENCY)
    if metric >= -params.exit_band_apr:
        return _stay(msgspec.structs.replace(state, adverse_since_ts=None), StanceReason.HOLD)
    adverse_since = now if state.adverse_since_ts is None else state.adverse_since_ts
    held = msgspec.structs.replace(state, adverse_since_ts=adverse_since)
    if now - adverse_since < params.exit_after_s:
        return held, StanceDecision(state.position, StanceReason.HOLD_ADVERSE)
    if state.since_ts is not None and now - state.since_ts < params.min_hold_s:
        return held, StanceDecision(state.position, StanceReason.HOLD_MIN_HOLD)
    return _move(state, now, CarryPosition.OUT, StanceReason.EXIT_ADVERSE)


__all__ = [
    "APR_PRECISION",
    "FUNDING_FRACTION_PRECISION",
    "HOURS_PER_YEAR",
    "CarryEstimate",
    "CarryParams",
    "CarryPosition",
    "CarryState",
    "FundingPrint",
    "NegativeFundingPolicy",
    "Smoothing",
    "StanceDecision",
    "StanceReason",
    "estimate",
    "estimate_reverse",
    "funding_fraction",
    "observe_funding",
    "smoothed_funding",
    "stance",
]
