"""The backtest loop: real history through the bot's own decision step and the paper venue, at full speed.

No actor and no mailbox: the loop calls ``botrunner.pipeline.decide`` directly with a replay clock, exactly the step
the live runtime calls. Per bar (see ``botrunner.marketdata.feed`` for the path rule):

1. funding updates whose time has come are applied first (at equal ``ts``, funding settles the hour just ended);
2. the bar's four path points (open, nearer extreme, farther extreme, close at 0, 1/4, 1/2, 3/4 of the bar) go to
   the venue, which expires orders, fills the makers the path trades through (bounded by the bar's volume share)
   and checks liquidation; every venue event is routed to the connector's order lifecycle;
3. at the close point the strategy sees the close, the bot decides (strategy -> Risk Governor -> Execution
   Governor -> connector) against the venue's account, and its commands go to the venue at once.

Warm-up: bars before ``start`` only feed the strategy's price history (no orders, no account).
Funding: Drift's hourly records when given; otherwise Drift's formula from the hour's mark and oracle TWAPs (the
time-weighted mean of the path points), clamped by the market's tier (``botrunner.funding``).
Oracle: the path price (Drift's oracle tracks the Binance perp within ~14 bp median over the bundled window).

The loop is deterministic: no clock, no randomness. The only side effect is the optional progress callback.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import assert_never

import msgspec

from botrunner.backtest.records import FillRow, FundingRow, OrderRow, SnapshotRow
from botrunner.config import BotConfig
from botrunner.connector import ConnectorState, IllegalTransition, OrderEvent, OrderUpdate, apply_event, resync
from botrunner.connector.commands import Command
from botrunner.core.precision import BPS_PRECISION
from botrunner.funding import ONE_DAY_S, market_funding_rate, next_funding_ts
from botrunner.margin.what_if import fill_quote_delta
from botrunner.marketdata.candles import Candles
from botrunner.marketdata.feed import bar_path, tick_offsets
from botrunner.marketdata.funding import DriftFundingRecord
from botrunner.paper.config import PaperConfig
from botrunner.paper.venue import PaperVenue
from botrunner.pipeline import AccountView, BotDefinition, BotState, MarketUpdate, decide, observe_price
from botrunner.venue.port import (
    BalanceChanged,
    CommandRejected,
    Fill,
    FundingPaid,
    Liquidated,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderRejected,
    PnlSettled,
    VenueEvent,
)


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
    time_in_state_s: dict[str, int] = field(default_factory=dict)
    time_in_reason_s: dict[str, int] = field(default_factory=dict)
    starting_equity: int = 0
    ending_equity: int = 0
    first_ts: int = 0
    last_ts: int = 0
    venue: PaperVenue | None = None
    resyncs: int = 0


class _OrderBook:
    """The placed row of every order the venue holds, by user_order_id (for its cancel/expiry/fill rows)."""

    __slots__ = ("placed", "seq")

    def __init__(self) -> None:
        self.seq = 0  # a run-wide order id: user_order_ids are recycled (1..255)
        self.placed: dict[int, OrderRow] = {}


class _Run:
    """The mutable state of one backtest run (shell-side)."""

    def __init__(self, inputs: BacktestInputs, result: BacktestResult) -> None:
        self.inputs = inputs
        self.result = result
        self.bot = BotDefinition.from_config(inputs.bot)
        self.book = _OrderBook()
        self.venue: PaperVenue | None = None
        self.state: BotState | None = None
        self.day = -1
        self.day_start_equity = 0
        self.funding_rate = 0  # the last funding rate seen (1e9), what the Risk Governor's guardrail reads
        self.keep = inputs.keep_rows

    # -------------------------------------------------------------- venue events -> connector + records

    def route(self, events: list[VenueEvent] | tuple[VenueEvent, ...]) -> None:
        """Record every event, and feed the order events to the connector's lifecycle. An event the lifecycle
        refuses makes the connector adopt the venue's open orders (the venue is the truth); the events after it
        are still recorded."""
        assert self.state is not None and self.venue is not None
        connector: ConnectorState | None = self.state.connector
        for event in events:
            update = self._record(event)
            if update is not None and connector is not None:
                try:
                    connector = apply_event(connector, update)
                except IllegalTransition:
                    connector = None
        if connector is None:
            connector = resync(self.state.connector, self.venue.open_orders())
            self.result.resyncs += 1
        self.state.connector = connector

    def _record(self, event: VenueEvent) -> OrderUpdate | None:
        res = self.result
        book = self.book
        match event:
            case OrderAccepted():
                book.seq += 1
                row = OrderRow(
                    event.ts,
                    book.seq,
                    event.user_order_id,
                    "placed",
                    event.side.value,
                    event.price,
                    event.base,
                    event.post_only,
                    event.reduce_only,
                    "",
                )
                book.placed[event.user_order_id] = row
                res.orders_placed += 1
                self._order(row)
                return OrderUpdate(event.user_order_id, OrderEvent.ACK)
            case OrderRejected():
                book.seq += 1
                self._order(
                    OrderRow(
                        event.ts,
                        book.seq,
                        event.user_order_id,
                        "rejected",
                        event.side.value if event.side is not None else "",
                        event.price,
                        event.base,
                        event.post_only,
                        event.reduce_only,
                        event.reason.value,
                    )
                )
                return OrderUpdate(event.user_order_id, OrderEvent.REJECT)
            case OrderCancelled():
                self._closed(event.ts, event.user_order_id, "cancelled", event.reason.value)
                return OrderUpdate(event.user_order_id, OrderEvent.CANCEL)
            case OrderExpired():
                self._closed(event.ts, event.user_order_id, "expired", "max_ts")
                return OrderUpdate(event.user_order_id, OrderEvent.EXPIRE)
            case Fill():
                placed = book.placed.get(event.user_order_id)
                self._fill(
                    FillRow(
                        event.ts,
                        placed.order_id if placed is not None else 0,
                        event.side.value,
                        event.price,
                        event.base,
                        event.quote,
                        event.fee,
                        event.liquidity.value,
                        event.reduce_only,
                    )
                )
                if event.complete:
                    self._closed(event.ts, event.user_order_id, "filled", "")
                    return OrderUpdate(event.user_order_id, OrderEvent.FILL, event.order_filled_base)
                return OrderUpdate(event.user_order_id, OrderEvent.PARTIAL_FILL, event.order_filled_base)
            case FundingPaid():
                self._funding(FundingRow(event.ts, event.position_base, event.rate, event.payment))
                return None
            case Liquidated():
                if event.base:  # the transfer is a fill of the position at the oracle (order id 0)
                    side = "buy" if event.base > 0 else "sell"
                    quote = fill_quote_delta(event.base, event.price)
                    self._fill(
                        FillRow(event.ts, 0, side, event.price, abs(event.base), quote, event.fee, "taker", True)
                    )
                return None
            case PnlSettled() | BalanceChanged() | CommandRejected():
                return None
            case _ as unreachable:
                assert_never(unreachable)

    def _order(self, row: OrderRow) -> None:
        self.result.order_rows += 1
        if self.keep:
            self.result.orders.append(row)

    def _fill(self, row: FillRow) -> None:
        self.result.fill_count += 1
        if self.keep:
            self.result.fills.append(row)

    def _funding(self, row: FundingRow) -> None:
        if self.keep:
            self.result.funding.append(row)

    def _closed(self, ts: int, uid: int, what: str, reason: str) -> None:
        """The row of an order leaving the book: its placed row with the event, time and reason."""
        placed = self.book.placed.pop(uid, None)
        if placed is not None:
            self._order(msgspec.structs.replace(placed, ts=ts, event=what, reason=reason))

    # -------------------------------------------------------------- the decision at a bar close

    def decide_at(self, ts: int, price: int, interval_s: int) -> None:
        assert self.state is not None and self.venue is not None
        venue = self.venue
        equity = venue.equity()
        if ts // ONE_DAY_S != self.day:
            self.day = ts // ONE_DAY_S
            self.day_start_equity = equity
        update = MarketUpdate(ts=ts, mark=price, oracle=venue.oracle, oracle_ts=ts, funding_rate=self.funding_rate)
        account = AccountView(
            position_base=venue.position.base_asset_amount,
            equity=equity,
            day_start_equity=self.day_start_equity,
            projection=venue.margin_view(),
        )
        self.state, decision = decide(self.bot, self.state, update, account)
        self.result.decisions += 1
        action = decision.verdict.action.value
        res = self.result
        res.time_in_state_s[action] = res.time_in_state_s.get(action, 0) + interval_s
        for reason in {f.reason.value for f in decision.verdict.findings}:
            res.time_in_reason_s[reason] = res.time_in_reason_s.get(reason, 0) + interval_s
        for command in decision.commands:
            self.submit(command, ts)
        snap = decision.snapshot
        bids = sorted((o.price for o in self.state.connector.orders if o.side.sign > 0), reverse=True)
        asks = sorted(o.price for o in self.state.connector.orders if o.side.sign < 0)
        ledger = venue.ledger
        res.min_health = min(res.min_health, snap.health)
        if snap.liquidation_price is not None and snap.position_base != 0:
            distance = abs(venue.oracle - snap.liquidation_price) * 1_000_000 // venue.oracle
            res.min_liq_distance = distance if res.min_liq_distance is None else min(res.min_liq_distance, distance)
        self.track_equity(equity)
        if not self.keep:
            return
        res.snapshots.append(
            SnapshotRow(
                ts=ts,
                mark=price,
                oracle=venue.oracle,
                position_base=snap.position_base,
                entry_price=snap.entry_price,
                collateral=snap.total_collateral_maintenance,
                unrealized_pnl=venue.unrealized(),
                unsettled_pnl=venue.unsettled_pnl(),
                settled_pnl=ledger.settled,
                equity=equity,
                health=snap.health,
                leverage=snap.leverage,
                liq_price=snap.liquidation_price,
                risk_state=action,
                range_low=decision.strategy.range_low,
                range_high=decision.strategy.range_high,
                band_min=decision.verdict.band.min_base,
                band_max=decision.verdict.band.max_base,
                bid_prices=tuple(bids),
                ask_prices=tuple(asks),
                realized=ledger.realized,
                funding=ledger.funding,
                fees=ledger.fees,
            )
        )

    def track_equity(self, equity: int) -> None:
        res = self.result
        res.peak_equity = max(res.peak_equity, equity)
        if res.peak_equity > 0 and equity < res.peak_equity:
            fall = -(-(res.peak_equity - equity) * BPS_PRECISION // res.peak_equity)
            res.max_drawdown_bps = max(res.max_drawdown_bps, fall)

    def submit(self, command: Command, ts: int) -> None:
        assert self.venue is not None
        self.route(self.venue.submit(command, ts))


class _FormulaFunding:
    """Drift's funding from the path when no records are given: at each hourly boundary, the rate from the hour's
    time-weighted mark and oracle means (``botrunner.funding.market_funding_rate``)."""

    def __init__(self, inputs: BacktestInputs, first_ts: int) -> None:
        self.spec = inputs.bot.market_spec
        self.period = self.spec.funding_period
        self.next_ts = first_ts - first_ts % self.period + self.period
        self.mark_sum = 0
        self.oracle_sum = 0
        self.weight = 0
        self.last: tuple[int, int, int] | None = None  # ts, mark, oracle

    def observe(self, ts: int, mark: int, oracle: int) -> None:
        if self.last is not None:
            dt = ts - self.last[0]
            self.mark_sum += self.last[1] * dt
            self.oracle_sum += self.last[2] * dt
            self.weight += dt
        self.last = (ts, mark, oracle)

    def due(self, ts: int) -> int | None:
        """The rate settled at the boundary ``ts`` has reached (None if none is due)."""
        if ts < self.next_ts:
            return None
        if self.last is not None:
            self.observe(self.next_ts, self.last[1], self.last[2])
        rate = None
        if self.weight > 0:
            rate = market_funding_rate(self.spec, self.mark_sum // self.weight, self.oracle_sum // self.weight)
        self.mark_sum = self.oracle_sum = self.weight = 0
        self.next_ts = next_funding_ts(self.next_ts, self.period)
        return rate


def run_backtest(inputs: BacktestInputs, progress: Callable[[int, int], None] | None = None) -> BacktestResult:
    """Run the bot over ``[inputs.start, inputs.end)``. ``progress(done_bars, total_bars)`` is called now and
    then (never from the pure core)."""
    candles = inputs.candles
    bars = candles.bars
    interval = candles.interval_s
    offsets = tick_offsets(interval)
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
    for bar in bars:  # warm-up: the strategy's history only
        if bar.ts >= first.ts:
            break
        state = observe_price(bot, state, bar.ts + interval, bar.close)
    run.state = state
    venue = PaperVenue(
        inputs.bot.market_spec,
        inputs.paper,
        deposit_quote=inputs.bot.capital_quote,
        oracle_price=first.open,
        now=first.ts,
    )
    run.venue = venue
    result.venue = venue
    result.starting_equity = venue.equity()
    run.track_equity(result.starting_equity)
    result.first_ts = first.ts
    records = inputs.funding
    cursor = 0
    if records is not None:
        while cursor < len(records) and records[cursor].ts < first.ts:
            run.funding_rate = records[cursor].rate  # the rate in force when trading starts (no look-ahead)
            cursor += 1
    formula = _FormulaFunding(inputs, first.ts) if records is None else None
    total = len(traded)
    step = max(1, total // 200)
    close_offset = offsets[-1]
    for n, bar in enumerate(traded):
        for offset, (_, price) in zip(offsets, bar_path(bar), strict=True):
            ts = bar.ts + offset
            if records is not None:
                while cursor < len(records) and records[cursor].ts <= ts:
                    rec = records[cursor]
                    run.funding_rate = rec.rate
                    run.route(venue.apply_funding(rec.ts, rec.rate_long, rec.rate_short))
                    cursor += 1
            elif formula is not None:
                rate = formula.due(ts)
                if rate is not None:
                    run.funding_rate = rate
                    run.route(venue.apply_funding(ts, rate, rate))
                formula.observe(ts, price, price)
            run.route(venue.on_price(ts, price, price, bar_ts=bar.ts, bar_volume=bar.volume))
            result.ticks += 1
            if offset == close_offset:
                run.state = observe_price(bot, run.state, bar.ts + interval, bar.close)
                run.decide_at(ts, price, interval)
        result.bars += 1
        if progress is not None and (n % step == 0 or n == total - 1):
            progress(n + 1, total)
    result.last_ts = traded[-1].ts + interval
    result.ending_equity = venue.equity()
    run.track_equity(result.ending_equity)
    return result


def pnl_split(result: BacktestResult) -> dict[str, int]:
    """realized + unrealized + funding - fees == ending - starting equity, exactly (raises if the books do not
    balance: that would be a simulator bug, never a rounding to hide)."""
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


__all__ = [
    "BacktestError",
    "BacktestInputs",
    "BacktestResult",
    "pnl_split",
    "run_backtest",
]
