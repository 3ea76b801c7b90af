"""The Risk Governor: one pure function from (state, inputs, limits, margin what-ifs) to (state', Verdict).

Hard constraints (MVP spec §5) and what each does:

* A liquidation buffer, by liquidation-price distance AND health, the tighter wins. Current account: health below
  ``health_warning`` or the liquidation price within ``min_liq_distance_bps`` => REDUCE_ONLY (latched); health
  below ``health_critical`` => REDUCE_ONLY with ``detail="liquidation_defence"`` (PAUSE would cancel the exits and
  leave a near-liquidation position alone, so critical health keeps reduce-only orders working and tells the
  Execution Governor to defend). Band edges: health >= ``min_health_after_trade`` and distance >= buffer => CLAMP.
* B leverage cap: current leverage above the cap => REDUCE_ONLY (latched); band edges above it => CLAMP.
* C max daily loss (bps of day-start equity and/or absolute quote, tighter wins) => REDUCE_ONLY (latched), the
  passivbot "red" tier, but keeping reduce-only exits rather than freezing the book.
* D max notional: current above => REDUCE_ONLY (latched); band edges above => CLAMP.
* E funding guardrail: |rate| above ``funding_clamp_ppm_per_hour`` => CLAMP, the band may not grow the paying side
  (longs pay when the rate is positive) beyond the current position; the position itself paying more than
  ``funding_reduce_only_ppm_per_hour`` => REDUCE_ONLY. Both latched.
* F oracle/mark divergence above the limit => PAUSE (latched). Market data older than ``max_data_age_s`` => PAUSE.
* G reduce-only trigger: the operator's reduce-only flag (and critical health, above). The operator's pause flag
  => PAUSE. Both carry the reason OPERATOR, so an operator reads who decided. Operator flags are not latched: a
  human decided, a human undoes.
* Stress cap: every band edge must also survive an adverse move of max(``stress_move_bps``, the strategy's
  ``RiskInputs.stress_move_bps``) plus the current oracle/mark gap, keeping health >= ``min_health_under_stress``
  and the liquidation price beyond the buffer (reason STRESS_CAP).

Verdicts:
* APPROVE: no finding; the band is the requested band (step-normalised).
* CLAMP: the largest sub-band of the request whose edges pass every sizing limit (see ``governors.risk_sizing``),
  intersected with the funding freeze; always inside the request and step-aligned. If no point of the request is
  safe, the verdict becomes REDUCE_ONLY (never a band outside the request). A current position that breaks no
  account-level limit but lies beyond the safe size (health between ``health_warning`` and
  ``min_health_after_trade``, or one that would not survive the stress move) gets a CLAMP band that excludes it, and
  the connector works back into the band. "The current position violates" (=> REDUCE_ONLY) means an account-level
  trigger above: latched with hysteresis, so a position sitting on the sizing boundary cannot flap between CLAMP
  and REDUCE_ONLY (each flip would cancel and re-place the whole ladder).
* REDUCE_ONLY: the band is the request clamped into the segment between flat and the current position, whose far
  end is further capped at the largest safe size: it never grows |position| nor flips its sign, and it names the
  size to reduce toward when the position itself is unsafe.
* PAUSE: the band is the current position as it is; the connector cancels everything.

The verdict's action is always the most restrictive action among its findings (APPROVE iff no finding).
Automatic triggers latch with hysteresis and a cool-down (``governors.hysteresis``): escalation is immediate,
release needs the metric past limit +/- hysteresis AND ``cool_down_s`` without a breach; a latch held only by the
cool-down reports a COOL_DOWN finding carrying the latch's action.
"""

from __future__ import annotations

import msgspec

from botrunner.core.intents import ExposureBand, make_band
from botrunner.core.margin_view import MarginProjection, MarginSnapshot
from botrunner.core.markets import PerpMarketSpec
from botrunner.core.precision import BPS_PRECISION, FUNDING_RATE_BUFFER, quote_value
from botrunner.core.verdict import RiskAction, RiskFinding, RiskReason, Verdict
from governors.hysteresis import BadWhen, Latch, LatchStatus, Threshold, step_latch
from governors.risk_limits import RiskLimits
from governors.risk_sizing import SideCap, Violation, liquidation_distance_bps, max_safe_size
from governors.risk_triggers import Trigger

MAX_STRESS_BPS = BPS_PRECISION - 1  # a long cannot be stressed below a price of zero


class RiskInputs(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the governor looks at for one step. Integers in Drift precisions."""

    now: int  # unix seconds
    mark_price: int  # 1e6 (book mid or last, as the feed defines mark)
    oracle_price: int  # 1e6
    oracle_ts: int  # unix seconds of the market data (oracle) used here
    funding_rate: int  # quote per base per hour, 1e9; positive = longs pay shorts (Drift convention)
    day_start_equity: int  # quote 1e6, equity at the start of the UTC day
    equity: int  # quote 1e6, equity now
    requested: ExposureBand  # the strategy's band
    snapshot: MarginSnapshot  # the account as it is (``projection.current()``)
    stress_move_bps: int | None = None  # e.g. the strategy's 1W range; the larger of this and the limit wins
    operator_pause: bool = False
    operator_reduce_only: bool = False

    def validate(self) -> RiskInputs:
        """Reject impossible inputs with a ``ValueError`` naming the field; return ``self``."""
        # Fast path: every field a plain int and every check passing (the checks below, without their messages).
        if (
            type(self.now) is int
            and type(self.mark_price) is int
            and type(self.oracle_price) is int
            and type(self.oracle_ts) is int
            and type(self.funding_rate) is int
            and type(self.day_start_equity) is int
            and type(self.equity) is int
            and self.mark_price > 0
            and self.oracle_price > 0
            and self.now >= 0
            and self.oracle_ts >= 0
            and self.day_start_equity >= 0
            and self.requested.min_base <= self.requested.max_base
            and 0 <= self.snapshot.health <= 100
            and (self.stress_move_bps is None or 0 <= self.stress_move_bps < BPS_PRECISION)
        ):
            return self
        for name in ("now", "mark_price", "oracle_price", "oracle_ts", "funding_rate", "day_start_equity", "equity"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"RiskInputs.{name} must be an integer, got {value!r}")
        checks = (
            (self.mark_price > 0, f"mark_price must be > 0, got {self.mark_price}"),
            (self.oracle_price > 0, f"oracle_price must be > 0, got {self.oracle_price}"),
            (self.now >= 0 and self.oracle_ts >= 0, "now and oracle_ts must be >= 0"),
            (self.day_start_equity >= 0, f"day_start_equity must be >= 0, got {self.day_start_equity}"),
            (
                self.requested.min_base <= self.requested.max_base,
                f"requested band inverted: {self.requested.min_base} > {self.requested.max_base}",
            ),
            (
                0 <= self.snapshot.health <= 100,
                f"snapshot.health must be in [0, 100], got {self.snapshot.health}",
            ),
            (
                self.stress_move_bps is None or 0 <= self.stress_move_bps < BPS_PRECISION,
                f"stress_move_bps must be in [0, 10000), got {self.stress_move_bps}",
            ),
        )
        for ok, message in checks:
            if not ok:
                raise ValueError(f"RiskInputs: {message}")
        return self


class RiskState(msgspec.Struct, frozen=True, kw_only=True):
    """What the governor remembers between steps. Persist it as a hint; a fresh state re-latches at once."""

    action: RiskAction = RiskAction.APPROVE
    since: int = 0  # unix s when ``action`` became the current action
    latches: tuple[Latch, ...] = ()  # latched triggers, in ``Trigger`` declaration order
    last_reasons: tuple[RiskReason, ...] = ()

    def latch(self, trigger: Trigger) -> Latch | None:
        return next((latch for latch in self.latches if latch.trigger is trigger), None)


def divergence_bps(mark: int, oracle: int) -> int:
    """|mark - oracle| in bps of the oracle, rounded up (the conservative side)."""
    return -((-abs(mark - oracle) * BPS_PRECISION) // oracle)


def funding_ppm_per_hour(funding_rate: int, oracle: int) -> int:
    """Drift's hourly funding rate (quote per base, 1e9) as signed parts-per-million of the oracle price per hour,
    truncated toward zero (1 ppm = 0.01 bp: the truncation is below any meaningful threshold)."""
    magnitude = abs(funding_rate) * 10**6 // (oracle * FUNDING_RATE_BUFFER)
    return magnitude if funding_rate >= 0 else -magnitude


def _sign(x: int) -> int:
    return (x > 0) - (x < 0)


def _clip(x: int, lo: int, hi: int) -> int:
    return min(max(x, lo), hi)


# One watched metric: (trigger, limit, hysteresis, bad when, value, unit). A plain tuple: built ten times a step.
_Watch = tuple[Trigger, int, int, BadWhen, int | None, str]
_BELOW, _ABOVE = BadWhen.BELOW, BadWhen.ABOVE


def _watches(inputs: RiskInputs, limits: RiskLimits) -> list[_Watch]:
    snap = inputs.snapshot
    oracle = inputs.oracle_price
    funding = funding_ppm_per_hour(inputs.funding_rate, oracle)
    # positive when the current position is on the paying side; 0 when flat (nothing is paid)
    adverse = funding * _sign(snap.position_base)
    watches: list[_Watch] = [
        (Trigger.HEALTH_WARNING, limits.health_warning, limits.health_hysteresis, _BELOW, snap.health, "health_pct"),
        (Trigger.HEALTH_CRITICAL, limits.health_critical, limits.health_hysteresis, _BELOW, snap.health, "health_pct"),
        (
            Trigger.LIQUIDATION_DISTANCE,
            limits.min_liq_distance_bps,
            limits.liq_distance_hysteresis_bps,
            _BELOW,
            liquidation_distance_bps(snap),
            "bps",
        ),
        (
            Trigger.LEVERAGE,
            limits.max_leverage_x10000,
            limits.leverage_hysteresis_x10000,
            _ABOVE,
            snap.leverage,
            "leverage_1e4",
        ),
    ]
    if inputs.day_start_equity > 0:
        loss_limit = inputs.day_start_equity * limits.max_daily_loss_bps // BPS_PRECISION
        if limits.max_daily_loss_quote is not None:
            loss_limit = min(loss_limit, limits.max_daily_loss_quote)
        hysteresis = inputs.day_start_equity * limits.daily_loss_hysteresis_bps // BPS_PRECISION
        loss = inputs.day_start_equity - inputs.equity
        watches.append((Trigger.DAILY_LOSS, loss_limit, min(hysteresis, loss_limit), _ABOVE, loss, "quote_1e6"))
    else:  # no day-start equity yet: nothing to measure a loss against; a latch still needs its cool-down
        watches.append((Trigger.DAILY_LOSS, 0, 0, _ABOVE, None, "quote_1e6"))
    cap = limits.max_notional_quote
    watches += [
        (
            Trigger.NOTIONAL,
            cap or 0,
            (cap or 0) * limits.notional_hysteresis_bps // BPS_PRECISION,
            _ABOVE,
            quote_value(abs(snap.position_base), oracle) if cap is not None else None,
            "quote_1e6",
        ),
        (
            Trigger.FUNDING_CLAMP,
            limits.funding_clamp_ppm_per_hour,
            limits.funding_hysteresis_ppm_per_hour,
            _ABOVE,
            abs(funding),
            "ppm_per_hour",
        ),
        (
            Trigger.FUNDING_REDUCE_ONLY,
            limits.funding_reduce_only_ppm_per_hour,
            limits.funding_hysteresis_ppm_per_hour,
            _ABOVE,
            adverse,
            "ppm_per_hour",
        ),
        (
            Trigger.ORACLE_MARK_DIVERGENCE,
            limits.max_oracle_mark_divergence_bps,
            limits.divergence_hysteresis_bps,
            _ABOVE,
            divergence_bps(inputs.mark_price, oracle),
            "bps",
        ),
        (
            Trigger.STALE_DATA,
            limits.max_data_age_s,
            0,
            _ABOVE,
            max(0, inputs.now - inputs.oracle_ts),  # a feed slightly ahead of our clock is fresh, not an error
            "s",
        ),
    ]
    return watches


_DETAIL = {
    Trigger.HEALTH_CRITICAL: "liquidation_defence",
    Trigger.FUNDING_CLAMP: "paying side may not grow",
    Trigger.FUNDING_REDUCE_ONLY: "position on the paying side",
}


def _nothing_breached(inputs: RiskInputs, limits: RiskLimits) -> bool:  # noqa: PLR0911  <why: hot path, every decision; one early out per limit>
    """Whether every watch of ``_watches`` is clear (not breached): the same values, limits and comparisons,
    without building the watches. With no latch held, that is the whole answer of ``_step_triggers``."""
    snap = inputs.snapshot
    if snap.health < limits.health_warning or snap.health < limits.health_critical:
        return False
    distance = liquidation_distance_bps(snap)
    if distance is not None and distance < limits.min_liq_distance_bps:
        return False
    if snap.leverage > limits.max_leverage_x10000:
        return False
    day_start = inputs.day_start_equity
    if day_start > 0:
        loss_limit = day_start * limits.max_daily_loss_bps // BPS_PRECISION
        if limits.max_daily_loss_quote is not None:
            loss_limit = min(loss_limit, limits.max_daily_loss_quote)
        if day_start - inputs.equity > loss_limit:
            return False
    cap = limits.max_notional_quote
    oracle = inputs.oracle_price
    if cap is not None and quote_value(abs(snap.position_base), oracle) > cap:
        return False
    funding = funding_ppm_per_hour(inputs.funding_rate, oracle)
    if abs(funding) > limits.funding_clamp_ppm_per_hour:
        return False
    if funding * _sign(snap.position_base) > limits.funding_reduce_only_ppm_per_hour:
        return False
    if divergence_bps(inputs.mark_price, oracle) > limits.max_oracle_mark_divergence_bps:
        return False
    return max(0, inputs.now - inputs.oracle_ts) <= limits.max_data_age_s


def _step_triggers(
    state: RiskState, inputs: RiskInputs, limits: RiskLimits
) -> tuple[tuple[Latch, ...], list[RiskFinding]]:
    if not state.latches and _nothing_breached(inputs, limits):
        return (), []  # the common case: nothing latched, nothing breached, nothing to record
    latches: list[Latch] = []
    findings: list[RiskFinding] = []
    held = {latch.trigger: latch for latch in reversed(state.latches)}  # the first latch per trigger wins
    for trig, limit, hysteresis, bad_when, value, unit in _watches(inputs, limits):
        previous = held.get(trig) if held else None
        if previous is None and (value is None or (value >= limit if bad_when is _BELOW else value <= limit)):
            continue  # not latched and not breached: CLEAR, nothing to record (the common case)
        threshold = Threshold(limit, hysteresis, bad_when)
        latch, status = step_latch(previous, trig, threshold, value, now=inputs.now, cool_down_s=limits.cool_down_s)
        if latch is not None:
            latches.append(latch)
        shown = 0 if value is None else value
        base_detail = _DETAIL.get(trig, "")
        match status:
            case LatchStatus.BREACHED:
                findings.append(RiskFinding(trig.reason, trig.action, shown, limit, unit, base_detail))
            case LatchStatus.HELD_BY_HYSTERESIS:
                re_arm = limit + (hysteresis if bad_when is BadWhen.BELOW else -hysteresis)
                detail = f"held by hysteresis until {re_arm}" + (f"; {base_detail}" if base_detail else "")
                findings.append(RiskFinding(trig.reason, trig.action, shown, limit, unit, detail))
            case LatchStatus.HELD_BY_COOL_DOWN:
                assert latch is not None
                findings.append(
                    RiskFinding(
                        RiskReason.COOL_DOWN,
                        trig.action,
                        inputs.now - latch.last_breach_at,
                        limits.cool_down_s,
                        "s",
                        f"{trig.value} recovered; held until {latch.last_breach_at + limits.cool_down_s}",
                    )
                )
            case LatchStatus.CLEAR | LatchStatus.RELEASED:
                pass
    return tuple(latches), findings


def _operator_findings(inputs: RiskInputs) -> list[RiskFinding]:
    out: list[RiskFinding] = []
    if inputs.operator_pause:
        out.append(RiskFinding(RiskReason.OPERATOR, RiskAction.PAUSE, 1, 0, "flag", "operator pause"))
    if inputs.operator_reduce_only:
        out.append(RiskFinding(RiskReason.OPERATOR, RiskAction.REDUCE_ONLY, 1, 0, "flag", "operator reduce-only"))
    return out


def _cap_findings(cap: SideCap, edge: str, was: int, now_: int, action: RiskAction) -> list[RiskFinding]:
    prefix = f"{edge} {was} -> {now_}" + ("; non_monotone_margin_fallback" if cap.non_monotone else "")
    return [_finding(v, action, prefix) for v in cap.violations]


def _finding(v: Violation, action: RiskAction, prefix: str) -> RiskFinding:
    return RiskFinding(v.reason, action, v.value, v.limit, v.unit, f"{prefix}: {v.detail}" if v.detail else prefix)


class _Sizer:
    """Memoised per-side safe-size searches for one step."""

    def __init__(
        self, inputs: RiskInputs, limits: RiskLimits, projection: MarginProjection, market: PerpMarketSpec
    ) -> None:
        gap = divergence_bps(inputs.mark_price, inputs.oracle_price)
        base_stress = max(limits.stress_move_bps, inputs.stress_move_bps or 0)
        self.stress_bps = min(MAX_STRESS_BPS, base_stress + gap)
        self.inputs, self.limits, self.projection, self.market = inputs, limits, projection, market
        self._cache: dict[tuple[int, int], SideCap] = {}

    def cap(self, side_sign: int, up_to: int) -> SideCap:
        """Largest safe |position| on a side, up to ``up_to``; reuses a wider search on the same side."""
        key = (side_sign, up_to)
        if key in self._cache:
            return self._cache[key]
        for (side, wider), found in self._cache.items():
            if side == side_sign and wider >= up_to:
                floor = up_to - up_to % self.market.step_size
                # monotone: the largest safe size below ``up_to`` is the wider search's answer, clipped
                return found if found.cap_base < floor else SideCap(floor)
        self._cache[key] = max_safe_size(
            side_sign,
            up_to,
            step=self.market.step_size,
            oracle=self.inputs.oracle_price,
            stress_bps=self.stress_bps,
            limits=self.limits,
            projection=self.projection,
        )
        return self._cache[key]


def _funding_allowance(latches: tuple[Latch, ...], inputs: RiskInputs, step: int) -> tuple[int, int] | None:
    """(paying side sign, largest allowed |position| on that side) while the funding clamp is latched."""
    if not latches or not any(latch.trigger is Trigger.FUNDING_CLAMP for latch in latches):
        return None
    paying = _sign(inputs.funding_rate)
    if paying == 0:
        return None
    held = max(0, paying * inputs.snapshot.position_base)
    return paying, held - held % step


def _reduce_only_band(
    requested: ExposureBand, position: int, sizer: _Sizer, findings: list[RiskFinding]
) -> ExposureBand:
    """The request clamped between flat and the current position, the far end capped at the largest safe size."""
    step = sizer.market.step_size
    side = _sign(position)
    held = abs(position) - abs(position) % step
    end = 0
    if side != 0 and held > 0:
        cap = sizer.cap(side, held)
        end = side * min(held, cap.cap_base)
        if cap.cap_base < held:
            findings += _cap_findings(cap, "reduce toward", side * held, end, RiskAction.REDUCE_ONLY)
    lo_seg, hi_seg = min(0, end), max(0, end)
    lo = _clip(requested.min_base, lo_seg, hi_seg)
    hi = _clip(requested.max_base, lo_seg, hi_seg)
    return ExposureBand(lo, hi, _clip(requested.preferred_base, lo, hi))


def evaluate(
    state: RiskState,
    inputs: RiskInputs,
    limits: RiskLimits,
    projection: MarginProjection,
    market: PerpMarketSpec,
) -> tuple[RiskState, Verdict]:
    """One Risk Governor step. Pure and deterministic: same arguments, same answer.

    ``inputs.requested`` is step-normalised first (``make_band``; raises ``IntentError`` if it holds no step
    multiple). ``projection`` answers the what-ifs for the band sizing; ``inputs.snapshot`` is the current account.
    """
    inputs.validate()
    latches, findings = _step_triggers(state, inputs, limits)
    findings += _operator_findings(inputs)
    req = inputs.requested
    requested = make_band(req.min_base, req.max_base, req.preferred_base, market)
    position = inputs.snapshot.position_base
    action = RiskAction.worst([f.action for f in findings]) if findings else RiskAction.APPROVE

    if action is RiskAction.PAUSE:
        band = ExposureBand(position, position, position)  # untouched; the connector cancels every order
    else:
        sizer = _Sizer(inputs, limits, projection, market)
        if action is RiskAction.REDUCE_ONLY:
            band = _reduce_only_band(requested, position, sizer, findings)
        else:
            band = _clamp(requested, position, latches, sizer, findings)
    action = RiskAction.worst([f.action for f in findings]) if findings else RiskAction.APPROVE
    verdict = Verdict(action, band, tuple(findings))
    new_state = RiskState(
        action=action,
        since=state.since if action is state.action else inputs.now,
        latches=latches,
        last_reasons=verdict.reasons,
    )
    return new_state, verdict


def _clamp(
    requested: ExposureBand,
    position: int,
    latches: tuple[Latch, ...],
    sizer: _Sizer,
    findings: list[RiskFinding],
) -> ExposureBand:
    """APPROVE/CLAMP band: the request intersected with both sides' safe sizes and the funding freeze; appends
    a finding per cut. When nothing in the request is safe, falls back to the REDUCE_ONLY band."""
    step = sizer.market.step_size
    held = abs(position) - abs(position) % step
    # search each side up to the farther of the request's edge and the current position, so the same search
    # also serves the REDUCE_ONLY fallback (``_Sizer.cap`` reuses it)
    long_cap = sizer.cap(1, max(requested.max_base, held if position > 0 else 0, 0))
    short_cap = sizer.cap(-1, max(-requested.min_base, held if position < 0 else 0, 0))
    hi_allowed, lo_allowed = long_cap.cap_base, -short_cap.cap_base
    funding = _funding_allowance(latches, sizer.inputs, step)
    funding_hi = funding_lo = False
    if funding is not None:
        paying, allowed = funding
        if paying > 0 and allowed < hi_allowed:
            hi_allowed, funding_hi = allowed, True
        if paying < 0 and -allowed > lo_allowed:
            lo_allowed, funding_lo = -allowed, True
    hi = min(requested.max_base, hi_allowed)
    lo = max(requested.min_base, lo_allowed)
    cuts: list[RiskFinding] = []
    if hi < requested.max_base:
        if long_cap.cap_base < requested.max_base:
            cuts += _cap_findings(long_cap, "max_base", requested.max_base, hi, RiskAction.CLAMP)
        if funding_hi:
            cuts.append(_funding_cut(sizer, "max_base", requested.max_base, hi))
    if lo > requested.min_base:
        if -short_cap.cap_base > requested.min_base:
            cuts += _cap_findings(short_cap, "min_base", requested.min_base, lo, RiskAction.CLAMP)
        if funding_lo:
            cuts.append(_funding_cut(sizer, "min_base", requested.min_base, lo))
    if lo <= hi:
        findings += cuts
        return make_band(lo, hi, _clip(requested.preferred_base, lo, hi), sizer.market)
    # No point of the request is safe: a band outside the request would be a new intent, not a clamp.
    findings += [
        RiskFinding(f.reason, RiskAction.REDUCE_ONLY, f.value, f.limit, f.unit, f"{f.detail}; request beyond safe size")
        for f in cuts
    ]
    return _reduce_only_band(requested, position, sizer, findings)


def _funding_cut(sizer: _Sizer, edge: str, was: int, now_: int) -> RiskFinding:
    funding = funding_ppm_per_hour(sizer.inputs.funding_rate, sizer.inputs.oracle_price)
    return RiskFinding(
        RiskReason.FUNDING_GUARDRAIL,
        RiskAction.CLAMP,
        abs(funding),
        sizer.limits.funding_clamp_ppm_per_hour,
        "ppm_per_hour",
        f"{edge} {was} -> {now_}: the paying side may not grow",
    )
