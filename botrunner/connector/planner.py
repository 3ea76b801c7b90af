"""The sans-I/O planner: (state, directive, policy, market, quote, position, now) -> (commands, state').

Decision order for a working mode (GRID / REDUCE / DEFEND):
1. no ladder yet, or the mode changed ⇒ full rebuild at the current anchor;
2. any rung reached its ``max_ts`` ⇒ full rebuild (``ttl_expired``);
3. the anchor moved >= ``requote_threshold_bps`` from where the ladder was built ⇒ full rebuild;
4. every rung is gone (filled, rejected, cancelled by the venue) ⇒ full rebuild (``ladder_empty``);
5. otherwise, if band, ramp-in, levels, policy or an outside position change alter the rungs the ladder WOULD have
   at its own anchor, replace only the rungs that differ (same anchor); our own fills never count as a change.
   If that replacement would leave no order working (every live order cancelled, nothing placeable, e.g. the
   new rungs cross the book at the old anchor), rule 4 applies to the result in this same step: a full rebuild at
   the current anchor, under the step's reason, whenever that rebuild has something to place.
Otherwise nothing: planning again with no new event yields no command (idempotence).

A full rebuild is ONE atomic ``CancelAndPlace`` (or a lone place / cancel). HALT cancels everything. The result
never leaves more than 32 orders on the venue (in-flight cancels counted), never sends a batch over 32 orders, and
never reuses a user_order_id still reserved by an order the venue has not confirmed gone.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import assert_never

import msgspec

from botrunner.connector.commands import CancelAndPlace, CancelOrders, Command, PlaceOrders, PlanReason
from botrunner.connector.ids import allocate_ids
from botrunner.connector.ladder import Rung, build_ladder, filter_post_only
from botrunner.connector.lifecycle import OrderEvent, transition
from botrunner.connector.orders import OrderIntent, OrderState, WorkingOrder
from botrunner.connector.ramp import ramp_band, ramp_fraction_bps
from botrunner.connector.state import ConnectorState, LadderMemo
from botrunner.core.directive import ExecutionDirective, ExecutionMode
from botrunner.core.intents import ExposureBand, LadderLevel
from botrunner.core.markets import PerpMarketSpec
from botrunner.core.policy import ExecutionPolicy
from botrunner.core.precision import BPS_PRECISION, MAX_OPEN_ORDERS_PER_USER, MAX_ORDERS_PER_PLACE_ORDERS


class QuoteError(ValueError):
    """Market data the planner cannot work with."""


class MarketQuote(msgspec.Struct, frozen=True, kw_only=True):
    """Prices the planner needs (1e6). ``best_bid``/``best_ask`` are None when unknown (then post-only rungs are
    not checked against the book)."""

    mark_price: int
    oracle_price: int
    best_bid: int | None = None
    best_ask: int | None = None

    def __post_init__(self) -> None:
        if self.mark_price <= 0:
            raise QuoteError(f"MarketQuote.mark_price must be > 0, got {self.mark_price}")
        if self.oracle_price <= 0:
            raise QuoteError(f"MarketQuote.oracle_price must be > 0, got {self.oracle_price}")
        if self.best_bid is not None and self.best_bid <= 0:
            raise QuoteError(f"MarketQuote.best_bid must be > 0 or None, got {self.best_bid}")
        if self.best_ask is not None and self.best_ask <= 0:
            raise QuoteError(f"MarketQuote.best_ask must be > 0 or None, got {self.best_ask}")


class PlanResult(msgspec.Struct, frozen=True):
    """Commands for the shell to perform, in order, and the connector state assuming they were sent."""

    commands: tuple[Command, ...]
    state: ConnectorState


_PENDING_CANCEL = OrderState.PENDING_CANCEL


def plan(
    state: ConnectorState,
    *,
    directive: ExecutionDirective,
    policy: ExecutionPolicy,
    market: PerpMarketSpec,
    quote: MarketQuote,
    position_base: int,
    now: int,
    levels: Sequence[LadderLevel] = (),
) -> PlanResult:
    """Plan the minimal commands for this step. Pure: same inputs, same result.

    ``position_base`` is the venue's/account's signed position (1e9), consistent with the fills already applied
    via ``apply_event``. ``levels`` are the strategy's rungs (``StrategyDecision.levels``); empty ⇒ policy ladder.
    While ``state.needs_resync`` is set nothing is planned.
    """
    if state.needs_resync:
        return PlanResult((), state)
    band = directive.band
    if band.min_base > band.max_base:
        raise ValueError(f"plan: directive band inverted: min_base {band.min_base} > max_base {band.max_base}")
    live: list[WorkingOrder] = []
    expired: list[WorkingOrder] = []
    in_flight_cancels = 0
    for o in state.orders:
        if o.state is _PENDING_CANCEL:
            in_flight_cancels += 1
        elif o.max_ts and now >= o.max_ts:  # Drift skips/expires it (0 = no expiry): it no longer works the ladder
            expired.append(o)
        else:
            live.append(o)

    mode = directive.mode
    if mode is ExecutionMode.HALT:
        return _halt(state, live + expired)

    urgent = directive.urgent and mode is ExecutionMode.DEFEND
    anchor = quote.oracle_price if urgent else quote.mark_price
    levels_t = levels if isinstance(levels, tuple) else tuple(levels)
    memo = state.ladder
    emptied: PlanResult | None = None  # a partial requote that would leave nothing working (see below)
    reason: PlanReason
    if memo is None or memo.mode is not mode or memo.urgent != urgent:
        reason = _entry_reason(mode, urgent, memo)
    elif expired:
        reason = PlanReason.TTL_EXPIRED
    elif (
        anchor != memo.anchor
        and abs(anchor - memo.anchor) * BPS_PRECISION >= policy.requote_threshold_bps * memo.anchor
    ):
        reason = PlanReason.REQUOTE_PRICE_MOVED
    elif not live:
        reason = PlanReason.LADDER_EMPTY
    else:
        # Position as it was when the ladder was sized, give or take our own fills since.
        pos_adj = position_base - memo.fills_base
        worked = _worked_band(directive, pos_adj, state.started_at, policy, now)
        same_levels = levels_t is memo.levels or levels_t == memo.levels
        same_policy = policy is memo.policy or policy == memo.policy
        if (
            pos_adj == memo.position_base
            and worked == memo.worked_band
            and directive.band == memo.band
            and same_levels
            and same_policy
        ):
            return PlanResult((), state)  # the hot path: nothing that shapes the ladder changed
        would_be = build_ladder(
            mode=mode,
            band=worked,
            position_base=pos_adj,
            anchor=memo.anchor,
            policy=policy,
            market=market,
            levels=levels_t,
            urgent=urgent,
        )
        if would_be == memo.rungs:
            refreshed = msgspec.structs.replace(
                memo, band=directive.band, worked_band=worked, position_base=pos_adj, levels=levels_t, policy=policy
            )
            return PlanResult((), msgspec.structs.replace(state, ladder=refreshed))
        if directive.band != memo.band:
            reason = PlanReason.BAND_CHANGED
        elif not same_levels:
            reason = PlanReason.LEVELS_CHANGED
        elif not same_policy:
            reason = PlanReason.POLICY_CHANGED
        elif worked != memo.worked_band:
            reason = PlanReason.RAMP_IN
        else:
            reason = PlanReason.POSITION_CHANGED
        requoted, leaves_empty = _partial_requote(
            state,
            memo=memo,
            live=live,
            in_flight_cancels=in_flight_cancels,
            directive=directive,
            policy=policy,
            market=market,
            quote=quote,
            position_base=position_base,
            now=now,
            levels=levels_t,
            reason=reason,
            # no fills since the build: the ladder just built for the comparison is the one to work
            built=(worked, would_be) if pos_adj == position_base else None,
        )
        if not leaves_empty:
            return requoted
        # The requote at the ladder's old anchor would leave nothing working (e.g. its rungs now cross the book),
        # so rule 4 applies to the ladder this step leaves: rebuild at the current anchor NOW. Left to the next
        # plan, that rebuild would send a second command with no new event in between (breaking idempotence).
        emptied = requoted

    worked = _worked_band(directive, position_base, state.started_at, policy, now)
    desired = build_ladder(
        mode=mode,
        band=worked,
        position_base=position_base,
        anchor=anchor,
        policy=policy,
        market=market,
        levels=levels_t,
        urgent=urgent,
    )
    generation = state.generation + 1
    new_memo = LadderMemo(
        generation=generation,
        anchor=anchor,
        mode=mode,
        urgent=urgent,
        band=directive.band,
        worked_band=worked,
        position_base=position_base,
        levels=levels_t,
        policy=policy,
        rungs=desired,
    )
    # Cancels still in flight may not have landed (Solana does not order separate transactions), so they count
    # against the 32-order limit; this step's own cancels land atomically with its placements and do not.
    budget = max(0, MAX_OPEN_ORDERS_PER_USER - in_flight_cancels)
    to_place = filter_post_only(desired, quote.best_bid, quote.best_ask)[:budget]
    if emptied is not None and not to_place:
        # The rebuild has nothing to place either: it would send the requote's very cancels (every live order, no
        # expired ones), so keep the requote's result and ladder memo; the next plan rebuilds without a command.
        return emptied
    return _emit(
        msgspec.structs.replace(state, ladder=new_memo, generation=generation),
        cancel=live + expired,
        rungs=to_place,
        reason=reason,
        policy=policy,
        anchor=anchor,
        generation=generation,
        now=now,
    )


def _worked_band(
    directive: ExecutionDirective, position_base: int, started_at: int, policy: ExecutionPolicy, now: int
) -> ExposureBand:
    """Ramp-in only slows the grid down; reduction and defence are never ramped."""
    if directive.mode is not ExecutionMode.GRID:
        return directive.band
    fraction = ramp_fraction_bps(policy.ramp_in, started_at, now)
    return ramp_band(directive.band, position_base, fraction, policy.base_size_per_level)


def _entry_reason(mode: ExecutionMode, urgent: bool, memo: LadderMemo | None) -> PlanReason:
    match mode:
        case ExecutionMode.DEFEND:
            return PlanReason.LIQUIDATION_DEFENCE if urgent else PlanReason.REDUCE_ONLY_PURGE
        case ExecutionMode.REDUCE:
            return PlanReason.EXPOSURE_REDUCTION
        case ExecutionMode.GRID:
            return PlanReason.LADDER_EMPTY if memo is None else PlanReason.MODE_CHANGED
        case ExecutionMode.HALT:
            return PlanReason.VERDICT_PAUSE
        case _ as unreachable:
            assert_never(unreachable)


def _halt(state: ConnectorState, cancel: list[WorkingOrder]) -> PlanResult:
    if not cancel:
        if state.ladder is None:
            return PlanResult((), state)
        return PlanResult((), msgspec.structs.replace(state, ladder=None))
    ids = tuple(o.user_order_id for o in cancel)
    orders = _mark_cancelled(state.orders, frozenset(ids))
    return PlanResult(
        (CancelOrders(ids, PlanReason.VERDICT_PAUSE),),
        msgspec.structs.replace(state, orders=orders, ladder=None),
    )


def _with_state(order: WorkingOrder, state: OrderState) -> WorkingOrder:
    """``order`` in ``state``: a copy with only the lifecycle state changed. The order's own fields were validated
    when it was built and do not change, so the copy skips re-validating them (``msgspec.structs.replace`` would);
    the state change itself is checked by ``transition``."""
    moved = copy.copy(order)  # Struct.__copy__: the fields as they are, no __post_init__
    msgspec.structs.force_setattr(moved, "state", state)
    return moved


def _mark_cancelled(orders: tuple[WorkingOrder, ...], ids: frozenset[int]) -> tuple[WorkingOrder, ...]:
    return tuple(
        _with_state(o, transition(o.user_order_id, o.state, OrderEvent.CANCEL_REQUESTED))
        if o.user_order_id in ids
        else o
        for o in orders
    )


def _partial_requote(
    state: ConnectorState,
    *,
    memo: LadderMemo,
    live: list[WorkingOrder],
    in_flight_cancels: int,
    directive: ExecutionDirective,
    policy: ExecutionPolicy,
    market: PerpMarketSpec,
    quote: MarketQuote,
    position_base: int,
    now: int,
    levels: tuple[LadderLevel, ...],
    reason: PlanReason,
    built: tuple[ExposureBand, tuple[Rung, ...]] | None = None,
) -> tuple[PlanResult, bool]:
    """Same anchor, new shape: keep live orders that match a wanted rung, cancel the rest, place what is missing.
    ``built`` is (worked band, ladder) when the caller already built them for this position.

    Returns the result and whether it leaves no order working the ladder (all cancelled, nothing placed)."""
    if built is not None:
        worked, desired = built
    else:
        worked = _worked_band(directive, position_base, state.started_at, policy, now)
        desired = build_ladder(
            mode=memo.mode,
            band=worked,
            position_base=position_base,
            anchor=memo.anchor,
            policy=policy,
            market=market,
            levels=levels,
            urgent=memo.urgent,
        )
    missing = list(desired)
    cancel: list[WorkingOrder] = []
    kept = 0
    for o in live:
        rung = Rung(o.side, o.price, o.base, o.reduce_only, o.post_only)
        if rung in missing:
            missing.remove(rung)
            kept += 1
        else:
            cancel.append(o)
    budget = MAX_OPEN_ORDERS_PER_USER - in_flight_cancels - kept
    to_place = filter_post_only(missing, quote.best_bid, quote.best_ask)[: max(0, budget)]
    new_memo = msgspec.structs.replace(
        memo,
        band=directive.band,
        worked_band=worked,
        position_base=position_base,
        levels=levels,
        policy=policy,
        rungs=desired,
        fills_base=0,
    )
    result = _emit(
        msgspec.structs.replace(state, ladder=new_memo),
        cancel=cancel,
        rungs=to_place,
        reason=reason,
        policy=policy,
        anchor=memo.anchor,
        generation=memo.generation,
        now=now,
    )
    return result, not kept and not to_place


def _emit(
    state: ConnectorState,
    *,
    cancel: list[WorkingOrder],
    rungs: list[Rung],
    reason: PlanReason,
    policy: ExecutionPolicy,
    anchor: int,
    generation: int,
    now: int,
) -> PlanResult:
    """Turn cancels and rungs into at most one command and the matching state."""
    if not cancel and not rungs:
        return PlanResult((), state)
    assert len(rungs) <= MAX_ORDERS_PER_PLACE_ORDERS, "planner built more rungs than one place_orders takes"
    orders = state.orders
    cancel_ids = tuple(o.user_order_id for o in cancel)
    # Worst case on the venue once this lands: every earlier in-flight cancel unprocessed, every kept order, every
    # new one. Asserted here; the callers' budgets guarantee it.
    occupied = len(orders) - len(cancel_ids)
    assert not rungs or occupied + len(rungs) <= MAX_OPEN_ORDERS_PER_USER, "planner would exceed 32 open orders"
    if cancel_ids:
        orders = _mark_cancelled(orders, frozenset(cancel_ids))
    ids, cursor = allocate_ids({o.user_order_id for o in orders}, len(rungs), state.id_cursor)
    max_ts = now + policy.ttl_s
    intents = tuple(
        OrderIntent(
            user_order_id=uid,
            side=r.side,
            price=r.price,
            base=r.base,
            post_only=r.post_only,
            reduce_only=r.reduce_only,
            max_ts=max_ts,
            placed_at=now,
            anchor_price=anchor,
        )
        for uid, r in zip(ids, rungs, strict=True)
    )
    if intents:
        orders = orders + tuple(WorkingOrder.from_intent(i, generation=generation) for i in intents)
    command: Command
    if cancel_ids and intents:
        command = CancelAndPlace(cancel_ids, intents, reason)
    elif cancel_ids:
        command = CancelOrders(cancel_ids, reason)
    else:
        command = PlaceOrders(intents, reason)
    return PlanResult((command,), msgspec.structs.replace(state, orders=orders, id_cursor=cursor))
