"""The Risk Governor's two-leg check: one spot + perp trade of the delta-neutral engine, before it is sent.

Pure: no I/O, no clock. The margin maths come through ``LegsProjection`` (``botrunner.margin.legs.LegsWhatIf``
implements it with the Drift-exact engine: a SOL deposit is collateral at its asset weight), so this module imports
only the core vocabulary.

Checks, in order (the first that decides wins):

1. Leg mismatch now: ``|spot + perp| > mismatch_bound_base`` => PAUSE, nothing traded (the hedge is broken; an
   operator decides).
2. No trade asked => APPROVE.
3. Account-level breach now (health < ``min_health_after_trade`` or leverage > the cap, the cap being the smaller of
   ``max_leverage_x10000`` and the market's 1 / initial margin ratio) => REDUCE_ONLY: each leg kept only where it
   moves its position toward zero without flipping it, the other zeroed; nothing at all if that part would leave
   the legs beyond the mismatch bound.
4. The trade itself would leave ``|net delta| > mismatch_bound_base`` => PAUSE, nothing traded (never trade into a
   broken hedge).
5. After the whole trade: health >= ``min_health_after_trade``, leverage <= the cap and the initial margin met =>
   APPROVE.
6. Otherwise CLAMP: both legs shrink by the same base (in steps of ``leg_step``, never past zero) so a hedged entry
   stays hedged, to the largest trade that passes 5; if none passes => REDUCE_ONLY with nothing traded.

Invariant (Hypothesis-tested): APPROVE and CLAMP never pass a trade whose projected health is below the threshold,
whose leverage is above the cap or that breaks the initial margin; CLAMP shrinks both legs by the same amount.
"""

from __future__ import annotations

from typing import Protocol

import msgspec

from botrunner.core.markets import PerpMarketSpec
from botrunner.core.precision import LEVERAGE_PRECISION, MARGIN_PRECISION
from botrunner.core.verdict import RiskAction, RiskFinding, RiskReason


class MarginCalc(Protocol):
    """The part of a margin calculation this check reads."""

    @property
    def meets_margin_requirement(self) -> bool: ...


class LegsMargin(Protocol):
    """What a projection reports about an account (``botrunner.margin.metrics.AccountMargin`` is one)."""

    @property
    def health(self) -> int: ...  # 0..100

    @property
    def leverage(self) -> int: ...  # 1e4 = 1x

    @property
    def initial(self) -> MarginCalc: ...


class LegsProjection(Protocol):
    """The account after a hypothetical two-leg trade (deltas 0, 0: the account now)."""

    def project_legs(self, perp_delta: int, spot_delta: int) -> LegsMargin: ...


class LegsLimits(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The two-leg check's limits: leverage 1e4 = 1x, health 0..100."""

    max_leverage_x10000: int = 50_000  # 5x
    min_health_after_trade: int = 60

    def validate(self) -> LegsLimits:
        """Raise ``ValueError`` naming the impossible field; return ``self``."""
        if self.max_leverage_x10000 <= 0:
            raise ValueError(f"LegsLimits.max_leverage_x10000 must be > 0, got {self.max_leverage_x10000}")
        if not 0 <= self.min_health_after_trade <= 100:
            raise ValueError(
                f"LegsLimits.min_health_after_trade must be in [0, 100], got {self.min_health_after_trade}"
            )
        return self


class LegsRequest(msgspec.Struct, frozen=True, kw_only=True):
    """The legs as they are (``spot_base`` token 1e9 signed, ``perp_base`` 1e9 signed), the trade asked for
    (``spot_delta``, ``perp_delta``), the mismatch bound (base 1e9) and ``leg_step``: a size both legs trade in
    (e.g. ``strategies.delta_neutral.leg_step``)."""

    spot_base: int
    perp_base: int
    spot_delta: int
    perp_delta: int
    mismatch_bound_base: int
    leg_step: int
    market: PerpMarketSpec


class LegsVerdict(msgspec.Struct, frozen=True, kw_only=True):
    """What may be traded: the approved ``spot_delta``/``perp_delta`` (0, 0 under PAUSE), the findings, and the
    health and leverage now and after the approved trade (as projected)."""

    action: RiskAction
    spot_delta: int
    perp_delta: int
    findings: tuple[RiskFinding, ...]
    health_now: int
    leverage_now: int
    health_after: int
    leverage_after: int
    leverage_cap_x10000: int

    @property
    def reasons(self) -> tuple[RiskReason, ...]:
        return tuple(f.reason for f in self.findings)


def leverage_cap(limits: LegsLimits, market: PerpMarketSpec) -> int:
    """The configured cap, never above the market's 1 / initial margin ratio (1e4 = 1x)."""
    return min(limits.max_leverage_x10000, LEVERAGE_PRECISION * MARGIN_PRECISION // market.margin_ratio_initial)


def _sign(x: int) -> int:
    return (x > 0) - (x < 0)


def _reducing(position: int, delta: int) -> int:
    """The part of ``delta`` that moves ``position`` toward zero without crossing it."""
    if position == 0 or delta == 0 or _sign(delta) == _sign(position):
        return 0
    return _sign(delta) * min(abs(delta), abs(position))


def _shrunk(delta: int, by: int) -> int:
    return _sign(delta) * max(abs(delta) - by, 0)


def _breaches(
    margin: LegsMargin, limits: LegsLimits, cap: int, *, initial: bool, what: str
) -> list[tuple[RiskReason, int, int, str, str]]:
    out: list[tuple[RiskReason, int, int, str, str]] = []
    if margin.health < limits.min_health_after_trade:
        out.append((RiskReason.HEALTH_BUFFER, margin.health, limits.min_health_after_trade, "health_pct", what))
    if margin.leverage > cap:
        out.append((RiskReason.LEVERAGE_CAP, margin.leverage, cap, "leverage_1e4", what))
    if initial and not margin.initial.meets_margin_requirement:
        out.append(
            (
                RiskReason.HEALTH_BUFFER,
                margin.health,
                limits.min_health_after_trade,
                "health_pct",
                f"{what}; initial margin not met",
            )
        )
    return out


def check_legs(  # noqa: PLR0911  <why: one early return per numbered rule of the docstring>
    limits: LegsLimits, request: LegsRequest, projection: LegsProjection
) -> LegsVerdict:
    """The verdict on one two-leg trade (see the module docstring)."""
    if request.leg_step <= 0:
        raise ValueError(f"LegsRequest.leg_step must be > 0, got {request.leg_step}")
    if request.mismatch_bound_base < 0:
        raise ValueError(f"LegsRequest.mismatch_bound_base must be >= 0, got {request.mismatch_bound_base}")
    cap = leverage_cap(limits, request.market)
    now = projection.project_legs(0, 0)
    bound = request.mismatch_bound_base
    net_now = request.spot_base + request.perp_base

    def verdict(action: RiskAction, spot_d: int, perp_d: int, findings: list[RiskFinding]) -> LegsVerdict:
        after = now if spot_d == 0 and perp_d == 0 else projection.project_legs(perp_d, spot_d)
        return LegsVerdict(
            action=action,
            spot_delta=spot_d,
            perp_delta=perp_d,
            findings=tuple(findings),
            health_now=now.health,
            leverage_now=now.leverage,
            health_after=after.health,
            leverage_after=after.leverage,
            leverage_cap_x10000=cap,
        )

    def mismatch(net: int, action: RiskAction, detail: str) -> RiskFinding:
        return RiskFinding(RiskReason.LEG_MISMATCH, action, abs(net), bound, "base_1e9", detail)

    # 1. the hedge is already broken
    if abs(net_now) > bound:
        return verdict(RiskAction.PAUSE, 0, 0, [mismatch(net_now, RiskAction.PAUSE, "legs mismatched now")])
    spot_d, perp_d = request.spot_delta, request.perp_delta
    # 2. nothing to trade
    if spot_d == 0 and perp_d == 0:
        return verdict(RiskAction.APPROVE, 0, 0, [])
    # 3. the account already breaks a limit: only reductions
    breached_now = _breaches(now, limits, cap, initial=False, what="now")
    if breached_now:
        findings = [RiskFinding(r, RiskAction.REDUCE_ONLY, v, lim, u, d) for r, v, lim, u, d in breached_now]
        keep_spot, keep_perp = _reducing(request.spot_base, spot_d), _reducing(request.perp_base, perp_d)
        if abs(net_now + keep_spot + keep_perp) > bound:
            findings.append(mismatch(net_now + keep_spot + keep_perp, RiskAction.REDUCE_ONLY, "reduction alone"))
            keep_spot = keep_perp = 0
        return verdict(RiskAction.REDUCE_ONLY, keep_spot, keep_perp, findings)
    # 4. the trade would break the hedge
    net_after = net_now + spot_d + perp_d
    if abs(net_after) > bound:
        return verdict(RiskAction.PAUSE, 0, 0, [mismatch(net_after, RiskAction.PAUSE, "the trade would leave it")])
    # 5. the whole trade
    breached = _breaches(projection.project_legs(perp_d, spot_d), limits, cap, initial=True, what="after the trade")
    if not breached:
        return verdict(RiskAction.APPROVE, spot_d, perp_d, [])
    # 6. shrink both legs by the same base to the largest trade that passes
    step = request.leg_step
    most = -(-max(abs(spot_d), abs(perp_d)) // step)  # removing this many steps leaves nothing

    def passes(k: int) -> bool:
        s, p = _shrunk(spot_d, k * step), _shrunk(perp_d, k * step)
        if abs(net_now + s + p) > bound:
            return False
        return not _breaches(projection.project_legs(p, s), limits, cap, initial=True, what="")

    lo, hi = 1, most  # passes(0) is False (step 5); at ``most`` the trade is empty
    while lo < hi:  # smallest k that passes, on the monotone assumption; verified below
        mid = (lo + hi) // 2
        if passes(mid):
            hi = mid
        else:
            lo = mid + 1
    s, p = _shrunk(spot_d, lo * step), _shrunk(perp_d, lo * step)
    findings = [RiskFinding(r, RiskAction.CLAMP, v, lim, u, d) for r, v, lim, u, d in breached]
    if (s == 0 and p == 0) or not passes(lo):
        reduce_findings = [msgspec.structs.replace(f, action=RiskAction.REDUCE_ONLY) for f in findings]
        return verdict(RiskAction.REDUCE_ONLY, 0, 0, reduce_findings)
    return verdict(RiskAction.CLAMP, s, p, findings)
