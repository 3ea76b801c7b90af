"""The operator's ``open`` and ``close`` (``botrunner ctl open BOT SIZE [SIDE]``, ``ctl close BOT``, the dashboard's
``DRIFT_OPEN_POSITION`` / ``DRIFT_CLOSE_POSITION``), applied by the bot's own step, through its governors.

An operator never sends an order around the bot. The command enters the pure step as an ``Operator`` input and
becomes an operator flag (``OperatorFlags.target_base``) that the step's decision reads like any band:

* **perp bot** (a grid): ``open BOT SIZE SIDE`` replaces the strategy's band by the exact band ``[T, T]``
  (``T`` = +-SIZE), which the Risk Governor checks (leverage cap, max notional, liquidation and health buffers,
  daily loss, funding guardrail ...) and the Execution Governor and connector work as they work any band (the bot's
  own post-only ladder, reduce-only past the target). Before the flag is set, the decision is run dry
  (``perp_refusal``): unless the governor approves the exact band as asked (``APPROVE``), nothing changes and the
  operator gets a ``Refusal`` naming the gate and its numbers. Once set, the target stays until ``close``
  (or ``flatten``): later steps keep it under the governor, which may clamp it if the market moves;
* **two-leg bot** (delta-neutral): ``open BOT SIZE`` holds SIZE SOL hedged: spot +SIZE and SOL-PERP -SIZE, ONE
  two-leg decision (``PlaceLegs``, all or nothing) through the same gates as the engine's own entry: the USDC the
  spot leg needs, the two-leg Risk Governor (``governors.risk_legs.check_legs``: leverage cap, health after the
  trade, the mismatch bound) and the cost gate (``governors.legs_gates``). The target replaces the carry engine's
  stance until ``close``: the legs are worked back to it whenever they leave the rules' drift tolerance. The rules'
  own halts win over it (a leg-mismatch halt, a delever). Any gate that would stop or cut the open
  (``legs_refusal``) withdraws the whole decision: no command, the flags as they were, and a ``Refusal``;
* ``close BOT``: the flatten every bot already has (both legs of a two-leg bot, exactly, through ``exit_decision``;
  a perp bot's position reduce-only), clearing the target; the bot pauses once flat, and the settle-PnL policy
  (``step.settle_if_due``) settles the closed position's PnL at the next deciding step when it is above the
  threshold ($1 by default). ``resume`` hands the bot back to its strategy.

``open`` states a new whole intent: it clears a pause, reduce-only or flatten the operator had set (the governor's
own triggers are untouched). ``pause``, ``reduce-only`` and ``resume`` keep a target (a paused target resumes);
``flatten`` and ``close`` clear it. Live bots: the commands the step asks for pass the live safety gates
(``governors.safety_gates``) like the bot's own: above ``confirm_above_usd`` they wait for ``ctl confirm``.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import Protocol, TypeVar, cast

import msgspec

from botrunner.bot.lifecycle import apply_command
from botrunner.bot.pipeline import (
    AccountView,
    BotDefinition,
    BotState,
    Decision,
    LegsState,
    MarketUpdate,
    OperatorFlags,
    decide_parts,
)
from botrunner.core.intents import ExposureBand, TwoLegDecision
from botrunner.core.operator import ClosePosition, Flatten, ModeCommand, OpenPosition, PositionSide
from botrunner.core.precision import BASE_PRECISION, BPS_PRECISION, decimal_text, to_fixed
from botrunner.core.records import BASE_DECIMALS, QUOTE_DECIMALS, LegsRow
from botrunner.core.verdict import RiskAction
from botrunner.funding import ONE_DAY_S
from botrunner.venue.port import PlaceLegs, VenueAccount, VenueCommand
from strategies.delta_neutral import DeltaNeutralConfig, LegsNote, leg_step


class OpenTarget(msgspec.Struct, frozen=True):
    """The operator's open as the step takes it, in the bot's integers (``OperatorFlags.target_base``): a perp
    bot's signed target position, or the SOL a two-leg bot holds hedged (> 0)."""

    base: int


BotCommand = ModeCommand | OpenTarget | ClosePosition
"""Every operator command the step takes (``step.Operator.command``)."""


class Refusal(msgspec.Struct, frozen=True, kw_only=True):
    """Why an operator's open was not applied: the ``gate`` that stopped it (``risk_governor``, ``cost_gate``,
    ``usdc_balance``, ``leg_size``, ``leg_mismatch_halt``, ``delever``, ``legs_in_flight``, ``below_min_order``,
    ``store_down``: the store cannot record it),
    the governor's action and reasons, and the numbers behind it (name, exact value as text)."""

    gate: str
    action: str = ""
    reasons: tuple[str, ...] = ()
    numbers: tuple[tuple[str, str], ...] = ()

    def describe(self) -> str:
        """One line for the operator: the gate, the action, the reasons and the numbers."""
        parts = [f"gate={self.gate}"]
        if self.action:
            parts.append(f"action={self.action}")
        if self.reasons:
            parts.append(f"reasons={','.join(self.reasons)}")
        parts += [f"{name}={value}" for name, value in self.numbers]
        return " ".join(parts)


class PositionRefused(Exception):
    """An operator's open the bot refused (raised by the actor to the runner, which answers ``refused``)."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.describe())
        self.refusal = refusal


class SizeError(ValueError):
    """An open's size the bot's markets cannot trade as asked; the message names the field and the rule."""


# ------------------------------------------------------------------------------------------------ the command


def resolve_open(bot: BotDefinition, command: OpenPosition) -> OpenTarget:
    """The open in the bot's integers: SIZE exactly (never rounded: what the operator typed is what trades), on the
    market's step (both legs' common step for a two-leg bot) and at least its minimum order. A two-leg bot takes
    no side (it always holds spot long, perp short); a perp bot needs one. Raises ``SizeError``."""
    try:
        size = to_fixed(command.size, BASE_PRECISION, what="size")
    except ValueError as exc:
        raise SizeError(f"{exc} - at `$.args.size`") from None
    market = bot.market
    if bot.legs is not None:
        if command.side is not None:
            raise SizeError(
                f"a two-leg bot's open takes no side: it holds SIZE SOL spot and short SIZE {market.symbol} "
                "- at `$.args.side`"
            )
        step = leg_step(market, bot.legs.spot)
        least = max(market.min_order_size, bot.legs.spot.min_order_size, step)
        signed = size
    else:
        if command.side is None:
            raise SizeError(
                f"a perp bot's open needs a side (long|short) for its {market.symbol} target - at `$.args.side`"
            )
        step = market.step_size
        least = max(market.min_order_size, step)
        signed = size if command.side == PositionSide.LONG else -size  # == : a str from a caller is the same side
    if size % step:
        raise SizeError(f"size {command.size} is not a multiple of the order step {base_text(step)} - at `$.args.size`")
    if size < least:
        raise SizeError(f"size {command.size} is below the minimum order {base_text(least)} - at `$.args.size`")
    return OpenTarget(signed)


def next_flags(flags: OperatorFlags, command: BotCommand) -> OperatorFlags:
    """The operator flags after ``command`` (module doc): an open is a whole new intent with its target; a close is
    a flatten; a mode command keeps the target, except a flatten, which clears it."""
    match command:
        case OpenTarget(base=base):
            return OperatorFlags(target_base=base)
        case ClosePosition():
            return OperatorFlags(flatten=True)
        case Flatten():
            return apply_command(flags, command)
        case _:
            after = apply_command(flags, command)
            return after if flags.target_base is None else msgspec.structs.replace(after, target_base=flags.target_base)


# ------------------------------------------------------------------------------------------------ perp bot


def perp_refusal(
    bot: BotDefinition, state: BotState, command: BotCommand, account: VenueAccount, *, ts: int, mark: int, oracle: int
) -> Refusal | None:
    """A perp bot's open, run dry through the whole decision (strategy -> Risk Governor -> ...) with its target:
    a ``Refusal`` unless the governor approves exactly the band asked; None for any other command. Reads ``state``
    and never writes it (the decision's parts are returned, not stored), so a refused open changes nothing."""
    if not isinstance(command, OpenTarget):
        return None
    equity = account.equity()
    day_start = equity if ts // ONE_DAY_S != state.day else state.day_start_equity  # as the real decision rolls it
    view = AccountView(
        position_base=account.position.base_asset_amount,
        equity=equity,
        day_start_equity=day_start,
        projection=account.margin_view(),
    )
    update = MarketUpdate(ts=ts, mark=mark, oracle=oracle, oracle_ts=ts, funding_rate=state.funding_rate)
    _, _, decision = decide_parts(bot, state, update, view, next_flags(state.flags, command))
    verdict = decision.verdict
    asked = ExposureBand(command.base, command.base, command.base)
    if verdict.action is RiskAction.APPROVE and verdict.band == asked:
        return None
    numbers: list[tuple[str, str]] = [
        ("target_base", base_text(command.base)),
        ("approved_min_base", base_text(verdict.band.min_base)),
        ("approved_max_base", base_text(verdict.band.max_base)),
    ]
    numbers += [(f"{f.reason.value}_{f.unit}", f"{f.value}>{f.limit}") for f in verdict.findings]
    return Refusal(
        gate="risk_governor",
        action=verdict.action.value,
        reasons=tuple(r.value for r in verdict.reasons),
        numbers=tuple(numbers),
    )


# ------------------------------------------------------------------------------------------------ two-leg bot

_RULES_FIRST = frozenset({LegsNote.HALTED_LEG_MISMATCH.value, LegsNote.DELEVER.value})


def legs_target(
    flags: OperatorFlags, wanted: TwoLegDecision, *, spot: int, perp: int, rules: DeltaNeutralConfig
) -> TwoLegDecision:
    """The two-leg decision with the operator's open in force: spot +T and perp -T exactly (growing: an ``enter``, so
    the entry's funding check applies; shrinking: a reduction), or a hold once both legs are within the rules' drift
    tolerance of it (at least their minimum trade). The rules' halts (leg mismatch, delever) and a flatten win."""
    target = flags.target_base
    if target is None or flags.flatten or wanted.note in _RULES_FIRST:
        return wanted
    tolerance = max(rules.min_trade_base, target * rules.drift_tolerance_bps // BPS_PRECISION)
    if abs(spot - target) < tolerance and abs(perp + target) < tolerance:
        note = LegsNote.WITHIN_TOLERANCE
    elif target < spot:
        note = LegsNote.REBALANCE_REDUCE_SHORT  # shrinking both legs needs no USDC: not an entry's funding check
    else:
        # growing: an entry, whose funding check sizes the whole hedge against the USDC balance (conservative when
        # some of it is already held)
        note = LegsNote.ENTER
    return TwoLegDecision(
        band=ExposureBand(-target, -target, -target),
        spot_band=ExposureBand(target, target, target),
        note=note.value,
    )


class _Effects(Protocol):
    @property
    def commands(self) -> tuple[VenueCommand, ...]: ...
    @property
    def records(self) -> tuple[object, ...]: ...
    @property
    def decision(self) -> Decision | None: ...


E = TypeVar("E", bound=_Effects)


def legs_refusal(bot: BotDefinition, state: BotState, command: BotCommand, before: OperatorFlags, effects: E) -> E:
    """A two-leg bot's open is all or nothing: when its decision did not send the whole trade asked (a gate
    blocked it, the governor or the USDC balance cut it, the rules' halt held it), the decision is withdrawn: no
    command, the flags as ``before``, the decision's row marked ``operator_refused:<gate>``, and the effects carry
    the ``Refusal``. Any other command's effects pass unchanged."""
    if not isinstance(command, OpenTarget):
        return effects
    ls: LegsState = state.strategy
    row = next((r for r in reversed(effects.records) if isinstance(r, LegsRow)), None)
    decision = effects.decision
    assert row is not None and decision is not None, "a two-leg decision records its row"
    assert bot.legs is not None, "a two-leg bot's open"
    step = leg_step(bot.market, bot.legs.spot)
    refusal = _legs_gate(ls, row, decision, command.base) or _legs_short(effects.commands, row, command.base, step)
    if refusal is None:
        return effects
    state.flags = before
    if any(isinstance(c, PlaceLegs) for c in effects.commands):
        # this decision's PlaceLegs is withdrawn before it is sent: nothing of it is in flight. (A decision that
        # sent none left ``pending`` as it found it: an earlier PlaceLegs still in flight stays marked.)
        ls.pending = ""
    withdrawn = msgspec.structs.replace(row, blocked=f"operator_refused:{refusal.gate}", sent=False)
    ls.last = withdrawn
    records = tuple(withdrawn if r is row else r for r in effects.records)
    # an operator step sends nothing but its PlaceLegs (it does not settle), so withdrawing it empties the commands
    return cast(
        "E", msgspec.structs.replace(cast("msgspec.Struct", effects), commands=(), records=records, refusal=refusal)
    )


def _legs_gate(ls: LegsState, row: LegsRow, decision: Decision, target: int) -> Refusal | None:  # noqa: PLR0911  <why: one return per gate, in the path's order>
    """Which gate stopped or cut an open's two-leg decision (None: it was sent whole, or nothing was needed)."""
    legs = (
        ("spot_base", base_text(row.spot_base)),
        ("perp_base", base_text(row.perp_base)),
        ("target_base", base_text(target)),
    )
    action = decision.verdict.action
    if row.reason == LegsNote.HALTED_LEG_MISMATCH.value:
        return Refusal(gate="leg_mismatch_halt", action=action.value, numbers=legs)
    if row.reason == LegsNote.DELEVER.value:
        return Refusal(gate="delever", action=action.value, numbers=legs)
    blocked = row.blocked
    if blocked and not blocked.startswith("risk_") and blocked != "cost_gate":
        return Refusal(gate=blocked, action=action.value, numbers=legs)  # stopped before the governors ran
    # the gates in the path's order: the entry's funding (USDC), the two-leg Risk Governor, the cost gate. The
    # governor's verdict is this decision's only when the decision reached it (sent, or blocked by it or after it)
    reached = row.sent or bool(blocked)
    risk = ls.risk if reached else None
    if risk is not None and risk.action is not RiskAction.APPROVE:
        return Refusal(
            gate="risk_governor",
            action=risk.action.value,
            reasons=tuple(r.value for r in risk.reasons),
            numbers=(
                *legs,
                ("leverage_after", _leverage(risk.leverage_after)),
                ("leverage_cap", _leverage(risk.leverage_cap_x10000)),
                ("health_after_pct", str(risk.health_after)),
                ("approved_spot_delta", base_text(risk.spot_delta)),
                ("approved_perp_delta", base_text(risk.perp_delta)),
            ),
        )
    if reached and action is RiskAction.CLAMP:  # cut before the governor: the USDC the spot leg can buy
        return Refusal(
            gate="usdc_balance", action=action.value, numbers=(*legs, ("affordable_base", base_text(row.target_spot)))
        )
    if blocked == "cost_gate" and ls.cost is not None:
        cost = ls.cost
        return Refusal(
            gate="cost_gate",
            action=cost.verdict.value,
            numbers=(
                *legs,
                ("revenue_usd", _usd(cost.revenue_quote)),
                ("cost_usd", _usd(cost.cost_quote)),
                ("horizon_s", str(cost.horizon_s)),
            ),
        )
    if blocked:
        return Refusal(gate=blocked, action=action.value, numbers=legs)
    return None


def _legs_short(commands: tuple[VenueCommand, ...], row: LegsRow, target: int, step: int) -> Refusal | None:
    """A sent PlaceLegs that would not take BOTH legs to the target, within the legs' common ``step`` (a leg below
    its market's minimum order is dropped by the path's rounding, so a small open could trade one leg alone):
    refused, never half-done. (Within a step: interest may leave the spot leg off the step grid.)"""
    for command in commands:
        if isinstance(command, PlaceLegs):
            spot = 0 if command.spot is None else command.spot.side.sign * command.spot.base
            perp = 0 if command.perp is None else command.perp.side.sign * command.perp.base
            if abs(row.spot_base + spot - target) >= step or abs(row.perp_base + perp + target) >= step:
                return Refusal(
                    gate="leg_size",
                    numbers=(
                        ("spot_base", base_text(row.spot_base)),
                        ("perp_base", base_text(row.perp_base)),
                        ("target_base", base_text(target)),
                        ("spot_delta", base_text(spot)),
                        ("perp_delta", base_text(perp)),
                    ),
                )
    return None


# ------------------------------------------------------------------------------------------------ numbers


def base_text(value: int) -> str:
    """A base amount (1e9) as the operator types it: ``1_500_000_000`` -> ``1.5``."""
    return decimal_text(value, BASE_DECIMALS).rstrip("0").rstrip(".") or "0"


def _usd(value: int) -> str:
    return decimal_text(value, QUOTE_DECIMALS)


def _leverage(value: int) -> str:
    return decimal_text(value, 4) + "x"  # LEVERAGE_PRECISION: 1e4 = 1x


def describe_open(command: BotCommand) -> str:
    """The command in the operator's words, for logs and answers."""
    match command:
        case OpenTarget(base=base):
            return f"open {base_text(base)}"
        case ClosePosition():
            return "close"
        case _:
            return command.cmd
