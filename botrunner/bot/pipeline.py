"""One bot's decision for one market update: strategy -> Risk Governor -> Execution Governor -> connector.

This is the pure heart of the bot's step (``botrunner.bot.step``): no I/O, no clock, no threads. Paper, backtest and
live bots all run it; they differ only in where the market update and the account come from and where the commands
go.

    update + account ─► Strategy.decide ─► RiskGovernor.evaluate ─► ExecutionGovernor.decide ─► connector.plan
                         (band, rungs)      (verdict, findings)      (HALT/DEFEND/REDUCE/GRID)   (commands)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from botrunner.bot.settle import SettlePolicy
from botrunner.bot.validity import DecisionMode, DecisionValidity
from botrunner.config import BotConfig
from botrunner.config.paper import MarketRates
from botrunner.connector import Command, ConnectorState, MarketQuote, plan
from botrunner.core.catalogue import load_catalogue
from botrunner.core.directive import ExecutionDirective
from botrunner.core.intents import ExposureBand, StrategyDecision
from botrunner.core.margin_view import MarginProjection, MarginSnapshot
from botrunner.core.markets import PerpMarketSpec, SpotMarketSpec
from botrunner.core.policy import ExecutionPolicy
from botrunner.core.precision import BPS_PRECISION, SOL_SPOT_MARKET_INDEX
from botrunner.core.records import LegsRow, OrderRow
from botrunner.core.verdict import Verdict
from botrunner.margin.interest import rates_at
from botrunner.marketdata.rates import RateSeries, load_rate_series
from governors.execution import decide as execution_decide
from governors.legs_gates import CostGateConfig, CostGateResult
from governors.risk import RiskInputs, RiskState, evaluate
from governors.risk_legs import LegsLimits, LegsVerdict
from governors.risk_limits import RiskLimits
from strategies.base import MarketView, PriceMemory, Strategy
from strategies.carry import CarryState
from strategies.carry_settings import CarrySettings
from strategies.delta_neutral import DeltaNeutralConfig, DeltaNeutralState


class DepositRates(msgspec.Struct, frozen=True, kw_only=True):
    """The SOL deposit APR the carry engine counts (1e6 = 100 % a year), from the interest source the paper venue
    accrues with (``paper.interest.sol``): the rate series' deposit APR in force at a time (none before its first
    row: 0, as the venue accrues nothing there), or Drift's curve at the configured utilisation (net of the
    insurance share, ``botrunner.margin.interest.rates_at``). No interest configured: 0, the truth of a venue that
    pays none."""

    series: RateSeries | None = None
    curve_apr: int = 0
    source: str = "none"

    @classmethod
    def of(cls, rates: MarketRates | None) -> DepositRates:
        """The deposit rates of a validated ``MarketRates`` (a series file is read here, once)."""
        if rates is None:
            return cls()
        if rates.series is not None:
            return cls(series=load_rate_series(Path(rates.series)), source=f"rate series {rates.series}")
        assert rates.curve is not None and rates.utilization is not None  # MarketRates.validate
        point = rates_at(rates.curve, rates.utilization)
        return cls(curve_apr=point.deposit_rate, source=f"curve at utilisation {rates.utilization}/1e6")

    def at(self, ts: int) -> int:
        """The deposit APR in force at ``ts`` (1e6)."""
        if self.series is None:
            return self.curve_apr
        sample = self.series.at(ts)
        return 0 if sample is None else sample.deposit_apr


class LegsSetup(msgspec.Struct, frozen=True, kw_only=True):
    """A two-leg bot's parts (the delta-neutral engine, ``botrunner.bot.legs``): the strategy's rules, the carry
    engine's settings, the SOL deposit APR source and the spot market hedged against the perp."""

    rules: DeltaNeutralConfig
    carry: CarrySettings
    risk: LegsLimits
    cost: CostGateConfig
    spot: SpotMarketSpec
    deposit: DepositRates = DepositRates()


class LegsState(msgspec.Struct, kw_only=True):
    """A two-leg bot's strategy state: the rules' own (the leg-mismatch halt), the carry engine's state (smoothed
    funding, stance, since when), the reason of the PlaceLegs sent and not yet answered, and the last decision's
    row (what ctl shows)."""

    rules: DeltaNeutralState = msgspec.field(default_factory=DeltaNeutralState)
    carry: CarryState = msgspec.field(default_factory=CarryState)
    unfolded: tuple[tuple[int, int], ...] = ()  # funding prints (ts, rate) not yet folded into ``carry``
    stance_reason: str = ""  # the carry engine's last StanceReason (what ctl and legs.csv show)
    break_even_s: int | None = None  # the last estimate's time to break even (None: never or no estimate)
    pending: str = ""
    last: LegsRow | None = None
    cost: CostGateResult | None = None  # the cost gate's last answer (what ctl shows)
    risk: LegsVerdict | None = None  # the two-leg Risk Governor's last verdict (an operator's refused open shows it)


class LegsStrategy:
    """The Strategy a two-leg bot's definition holds: it keeps the two-leg state; its decisions are made by the
    two-leg step (``botrunner.bot.legs``), never by the perp pipeline."""

    def initial_state(self) -> LegsState:
        return LegsState()

    def on_price(self, state: LegsState, ts: int, price: int) -> LegsState:
        del ts, price  # the rules read the account and the carry stance, not a price history
        return state

    def decide(self, state: LegsState, view: MarketView) -> StrategyDecision:
        raise TypeError("a two-leg bot decides in botrunner.bot.legs, not through the perp pipeline")

    def price_memory(self) -> PriceMemory | None:
        return None


class BotDefinition:
    """What a bot is made of, built once from its configuration. Immutable after construction."""

    __slots__ = ("decisions", "legs", "limits", "market", "name", "policy", "settle", "strategy")

    def __init__(
        self,
        name: str,
        market: PerpMarketSpec,
        strategy: Strategy[Any],
        policy: ExecutionPolicy,
        limits: RiskLimits,
        *,
        settle: SettlePolicy | None = None,
        legs: LegsSetup | None = None,
        decisions: DecisionMode = DecisionMode.EVENT_DRIVEN,
    ) -> None:
        self.name = name
        self.market = market
        self.strategy = strategy
        self.policy = policy
        self.limits = limits
        self.settle = settle  # None: the bot never settles PnL (the off switch that proves settlement's effect)
        self.legs = legs  # a two-leg bot (the driver steps it with botrunner.bot.legs.legs_step)
        # when a perp bot decides in full (``botrunner.bot.validity``); a two-leg bot always decides in full
        self.decisions = decisions

    def with_decisions(self, decisions: DecisionMode) -> BotDefinition:
        """This definition deciding in ``decisions`` mode (the check mode's switch)."""
        return BotDefinition(
            self.name,
            self.market,
            self.strategy,
            self.policy,
            self.limits,
            settle=self.settle,
            legs=self.legs,
            decisions=decisions,
        )

    @classmethod
    def from_config(
        cls, bot: BotConfig, *, settle: bool = True, decisions: DecisionMode = DecisionMode.EVENT_DRIVEN
    ) -> BotDefinition:
        """The definition of a validated bot configuration; ``settle=False`` turns the settle-PnL policy off;
        ``decisions`` says when a perp bot decides in full (``botrunner.bot.validity``)."""
        policy = SettlePolicy.of(bot) if settle else None
        if bot.strategy.two_legs:
            legs = LegsSetup(
                rules=bot.strategy.delta_neutral,
                carry=bot.strategy.carry,
                risk=bot.strategy.legs_risk,
                cost=bot.strategy.cost_gate,
                spot=load_catalogue().spot(SOL_SPOT_MARKET_INDEX),
                deposit=DepositRates.of(bot.paper.interest.sol if bot.paper.interest is not None else None),
            )
            strategy: Strategy[Any] = LegsStrategy()
            return cls(bot.name, bot.market_spec, strategy, bot.execution, bot.risk, settle=policy, legs=legs)
        return cls(
            bot.name,
            bot.market_spec,
            bot.strategy.build(),
            bot.execution,
            bot.risk,
            settle=policy,
            decisions=decisions,
        )

    def initial_state(self, started_at: int, memory: BotMemory | None = None) -> BotState:
        """A bot's state at ``started_at``: a fresh strategy, risk and connector, and what it carried from its last
        run (``memory``, from a checkpoint) or nothing."""
        state = BotState(
            strategy=self.strategy.initial_state(),
            risk=RiskState(),
            connector=ConnectorState.initial(started_at),
        )
        if memory is not None:
            state.remember(memory)
        return state


class OperatorFlags(msgspec.Struct, frozen=True, kw_only=True):
    """What an operator has asked of a bot (``botrunner ctl``). ``flatten`` closes the position reduce-only: the
    strategy's band is replaced by a flat one, and the step pauses the bot once it is flat with nothing resting."""

    pause: bool = False
    reduce_only: bool = False
    flatten: bool = False
    # The operator's open (``botrunner.bot.operator_position``), kept until a close or a flatten: a perp bot's
    # signed target position (its band, replacing the strategy's), or the SOL a two-leg bot holds hedged (1e9).
    target_base: int | None = None


NO_OPERATOR = OperatorFlags()


class BotMemory(msgspec.Struct, frozen=True, kw_only=True):
    """What a bot carries from one run to the next (its checkpoint), beside the venue, which is the truth: the
    operator's flags, the funding rate in force, the daily-loss reference (UTC day and its starting equity), the
    order and decision numbers, and the settle policy's clock (last settlement, position at the last check)."""

    flags: OperatorFlags = NO_OPERATOR
    funding_rate: int = 0
    day: int = -1
    day_start_equity: int = 0
    order_seq: int = 0
    decision_seq: int = 0
    last_settle_ts: int = 0
    last_position: int = 0
    last_rebalance_ts: int | None = None  # two-leg bots: the last SUCCESSFUL rebalance (its fills reported)
    legs_halted: bool = False  # two-leg bots: the leg-mismatch halt, cleared only by an operator
    # two-leg bots: the carry engine's state. The stance's clocks (since when in/out, adverse since when) decide the
    # minimum hold and the re-entry cooldown, and the EWMA is the history of every print since the start: a restart
    # without them could exit inside a hold or re-enter inside a cooldown, so the checkpoint keeps them.
    carry: CarryState | None = None


class BotState(msgspec.Struct, kw_only=True):
    """Everything a bot carries between steps: one value, owned by one bot (the step updates it in place).

    ``strategy`` is the strategy's own state and may be mutable (see ``strategies.grid.GridState``); the risk and
    connector states are immutable and replaced each step. The rest is the bot's own bookkeeping: what
    ``memory()`` checkpoints, and two tables rebuilt after a restart (``placed`` from the store's open-order rows
    by the reconciliation, ``causes`` empty: an order sent and never answered is resynced from the venue)."""

    strategy: Any
    risk: RiskState
    connector: ConnectorState
    flags: OperatorFlags = NO_OPERATOR
    funding_rate: int = 0  # the last settled rate (1e9 per hour), what the funding guardrail reads
    day: int = -1  # the daily-loss reference: unix day of the first decision of the UTC day (-1: none yet)
    day_start_equity: int = 0  # ... and the equity that decision saw
    order_seq: int = 0  # a bot-wide order id: user_order_ids are recycled (1..255)
    decision_seq: int = 0  # the number of the bot's last decision (restored, so numbers never repeat)
    last_settle_ts: int = 0
    last_position: int = 0  # the position at the settle policy's last check (a close is a settle reason)
    settle_reason: str = ""  # the reason of the settlement sent and not yet reported
    # (PlanReason value, decision_seq) of each order sent and not yet accepted or rejected, by user_order_id. A
    # live venue may report the acceptance a tick later; an order never reported stays until its id is reused,
    # so this holds at most 255 entries.
    causes: dict[int, tuple[str, int]] = msgspec.field(default_factory=dict)
    placed: dict[int, OrderRow] = msgspec.field(default_factory=dict)  # placed row of each order the venue holds
    orders_placed: int = 0
    resyncs: int = 0
    # orders a fill reached while our cancel of them was in flight (paper latency, live): their closing row says so
    raced: set[int] = msgspec.field(default_factory=set)
    last_rebalance_ts: int | None = None  # two-leg bots (see BotMemory)
    legs_halted: bool = False
    # what the last full decision stays valid for (``botrunner.bot.validity``); None: the next bar decides in full.
    # Never checkpointed: a restart decides in full.
    valid: DecisionValidity | None = None

    def memory(self) -> BotMemory:
        """What a checkpoint keeps of this state."""
        return BotMemory(
            flags=self.flags,
            funding_rate=self.funding_rate,
            day=self.day,
            day_start_equity=self.day_start_equity,
            order_seq=self.order_seq,
            decision_seq=self.decision_seq,
            last_settle_ts=self.last_settle_ts,
            last_position=self.last_position,
            last_rebalance_ts=self.last_rebalance_ts,
            legs_halted=self.legs_halted,
            carry=self.strategy.carry if isinstance(self.strategy, LegsState) else None,
        )

    def remember(self, memory: BotMemory) -> None:
        """Take what a checkpoint kept (``memory()``)."""
        self.flags = memory.flags
        self.funding_rate = memory.funding_rate
        self.day = memory.day
        self.day_start_equity = memory.day_start_equity
        self.order_seq = memory.order_seq
        self.decision_seq = memory.decision_seq
        self.last_settle_ts = memory.last_settle_ts
        self.last_position = memory.last_position
        self.last_rebalance_ts = memory.last_rebalance_ts
        self.legs_halted = memory.legs_halted
        if memory.legs_halted and isinstance(self.strategy, LegsState):  # the halt survives a restart
            self.strategy.rules = DeltaNeutralState(halted=True)
        if memory.carry is not None and isinstance(self.strategy, LegsState):  # so do the stance and its clocks
            self.strategy.carry = memory.carry


class MarketUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """A market-data event for the bot's market. Prices 1e6; ``funding_rate`` 1e9 per hour (+ = longs pay)."""

    ts: int
    mark: int
    oracle: int
    oracle_ts: int
    funding_rate: int = 0
    best_bid: int | None = None
    best_ask: int | None = None


class AccountView(msgspec.Struct, frozen=True, kw_only=True):
    """The bot's account as the venue last reported it, with the margin engine's what-if behind it."""

    position_base: int  # signed 1e9
    equity: int  # quote 1e6: total collateral (maintenance) is what the bot could walk away with
    day_start_equity: int
    projection: Any  # MarginProjection (a Protocol; msgspec cannot type-check protocols)


FLAT_BAND = ExposureBand(0, 0, 0)


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    """The full, explainable record of one decision: what was wanted, what risk allowed, what was sent."""

    ts: int
    mark: int
    oracle: int
    position_base: int
    snapshot: MarginSnapshot
    strategy: StrategyDecision
    verdict: Verdict
    directive: ExecutionDirective
    commands: tuple[Command, ...]


def observe_price(bot: BotDefinition, state: BotState, ts: int, price: int) -> BotState:
    """Feed one price observation to the strategy (its state is updated in place and returned)."""
    state.strategy = bot.strategy.on_price(state.strategy, ts, price)
    return state


def range_stress_bps(decision: StrategyDecision, mark: int) -> int | None:
    """The strategy's range width as a fraction of mark: a stress move the Risk Governor should survive."""
    if decision.range_low <= 0 or decision.range_high <= decision.range_low:
        return None
    return min(BPS_PRECISION - 1, (decision.range_high - decision.range_low) * BPS_PRECISION // mark)


def strategy_decision(bot: BotDefinition, state: BotState, mark: int, oracle: int, position: int) -> StrategyDecision:
    """What the strategy wants at ``mark`` / ``oracle`` with ``position`` (before any operator override)."""
    view = MarketView(mark=mark, oracle=oracle, position_base=position, market=bot.market, policy=bot.policy)
    return bot.strategy.decide(state.strategy, view)


def decide(
    bot: BotDefinition,
    state: BotState,
    update: MarketUpdate,
    account: AccountView,
    operator: OperatorFlags = NO_OPERATOR,
) -> tuple[BotState, Decision]:
    """Run the whole pipeline once. Returns the next state and the decision record (with the commands to send)."""
    risk_state, connector, decision = decide_parts(bot, state, update, account, operator)
    return msgspec.structs.replace(state, risk=risk_state, connector=connector), decision


def decide_parts(
    bot: BotDefinition,
    state: BotState,
    update: MarketUpdate,
    account: AccountView,
    operator: OperatorFlags = NO_OPERATOR,
    *,
    wanted: StrategyDecision | None = None,
) -> tuple[RiskState, ConnectorState, Decision]:
    """``decide`` for a caller that owns ``state`` (the step): the next risk and connector states, without copying
    the rest of the bot's state. ``wanted``: the strategy's decision for this update when the caller already asked
    for it (``strategy_decision``), so the strategy is asked once."""
    projection: MarginProjection = account.projection
    snapshot = projection.current()
    if wanted is None:
        wanted = strategy_decision(bot, state, update.mark, update.oracle, account.position_base)
    if operator.flatten:  # the strategy still sees every price; only its wish is overridden
        wanted = msgspec.structs.replace(wanted, band=FLAT_BAND, levels=(), note="operator_flatten")
    elif operator.target_base is not None:  # the operator's open: a band the Risk Governor sees like any other
        target = operator.target_base
        wanted = msgspec.structs.replace(
            wanted, band=ExposureBand(target, target, target), levels=(), note="operator_open"
        )
    risk_inputs = RiskInputs(
        now=update.ts,
        mark_price=update.mark,
        oracle_price=update.oracle,
        oracle_ts=update.oracle_ts,
        funding_rate=update.funding_rate,
        day_start_equity=account.day_start_equity,
        equity=account.equity,
        requested=wanted.band,
        snapshot=snapshot,
        stress_move_bps=range_stress_bps(wanted, update.mark),
        operator_pause=operator.pause,
        operator_reduce_only=operator.reduce_only or operator.flatten,
    )
    risk_state, verdict = evaluate(state.risk, risk_inputs, bot.limits, projection, bot.market)
    directive = execution_decide(verdict, account.position_base)
    planned = plan(
        state.connector,
        directive=directive,
        policy=bot.policy,
        market=bot.market,
        quote=MarketQuote(
            mark_price=update.mark, oracle_price=update.oracle, best_bid=update.best_bid, best_ask=update.best_ask
        ),
        position_base=account.position_base,
        now=update.ts,
        levels=wanted.levels,
    )
    return (
        risk_state,
        planned.state,
        Decision(
            ts=update.ts,
            mark=update.mark,
            oracle=update.oracle,
            position_base=account.position_base,
            snapshot=snapshot,
            strategy=wanted,
            verdict=verdict,
            directive=directive,
            commands=planned.commands,
        ),
    )
