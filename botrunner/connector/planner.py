"""The sans-I/O planner: (state, directive, policy, market, quote, position, now) -> (commands, state').

Decision order for a working mode (GRID / REDUCE / DEFEND). In the code, rule 1 is ``_entry_reason`` (an exhaustive
match on the mode), rules 2-4 are ``REBUILD_RULES`` and rule 5 is ``REQUOTE_RULES``: first-match tables of
(predicate, PlanReason), each predicate a small named function whose docstring says why it requotes; the command
builder (``_rebuild``, ``_partial_requote``, ``_emit``) then turns the reason into at most one command.
1. no ladder yet, or the mode changed ⇒ full rebuild at the current anchor;
2. any rung reached its ``max_ts`` ⇒ full rebuild (``ttl_expired``);
3. the anchor moved >= ``requote_threshold_bps`` from where the ladder was built ⇒ full rebuild;
4. every rung is gone (filled, rejected, cancelled by the venue) ⇒ full rebuild (``ladder_empty``);
5. otherwise, if band, levels, policy, ramp-in or an outside position change (the first of these that changed
   names the reason) alter the rungs the ladder WOULD have at its own anchor, replace only the rungs that differ
   (same anchor); our own fills never count as a change.
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
from collections.abc import Callable, Sequence
from typing import Final, assert_never

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


class _Step(msgspec.Struct, frozen=True, gc=False):
    """One ``plan`` call's inputs with the tracked orders sorted once: what every rule and builder below reads."""

    state: ConnectorState
    directive: ExecutionDirective
    policy: ExecutionPolicy
    market: PerpMarketSpec
    quote: MarketQuote
    position_base: int
    now: int
    levels: tuple[LadderLevel, ...]
    urgent: bool  # an urgent DEFEND: one crossing order at the oracle
    anchor: int  # where a ladder built now is anchored: the mark (the oracle when urgent)
    live: list[WorkingOrder]  # working the ladder
    expired: list[WorkingOrder]  # past their max_ts: Drift no longer works them
    in_flight_cancels: int  # cancels sent and not yet confirmed: they still count against the 32-order limit


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
    step = _Step(
        state,
        directive,
        policy,
        market,
        quote,
        position_base,
        now,
        levels if isinstance(levels, tuple) else tuple(levels),
        urgent,
        quote.oracle_price if urgent else quote.mark_price,
        live,
        expired,
        in_flight_cancels,
    )
    memo = state.ladder
    if memo is None or memo.mode is not mode or memo.urgent != urgent:
        return _rebuild(step, _entry_reason(mode, urgent, memo))
    for applies, reason in REBUILD_RULES:
        if applies(step, memo):
            return _rebuild(step, reason)
    return _requote(step, memo)


# ---------------------------------------------------------------------------------------------- requote reasons
# Each rule is (predicate, PlanReason), checked in order; the first that holds names the step's command.


def _ttl_expired(step: _Step, memo: LadderMemo) -> bool:
    """A rung reached its ``max_ts``: Drift no longer works it, so the ladder is renewed whole at the current
    anchor (one atomic command) rather than patched with a rung priced at the anchor it was built at."""
    return bool(step.expired)


def _anchor_moved(step: _Step, memo: LadderMemo) -> bool:
    """The anchor moved at least ``requote_threshold_bps`` from where the ladder was built: every rung is off
    centre by that much, so the whole ladder moves (one atomic cancel-and-place) instead of trailing the price."""
    anchor = step.anchor
    return (
        anchor != memo.anchor
        and abs(anchor - memo.anchor) * BPS_PRECISION >= step.policy.requote_threshold_bps * memo.anchor
    )


def _ladder_gone(step: _Step, memo: LadderMemo) -> bool:
    """Every rung is gone (filled, rejected, cancelled by the venue): nothing works the band any more, so a fresh
    ladder is built at the current anchor."""
    return not step.live


RebuildRule = tuple[Callable[[_Step, LadderMemo], bool], PlanReason]

# Full rebuilds at the current anchor, for a ladder of the current mode (entering a mode is ``_entry_reason``).
REBUILD_RULES: Final[tuple[RebuildRule, ...]] = (
    (_ttl_expired, PlanReason.TTL_EXPIRED),
    (_anchor_moved, PlanReason.REQUOTE_PRICE_MOVED),
    (_ladder_gone, PlanReason.LADDER_EMPTY),
)


def _band_changed(step: _Step, memo: LadderMemo, worked: ExposureBand) -> bool:
    """The approved band moved (strategy or Risk Governor): its edges trim the rungs."""
    return step.directive.band != memo.band


def _levels_changed(step: _Step, memo: LadderMemo, worked: ExposureBand) -> bool:
    """The strategy asked for other rungs (prices or sizes)."""
    levels = step.levels
    return not (levels is memo.levels or levels == memo.levels)


def _policy_changed(step: _Step, memo: LadderMemo, worked: ExposureBand) -> bool:
    """The ExecutionPolicy changed (a reload): spacing, sizes or flags of the rungs may differ."""
    policy = step.policy
    return not (policy is memo.policy or policy == memo.policy)


def _ramp_advanced(step: _Step, memo: LadderMemo, worked: ExposureBand) -> bool:
    """The ramp-in moved the worked band since the ladder was sized (it widens as the ramp advances): there is
    room for more or larger rungs."""
    return worked != memo.worked_band


def _position_moved(step: _Step, memo: LadderMemo, worked: ExposureBand) -> bool:
    """The position moved by more than the ladder's own fills explain (an outside trade, a liquidation, an
    adopted fill): the trimming to the band depends on it. Our own fills never count, or every fill would
    requote the rest of the ladder."""
    return step.position_base - memo.fills_base != memo.position_base


RequoteRule = tuple[Callable[[_Step, LadderMemo, ExposureBand], bool], PlanReason]

# Changes that may alter the rungs of the ladder at its own anchor; when none holds nothing is planned (the hot
# path). When one holds, only the rungs that then differ are replaced, under the first rule's reason.
REQUOTE_RULES: Final[tuple[RequoteRule, ...]] = (
    (_band_changed, PlanReason.BAND_CHANGED),
    (_levels_changed, PlanReason.LEVELS_CHANGED),
    (_policy_changed, PlanReason.POLICY_CHANGED),
    (_ramp_advanced, PlanReason.RAMP_IN),
    (_position_moved, PlanReason.POSITION_CHANGED),
)


# ---------------------------------------------------------------------------------------------- builders


def _requote(step: _Step, memo: LadderMemo) -> PlanResult:
    """Rule 5 of the module doc: the ladder stays at its anchor; the first requote rule that holds names the
    change, and only the rungs it alters are replaced. No rule holds: nothing to do (the hot path)."""
    # Position as it was when the ladder was sized, give or take our own fills since.
    pos_adj = step.position_base - memo.fills_base
    worked = _worked_band(step.directive, pos_adj, step.state.started_at, step.policy, step.now)
    for applies, reason in REQUOTE_RULES:
        if applies(step, memo, worked):
            return _reshape(step, memo, pos_adj, worked, reason)
    return PlanResult((), step.state)


def _reshape(step: _Step, memo: LadderMemo, pos_adj: int, worked: ExposureBand, reason: PlanReason) -> PlanResult:
    """Replace the rungs that ``reason``'s change alters, at the ladder's own anchor; a change that alters none only
    refreshes the ladder's memo."""
    state = step.state
    would_be = build_ladder(
        mode=memo.mode,
        band=worked,
        position_base=pos_adj,
        anchor=memo.anchor,
        policy=step.policy,
        market=step.market,
        levels=step.levels,
        urgent=memo.urgent,
    )
    if would_be == memo.rungs:
        refreshed = msgspec.structs.replace(
            memo,
            band=step.directive.band,
            worked_band=worked,
            position_base=pos_adj,
            levels=step.levels,
            policy=step.policy,
        )
        return PlanResult((), msgspec.structs.replace(state, ladder=refreshed))
    requoted, leaves_empty = _partial_requote(
        step,
        memo,
        reason,
        # no fills since the build: the ladder just built for the comparison is the one to work
        built=(worked, would_be) if pos_adj == step.position_base else None,
    )
    if not leaves_empty:
        return requoted
    # The requote at the ladder's old anchor would leave nothing working (e.g. its rungs now cross the book),
    # so rule 4 applies to the ladder this step leaves: rebuild at the current anchor NOW. Left to the next
    # plan, that rebuild would send a second command with no new event in between (breaking idempotence).
    return _rebuild(step, reason, emptied=requoted)


def _rebuild(step: _Step, reason: PlanReason, emptied: PlanResult | None = None) -> PlanResult:
    """A whole new ladder at the current anchor: cancel every live and expired order, place the new rungs, as ONE
    command. ``emptied`` is a partial requote of this step that would leave nothing working: kept instead when the
    rebuild has nothing to place either."""
    state, directive, policy = step.state, step.directive, step.policy
    position_base, anchor = step.position_base, step.anchor
    worked = _worked_band(directive, position_base, state.started_at, policy, step.now)
    desired = build_ladder(
        mode=directive.mode,
        band=worked,
        position_base=position_base,
        anchor=anchor,
        policy=policy,
        market=step.market,
        levels=step.levels,
        urgent=step.urgent,
    )
    generation = state.generation + 1
    new_memo = LadderMemo(
        generation=generation,
        anchor=anchor,
        mode=directive.mode,
        urgent=step.urgent,
        band=directive.band,
        worked_band=worked,
        position_base=position_base,
        levels=step.levels,
        policy=policy,
        rungs=desired,
    )
    # Cancels still in flight may not have landed (Solana does not order separate transactions), so they count
    # against the 32-order limit; this step's own cancels land atomically with its placements and do not.
    budget = max(0, MAX_OPEN_ORDERS_PER_USER - step.in_flight_cancels)
    quote = step.quote
    to_place = filter_post_only(desired, quote.best_bid, quote.best_ask)[:budget]
    if emptied is not None and not to_place:
        # The rebuild has nothing to place either: it would send the requote's very cancels (every live order, no
        # expired ones), so keep the requote's result and ladder memo; the next plan rebuilds without a command.
        return emptied
    return _emit(
        msgspec.structs.replace(state, ladder=new_memo, generation=generation),
        cancel=step.live + step.expired,
        rungs=to_place,
        reason=reason,
        policy=policy,
        anchor=anchor,
        generation=generation,
        now=step.now,
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
    step: _Step,
    memo: LadderMemo,
    reason: PlanReason,
    built: tuple[ExposureBand, tuple[Rung, ...]] | None = None,
) -> tuple[PlanResult, bool]:
    """Same anchor, new shape: keep live orders that match a wanted rung, cancel the rest, place what is missing.
    ``built`` is (worked band, ladder) when the caller already built them for this position.

    Returns the result and whether it leaves no order working the ladder (all cancelled, nothing placed)."""
    state, policy, position_base = step.state, step.policy, step.position_base
    if built is not None:
        worked, desired = built
    else:
        worked = _worked_band(step.directive, position_base, state.started_at, policy, step.now)
        desired = build_ladder(
            mode=memo.mode,
            band=worked,
            position_base=position_base,
            anchor=memo.anchor,
            policy=policy,
            market=step.market,
            levels=step.levels,
            urgent=memo.urgent,
        )
    missing = list(desired)
    cancel: list[WorkingOrder] = []
    kept = 0
    for o in step.live:
        rung = Rung(o.side, o.price, o.base, o.reduce_only, o.post_only)
        if rung in missing:
            missing.remove(rung)
            kept += 1
        else:
            cancel.append(o)
    budget = MAX_OPEN_ORDERS_PER_USER - step.in_flight_cancels - kept
    quote = step.quote
    to_place = filter_post_only(missing, quote.best_bid, quote.best_ask)[: max(0, budget)]
    new_memo = msgspec.structs.replace(
        memo,
        band=step.directive.band,
        worked_band=worked,
        position_base=position_base,
        levels=step.levels,
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
        now=step.now,
    )
    return result, not kept and not to_place


def _emit(  # the command builder
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
