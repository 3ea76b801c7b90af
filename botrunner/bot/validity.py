"""Event-driven decisions: what a quiet full decision stays valid for, and the bar that may reuse it.

A full decision (``pipeline.decide_parts``: strategy → Risk Governor → Execution Governor → planner) costs ~100 µs,
most of it the Risk Governor sizing both band edges through margin projections. After a decision that sent nothing
and left the connector as it was (a *quiet* decision), the step records a :class:`DecisionValidity`: the conditions
under which running the whole decision again could not produce anything different. While a bar stays inside them
the step only feeds the strategy its price, re-reads the strategy's output, numbers the decision and reuses the
recorded verdict, directive and snapshot (``step._decide``); outside them, or after any event that is not a price
(a venue report, a funding settlement, an operator command, a reconcile), it decides in full.

Every bound below is derived from the rule that reads the input, and the argument is written where the bound is
computed (``validity_after`` for the recorded bounds, ``still_valid`` for the per-bar checks). Where a rule's bound
could not be derived exactly the bound is the narrowest one: the Risk Governor's sizing (margin projections at the
oracle and after the stress move) is reused only at the very oracle and stress it was computed at, and against the
very account (``VenueAccount.account_version``); a venue that keeps no account version is never skipped.

``DecisionMode.CHECK`` proves the skips: every skipped bar also runs the full decision on a copy of the state and
raises :class:`DecisionMismatch` on the first difference in commands, records, the decision or the state.
"""

from __future__ import annotations

import enum
from typing import Any

import msgspec

from botrunner.connector.ramp import ramp_fraction_bps
from botrunner.connector.state import ConnectorState
from botrunner.core.directive import ExecutionMode
from botrunner.core.intents import StrategyDecision
from botrunner.core.precision import BPS_PRECISION
from governors.risk import MAX_STRESS_BPS, RiskState, divergence_bps


class DecisionMode(enum.Enum):
    """How a perp bot's step decides at a bar close or a tick."""

    EVENT_DRIVEN = "event_driven"  # decide in full only when a recorded validity bound is left (the default)
    ALWAYS = "always"  # decide in full on every bar (the reference the check mode compares against)
    CHECK = "check"  # event-driven, and every skipped bar also decided in full and compared (raises on a difference)


class DecisionMismatch(AssertionError):
    """The event-driven step and the full decision differed on a skipped bar (``DecisionMode.CHECK``)."""


# Typed loosely (``Any``) where the value is a pipeline type: the pipeline imports this module.
class DecisionValidity(msgspec.Struct, frozen=True, kw_only=True):
    """What a quiet full decision stays valid for (module doc). A skipped bar must match every field."""

    definition: Any  # the BotDefinition decided with (its policy, limits and strategy): another one decides in full
    account_version: int  # the venue's account (balances, position, open orders, ledger) as it was decided on
    venue_oracle: int  # the oracle the venue valued the account at (the margin view's price)
    oracle: int  # the oracle the decision saw
    mark_low: int  # the mark may move within [mark_low, mark_high] (requote threshold ∩ divergence limit)
    mark_high: int
    stress_bps: int  # the stress move the sizing used
    until_ts: int  # exclusive: the earliest order expiry (``max_ts``) of the orders the connector tracks
    day: int  # the UTC day of the daily-loss reference
    funding_rate: int
    flags: Any  # OperatorFlags
    strategy: StrategyDecision
    decision: Any  # Decision: its snapshot, verdict and directive are reused
    equity: int
    risk: RiskState
    connector: ConnectorState


def account_version(account: object) -> int | None:
    """The venue's account version (bumps on every change of the account, never on a price move), or None for a
    venue that keeps none (then every bar is decided in full)."""
    version = getattr(account, "account_version", None)
    return version if isinstance(version, int) else None


def sizing_stress_bps(limits_stress_bps: int, strategy_stress_bps: int | None, mark: int, oracle: int) -> int:
    """The stress move the Risk Governor's sizing uses (``governors.risk._Sizer``): the larger of the limit's and
    the strategy's, plus the current oracle/mark gap, capped."""
    return min(MAX_STRESS_BPS, max(limits_stress_bps, strategy_stress_bps or 0) + divergence_bps(mark, oracle))


def validity_after(  # noqa: PLR0911  <why: one early out per rule that forbids reuse; the decision's parts>
    *,
    definition: Any,
    decision: Any,
    commands: tuple[Any, ...],
    before: ConnectorState,
    after: ConnectorState,
    risk: RiskState,
    flags: Any,
    policy: Any,
    max_divergence_bps: int,
    stress_bps: int,
    version: int | None,
    venue_oracle: int,
    day: int,
    funding_rate: int,
    equity: int,
) -> DecisionValidity | None:
    """The validity of a full decision just made, or None when the next bar must decide in full.

    The arguments, rule by rule (each names what could make a later decision differ and why it cannot inside the
    bounds):

    * **Account**: the margin view, the equity, the position and the snapshot are functions of the venue's account,
      its oracle and what the view starts from (the market's funding state, the liquidation bounds the venue's
      watch holds, which seed the view's liquidation search: with several crossings within a few units of price,
      another seed can confirm another one). ``version`` bumps on every change of any of these (a fill, funding,
      a settlement, a deposit, an order landing, a liquidation, a new hold of bounds), so an equal version and an
      equal venue oracle give the same figures: the recorded snapshot and equity are what the full decision would
      read. No version: no validity.
    * **Operator**: any operator flag makes the verdict carry an operator finding and a flatten may turn into a
      pause; an operator command always decides in full (the step invalidates), and a decision under a flag
      records nothing.
    * **Risk Governor, triggers**: a breached trigger always latches (``governors.hysteresis.step_latch``), so a
      decision that leaves no latch saw every watched metric clear. On a later bar with the same account, oracle,
      funding rate and day-start equity the only watched metrics that can move are the oracle/mark divergence (the
      mark) and the data age (``now - oracle_ts``, always 0: the step passes the bar's time as both). The mark is
      held inside the divergence limit below, so nothing breaches and no latch forms; the state's action, ``since``
      and reasons then come out unchanged. With a latch held, release depends on time (cool-down): no validity.
    * **Risk Governor, sizing**: the caps are ``max_safe_size`` over ``projection.project`` at the oracle and at
      the stressed oracle; the projection fills at the current oracle. A price interval over which every projected
      health, leverage, notional and liquidation distance stays on the same side of its limit was not derived, so
      the sizing is reused only at the same oracle, the same stress move and the same account (narrowest bound).
    * **Execution Governor**: a pure function of the verdict and the position, both unchanged.
    * **Planner**: only the hot path is reused: no command and the connector state returned as it came in
      (``planner._requote``'s last line), in GRID or REDUCE mode (a DEFEND ladder may be anchored at the oracle; a
      HALT cancels whatever turns up). With the same directive, levels, policy and position, the rules that read
      the bar are: an order reaching its ``max_ts`` (``until_ts``: the earliest expiry of any tracked order), the
      anchor (the mark) moving by the requote threshold (the mark interval below) and, in GRID, the ramp-in
      widening the worked band with time (required finished: the fraction only grows, so once 100 % it stays).
    """
    if version is None or commands or after is not before or risk.latches:
        return None
    if flags.pause or flags.reduce_only or flags.flatten:
        return None
    directive = decision.directive
    if directive.urgent or directive.mode not in (ExecutionMode.GRID, ExecutionMode.REDUCE):
        return None
    memo = after.ladder
    if memo is None or after.needs_resync:
        return None
    if directive.mode is ExecutionMode.GRID and ramp_fraction_bps(policy.ramp_in, after.started_at, decision.ts) < (
        BPS_PRECISION
    ):
        return None
    # Requote threshold (``planner._anchor_moved``): the ladder is rebuilt when anchor != A and
    # |anchor - A| * 10_000 >= T * A (A the ladder's anchor, T the threshold). So it is NOT rebuilt exactly when
    # |anchor - A| * 10_000 < T * A, i.e. |anchor - A| <= (T * A - 1) // 10_000 for T * A > 0; with T = 0 only the
    # anchor itself is inside. The anchor is the mark (GRID and REDUCE, not urgent).
    anchor = memo.anchor
    reach = (policy.requote_threshold_bps * anchor - 1) // BPS_PRECISION if policy.requote_threshold_bps else 0
    reach = max(reach, 0)
    # Divergence (``governors.risk.divergence_bps``, breached above the limit L): ceil(|m - o| * 10_000 / o) <= L
    # exactly when |m - o| * 10_000 <= L * o, i.e. |m - o| <= L * o // 10_000.
    oracle = decision.oracle
    gap = max_divergence_bps * oracle // BPS_PRECISION
    low, high = max(anchor - reach, oracle - gap, 1), min(anchor + reach, oracle + gap)  # a mark is > 0
    if low > high:
        return None
    # Order expiry (``planner.plan``: an order with ``max_ts`` is expired once ``now >= max_ts``; a quiet plan
    # had none expired, else ``_ttl_expired`` would have rebuilt): valid strictly before the earliest expiry.
    until = min((o.max_ts for o in after.orders if o.max_ts), default=2**62)
    if decision.ts >= until:
        return None
    return DecisionValidity(
        definition=definition,
        account_version=version,
        venue_oracle=venue_oracle,
        oracle=oracle,
        mark_low=low,
        mark_high=high,
        stress_bps=stress_bps,
        until_ts=until,
        day=day,
        funding_rate=funding_rate,
        flags=flags,
        strategy=decision.strategy,
        decision=decision,
        equity=equity,
        risk=risk,
        connector=after,
    )
