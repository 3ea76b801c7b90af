"""One bot, one step: ``step(bot, state, input, account) -> (state', Effects)``.

Every input a bot can receive is one member of the closed union :data:`BotInput`; everything the bot wants done
comes back as :class:`Effects` (venue commands, records, the decision, a resync). Backtests, paper and live bots
all run this one function through the same driver (``botrunner.bot.driver``); they differ only in where the inputs
come from and where the commands go. Every bot rule lives here:

* a **bar close** (paper, backtest) or a **tick** (live refresh): the strategy sees the price, the bot decides
  (``pipeline.decide``: strategy → risk → execution → connector) and then applies the **settle-PnL policy**
  (``botrunner.bot.settle``), so a settlement follows the decision's orders;
* the **daily-loss reference**: the first decision of each UTC day makes the equity it saw the day's start;
* the **funding rate** the Risk Governor's guardrail reads: the last one settled (``FundingSettled``) or read
  (``Tick``);
* **operator commands** set the flags the Risk Governor reads and the bot decides at once; a **flatten** becomes a
  pause once the position is flat and nothing rests (checked after every decision and venue report);
* a **venue report** becomes records (order lifecycle rows with their cause, fills, funding, settlements) and
  drives the connector's order lifecycle; an event the lifecycle refuses asks for a **resync**: the driver reads
  the venue's open orders and hands them back as a ``VenueReport`` carrying ``open_orders``, which the connector
  adopts (the venue is the truth);
* a **reconcile** after a (re)start adopts the venue's open orders and restarts the ramp-in clock.

Pure: no I/O, no clock (times come in the inputs), no logging. ``account`` is the venue's read-only account view
(``botrunner.venue.port.VenueAccount``): the step reads only what it needs, when it needs it. ``state`` is owned by
one bot and updated in place (like the strategy's rolling history), then returned.
"""

from __future__ import annotations

import copy
import pickle
from typing import Any, assert_never

import msgspec

from botrunner.bot.operator_position import BotCommand, Refusal, next_flags, perp_refusal
from botrunner.bot.pipeline import (
    AccountView,
    BotDefinition,
    BotState,
    Decision,
    MarketUpdate,
    OperatorFlags,
    decide_parts,
    range_stress_bps,
    strategy_decision,
)
from botrunner.bot.settle import SettlePolicy, settle_due
from botrunner.bot.validity import (
    DecisionMismatch,
    DecisionMode,
    DecisionValidity,
    account_version,
    sizing_stress_bps,
    validity_after,
)
from botrunner.connector import ConnectorState, IllegalTransition, OrderEvent, OrderUpdate, apply_events, resync
from botrunner.connector.commands import CancelAndPlace, PlaceOrders
from botrunner.connector.orders import OrderState, WorkingOrder
from botrunner.core.intents import StrategyDecision
from botrunner.core.policy import PostOnlyMode
from botrunner.core.records import FillRow, FundingRow, InterestRow, LegsRow, OrderRow, SettleRow, SpotFillRow
from botrunner.funding import ONE_DAY_S
from botrunner.margin.what_if import fill_quote_delta
from botrunner.venue.port import (
    BalanceChanged,
    CommandRejected,
    Fill,
    FundingPaid,
    InterestAccrued,
    Liquidated,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderRejected,
    PnlSettled,
    RejectReason,
    SettlePnl,
    SpotFill,
    VenueAccount,
    VenueCommand,
    VenueEvent,
)

# ------------------------------------------------------------------------------------------------ inputs


class PricePoint(msgspec.Struct, frozen=True):
    """A price the strategy observes without deciding: warm-up history, a live bot's replayed samples."""

    ts: int
    price: int  # 1e6


class BarClose(msgspec.Struct, frozen=True, kw_only=True):
    """A bar's close on a replayed market (paper, backtest): the strategy sees ``price`` at ``close_ts`` (the bar's
    end) and the bot decides at ``ts`` (the close point's path time) against the venue's account."""

    ts: int
    close_ts: int
    price: int
    oracle: int


class FundingSettled(msgspec.Struct, frozen=True):
    """A funding settlement at ``ts``: ``rate`` (1e9 per hour, + = longs pay) is what the guardrail reads from now
    on. (The payment itself reaches the bot as the venue's ``FundingPaid`` in a ``VenueReport``.)"""

    ts: int
    rate: int


class VenueReport(msgspec.Struct, frozen=True):
    """What the venue reported at ``ts``: ``events`` in order (acks, rejects, fills, cancels, expiries, funding,
    liquidations, settlements), and, when the driver read them for a resync, the venue's ``open_orders``.

    This is also where a non-blocking live venue will deliver a transaction's later outcome (confirmed, failed,
    outcome unknown): as events of a later report, after the command's effect returned with the orders pending;
    ``open_orders`` then carries the chain's truth for an unknown outcome."""

    ts: int
    events: tuple[VenueEvent, ...]
    open_orders: tuple[WorkingOrder, ...] | None = None


class Operator(msgspec.Struct, frozen=True, kw_only=True):
    """An operator command at ``ts`` (the operator's vocabulary, ``botrunner.core.operator``: pause, resume,
    reduce-only, flatten, and an open or close, ``botrunner.bot.operator_position``); the bot decides at once at
    ``mark`` / ``oracle`` (the last prices it knows)."""

    ts: int
    command: BotCommand
    mark: int
    oracle: int


class Tick(msgspec.Struct, frozen=True, kw_only=True):
    """A live bot's refresh at ``ts`` (the chain's time): the oracle is the price the strategy sees and the mark it
    trades against (Drift's DLOB is off-chain), ``funding_rate`` the one read with it (1e9 per hour)."""

    ts: int
    oracle: int
    funding_rate: int


class Reconcile(msgspec.Struct, frozen=True, kw_only=True):
    """A (re)start at ``ts``: adopt the venue's ``open_orders``; ``known`` are the placed rows the store kept of
    orders it saw placed and not closed (an adopted order without one gets a fresh order id and an ``adopted``
    row)."""

    ts: int
    open_orders: tuple[WorkingOrder, ...]
    known: tuple[OrderRow, ...] = ()


BotInput = PricePoint | BarClose | FundingSettled | VenueReport | Operator | Tick | Reconcile

# ------------------------------------------------------------------------------------------------ effects

Record = OrderRow | FillRow | FundingRow | SettleRow | SpotFillRow | InterestRow | LegsRow


class Effects(msgspec.Struct, frozen=True, kw_only=True):
    """What one step asks for, in order: ``records`` to keep, ``resync`` (read the venue's open orders and report
    them back), then ``commands`` to send to the venue. ``decision`` and the ``equity`` it saw: a deciding step's."""

    commands: tuple[VenueCommand, ...] = ()
    records: tuple[Record, ...] = ()
    decision: Decision | None = None
    equity: int = 0
    resync: bool = False
    refusal: Refusal | None = None  # an operator's open the governors refused (nothing else was done)


NOTHING = Effects()
# The reason on the closing row (filled, or cancelled with the rest) of an order that a fill reached while our cancel
# of it was in flight: the cancel lost the race (paper latency, live). Never happens without latency.
CANCEL_IN_FLIGHT = "cancel_in_flight"
_SETTLE = SettlePnl()
_PAUSED = OperatorFlags(pause=True)
_NO_CAUSE: tuple[str, int] = ("", 0)  # an order no command of ours placed (e.g. one placed outside the bot)
_PLACING = (PlaceOrders, CancelAndPlace)  # a tuple: ``PlaceOrders | CancelAndPlace`` builds a union on every test
# Hot path (every venue event, every bar): reading an enum member off its class, or a member's ``.value``, goes
# through the enum's descriptors (tens of ns each on CPython 3.11), so the step reads these constants and the
# members' ``_value_`` (the attribute ``.value`` returns).
_ACK, _REJECT, _CANCEL, _EXPIRE = OrderEvent.ACK, OrderEvent.REJECT, OrderEvent.CANCEL, OrderEvent.EXPIRE
_FILL, _PARTIAL_FILL = OrderEvent.FILL, OrderEvent.PARTIAL_FILL
_ALWAYS, _CHECK = DecisionMode.ALWAYS, DecisionMode.CHECK


# ------------------------------------------------------------------------------------------------ the step


def step(  # noqa: PLR0911  <why: one flat exhaustive match over the input union, one return per input kind>
    bot: BotDefinition, state: BotState, item: BotInput, account: VenueAccount
) -> tuple[BotState, Effects]:
    """One input in, the next state and the effects out (see the module doc)."""
    match item:
        case VenueReport():
            state.valid = None  # a fill, an ack, funding paid, a settlement...: the next bar decides in full
            return _report(state, item, account)
        case BarClose():
            state.strategy = bot.strategy.on_price(state.strategy, item.close_ts, item.price)
            return _decide(bot, state, account, ts=item.ts, mark=item.price, oracle=item.oracle, settle=True)
        case FundingSettled():
            state.valid = None  # a settlement moves the market's funding and the guardrail's rate
            state.funding_rate = item.rate
            return state, NOTHING
        case PricePoint():
            state.strategy = bot.strategy.on_price(state.strategy, item.ts, item.price)
            return state, NOTHING
        case Tick():
            state.funding_rate = item.funding_rate
            state.strategy = bot.strategy.on_price(state.strategy, item.ts, item.oracle)
            return _decide(bot, state, account, ts=item.ts, mark=item.oracle, oracle=item.oracle, settle=True)
        case Operator():
            refusal = perp_refusal(bot, state, item.command, account, ts=item.ts, mark=item.mark, oracle=item.oracle)
            if refusal is not None:
                return state, Effects(refusal=refusal)
            state.valid = None  # an operator command always decides in full
            state.flags = next_flags(state.flags, item.command)
            return _decide(bot, state, account, ts=item.ts, mark=item.mark, oracle=item.oracle, settle=False)
        case Reconcile():
            state.valid = None
            return _reconcile(state, item)
        case _ as unreachable:
            assert_never(unreachable)


def _decide(
    bot: BotDefinition,
    state: BotState,
    account: VenueAccount,
    *,
    ts: int,
    mark: int,
    oracle: int,
    settle: bool,
) -> tuple[BotState, Effects]:
    """Decide at ``ts``: reuse the last full decision while it stays valid (``botrunner.bot.validity``), else decide
    in full; in check mode a reused decision is also made in full on a copy of the state and compared."""
    valid = state.valid
    if valid is None or bot.decisions is _ALWAYS:
        return _decide_full(bot, state, account, ts=ts, mark=mark, oracle=oracle, settle=settle)
    if bot.decisions is _CHECK:
        return _checked(bot, state, account, ts=ts, mark=mark, oracle=oracle, settle=settle)
    inside, wanted = _reusable(bot, state, valid, account, ts, mark, oracle)
    if not inside:
        return _decide_full(bot, state, account, ts=ts, mark=mark, oracle=oracle, settle=settle, wanted=wanted)
    assert wanted is not None
    return _reuse(bot, state, valid, wanted, account, ts=ts, mark=mark, oracle=oracle, settle=settle)


def _reusable(  # noqa: PLR0917  <why: the bar's inputs beside the recorded validity>
    bot: BotDefinition,
    state: BotState,
    valid: DecisionValidity,
    account: VenueAccount,
    ts: int,
    mark: int,
    oracle: int,
) -> tuple[bool, StrategyDecision | None]:
    """(whether the bar lies inside every bound of ``valid``, so that the recorded decision is what a full one
    would be; the strategy's decision at this bar, None when it was not asked). ``validity_after`` says why each
    bound suffices."""
    if bot is not valid.definition or not _bounds_hold(state, valid, account, ts, mark, oracle):
        return False, None
    return _strategy_holds(bot, state, valid, mark, oracle)


def _bounds_hold(  # noqa: PLR0917  <why: the bar's inputs beside the recorded validity>
    state: BotState, valid: DecisionValidity, account: VenueAccount, ts: int, mark: int, oracle: int
) -> bool:
    """The bounds that need no strategy output. The oracle first (it moves on almost every bar of a replay), then
    the mark's interval (requote threshold and divergence limit), time (the earliest order expiry; the UTC day,
    whose roll resets the daily-loss reference), the funding rate, the operator's flags, the risk and connector
    states as the decision left them, and the account (the venue's oracle and account version: the margin view,
    equity, position and snapshot are functions of both)."""
    return not (
        oracle != valid.oracle
        or not valid.mark_low <= mark <= valid.mark_high
        or ts >= valid.until_ts
        or ts // ONE_DAY_S != valid.day
        or state.funding_rate != valid.funding_rate
        or state.flags is not valid.flags
        or state.connector is not valid.connector
        or state.risk is not valid.risk
        or account.oracle != valid.venue_oracle
        or account_version(account) != valid.account_version
    )


def _strategy_holds(
    bot: BotDefinition, state: BotState, valid: DecisionValidity, mark: int, oracle: int
) -> tuple[bool, StrategyDecision]:
    """The bounds that read the strategy's output at this bar (returned, so a full decision asks it once): it must
    equal the recorded one (the band the Risk Governor sizes, the rungs the planner builds), and the sizing's
    stress move (which reads the strategy's range and the mark) must be the one the sizing was computed with."""
    wanted = strategy_decision(bot, state, mark, oracle, valid.decision.position_base)
    if wanted != valid.strategy:
        return False, wanted
    stress = sizing_stress_bps(bot.limits.stress_move_bps, range_stress_bps(wanted, mark), mark, oracle)
    return stress == valid.stress_bps, wanted


def _reuse(
    bot: BotDefinition,
    state: BotState,
    valid: DecisionValidity,
    wanted: StrategyDecision,
    account: VenueAccount,
    *,
    ts: int,
    mark: int,
    oracle: int,
    settle: bool,
) -> tuple[BotState, Effects]:
    """The decision of a bar inside ``valid``: the recorded verdict, directive and snapshot, no command, the risk and
    connector states as they are; numbered and settled as a full decision is (``_decide_full``)."""
    state.decision_seq += 1  # open_decision without its reads: same day (no roll), same account (same equity)
    recorded = valid.decision
    position = recorded.position_base
    decision = Decision(
        ts=ts,
        mark=mark,
        oracle=oracle,
        position_base=position,
        snapshot=recorded.snapshot,
        strategy=wanted,
        verdict=recorded.verdict,
        directive=recorded.directive,
        commands=(),
    )
    commands: tuple[VenueCommand, ...] = ()
    if settle and bot.settle is not None:
        commands = settle_if_due(bot.settle, state, account, ts, position, commands)
    return state, Effects(commands=commands, decision=decision, equity=valid.equity)


def _checked(
    bot: BotDefinition,
    state: BotState,
    account: VenueAccount,
    *,
    ts: int,
    mark: int,
    oracle: int,
    settle: bool,
) -> tuple[BotState, Effects]:
    """``_decide`` in check mode: a bar that reuses the last decision is also decided in full, on a copy of the
    state taken before anything is asked; the two must agree on the effects and on every field of the state (but
    the validity record itself, which the full decision renews). Raises ``DecisionMismatch`` naming the bar and the
    first field that differs."""
    valid = state.valid
    assert valid is not None
    if bot is not valid.definition or not _bounds_hold(state, valid, account, ts, mark, oracle):
        return _decide_full(bot, state, account, ts=ts, mark=mark, oracle=oracle, settle=settle)
    reference = copy.deepcopy(state)  # before the strategy is asked: a strategy may keep state as it decides
    inside, wanted = _strategy_holds(bot, state, valid, mark, oracle)
    if not inside:
        return _decide_full(bot, state, account, ts=ts, mark=mark, oracle=oracle, settle=settle, wanted=wanted)
    assert wanted is not None
    full_state, full = _decide_full(bot, reference, account, ts=ts, mark=mark, oracle=oracle, settle=settle)
    state, reused = _reuse(bot, state, valid, wanted, account, ts=ts, mark=mark, oracle=oracle, settle=settle)
    where = f"bar at ts {ts} (mark {mark}, oracle {oracle})"
    for name in Effects.__struct_fields__:
        _same(getattr(full, name), getattr(reused, name), f"{where}: effects.{name}")
    for name in BotState.__struct_fields__:
        if name != "valid":
            _same(getattr(full_state, name), getattr(state, name), f"{where}: state.{name}")
    return state, reused


def _same(full: Any, reused: Any, path: str) -> None:
    """Raise ``DecisionMismatch`` at the first field where ``full`` and ``reused`` differ (structs field by field;
    a strategy state without equality compared by its pickled bytes)."""
    if full == reused:
        return
    if isinstance(full, msgspec.Struct) and type(full) is type(reused):
        for name in full.__struct_fields__:
            _same(getattr(full, name), getattr(reused, name), f"{path}.{name}")
    elif (
        type(full) is type(reused)
        and not isinstance(full, (int, str, tuple, list, dict, set))
        and pickle.dumps(full, protocol=5) == pickle.dumps(reused, protocol=5)
    ):
        return
    raise DecisionMismatch(f"{path}: full decision {full!r} != event-driven {reused!r}")


def _decide_full(
    bot: BotDefinition,
    state: BotState,
    account: VenueAccount,
    *,
    ts: int,
    mark: int,
    oracle: int,
    settle: bool,
    wanted: StrategyDecision | None = None,
) -> tuple[BotState, Effects]:
    """Number the decision, roll the daily-loss reference, run the pipeline, then the settle policy; record what
    the decision stays valid for (``botrunner.bot.validity``) unless every bar decides in full. ``wanted``: the
    strategy's decision when it was already asked for at this bar."""
    equity = open_decision(state, account, ts)
    position = account.position.base_asset_amount
    view = AccountView(
        position_base=position,
        equity=equity,
        day_start_equity=state.day_start_equity,
        projection=account.margin_view(),
    )
    update = MarketUpdate(ts=ts, mark=mark, oracle=oracle, oracle_ts=ts, funding_rate=state.funding_rate)
    before = state.connector
    flags = state.flags
    state.risk, state.connector, decision = decide_parts(bot, state, update, view, flags, wanted=wanted)
    commands: tuple[VenueCommand, ...] = decision.commands
    if commands or state.connector is not before or bot.decisions is _ALWAYS:
        state.valid = None  # not quiet (validity_after's first rule, checked here for the common case): decide next
    else:
        state.valid = validity_after(
            definition=bot,
            decision=decision,
            commands=commands,
            before=before,
            after=state.connector,
            risk=state.risk,
            flags=flags,
            policy=bot.policy,
            max_divergence_bps=bot.limits.max_oracle_mark_divergence_bps,
            stress_bps=sizing_stress_bps(
                bot.limits.stress_move_bps, range_stress_bps(decision.strategy, mark), mark, oracle
            ),
            version=account_version(account),
            venue_oracle=account.oracle,
            day=state.day,
            funding_rate=state.funding_rate,
            equity=equity,
        )
    causes = state.causes
    for command in commands:
        if isinstance(command, _PLACING):
            cause = (command.reason._value_, state.decision_seq)
            for order in command.orders:
                causes[order.user_order_id] = cause
    if settle and bot.settle is not None:
        commands = settle_if_due(bot.settle, state, account, ts, position, commands)
    if state.flags.flatten and not commands and position == 0 and not state.connector.orders:
        state.flags = _PAUSED  # a finished flatten (flat, nothing resting) becomes a pause
    return state, Effects(commands=commands, decision=decision, equity=equity)


def settle_if_due(  # noqa: PLR0917  <why: the policy's inputs, as a deciding step holds them>
    policy: SettlePolicy,
    state: BotState,
    account: VenueAccount,
    ts: int,
    position: int,
    commands: tuple[VenueCommand, ...],
) -> tuple[VenueCommand, ...]:
    """The settle-PnL policy after a decision, for every bot kind: ``commands`` with a ``SettlePnl`` appended when
    ``settle_due`` says so (the settlement follows the decision's orders). Keeps the policy's clock in ``state``."""
    previous = state.last_position
    if position != previous:  # a write to the state (a msgspec struct) costs more than the compare
        state.last_position = position
    # the policy's cheap conditions first: the unsettled PnL is read only when a close or the schedule is due
    closed = previous != 0 and position == 0
    if closed or ts - state.last_settle_ts >= policy.every_s:
        reason = settle_due(
            unsettled_pnl=account.unsettled_pnl(),
            position_base=position,
            previous_position_base=previous,
            last_settle_ts=state.last_settle_ts,
            now=ts,
            policy=policy,
        )
        if reason is not None:
            state.last_settle_ts = ts
            state.settle_reason = reason.value
            return (*commands, _SETTLE)
    return commands


def open_decision(state: BotState, account: VenueAccount, ts: int) -> int:
    """What every deciding step does first, whatever the bot's kind: number the decision and, at the first decision
    of a UTC day, make the equity it sees the daily-loss reference. Returns that equity.

    The reference is never below 0 (the Risk Governor refuses a negative one, ``RiskInputs.validate``): an account
    a liquidation left under water (losses beyond its collateral) has nothing left to lose that day, and a
    reference of 0 is the governor's "no reference" (no daily-loss limit to measure)."""
    state.decision_seq += 1
    equity = account.equity()
    if ts // ONE_DAY_S != state.day:
        state.day, state.day_start_equity = ts // ONE_DAY_S, max(0, equity)
    return equity


def _report(state: BotState, report: VenueReport, account: VenueAccount) -> tuple[BotState, Effects]:
    """Record every event and feed the order events to the connector's lifecycle in one pass (``apply_events``:
    recording does not read the connector, so the order is immaterial)."""
    if report.open_orders is not None:
        state.connector = resync(state.connector, report.open_orders)
        state.resyncs += 1
    records: list[Record] = []
    updates: list[OrderUpdate] = []
    for event in report.events:
        update = _record(state, event, records)
        if update is not None:
            updates.append(update)
    needs_resync = False
    if updates:
        try:
            state.connector = apply_events(state.connector, updates)
        except IllegalTransition:
            needs_resync = True  # the connector stays as it was; the venue's open orders come back to resync it
    flat = state.flags.flatten and not needs_resync and not state.connector.orders
    if flat and account.position.base_asset_amount == 0:
        state.flags = _PAUSED  # a finished flatten (flat, nothing resting) becomes a pause
    if not records and not needs_resync:
        return state, NOTHING
    return state, Effects(records=tuple(records), resync=needs_resync)


def _record(state: BotState, event: VenueEvent, records: list[Record]) -> OrderUpdate | None:  # noqa: PLR0911, PLR0912, PLR0915  <why: a flat exhaustive match, one return per event kind; hot path>
    match event:
        case OrderAccepted():
            state.order_seq += 1
            reason, decision_seq = state.causes.pop(event.user_order_id, _NO_CAUSE)
            row = OrderRow(
                event.ts,
                state.order_seq,
                event.user_order_id,
                "placed",
                event.side._value_,
                event.price,
                event.base,
                event.post_only,
                event.reduce_only,
                reason,
                decision_seq,
            )
            state.placed[event.user_order_id] = row
            state.orders_placed += 1
            records.append(row)
            return OrderUpdate(event.user_order_id, _ACK)
        case OrderRejected():
            untracked_cancel = (
                event.side is None
                and event.reason is RejectReason.UNKNOWN_ORDER
                and _order_state(state, event.user_order_id) is None
            )
            state.order_seq += 1
            # a refused cancel echoes no order (side None): the id's pending placement, if any, is still pending
            _, decision_seq = state.causes.pop(event.user_order_id, _NO_CAUSE) if event.side is not None else _NO_CAUSE
            records.append(
                OrderRow(
                    event.ts,
                    state.order_seq,
                    event.user_order_id,
                    "rejected",
                    event.side._value_ if event.side is not None else "",
                    event.price,
                    event.base,
                    event.post_only,
                    event.reduce_only,
                    event.reason._value_,
                    decision_seq,
                )
            )
            if untracked_cancel:  # a cancel that landed after a fill or expiry took the order: nothing to change
                return None
            return OrderUpdate(event.user_order_id, _REJECT)
        case OrderCancelled():
            uid = event.user_order_id
            raced = state.raced
            reason = CANCEL_IN_FLIGHT if raced and uid in raced else event.reason._value_
            raced.discard(uid)
            _closed(state, records, event.ts, uid, "cancelled", reason=reason)
            return OrderUpdate(uid, _CANCEL)
        case OrderExpired():
            _closed(state, records, event.ts, event.user_order_id, "expired", reason="max_ts")
            return OrderUpdate(event.user_order_id, _EXPIRE)
        case Fill():
            placed = state.placed.get(event.user_order_id)
            records.append(
                FillRow(
                    event.ts,
                    placed.order_id if placed is not None else 0,
                    event.side._value_,
                    event.price,
                    event.base,
                    event.quote,
                    event.fee,
                    event.liquidity._value_,
                    event.reduce_only,
                )
            )
            uid = event.user_order_id
            raced = state.raced
            if _order_state(state, uid) is OrderState.PENDING_CANCEL:
                raced.add(uid)
            if event.complete:
                reason = CANCEL_IN_FLIGHT if raced and uid in raced else ""
                raced.discard(uid)
                _closed(state, records, event.ts, uid, "filled", reason=reason)
                return OrderUpdate(uid, _FILL, event.order_filled_base)
            return OrderUpdate(uid, _PARTIAL_FILL, event.order_filled_base)
        case FundingPaid():
            records.append(FundingRow(event.ts, event.position_base, event.rate, event.payment))
            return None
        case Liquidated():
            if event.base:  # the transfer is a fill of the position at the oracle (order id 0)
                side = "buy" if event.base > 0 else "sell"
                quote = fill_quote_delta(event.base, event.price)
                records.append(
                    FillRow(event.ts, 0, side, event.price, abs(event.base), quote, event.fee, "taker", True)
                )
            return None
        case PnlSettled():
            if event.amount:  # nothing moved: nothing to record
                records.append(SettleRow(event.ts, event.amount, state.settle_reason))
            state.settle_reason = ""
            return None
        case CommandRejected():
            if event.command == "SettlePnl":  # the live venue names the refused command by its type
                state.settle_reason = ""
            return None
        case BalanceChanged():
            return None
        case SpotFill():
            records.append(
                SpotFillRow(
                    event.ts,
                    event.spot_market_index,
                    event.side._value_,
                    event.price,
                    event.base,
                    event.quote,
                    event.fee,
                )
            )
            return None
        case InterestAccrued():
            if event.amount:  # nothing accrued: nothing to record
                records.append(InterestRow(event.ts, event.spot_market_index, event.amount))
            return None
        case _ as unreachable:
            assert_never(unreachable)


def _order_state(state: BotState, uid: int) -> OrderState | None:
    """The connector's state of order ``uid`` (None: not tracked, or no longer)."""
    for order in state.connector.orders:
        if order.user_order_id == uid:
            return order.state
    return None


def _closed(state: BotState, records: list[Record], ts: int, uid: int, what: str, *, reason: str) -> None:
    """The row of an order leaving the book: its placed row with the event, time and reason (and the placed
    row's ``decision_seq``: the decision that placed it)."""
    placed = state.placed.pop(uid, None)
    if placed is not None:
        records.append(msgspec.structs.replace(placed, ts=ts, event=what, reason=reason))


def _reconcile(state: BotState, item: Reconcile) -> tuple[BotState, Effects]:
    """Adopt the venue's open orders after a (re)start and restart the ramp-in clock there (see ``Reconcile``)."""
    state.connector = resync(ConnectorState.initial(item.ts), item.open_orders)
    known = {row.user_order_id: row for row in item.known}
    records: list[Record] = []
    for order in item.open_orders:
        row = known.get(order.user_order_id)
        if row is None:
            state.order_seq += 1
            row = OrderRow(
                item.ts,
                state.order_seq,
                order.user_order_id,
                "adopted",
                order.side.value,
                order.price,
                order.base,
                order.post_only is not PostOnlyMode.NONE,
                order.reduce_only,
                "restart",
            )
            records.append(row)
        state.placed[order.user_order_id] = row
    return state, Effects(records=tuple(records))
