"""The funding-arbitrage backtest: a ``kind: funding_arb`` bot replayed over two venues' history.

The Drift leg is a ``PaperAccount`` (Drift's position bookkeeping, margin engine and liquidation bounds) priced on
Binance's SOL perp 5-minute closes (``../shared/data/README.md``: a faithful intrabar path for Drift SOL-PERP) and
settled with Drift's own hourly funding records. The other leg is ``botrunner.paper.external.ExternalAccount``
priced on that venue's 5-minute closes and settled with its funding at its interval. Half of the capital is
deposited on each venue.

Every 5-minute bar close: funding settlements due are paid on both accounts; an open pair goes through the exit
pipeline (``strategies.arb_exits``); at each hour (when funding is known anew) a flat bot whose breaker allows it
scores the opportunity (``strategies.arb_score``) and applies the entry rule (``strategies.funding_arb``). Opens
and closes run through the leg-out state machine (``governors.leg_out``) against a seeded execution model
(``botrunner.backtest.arb_fills``); every outcome feeds the breaker (``governors.arb_breaker``); the books are
``strategies.arb_portfolio``.

**The score offline.** History has no order book and no quote ages: the depth constraint is checked against the
configured ``depth_usd``; freshness cannot be checked and is taken as passed (a backtest replays closes, there is no
stale quote to trade on); the soft metrics the data cannot give (book imbalance, open interest, VWAP, ATR,
liquidation clusters) are unavailable, so the score is the funding-delta sub-score alone, renormalised. A FAILED
hard constraint still scores 0 and blocks the entry.

Pure of I/O apart from reading nothing: the caller loads the data; the same inputs give the same result, bit for bit.
"""

from __future__ import annotations

import bisect
import random
from collections import Counter
from collections.abc import Callable

import msgspec

from botrunner.backtest.arb_fills import ExecutionModel, ExecutionReport, LegFill, execute
from botrunner.config import BotConfig
from botrunner.core.precision import BPS_PRECISION, PERCENTAGE_PRECISION, quote_value
from botrunner.core.side import Side
from botrunner.funding import ONE_HOUR_S
from botrunner.marketdata.candles import Candles
from botrunner.marketdata.funding import DriftFundingRecord
from botrunner.marketdata.venue_funding import VenueFunding
from botrunner.paper.account import PaperAccount
from botrunner.paper.external import (
    ExternalAccount,
    ExternalMarketRules,
    open_account,
    settle_funding,
    taker_slippage_ppm,
)
from botrunner.paper.fees import FeeSchedule
from botrunner.paper.tape import Tape
from botrunner.venue.port import FundingPaid, VenueEvent
from governors.arb_breaker import Breaker, allows_entry, record
from governors.leg_out import LegOut, Outcome, PairExecution
from strategies.arb_exits import ExitInputs, ExitMemory, ExitReason, evaluate
from strategies.arb_portfolio import Portfolio, allocate, book_leg_out, close, start
from strategies.arb_score import CheckStatus, ScoreInputs, per_8h, score
from strategies.funding_arb import EntryInputs, SkipReason, decide_entry, position_notional_cap


class ArbBacktestError(ValueError):
    """The inputs cannot make a backtest (message names what)."""


class ArbInputs(msgspec.Struct, frozen=True, kw_only=True):
    bot: BotConfig
    drift_candles: Candles  # the Drift leg's price path (Binance perp closes)
    external_candles: Candles
    drift_funding: tuple[DriftFundingRecord, ...]
    drift_rates: VenueFunding  # the same records as 1e12 fractions per hour (the decision's view)
    external_funding: VenueFunding
    external_rules: ExternalMarketRules
    drift_fees: FeeSchedule
    start: int
    end: int
    model: ExecutionModel = ExecutionModel()


class TradeRow(msgspec.Struct, frozen=True, kw_only=True):
    trade_id: int
    opened: int
    closed: int
    drift_side: Side
    base: int
    notional: int
    entry_net_rate: int
    pnl: int  # excluding leg-out losses
    leg_out_loss: int
    funding_drift: int
    funding_external: int
    reason: ExitReason | None
    entry_outcome: Outcome
    exit_outcome: Outcome


class FundingRow(msgspec.Struct, frozen=True):
    ts: int
    venue: str
    position_base: int  # the leg's signed position
    rate: int  # Drift: 1e9 quote per base for the hour; external: 1e12 fraction per hour
    payment: int  # quote 1e6, positive = received


class LegOutRow(msgspec.Struct, frozen=True):
    trade_id: int | None
    phase: str  # open / close
    record: LegOut


class ArbResult(msgspec.Struct, frozen=True, kw_only=True):
    inputs: ArbInputs
    bars: int
    starting: int
    ending: int
    portfolio: Portfolio
    trades: tuple[TradeRow, ...]
    fills: tuple[LegFill, ...]
    funding: tuple[FundingRow, ...]
    leg_outs: tuple[LegOutRow, ...]
    outcomes: dict[str, int]
    skips: dict[str, int]
    breaker_blocked_hours: int
    breaker_trips: int
    entries_scored: int
    utilisation_bps: int  # time-weighted allocated capital over starting capital
    drift_funding_total: int
    external_funding_total: int
    drift_fees: int
    external_fees: int
    slippage: int
    liquidations: int
    min_liq_distance_bps: int | None
    external_price_gaps: int  # bars without an external candle (its last close carried)


class _Open(msgspec.Struct, kw_only=True):
    trade_id: int
    opened: int
    drift_side: Side
    equity_before: int
    entry_net_rate: int
    entry_basis_bps: int
    leg_out_loss: int
    drift_funding_at_open: int
    external_funding_at_open: int
    entry_outcome: Outcome
    # set by the first close attempt: a close that stops short (the Drift leg missed or filled part) is carried on
    # at the next bar for the same reason, whatever the pipeline says then, and the trade reports the size it closed
    closing: ExitReason | None = None  # None with a closing_base: the end of the window closes it
    closing_base: int = 0  # 0: no close begun
    closing_notional: int = 0


def _net_rate(drift_side: Side, drift_rate: int, external_rate: int) -> int:
    """The pair's net funding per hour, positive = it earns: the short leg's rate minus the long leg's."""
    return external_rate - drift_rate if drift_side is Side.BUY else drift_rate - external_rate


def _distance_bps(price: int, liquidation: int | None) -> int | None:
    return None if liquidation is None else abs(price - liquidation) * BPS_PRECISION // price


class _Replay:
    """The state of one run (mutable, owned by ``run_arb_backtest``)."""

    def __init__(self, inputs: ArbInputs) -> None:
        self.inputs = inputs
        bot = inputs.bot
        self.settings = bot.strategy.funding_arb
        self.leg_config = bot.strategy.leg_out
        self.breaker_config = bot.strategy.arb_breaker
        first_price = inputs.drift_candles.bars[0].close
        self.tape = Tape(now=inputs.start, price=first_price)
        half = bot.capital_quote // 2
        self.drift = PaperAccount(bot.market_spec, inputs.drift_fees, self.tape, deposit_quote=half)
        # the leg-out machine sizes its follow orders and the model its partial fills in its step_base: it must be
        # the coarser venue's order step (Binance trades SOL in whole units), or a fill cannot be booked
        steps = (self.leg_config.step_base, inputs.external_rules.step_base, self.drift.market.step_size)
        self.step = max(steps)
        if any(self.step % s for s in steps):
            raise ArbBacktestError(
                f"strategy.leg_out.step_base {self.leg_config.step_base} (1e9) is not a multiple of both venues' "
                f"order steps (Drift {steps[2]}, {inputs.external_rules.venue} {steps[1]})"
            )
        self.leg_config = msgspec.structs.replace(self.leg_config, step_base=self.step)
        self.external: ExternalAccount = open_account(inputs.external_rules, bot.capital_quote - half)
        self.book = start(bot.capital_quote)
        self.breaker = Breaker()
        self.memory = ExitMemory()
        self.rng = random.Random(inputs.model.seed)
        self.open: _Open | None = None
        self.next_trade = 1
        self.next_order = 1
        self.trades: list[TradeRow] = []
        self.fills: list[LegFill] = []
        self.funding: list[FundingRow] = []
        self.leg_outs: list[LegOutRow] = []
        self.outcomes: Counter[str] = Counter()
        self.skips: Counter[str] = Counter()
        self.blocked_hours = 0
        self.scored = 0
        self.allocated_time = 0
        self.drift_funding_total = 0
        self.external_funding_total = 0
        self.liquidations = 0
        self.min_liq: int | None = None
        self.external_price = inputs.external_candles.bars[0].close
        # when each Drift record was published (its own ts, seconds after the hour it closes): the rate series is
        # stamped on the hour boundary, so on the hour it would show a record that has not landed yet
        self.drift_published = [r.ts for r in inputs.drift_funding]

    # --- prices and money ---------------------------------------------------------------------------------------
    def equity(self) -> int:
        return self.drift.equity() + self.external.equity(self.external_price)

    def rates(self, ts: int) -> tuple[int, int]:
        """Both venues' latest rates per hour published by ``ts`` (0 before the first)."""
        i = bisect.bisect_right(self.drift_published, ts)
        drift = self.inputs.drift_rates.at(self.inputs.drift_funding[i - 1].hour_end) if i else None
        external = self.inputs.external_funding.at(ts)
        return (0 if drift is None else drift.rate_per_hour, 0 if external is None else external.rate_per_hour)

    def average_net(self, drift_side: Side, ts: int) -> int:
        hours = self.settings.funding_window_h
        total = 0
        for h in range(hours):
            d, e = self.rates(ts - h * ONE_HOUR_S)
            total += _net_rate(drift_side, d, e)
        return total // hours

    def slippage_ppm(self, notional: int) -> int:
        return taker_slippage_ppm(notional, self.settings.depth_quote)

    # --- funding ------------------------------------------------------------------------------------------------
    def settle(self, drift_due: list[DriftFundingRecord], external_due: list[int], ts: int) -> None:
        for rec in drift_due:
            out: list[VenueEvent] = []
            self.drift.apply_funding(rec.rate_long, rec.rate_short, out)
            for event in out:
                if isinstance(event, FundingPaid):
                    self.drift_funding_total += event.payment
                    if event.position_base:
                        self.funding.append(FundingRow(rec.ts, "drift", event.position_base, event.rate, event.payment))
        points = self.inputs.external_funding.points
        for i in external_due:
            point = points[i]
            base = self.external.base
            self.external, settled = settle_funding(self.external, point, self.external_price)
            self.external_funding_total += settled.amount
            if base:
                self.funding.append(FundingRow(point.ts, "external", base, point.rate_per_hour, settled.amount))

    # --- executions ---------------------------------------------------------------------------------------------
    def run_execution(self, ts: int, drift_side: Side, target: int, notional: int) -> ExecutionReport:
        drift_size = abs(self.drift.position.base_asset_amount)
        machine = PairExecution(
            self.leg_config,
            drift_side=drift_side,
            drift_size=drift_size,
            external_size=abs(self.external.base),
            target=target,
            drift_price=self.tape.oracle,
            external_price=self.external_price,
            first_order_id=self.next_order,
        )
        report, self.external = execute(
            machine,
            start_ms=ts * 1000,
            model=self.inputs.model,
            rng=self.rng,
            drift=self.drift,
            external=self.external,
            drift_taker_ppm=self.inputs.drift_fees.taker_ppm,
            slippage_ppm=self.slippage_ppm(notional),
        )
        self.next_order = machine.next_order_id
        self.fills.extend(report.fills)
        self.outcomes[report.finished.outcome.value] += 1
        self.breaker = record(self.breaker_config, self.breaker, report.finished.outcome, ts)
        return report

    def try_entry(self, ts: int) -> None:
        if not allows_entry(self.breaker_config, self.breaker, ts):
            self.blocked_hours += 1
            return
        drift_rate, external_rate = self.rates(ts)
        cap = position_notional_cap(self.settings, self.book.available)
        if cap <= 0:
            self.skips[SkipReason.CAPITAL.value] += 1
            return
        self.scored += 1
        verdict = score(
            ScoreInputs(
                position_notional=cap,
                funding_delta_per_8h=per_8h(abs(drift_rate - external_rate)),
                depth_notional=self.settings.depth_quote,
                quote_age_ms=None,
            )
        )
        if any(c.status is CheckStatus.FAILED for c in verdict.checks):
            self.skips["hard_constraint"] += 1
            return
        step = self.step
        decision = decide_entry(
            self.settings,
            EntryInputs(
                score=verdict.score,
                drift_rate=drift_rate,
                external_rate=external_rate,
                price=self.tape.oracle,
                available_quote=self.book.available,
                step_base=step,
                drift_taker_ppm=self.inputs.drift_fees.taker_ppm,
                external_taker_ppm=self.inputs.external_rules.taker_ppm,
                slippage_ppm=self.slippage_ppm(cap),
            ),
        )
        plan = decision.plan
        if plan is None:
            assert decision.skip is not None
            self.skips[decision.skip.value] += 1
            return
        equity_before = self.equity()
        report = self.run_execution(ts, plan.drift_side, plan.base, plan.notional)
        trade_id = self.next_trade
        self.next_trade += 1
        loss = sum(r.loss_quote for r in report.leg_outs)
        self.leg_outs.extend(LegOutRow(trade_id, "open", r) for r in report.leg_outs)
        held = abs(self.drift.position.base_asset_amount)
        if held == 0 or report.finished.outcome is Outcome.STUCK:
            # nothing became a trade (abandoned or unwound): whatever it cost is execution (leg-out) loss
            cost = equity_before - self.equity()
            if cost or report.leg_outs:
                self.book = book_leg_out(self.book, cost)
            if held:
                raise ArbBacktestError(f"{ts}: a pair execution is stuck with naked legs; the model refused too often")
            return
        allocated = min(quote_value(held, self.tape.oracle), self.book.available)
        self.book = allocate(self.book, trade_id, allocated, ts)
        self.book = book_leg_out(self.book, loss) if report.leg_outs else self.book
        d, e = self.rates(ts)
        short_price, long_price = (
            (self.external_price, self.tape.oracle)
            if plan.drift_side is Side.BUY
            else (self.tape.oracle, self.external_price)
        )
        self.open = _Open(
            trade_id=trade_id,
            opened=ts,
            drift_side=plan.drift_side,
            equity_before=equity_before,
            entry_net_rate=_net_rate(plan.drift_side, d, e),
            entry_basis_bps=(short_price - long_price) * BPS_PRECISION // long_price,
            leg_out_loss=loss,
            drift_funding_at_open=self.drift_funding_total,
            external_funding_at_open=self.external_funding_total,
            entry_outcome=report.finished.outcome,
        )
        self.memory = ExitMemory()

    def check_exit(self, ts: int, *, force: ExitReason | None = None, at_end: bool = False) -> None:
        pos = self.open
        assert pos is not None
        drift_base = self.drift.position.base_asset_amount
        drift_notional = abs(quote_value(drift_base, self.tape.oracle))
        external_notional = self.external.notional(self.external_price)
        below, above = self.drift.liquidation_bounds()
        drift_liq = min(
            (
                d
                for d in (_distance_bps(self.tape.oracle, below), _distance_bps(self.tape.oracle, above))
                if d is not None
            ),
            default=None,
        )
        external_liq = _distance_bps(self.external_price, self.external.liquidation_price())
        for d in (drift_liq, external_liq):
            if d is not None:
                self.min_liq = d if self.min_liq is None else min(self.min_liq, d)
        d_rate, e_rate = self.rates(ts)
        # what closing now would cost: both legs' taker fees and the model's slippage on each
        slip = self.slippage_ppm(drift_notional)
        fees = (
            drift_notional * self.inputs.drift_fees.taker_ppm + external_notional * self.inputs.external_rules.taker_ppm
        )
        close_cost = (slip * (drift_notional + external_notional) + fees) // PERCENTAGE_PRECISION
        long_price, short_price = (
            (self.tape.oracle, self.external_price)
            if pos.drift_side is Side.BUY
            else (self.external_price, self.tape.oracle)
        )
        inputs = ExitInputs(
            now_s=ts,
            opened_s=pos.opened,
            drift_liq_distance_bps=drift_liq,
            external_liq_distance_bps=external_liq,
            drift_notional=drift_notional,
            external_notional=external_notional,
            net_rate_now=_net_rate(pos.drift_side, d_rate, e_rate),
            net_rate_avg=self.average_net(pos.drift_side, ts),
            entry_net_rate=pos.entry_net_rate,
            net_pnl_quote=self.equity() - pos.equity_before + pos.leg_out_loss - close_cost,
            entry_basis_bps=pos.entry_basis_bps,
            basis_bps=(short_price - long_price) * BPS_PRECISION // long_price,
            best_alternative_apr_bps=None,  # one pair in this backtest: no rotation target
            last_rotation_s=None,
        )
        decision, self.memory = evaluate(self.settings.exits, inputs, self.memory)
        reason = force if force is not None else None if decision is None else decision.reason
        if pos.closing_base:
            reason = pos.closing  # a decided exit is finished, not re-decided
        if reason is None and not at_end:
            return
        if not pos.closing_base:
            pos.closing, pos.closing_base, pos.closing_notional = reason, abs(drift_base), drift_notional
        report = self.run_execution(ts, pos.drift_side, 0, drift_notional)
        self.leg_outs.extend(LegOutRow(pos.trade_id, "close", r) for r in report.leg_outs)
        if report.leg_outs:  # booked now: a close that stops short runs again, each execution's leg-outs count
            loss = sum(r.loss_quote for r in report.leg_outs)
            self.book = book_leg_out(self.book, loss)
            pos.leg_out_loss += loss
        if self.drift.position.base_asset_amount or self.external.base:
            if report.finished.outcome is Outcome.STUCK:
                raise ArbBacktestError(f"{ts}: closing trade {pos.trade_id} is stuck with naked legs")
            return  # the close stopped short (the Drift leg missed its window): it goes on at the next bar
        total_loss = pos.leg_out_loss
        pnl = self.equity() - pos.equity_before + total_loss
        self.book = close(self.book, pos.trade_id, pnl, ts, reason)
        self.trades.append(
            TradeRow(
                trade_id=pos.trade_id,
                opened=pos.opened,
                closed=ts,
                drift_side=pos.drift_side,
                base=pos.closing_base,
                notional=pos.closing_notional,
                entry_net_rate=pos.entry_net_rate,
                pnl=pnl,
                leg_out_loss=total_loss,
                funding_drift=self.drift_funding_total - pos.drift_funding_at_open,
                funding_external=self.external_funding_total - pos.external_funding_at_open,
                reason=reason,
                entry_outcome=pos.entry_outcome,
                exit_outcome=report.finished.outcome,
            )
        )
        self.open = None
        if not self.book.conserved() or self.book.starting + self.book.realised != self.equity():
            raise ArbBacktestError(
                f"{ts}: the books disagree with the venues: available {self.book.available} + allocated "
                f"{self.book.allocated}, realised {self.book.realised}, venues' equity {self.equity()}"
            )


def run_arb_backtest(inputs: ArbInputs, progress: Callable[[int, int], None] | None = None) -> ArbResult:  # noqa: PLR0912  the replay loop
    """Replay ``inputs`` (module docstring)."""
    drift_bars = [
        b
        for b in inputs.drift_candles.bars
        if inputs.start <= b.ts and b.ts + inputs.drift_candles.interval_s <= inputs.end
    ]
    if not drift_bars:
        raise ArbBacktestError("no Drift-leg price bars in the window")
    external_close = {b.ts: b.close for b in inputs.external_candles.bars}
    replay = _Replay(inputs)
    interval = inputs.drift_candles.interval_s
    drift_records = [r for r in inputs.drift_funding if r.ts >= drift_bars[0].ts]
    external_points = inputs.external_funding.points
    di = 0
    ei = next((i for i, p in enumerate(external_points) if p.ts >= drift_bars[0].ts), len(external_points))
    missing_external = 0
    for n, bar in enumerate(drift_bars):
        ts = bar.ts + interval  # decisions at the bar's close
        replay.tape.now = ts
        replay.tape.oracle = replay.tape.last_price = bar.close
        price = external_close.get(bar.ts)
        if price is None:
            missing_external += 1
        else:
            replay.external_price = price
        drift_due = []
        while di < len(drift_records) and drift_records[di].ts <= ts:
            drift_due.append(drift_records[di])
            di += 1
        external_due = []
        while ei < len(external_points) and external_points[ei].ts <= ts:
            external_due.append(ei)
            ei += 1
        replay.settle(drift_due, external_due, ts)
        if replay.drift.is_liquidatable() or replay.external.is_liquidatable(replay.external_price):
            replay.liquidations += 1
            if replay.open is not None:
                replay.check_exit(ts, force=ExitReason.LIQUIDATION_DISTANCE)
        if replay.open is not None:
            replay.check_exit(ts)
        elif ts % ONE_HOUR_S == 0:
            replay.try_entry(ts)
        replay.allocated_time += replay.book.allocated * interval
        if progress is not None and (n % 2_000 == 0 or n == len(drift_bars) - 1):
            progress(n + 1, len(drift_bars))
    end_ts = drift_bars[-1].ts + interval
    for attempt in range(10):  # the window ends: close the pair (a Drift leg that misses its window is tried again)
        if replay.open is None:
            break
        replay.check_exit(end_ts + attempt, at_end=True)
    if replay.open is not None:
        raise ArbBacktestError("the pair could not be closed at the end of the window (the Drift leg kept missing)")
    span = end_ts - drift_bars[0].ts
    drift_fees = sum(f.fee for f in replay.fills if f.leg.value == "drift")
    external_fees = sum(f.fee for f in replay.fills if f.leg.value == "external")
    return ArbResult(
        inputs=inputs,
        bars=len(drift_bars),
        starting=inputs.bot.capital_quote,
        ending=replay.equity(),
        portfolio=replay.book,
        trades=tuple(replay.trades),
        fills=tuple(replay.fills),
        funding=tuple(replay.funding),
        leg_outs=tuple(replay.leg_outs),
        outcomes=dict(sorted(replay.outcomes.items())),
        skips=dict(sorted(replay.skips.items())),
        breaker_blocked_hours=replay.blocked_hours,
        breaker_trips=replay.breaker.trips,
        entries_scored=replay.scored,
        utilisation_bps=replay.allocated_time * BPS_PRECISION // (inputs.bot.capital_quote * span) if span else 0,
        drift_funding_total=replay.drift_funding_total,
        external_funding_total=replay.external_funding_total,
        drift_fees=drift_fees,
        external_fees=external_fees,
        slippage=sum(f.slippage_quote for f in replay.fills),
        liquidations=replay.liquidations,
        min_liq_distance_bps=replay.min_liq,
        external_price_gaps=missing_external,
    )
