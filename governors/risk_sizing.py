"""How large a position may the band allow? Per-position limit checks, the stress move and the edge search.

A band edge ``p`` is *safe* when, if every order toward that edge filled at the current oracle,
``projection.project(p, oracle)`` leaves health >= ``min_health_after_trade``, leverage <= the cap,
|p| * oracle <= the notional cap and the liquidation price at least ``min_liq_distance_bps`` away; AND, after an
adverse stress move (down for a long, up for a short) of ``stress_bps``, ``projection.project(p, stressed)`` still
leaves health >= ``min_health_under_stress`` and the liquidation price at least the buffer away from the stressed
oracle.

Monotonicity assumption: on each side, safety is non-increasing in |p| (a bigger position is never safer). It holds
for one perp position against quote collateral, which is what a bot's subaccount is. It can fail for accounts whose
other collateral hedges the perp (e.g. spot SOL against a short). ``max_safe_size`` binary-searches over step
multiples under the assumption, then probes three interior points; if any interior point fails, the assumption is
broken and the side falls back to 0 (no exposure on that side), flagged ``non_monotone``. The probes are skipped
when the projection vouches for monotonicity (``MonotoneMarginProjection.monotone_in_position``): they could not
fail then, so the answer is the same.
"""

from __future__ import annotations

import msgspec

from botrunner.core.margin_view import MarginProjection, MarginSnapshot, vouches_monotone
from botrunner.core.precision import BPS_PRECISION, quote_value
from botrunner.core.verdict import RiskReason
from governors.risk_limits import RiskLimits


class Violation(msgspec.Struct, frozen=True):
    """One limit a hypothetical position breaks; the governor turns it into a ``RiskFinding``."""

    reason: RiskReason
    value: int
    limit: int
    unit: str
    detail: str = ""


class SideCap(msgspec.Struct, frozen=True):
    """Result of the search on one side: the largest safe |position| (base 1e9, a step multiple, >= 0), and why the
    next step up is unsafe (empty when nothing up to the searched size was unsafe)."""

    cap_base: int
    violations: tuple[Violation, ...] = ()
    non_monotone: bool = False


def distance_bps(oracle: int, liquidation_price: int | None) -> int | None:
    """Distance from the oracle to the liquidation price in bps of the oracle, floored (the conservative side).

    ``None`` when there is no liquidation price. Either side counts: open orders can put a long's liquidation
    price above the oracle (``AccountMarginView._liquidation_price``); an account already at maintenance has its
    liquidation price at the oracle, distance 0.
    """
    if liquidation_price is None:
        return None
    if oracle <= 0:
        return 0
    return abs(oracle - liquidation_price) * BPS_PRECISION // oracle


def liquidation_distance_bps(snapshot: MarginSnapshot) -> int | None:
    """``distance_bps`` of a margin snapshot (what the Risk Governor's limits read)."""
    return distance_bps(snapshot.oracle_price, snapshot.liquidation_price)


def stressed_price(oracle: int, side_sign: int, stress_bps: int) -> int:
    """The oracle after an adverse move of ``stress_bps``: down for a long (rounded down), up for a short (rounded
    up); never below 1 (1e-6 quote)."""
    if side_sign > 0:
        return max(1, oracle * (BPS_PRECISION - stress_bps) // BPS_PRECISION)
    return -((-oracle * (BPS_PRECISION + stress_bps)) // BPS_PRECISION)


def _move(stress_bps: int, shocked: int) -> str:
    return f"after a {stress_bps} bp adverse move to {shocked}"


def position_violations(
    position_base: int,
    oracle: int,
    stress_bps: int,
    limits: RiskLimits,
    projection: MarginProjection,
) -> tuple[Violation, ...]:
    """Every sizing limit that the hypothetical position ``position_base`` breaks (empty when it is safe)."""
    out: list[Violation] = []
    snap = projection.project(position_base, oracle)
    if snap.health < limits.min_health_after_trade:
        out.append(Violation(RiskReason.HEALTH_BUFFER, snap.health, limits.min_health_after_trade, "health_pct"))
    if snap.leverage > limits.max_leverage_x10000:
        out.append(Violation(RiskReason.LEVERAGE_CAP, snap.leverage, limits.max_leverage_x10000, "leverage_1e4"))
    if limits.max_notional_quote is not None:
        notional = quote_value(abs(position_base), oracle)
        if notional > limits.max_notional_quote:
            out.append(Violation(RiskReason.MAX_NOTIONAL, notional, limits.max_notional_quote, "quote_1e6"))
    distance = liquidation_distance_bps(snap)
    if distance is not None and distance < limits.min_liq_distance_bps:
        out.append(Violation(RiskReason.LIQUIDATION_DISTANCE, distance, limits.min_liq_distance_bps, "bps"))
    if position_base != 0:
        side = 1 if position_base > 0 else -1
        shocked = stressed_price(oracle, side, stress_bps)
        stressed = projection.project(position_base, shocked)
        if stressed.health < limits.min_health_under_stress:
            out.append(
                Violation(
                    RiskReason.STRESS_CAP,
                    stressed.health,
                    limits.min_health_under_stress,
                    "health_pct",
                    f"health {_move(stress_bps, shocked)}",
                )
            )
        stressed_distance = liquidation_distance_bps(stressed)
        if stressed_distance is not None and stressed_distance < limits.min_liq_distance_bps:
            out.append(
                Violation(
                    RiskReason.STRESS_CAP,
                    stressed_distance,
                    limits.min_liq_distance_bps,
                    "bps",
                    f"liquidation distance {_move(stress_bps, shocked)}",
                )
            )
    return tuple(out)


def max_safe_size(
    side_sign: int,
    max_base: int,
    *,
    step: int,
    oracle: int,
    stress_bps: int,
    limits: RiskLimits,
    projection: MarginProjection,
) -> SideCap:
    """Largest step multiple ``k * step <= max_base`` such that ``side_sign * k * step`` is safe (0 is always
    allowed: flat is the one position this market cannot make riskier). O(log(max_base / step)) projections."""
    if side_sign not in (1, -1):
        raise ValueError(f"max_safe_size: side_sign must be +1 or -1, got {side_sign}")
    if step <= 0 or max_base < 0:
        raise ValueError(f"max_safe_size: step must be > 0 and max_base >= 0, got {step}, {max_base}")
    top = max_base // step

    def check(k: int) -> tuple[Violation, ...]:
        return position_violations(side_sign * k * step, oracle, stress_bps, limits, projection)

    if top == 0:
        return SideCap(0)
    first = check(top)
    why: tuple[Violation, ...]
    if not first:
        lo, why = top, ()
    else:
        lo, hi, why = 0, top, first  # invariant: lo safe (0 by fiat), hi unsafe with reasons ``why``
        while hi - lo > 1:
            mid = (lo + hi) // 2
            found = check(mid)
            if found:
                hi, why = mid, found
            else:
                lo = mid
    if lo < 2 or vouches_monotone(projection, side_sign, oracle, max_base=lo * step, step=step):
        return SideCap(lo * step, why)  # no interior point to probe, or none could fail
    # Probe the interior: a failure here means safety is not monotone in |p|; refuse that whole side.
    for k in sorted({lo // 4, lo // 2, (3 * lo) // 4} - {0, lo}):
        broken = check(k)
        if broken:
            return SideCap(0, broken, non_monotone=True)
    return SideCap(lo * step, why)
