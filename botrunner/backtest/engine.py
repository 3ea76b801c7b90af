"""The backtest loop: real history through the bot's own decision step and the paper venue, at full speed.

No actor and no mailbox: the loop feeds the market's event stream (``botrunner.runtime.market``: each bar's four
path points with the funding settlements between them) to ``botrunner.runtime.paper_bot.PaperBot``: the paper
venue and the bot's driver (``botrunner.bot.driver``), the very ones a paper bot actor runs, which steps the bot
(``botrunner.bot.step``) at each bar close. This module only keeps the running figures and rows a report needs.

Warm-up: bars before ``start`` only feed the strategy's price history (no orders, no account).
The loop is deterministic: no clock, no randomness. The only side effect is the optional progress callback.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from botrunner.bot.driver import BotDriver, step_for
from botrunner.bot.pipeline import BotDefinition, BotState
from botrunner.bot.step import CANCEL_IN_FLIGHT, Effects, FundingSettled
from botrunner.bot.step import PricePoint as PriceSeen
from botrunner.bot.validity import DecisionMode
from botrunner.config import BotConfig
from botrunner.core.catalogue import load_catalogue
from botrunner.core.precision import BPS_PRECISION, SOL_SPOT_MARKET_INDEX
from botrunner.core.records import (
    FillRow,
    FundingRow,
    InterestRow,
    LegsRow,
    OrderRow,
    SettleRow,
    SnapshotRow,
    SpotFillRow,
)
from botrunner.margin.spot_balance import token_value
from botrunner.marketdata.candles import Candles
from botrunner.marketdata.funding import DriftFundingRecord
from botrunner.paper.config import PaperConfig
from botrunner.paper.latency import LatentVenue
from botrunner.paper.venue import PaperVenue
from botrunner.runtime.market import PricePoint, market_events, rate_in_force
from botrunner.runtime.paper_bot import PaperBot, snapshot_row
from botrunner.venue.port import Venue


class BacktestError(ValueError):
    """Inputs a backtest cannot run on (empty window, missing data for the period, ...)."""


@dataclass(frozen=True)
class BacktestInputs:
    bot: BotConfig
    candles: Candles
    funding: tuple[DriftFundingRecord, ...] | None  # None: Drift's formula from the path's TWAPs
    start: int  # unix s, first bar traded (bars before it warm the strategy up)
    end: int  # unix s, exclusive
    paper: PaperConfig = field(default_factory=PaperConfig)
    keep_rows: bool = True  # False: count rows and keep the running figures only (benchmarks, long fleets)
    settle_pnl: bool = True  # False: the settle-PnL policy off (proves what settlement changes; see docs/backtests.md)
    # True: every bar that reuses the last decision is also decided in full and compared; the first difference
    # raises ``botrunner.bot.validity.DecisionMismatch`` (the proof of the event-driven decisions)
    decision_check: bool = False


@dataclass
class BacktestResult:
    inputs: BacktestInputs
    bars: int = 0
    ticks: int = 0
    decisions: int = 0
    orders_placed: int = 0
    fill_count: int = 0
    order_rows: int = 0
    min_health: int = 100
    min_liq_distance: int | None = None  # 1e-4 % of the oracle, over bar closes with a position
    peak_equity: int = 0
    max_drawdown_bps: int = 0
    fills: list[FillRow] = field(default_factory=list)
    funding: list[FundingRow] = field(default_factory=list)
    orders: list[OrderRow] = field(default_factory=list)
    snapshots: list[SnapshotRow] = field(default_factory=list)
    settlements: list[SettleRow] = field(default_factory=list)
    time_in_state_s: dict[str, int] = field(default_factory=dict)
    time_in_reason_s: dict[str, int] = field(default_factory=dict)
    starting_equity: int = 0
    ending_equity: int = 0
    first_ts: int = 0
    last_ts: int = 0
    venue: PaperVenue | None = None
    resyncs: int = 0
    races: list[OrderRow] = field(default_factory=list)  # closing rows of orders filled while our cancel flew
    # two-leg bots (kept whatever keep_rows says: one legs row per decision, a handful of fills)
    spot_fills: list[SpotFillRow] = field(default_factory=list)
    interest: list[InterestRow] = field(default_factory=list)
    legs: list[LegsRow] = field(default_factory=list)


class _Run:
    """The mutable state of one backtest run (shell-side): the bot's driver and the running figures. It is the
    driver's record sink."""

    def __init__(self, inputs: BacktestInputs, result: BacktestResult) -> None:
        self.inputs = inputs
        self.result = result
        decisions = DecisionMode.CHECK if inputs.decision_check else DecisionMode.EVENT_DRIVEN
        self.bot = BotDefinition.from_config(inputs.bot, settle=inputs.settle_pnl, decisions=decisions)
        self.driver: BotDriver | None = None
        self.keep = inputs.keep_rows

    def start(self, venue: Venue, state: BotState) -> BotDriver:
        self.driver = BotDriver(self.bot, venue, state, self)
        return self.driver

    # -------------------------------------------------------------- records (RecordSink)

    def on_order(self, row: OrderRow) -> None:
        self.result.order_rows += 1
        if row.reason == CANCEL_IN_FLIGHT:
            self.result.races.append(row)  # kept always: the report lists them
        if self.keep:
            self.result.orders.append(row)

    def on_fill(self, row: FillRow) -> None:
        self.result.fill_count += 1
        if self.keep:
            self.result.fills.append(row)

    def on_funding(self, row: FundingRow) -> None:
        if self.keep:
            self.result.funding.append(row)

    def on_settle(self, row: SettleRow) -> None:
        self.result.settlements.append(row)  # kept always: a few per day at most (the policy's schedule)

    def on_spot_fill(self, row: SpotFillRow) -> None:
        self.result.spot_fills.append(row)

    def on_interest(self, row: InterestRow) -> None:
        self.result.interest.append(row)

    def on_legs(self, row: LegsRow) -> None:
        self.result.legs.append(row)

    # -------------------------------------------------------------- the decision at a bar close

    def record_decision(self, venue: PaperVenue, point: PricePoint, effects: Effects) -> None:
        interval_s = point.interval_s
        driver = self.driver
        decision = effects.decision
        assert driver is not None and decision is not None
        equity = effects.equity
        res = self.result
        res.decisions += 1
        action = decision.verdict.action.value
        res.time_in_state_s[action] = res.time_in_state_s.get(action, 0) + interval_s
        for reason in {f.reason.value for f in decision.verdict.findings}:
            res.time_in_reason_s[reason] = res.time_in_reason_s.get(reason, 0) + interval_s
        snap = decision.snapshot
        res.min_health = min(res.min_health, snap.health)
        if snap.liquidation_price is not None and snap.position_base != 0:
            distance = abs(venue.oracle - snap.liquidation_price) * 1_000_000 // venue.oracle
            res.min_liq_distance = distance if res.min_liq_distance is None else min(res.min_liq_distance, distance)
        self.track_equity(equity)
        if self.keep:
            res.snapshots.append(snapshot_row(venue, driver, effects))

    def track_equity(self, equity: int) -> None:
        res = self.result
        res.peak_equity = max(res.peak_equity, equity)
        if res.peak_equity > 0 and equity < res.peak_equity:
            fall = -(-(res.peak_equity - equity) * BPS_PRECISION // res.peak_equity)
            res.max_drawdown_bps = max(res.max_drawdown_bps, fall)


def run_backtest(
    inputs: BacktestInputs,
    progress: Callable[[int, int], None] | None = None,
    *,
    on_equity: Callable[[int, int, int], None] | None = None,
) -> BacktestResult:
    """Run the bot over ``[inputs.start, inputs.end)``. ``progress(done_bars, total_bars)`` is called now and
    then (never from the pure core). ``on_equity(done_bars, total_bars, equity)`` is called after every bar's
    decision with the account's equity at that close (quote 1e6): what an optimiser's pruning and early rejection
    watch. Either may raise to abandon the run."""
    candles = inputs.candles
    bars = candles.bars
    interval = candles.interval_s
    traded = [b for b in bars if inputs.start <= b.ts and b.ts + interval <= inputs.end]
    if not traded:
        raise BacktestError(
            f"no {interval}s bars of {candles.source} fall inside the window [{inputs.start}, {inputs.end}) "
            f"(data covers {bars[0].ts if bars else '-'}..{bars[-1].ts + interval if bars else '-'})"
        )
    result = BacktestResult(inputs=inputs)
    run = _Run(inputs, result)
    bot = run.bot
    first = traded[0]
    state = bot.initial_state(started_at=first.ts)
    bot_step = step_for(bot)
    venue = PaperVenue(
        inputs.bot.market_spec,
        inputs.paper,
        deposit_quote=inputs.bot.capital_quote,
        oracle_price=first.open,
        now=first.ts,
    )
    for bar in bars:  # warm-up: the strategy's history only
        if bar.ts >= first.ts:
            break
        state, _ = bot_step(bot, state, PriceSeen(bar.ts + interval, bar.close), venue)
    state, _ = bot_step(bot, state, FundingSettled(first.ts, rate_in_force(inputs.funding, first.ts)), venue)
    latency = LatentVenue(venue, inputs.paper.latency_slots) if inputs.paper.latency_slots else None
    driver = run.start(venue if latency is None else latency, state)
    paper = PaperBot(driver, venue, latency)
    result.venue = venue
    result.starting_equity = venue.equity()
    run.track_equity(result.starting_equity)
    result.first_ts = first.ts
    total = len(traded)
    step = max(1, total // 200)
    on_event = paper.on_event
    for event in market_events(traded, interval, inputs.bot.market_spec, inputs.funding):
        decided = on_event(event)
        if type(event) is not PricePoint:
            continue
        result.ticks += 1
        if decided is None:
            continue
        run.record_decision(venue, event, decided)
        n = result.bars
        result.bars += 1
        if on_equity is not None:
            on_equity(n + 1, total, decided.equity)
        if progress is not None and (n % step == 0 or n == total - 1):
            progress(n + 1, total)
    paper.flush()  # what is still in flight lands at the last prices
    result.orders_placed = driver.state.orders_placed
    result.resyncs = driver.state.resyncs
    result.last_ts = traded[-1].ts + interval
    result.ending_equity = venue.equity()
    run.track_equity(result.ending_equity)
    return result


def pnl_split(result: BacktestResult) -> dict[str, int]:
    """realized + unrealized + funding - fees == ending - starting equity, exactly (raises if the books do not
    balance: that would be a simulator bug, never a rounding to hide)."""
    if result.inputs.bot.strategy.two_legs:
        return legs_split(result)
    venue = result.venue
    assert venue is not None
    ledger = venue.ledger
    split = {
        "realized": ledger.realized,
        "unrealized": venue.unrealized(),
        "funding": ledger.funding,
        "fees": ledger.fees,
    }
    total = split["realized"] + split["unrealized"] + split["funding"] - split["fees"]
    net_flows = ledger.deposits - ledger.withdrawals - result.inputs.bot.capital_quote
    if total + net_flows != result.ending_equity - result.starting_equity:
        raise AssertionError(
            f"PnL split {split} sums to {total} but equity moved {result.ending_equity - result.starting_equity}"
        )
    split["total"] = total
    return split


def legs_split(result: BacktestResult) -> dict[str, int]:
    """A two-leg bot's split: the perp's (realized, unrealized, funding, fees) plus the spot leg's trading PnL
    (its SOL from trades at the last oracle plus the quote of its fills, before fees), its fees, the interest
    (USDC earned plus the SOL earned at the last oracle) and the transaction costs of its trades. Sums to the
    equity change exactly, or raises."""
    venue = result.venue
    assert venue is not None
    ledger = venue.ledger
    sol = venue.spot_balance(SOL_SPOT_MARKET_INDEX)
    decimals = load_catalogue().spot(SOL_SPOT_MARKET_INDEX).decimals
    oracle = venue.oracle
    traded_sol_value = token_value(sol - ledger.interest_sol, decimals, oracle)
    split = {
        "realized": ledger.realized,
        "unrealized": venue.unrealized(),
        "funding": ledger.funding,
        "fees": ledger.fees,
        "spot_trading": traded_sol_value + sum(row.quote for row in result.spot_fills),
        "spot_fees": ledger.spot_fees,
        "interest": ledger.interest_usdc + token_value(sol, decimals, oracle) - traded_sol_value,
        "tx_costs": ledger.tx_costs,
    }
    total = (
        split["realized"]
        + split["unrealized"]
        + split["funding"]
        - split["fees"]
        + split["spot_trading"]
        - split["spot_fees"]
        + split["interest"]
        - split["tx_costs"]
    )
    net_flows = ledger.deposits - ledger.withdrawals - result.inputs.bot.capital_quote
    if total + net_flows != result.ending_equity - result.starting_equity:
        raise AssertionError(
            f"two-leg PnL split {split} sums to {total} but equity moved "
            f"{result.ending_equity - result.starting_equity}"
        )
    split["total"] = total
    return split


__all__ = [
    "BacktestError",
    "BacktestInputs",
    "BacktestResult",
    "pnl_split",
    "run_backtest",
]
