"""The two-leg path of the bot's step (the delta-neutral engine, issue 19): ``legs_step`` has ``step``'s signature
and the driver chooses it once, from the definition (``BotDefinition.legs``), so the grid's step is untouched.

A deciding input (bar close, tick, operator) builds the rules' view (spot SOL via ``account.spot_balance(1)``, the
perp base, ``state.last_rebalance_ts``, the carry stance, prices), asks ``strategies.delta_neutral.decide_legs``,
puts the result through the operator's flags and this path's pre-trade checks, and sends at most ONE ``PlaceLegs``:
the perp leg a MARKET order sized exactly with its worst-price limit at mark +- the slippage tolerance, the spot
leg a ``SpotOrder`` with its limit at oracle +- the tolerance. The venue checks the account after both legs
(margin, leverage) and books both or neither.

``last_rebalance_ts`` is set when the legs' fills are reported, never when the command is sent: a
``CommandRejected(command="PlaceLegs")`` leaves it, so a failed rebalance does not start the cooldown.

Every decision yields a ``LegsRow`` (drift, net delta, correction, carry, reason, the block); spot fills and
interest are recorded by the shared ``_record``. Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import assert_never

import msgspec

from botrunner.bot.operator_position import legs_refusal, legs_target, next_flags
from botrunner.bot.pipeline import BotDefinition, BotState, Decision, LegsSetup, LegsState, OperatorFlags
from botrunner.bot.step import (
    NOTHING,
    BarClose,
    BotInput,
    Effects,
    FundingSettled,
    Operator,
    PricePoint,
    Reconcile,
    Record,
    Tick,
    VenueReport,
    _record,
    open_decision,
    settle_if_due,
    step,
)
from botrunner.connector.orders import OrderIntent, OrderType
from botrunner.core.directive import ExecutionDirective, ExecutionMode
from botrunner.core.intents import ExposureBand, TwoLegDecision
from botrunner.core.policy import PostOnlyMode
from botrunner.core.precision import (
    BASE_PRICE_TO_QUOTE,
    BPS_PRECISION,
    QUOTE_SPOT_MARKET_INDEX,
    SOL_SPOT_MARKET_INDEX,
)
from botrunner.core.records import FillRow, LegsRow
from botrunner.core.side import Side
from botrunner.core.verdict import RiskAction, Verdict
from botrunner.margin.legs import LegsWhatIf
from botrunner.margin.view import AccountMarginView
from botrunner.venue.port import (
    CommandRejected,
    Fill,
    PlaceLegs,
    SpotFill,
    SpotOrder,
    VenueAccount,
    VenueCommand,
)
from governors.legs_gates import CostInputs, check_cost
from governors.risk_legs import LegsRequest, LegsVerdict, check_legs
from strategies.carry import (
    APR_PRECISION,
    CarryEstimate,
    CarryPosition,
    CarryState,
    estimate,
    observe_funding,
    stance,
)
from strategies.delta_neutral import (
    CarryInput,
    LegsNote,
    LegsView,
    decide_legs,
    entry_base,
    exit_decision,
    leg_step,
)

_PAUSED = OperatorFlags(pause=True)
# What an entry reserves for the spot leg's fee on top of its worst price: Drift's tier-1 spot taker fee (10 bp,
# protocol-v2 FeeStructure::spot_default). The paper venue never borrows USDC for a spot buy, so an entry sized
# beyond the USDC balance would be refused whole at every bar.
SPOT_FEE_ALLOWANCE_BPS = 10
PERP_LEG_ORDER_ID = 255  # the one user_order_id a two-leg bot uses: its perp leg is immediate, never resting
_TRADES = frozenset(
    {
        LegsNote.ENTER.value,
        LegsNote.EXIT.value,
        LegsNote.REBALANCE_EXPAND_SHORT.value,
        LegsNote.REBALANCE_REDUCE_SHORT.value,
        LegsNote.DELEVER.value,
    }
)


def legs_step(  # noqa: PLR0911  <why: one flat exhaustive match over the input union, as step's>
    bot: BotDefinition, state: BotState, item: BotInput, account: VenueAccount
) -> tuple[BotState, Effects]:
    """``step`` for a two-leg bot (module doc)."""
    legs = bot.legs
    assert legs is not None, "legs_step needs a two-leg definition"
    match item:
        case VenueReport():
            return _report(state, item, account)
        case BarClose():
            return _decide(bot, legs, state, account, ts=item.ts, mark=item.price, oracle=item.oracle, settle=True)
        case FundingSettled():
            state.funding_rate = item.rate
            ls: LegsState = state.strategy
            # the engine reads funding as a fraction of the oracle; the print carries no oracle, so it is folded in
            # at the next decision, at that decision's oracle (the next bar close: within the hour of the print)
            ls.unfolded = (*ls.unfolded, (item.ts, item.rate))
            return state, NOTHING
        case PricePoint():
            return state, NOTHING  # the rules keep no price history
        case Tick():
            state.funding_rate = item.funding_rate
            return _decide(bot, legs, state, account, ts=item.ts, mark=item.oracle, oracle=item.oracle, settle=True)
        case Operator():
            before = state.flags
            state.flags = next_flags(state.flags, item.command)
            state, effects = _decide(
                bot, legs, state, account, ts=item.ts, mark=item.mark, oracle=item.oracle, settle=False
            )
            return state, legs_refusal(bot, state, item.command, before, effects)  # an open is all or nothing
        case Reconcile():
            return step(bot, state, item, account)
        case _ as unreachable:
            assert_never(unreachable)


def _decide(  # noqa: PLR0912, PLR0915  <why: one decision, its gates in order, read top-down>
    bot: BotDefinition,
    legs: LegsSetup,
    state: BotState,
    account: VenueAccount,
    *,
    ts: int,
    mark: int,
    oracle: int,
    settle: bool,
) -> tuple[BotState, Effects]:
    equity = open_decision(state, account, ts)
    ls: LegsState = state.strategy
    spot = account.spot_balance(SOL_SPOT_MARKET_INDEX)
    perp = account.position.base_asset_amount
    view = LegsView(
        spot_base=spot,
        perp_base=perp,
        oracle=oracle,
        mark=mark,
        now=ts,
        last_rebalance_ts=state.last_rebalance_ts,
        equity_quote=equity,
        market=bot.market,
        spot_market=legs.spot,
        carry=CarryInput(in_market=False),
    )
    for print_ts, rate in ls.unfolded:
        last = ls.carry.last_funding_ts
        if last is not None and print_ts <= last:
            # a print the engine has already folded in (a replayed settlement, or a checkpoint's carry state meeting
            # the feed's history again): smoothing it twice would weigh one hour as two
            continue
        ls.carry = observe_funding(ls.carry, legs.carry, print_ts, rate, oracle)
    ls.unfolded = ()
    # the venue's own rate when it has one (live: the chain's SpotMarket on Drift's curve), else the configured source
    chain = account.spot_rates(SOL_SPOT_MARKET_INDEX)
    deposit_apr = chain.deposit_rate if chain is not None else legs.deposit.at(ts)
    carry_in = _carry(legs, ls, view, ts=ts, oracle=oracle, rate=state.funding_rate, deposit_apr=deposit_apr)
    view = msgspec.structs.replace(view, carry=carry_in)
    ls.rules, wanted, numbers = decide_legs(legs.rules, ls.rules, view)
    wanted = legs_target(state.flags, wanted, spot=spot, perp=perp, rules=legs.rules)  # an operator's open
    state.legs_halted = ls.rules.halted
    flags = state.flags
    decision: TwoLegDecision = wanted
    blocked = ""
    if flags.flatten:
        decision = exit_decision()
    action = RiskAction.APPROVE
    commands: tuple[VenueCommand, ...] = ()
    if decision.note in _TRADES:
        if flags.pause:
            blocked, action = "operator_pause", RiskAction.PAUSE
        elif flags.reduce_only and decision.note != LegsNote.EXIT.value:
            blocked, action = "operator_reduce_only", RiskAction.REDUCE_ONLY
        elif ls.pending:
            blocked = "legs_in_flight"  # one PlaceLegs at a time: its outcome decides the next
        else:
            if decision.note == LegsNote.ENTER.value:
                decision, clamped = _fund_entry(legs, bot, decision, account, oracle)
                if clamped:
                    action = RiskAction.CLAMP
            spot_delta, perp_delta = _deltas(bot, legs, decision, spot=spot, perp=perp)
            if spot_delta == 0 and perp_delta == 0:
                blocked = "below_min_order"
            else:
                verdict = _risk(bot, legs, account, spot, perp, spot_delta, perp_delta, numbers.mismatch_bound_base)
                ls.risk = verdict
                if verdict.action is not RiskAction.APPROVE:
                    action = verdict.action
                spot_delta, perp_delta = _deltas_of(bot, legs, verdict.spot_delta, verdict.perp_delta, held=spot)
                cost = check_cost(
                    legs.cost,
                    CostInputs(
                        perp_base=perp,
                        perp_delta=perp_delta,
                        spot_base=spot,
                        spot_delta=spot_delta,
                        oracle=oracle,
                        funding_rate=state.funding_rate,
                        deposit_apr_bps=deposit_apr * BPS_PRECISION // APR_PRECISION,
                    ),
                )
                ls.cost = cost
                if spot_delta == 0 and perp_delta == 0:
                    reasons = ",".join(r.value for r in verdict.reasons)
                    blocked = f"risk_{verdict.action.value.lower()}:{reasons}" if reasons else "below_min_order"
                elif cost.blocked:
                    blocked = "cost_gate"
                else:
                    commands = (_command(bot, legs, decision.note, spot_delta, perp_delta, perp, mark, oracle, ts),)
                    ls.pending = decision.note
    elif decision.note == LegsNote.HALTED_LEG_MISMATCH.value:
        action = RiskAction.PAUSE
    row = LegsRow(
        ts,
        state.decision_seq,
        mark,
        oracle,
        spot,
        perp,
        numbers.net_delta_base,
        numbers.drift_bps,
        legs.rules.drift_tolerance_bps,
        numbers.correction_base,
        decision.spot_band.preferred_base,
        decision.band.preferred_base,
        carry_in.carry_apr_now_bps,
        carry_in.carry_apr_smoothed_bps,
        carry_in.in_market,
        decision.note if decision.note != LegsNote.OUT_OF_MARKET.value else f"out_of_market:{carry_in.reason}",
        blocked,
        bool(commands),
        ls.break_even_s,
        carry_in.reason,
    )
    ls.last = row
    if flags.flatten and not commands and perp == 0 and abs(spot) < max(legs.spot.min_order_size, 1):
        state.flags = _PAUSED  # a finished flatten (both legs closed) becomes a pause, as for a perp bot
    if settle and bot.settle is not None:
        commands = settle_if_due(bot.settle, state, account, ts, perp, commands)
    record = Decision(
        ts=ts,
        mark=mark,
        oracle=oracle,
        position_base=perp,
        snapshot=account.margin_view().current(),
        strategy=decision,
        verdict=Verdict(action, decision.band),
        directive=ExecutionDirective(
            mode=ExecutionMode.GRID if action is RiskAction.APPROVE else ExecutionMode.HALT,
            band=decision.band,
            reasons=(decision.note,),
        ),
        commands=(),
    )
    return state, Effects(commands=commands, records=(row,), decision=record, equity=equity)


def _carry(
    legs: LegsSetup, ls: LegsState, view: LegsView, *, ts: int, oracle: int, rate: int, deposit_apr: int
) -> CarryInput:
    """The carry engine's stance at this decision (``strategies.carry``) as the rules read it.

    The estimate is for the position the bot holds (its spot leg) or, out of the market, the one it would enter
    (the rules' entry size), against the cost gate's entry + exit costs of that size (fees, slippage, transaction
    costs of both legs both ways). "Now" is the same estimate on the last print alone (what the smoothing hides).
    ``always_in`` overrides the answer, never the engine's state: the stance it records is what it would do.
    """
    size = abs(view.spot_base) if view.spot_base else entry_base(legs.rules, view)
    notional = size * oracle // BASE_PRICE_TO_QUOTE
    costs = check_cost(
        legs.cost,
        CostInputs(perp_base=0, perp_delta=-size, spot_base=0, spot_delta=size, oracle=oracle, funding_rate=0),
    ).cost_quote
    smoothed = estimate(ls.carry, legs.carry, notional=notional, deposit_apr=deposit_apr, costs=costs)
    ls.carry, decision = stance(ls.carry, legs.carry, now=ts, hedged=smoothed)
    ls.stance_reason = decision.reason.value
    ls.break_even_s = None if smoothed is None else smoothed.break_even_s
    last = observe_funding(CarryState(), legs.carry, ts, rate, oracle)
    now = estimate(last, legs.carry, notional=notional, deposit_apr=deposit_apr, costs=costs)
    in_market = decision.position is CarryPosition.HEDGED
    reason = decision.reason.value
    if legs.carry.always_in:
        in_market, reason = True, f"always_in({reason})"
    return CarryInput(
        in_market=in_market,
        reason=reason,
        carry_apr_now_bps=_bps(now),
        carry_apr_smoothed_bps=_bps(smoothed),
        break_even_hours=None if ls.break_even_s is None else -(-ls.break_even_s // 3_600),
    )


def _bps(est: CarryEstimate | None) -> int:
    """An estimate's carry APR in bps (rounded down, as the engine rounds), 0 with no estimate."""
    return 0 if est is None else est.carry_apr * BPS_PRECISION // APR_PRECISION


def _fund_entry(
    legs: LegsSetup, bot: BotDefinition, decision: TwoLegDecision, account: VenueAccount, oracle: int
) -> tuple[TwoLegDecision, bool]:
    """An entry no larger than the USDC balance buys at the spot leg's worst price plus its fee (both legs cut to
    the same size on both steps). Returns the decision and whether it was cut."""
    size = decision.spot_band.preferred_base
    limit = _limit(oracle, Side.BUY, legs.carry.slippage_tolerance_bps, legs.spot.order_tick_size or 1)
    usdc = max(0, account.spot_balance(QUOTE_SPOT_MARKET_INDEX))
    affordable = usdc * 10**legs.spot.decimals * BPS_PRECISION // (limit * (BPS_PRECISION + SPOT_FEE_ALLOWANCE_BPS))
    if size <= affordable:
        return decision, False
    step = leg_step(bot.market, legs.spot)
    cut = affordable // step * step
    band = ExposureBand(-cut, -cut, -cut)
    spot_band = ExposureBand(cut, cut, cut)
    return msgspec.structs.replace(decision, band=band, spot_band=spot_band), True


def _limit(price: int, side: Side, tolerance_bps: int, tick: int) -> int:
    """The worst price a leg accepts: ``price`` +- the tolerance, on the tick, never better than ``price``'s
    rounding would allow (buys round up, sells down)."""
    if side is Side.BUY:
        worst = -(-price * (BPS_PRECISION + tolerance_bps) // BPS_PRECISION)
        return -(-worst // tick) * tick
    worst = price * (BPS_PRECISION - tolerance_bps) // BPS_PRECISION
    return max(tick, worst - worst % tick)


def _deltas(bot: BotDefinition, legs: LegsSetup, decision: TwoLegDecision, *, spot: int, perp: int) -> tuple[int, int]:
    """(spot, perp) deltas that take both legs to the decision's targets, each on its step and at least its minimum
    order (else 0). Sizes round toward zero, so an exit never sells SOL that interest has not made a whole step."""
    return _deltas_of(
        bot, legs, decision.spot_band.preferred_base - spot, decision.band.preferred_base - perp, held=spot
    )


def _deltas_of(bot: BotDefinition, legs: LegsSetup, spot_delta: int, perp_delta: int, *, held: int) -> tuple[int, int]:
    """As ``_deltas``, of deltas already computed; a spot sell never exceeds the SOL ``held``: beyond it Drift
    would BORROW SOL (a reversed carry, which a two-leg bot does not run: ``allow_reverse`` is refused), the paper
    venue refuses it, and the live spot sell is reduce-only."""
    spot_delta = max(spot_delta, -max(held, 0))
    market, spot_market = bot.market, legs.spot
    perp_size = abs(perp_delta) // market.step_size * market.step_size
    if perp_size < market.min_order_size:
        perp_size = 0
    spot_step = spot_market.order_step_size or 1
    spot_size = abs(spot_delta) // spot_step * spot_step
    if spot_size < max(spot_market.min_order_size, 1):
        spot_size = 0
    return (spot_size if spot_delta > 0 else -spot_size), (perp_size if perp_delta > 0 else -perp_size)


# What the two-leg what-if charges (bps, rounded up from Drift's tier-1 taker fees: SOL-PERP 3.5 bp, spot 10 bp)
PERP_FEE_ALLOWANCE_BPS = 4


def _risk(  # noqa: PLR0917  <why: both legs now, the trade, and the bound the rules computed>
    bot: BotDefinition,
    legs: LegsSetup,
    account: VenueAccount,
    spot: int,
    perp: int,
    spot_delta: int,
    perp_delta: int,
    bound: int,
) -> LegsVerdict:
    """The Risk Governor's two-leg check (``governors.risk_legs``) on the Drift-exact what-if of the account,
    the legs filled at their worst prices (the slippage tolerance) with Drift's taker fees."""
    view = account.margin_view()
    if not isinstance(view, AccountMarginView):
        raise TypeError(f"the two-leg risk check needs the margin engine's account view, got {type(view).__name__}")
    whatif = LegsWhatIf(
        view.account,
        view.markets,
        bot.market.market_index,
        legs.spot.market_index,
        perp_fee_bps=PERP_FEE_ALLOWANCE_BPS,
        spot_fee_bps=SPOT_FEE_ALLOWANCE_BPS,
        slippage_bps=legs.carry.slippage_tolerance_bps,
    )
    request = LegsRequest(
        spot_base=spot,
        perp_base=perp,
        spot_delta=spot_delta,
        perp_delta=perp_delta,
        mismatch_bound_base=bound,
        leg_step=leg_step(bot.market, legs.spot),
        market=bot.market,
    )
    return check_legs(legs.risk, request, whatif)


def _command(  # noqa: PLR0917  <why: the approved deltas, the perp position and the prices they trade at>
    bot: BotDefinition,
    legs: LegsSetup,
    reason: str,
    spot_delta: int,
    perp_delta: int,
    perp: int,
    mark: int,
    oracle: int,
    ts: int,
) -> PlaceLegs:
    """ONE ``PlaceLegs`` of the approved deltas (at least one nonzero): the perp leg a MARKET order with its
    worst-price limit at mark +- the tolerance, the spot leg an IOC order with its limit at oracle +- it."""
    tolerance = legs.carry.slippage_tolerance_bps
    market = bot.market
    perp_leg = None
    if perp_delta:
        side = Side.BUY if perp_delta > 0 else Side.SELL
        after = perp + perp_delta
        perp_leg = OrderIntent(
            user_order_id=PERP_LEG_ORDER_ID,
            side=side,
            price=_limit(mark, side, tolerance, market.tick_size),
            base=abs(perp_delta),
            post_only=PostOnlyMode.NONE,
            reduce_only=after * perp >= 0 and abs(after) < abs(perp),
            max_ts=0,
            placed_at=ts,
            anchor_price=mark,
            order_type=OrderType.MARKET,
        )
    spot_leg = None
    if spot_delta:
        side = Side.BUY if spot_delta > 0 else Side.SELL
        spot_leg = SpotOrder(
            spot_market_index=legs.spot.market_index,
            side=side,
            base=abs(spot_delta),
            limit_price=_limit(oracle, side, tolerance, legs.spot.order_tick_size or 1),
        )
    return PlaceLegs(spot=spot_leg, perp=perp_leg, reason=reason)


def _report(state: BotState, report: VenueReport, account: VenueAccount) -> tuple[BotState, Effects]:
    """Record the venue's events; a PlaceLegs' fills start the cooldown, its refusal does not."""
    del account  # a two-leg bot rests no orders: nothing to reconcile against the account here
    ls: LegsState = state.strategy
    records: list[Record] = []
    filled = False
    for event in report.events:
        match event:
            case Fill():
                # the perp leg of a PlaceLegs: immediate, never in the connector's book (order id 0: no ladder order)
                records.append(
                    FillRow(
                        event.ts,
                        0,
                        event.side._value_,
                        event.price,
                        event.base,
                        event.quote,
                        event.fee,
                        event.liquidity._value_,
                        event.reduce_only,
                    )
                )
                filled = True
            case SpotFill():
                _record(state, event, records)
                filled = True
            case CommandRejected() if event.command == "PlaceLegs":
                if ls.pending and ls.last is not None:
                    # the decision's outcome: a second row of the same decision, its legs refused whole
                    detail = f"venue_rejected:{event.reason.value}"
                    ls.last = msgspec.structs.replace(ls.last, ts=event.ts, blocked=detail, sent=False)
                    records.append(ls.last)
                ls.pending = ""
            case _:
                _record(state, event, records)
    if filled and ls.pending:
        state.last_rebalance_ts = report.ts
        ls.pending = ""
    if not records:
        return state, NOTHING
    return state, Effects(records=tuple(records))
