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

from botrunner.backtest.records import FillRow, FundingRow, OrderRow, SnapshotRow
from botrunner.config import BotConfig
from botrunner.core.precision import BPS_PRECISION
from botrunner.funding import ONE_DAY_S, market_funding_rate, next_funding_ts
from botrunner.marketdata.candles import Candles
from botrunner.marketdata.feed import bar_path, tick_offsets
from botrunner.marketdata.funding import DriftFundingRecord
from botrunner.paper.config import PaperConfig
from botrunner.paper.venue import PaperVenue
from botrunner.pipeline import BotDefinition, BotState, MarketUpdate, observe_price
from botrunner.runtime.session import BotSession


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


class _Run:
    """The mutable state of one backtest run (shell-side): the bot's session and the running figures. It is the
    session's record sink."""

    def __init__(self, inputs: BacktestInputs, result: BacktestResult) -> None:
        self.inputs = inputs
        self.result = result
        self.bot = BotDefinition.from_config(inputs.bot)
        self.session: BotSession | None = None
        self.day = -1
        self.day_start_equity = 0
        self.funding_rate = 0  # the last funding rate seen (1e9), what the Risk Governor's guardrail reads
        self.keep = inputs.keep_rows

    def start(self, venue: PaperVenue, state: BotState) -> BotSession:
        self.session = BotSession(self.bot, venue, state, self)
        return self.session

    # -------------------------------------------------------------- records (RecordSink)

    def on_order(self, row: OrderRow) -> None:
        self.result.order_rows += 1
        if self.keep:
            self.result.orders.append(row)

    def on_fill(self, row: FillRow) -> None:
        self.result.fill_count += 1
        if self.keep:
            self.result.fills.append(row)

    def on_funding(self, row: FundingRow) -> None:
        if self.keep:
            self.result.funding.append(row)

    # -------------------------------------------------------------- the decision at a bar close

    def decide_at(self, venue: PaperVenue, ts: int, price: int, interval_s: int) -> None:
        session = self.session
        assert session is not None
        equity = venue.equity()
        if ts // ONE_DAY_S != self.day:
            self.day = ts // ONE_DAY_S
            self.day_start_equity = equity
        update = MarketUpdate(ts=ts, mark=price, oracle=venue.oracle, oracle_ts=ts, funding_rate=self.funding_rate)
        decision = session.decide(update, self.day_start_equity, equity)
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
        if not self.keep:
            return
        orders = session.state.connector.orders
        bids = sorted((o.price for o in orders if o.side.sign > 0), reverse=True)
        asks = sorted(o.price for o in orders if o.side.sign < 0)
        ledger = venue.ledger
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
    venue = PaperVenue(
        inputs.bot.market_spec,
        inputs.paper,
        deposit_quote=inputs.bot.capital_quote,
        oracle_price=first.open,
        now=first.ts,
    )
    session = run.start(venue, state)
    route = session.route
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
                    route(venue.apply_funding(rec.ts, rec.rate_long, rec.rate_short))
                    cursor += 1
            elif formula is not None:
                rate = formula.due(ts)
                if rate is not None:
                    run.funding_rate = rate
                    route(venue.apply_funding(ts, rate, rate))
                formula.observe(ts, price, price)
            route(venue.on_price(ts, price, price, bar_ts=bar.ts, bar_volume=bar.volume))
            result.ticks += 1
            if offset == close_offset:
                session.state = observe_price(bot, session.state, bar.ts + interval, bar.close)
                run.decide_at(venue, ts, price, interval)
        result.bars += 1
        if progress is not None and (n % step == 0 or n == total - 1):
            progress(n + 1, total)
    result.orders_placed = session.orders_placed
    result.resyncs = session.resyncs
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
