"""The funding-arbitrage backtest's replay (``botrunner.backtest.arb``) on the shared data: it decides only on data
published by the decision time (a Drift funding record that lands seconds after the hour is not known on the hour),
and a decided exit is carried out to the end (a close that stops short continues on the next bar)."""

from __future__ import annotations

import bisect
import itertools
from typing import Any

from botrunner.backtest.arb import ArbInputs, run_arb_backtest
from botrunner.backtest.arb_fills import ExecutionModel
from botrunner.config import load_bot
from botrunner.core.precision import quote_value
from botrunner.core.side import Side
from botrunner.marketdata.candles import load_candles
from botrunner.marketdata.funding import load_drift_funding
from botrunner.marketdata.venue_data import Coin, Venue, candles_path, funding_path
from botrunner.marketdata.venue_funding import load_venue_funding
from botrunner.paper.external import external_rules
from botrunner.paper.fees import drift_fee_tier
from governors.leg_out import ArbLeg
from tests.integration.test_backtest_arb import BOT
from tests.support.margin import SHARED_DATA, require

START = 1_746_748_800  # 2025-05-09T00:00Z
END = 1_747_267_200  # 2025-05-15T00:00Z: two pairs opened on hours whose Drift record landed after the hour
CLOSE_START = 1_744_588_800  # 2025-04-14T00:00Z
CLOSE_END = 1_753_488_000  # 2025-07-26T00:00Z
BINANCE_START = 1_744_585_200  # 2025-04-13T23:00Z .. 2025-10-13T16:00Z: the window `botrunner backtest` picks
BINANCE_END = 1760371200
BAR_S = 300


def _inputs(
    start: int, end: int, model: ExecutionModel | None = None, external: Venue = Venue.HYPERLIQUID
) -> dict[str, Any]:
    data = require(SHARED_DATA / "market" / "hyperliquid").parent.parent
    drift_file = funding_path(data, Venue.DRIFT, Coin.SOL)
    hl_file = funding_path(data, external, Coin.SOL)
    drift_candles = candles_path(data, Venue.BINANCE, Coin.SOL, "5m")
    hl_candles = candles_path(data, external, Coin.SOL, "5m")
    assert drift_file and hl_file and drift_candles and hl_candles
    return {
        "bot": load_bot(BOT),
        "drift_candles": load_candles(drift_candles),
        "external_candles": load_candles(hl_candles),
        "drift_funding": load_drift_funding(drift_file).records,
        "drift_rates": load_venue_funding(drift_file, Venue.DRIFT, Coin.SOL),
        "external_funding": load_venue_funding(hl_file, external, Coin.SOL),
        "external_rules": external_rules(external, Coin.SOL),
        "drift_fees": drift_fee_tier(1),
        "start": start,
        "end": end,
        "model": model or ExecutionModel(),
    }


def test_an_entry_uses_the_drift_rate_published_by_then_not_the_one_landing_seconds_later() -> None:
    inputs = _inputs(START, END)
    result = run_arb_backtest(ArbInputs(**inputs))
    records, drift_rates, hl = inputs["drift_funding"], inputs["drift_rates"], inputs["external_funding"]
    assert result.trades
    late = 0
    for trade in result.trades:
        published = records[bisect.bisect_right(records, trade.opened, key=lambda r: r.ts) - 1]
        late += records[bisect.bisect_right(records, trade.opened, key=lambda r: r.hour_end) - 1] is not published
        drift_point = drift_rates.at(published.hour_end)
        hl_point = hl.at(trade.opened)
        assert drift_point is not None and hl_point is not None
        d, e = drift_point.rate_per_hour, hl_point.rate_per_hour
        net = e - d if trade.drift_side is Side.BUY else d - e
        assert trade.entry_net_rate == net, f"trade {trade.trade_id} opened at {trade.opened} on a rate not yet known"
    assert late, "the window must hold an entry whose hour's Drift record landed after the hour"


def test_a_close_that_stops_short_is_finished_on_the_next_bar_for_the_same_reason() -> None:
    # a Drift leg that often fills only half: closes take several executions, a bar apart
    model = ExecutionModel(drift_partial_bps=3_000, drift_miss_bps=2_000)
    result = run_arb_backtest(ArbInputs(**_inputs(CLOSE_START, CLOSE_END, model)))
    multi_bar = 0
    for trade in result.trades:
        closing = trade.drift_side.opposite
        bars = sorted(
            {
                f.ts_ms // 1000 // BAR_S
                for f in result.fills
                if f.leg is ArbLeg.DRIFT
                and f.side is closing
                and trade.opened * 1000 < f.ts_ms
                and f.ts_ms // 1000 // BAR_S <= trade.closed // BAR_S
            }
        )
        closed_base = sum(
            f.base
            for f in result.fills
            if f.leg is ArbLeg.DRIFT and f.side is closing and f.ts_ms // 1000 // BAR_S in bars
        )
        multi_bar += len(bars) > 1
        assert all(b - a == 1 for a, b in itertools.pairwise(bars)), (
            f"trade {trade.trade_id}: its close stopped short and waited for bars {bars} (x 300 s)"
        )
        assert trade.base == closed_base, f"trade {trade.trade_id}: reports {trade.base} base, closed {closed_base}"
    assert multi_bar, "the window must hold a close that stopped short"


def test_an_external_venue_with_a_coarser_order_step_runs_the_machine_on_that_step() -> None:
    # Binance's SOL perp trades whole SOL; the bot's leg_out.step_base is 0.01 SOL (Hyperliquid's and Drift's): the
    # execution must not book a half-filled 13.5 SOL on Binance (it raised ValueError from the paper account)
    inputs = _inputs(BINANCE_START, BINANCE_END, external=Venue.BINANCE)
    step = inputs["external_rules"].step_base
    assert step > inputs["bot"].strategy.leg_out.step_base
    result = run_arb_backtest(ArbInputs(**inputs))
    external = [f for f in result.fills if f.leg is ArbLeg.EXTERNAL]
    assert external, "the window must trade"
    assert all(f.base % step == 0 for f in external)


def test_the_books_match_the_money_that_moved_not_only_themselves() -> None:
    # The run's own check (starting + realised == the venues' equity) holds by construction: a trade's PnL is
    # defined as the venues' equity change. This one counts the money independently, from the records: every
    # fill's cash flow, every fee, every funding payment; flat at the end, they are the whole change of equity.
    model = ExecutionModel(drift_partial_bps=3_000, drift_miss_bps=2_000, external_miss_bps=3_000)
    result = run_arb_backtest(ArbInputs(**_inputs(CLOSE_START, CLOSE_END, model)))
    assert result.trades and result.leg_outs
    cash = sum(-quote_value(f.base * f.side.sign, f.price) for f in result.fills)
    fees = sum(f.fee for f in result.fills)
    funding = result.drift_funding_total + result.external_funding_total
    assert funding == sum(row.payment for row in result.funding)  # a flat account is paid nothing
    moved = cash - fees + funding
    assert result.portfolio.realised == result.ending - result.starting
    # Drift books a fill's quote rounded its own way: at most one micro-dollar per fill apart
    assert abs(result.portfolio.realised - moved) <= len(result.fills), (result.portfolio.realised, moved)


def test_a_trades_leg_out_loss_is_every_leg_out_of_its_executions() -> None:
    # closes that stop short and are hedged: each execution's leg-outs belong to the trade, not only the last one's
    model = ExecutionModel(drift_partial_bps=3_000, drift_miss_bps=2_000, external_miss_bps=3_000)
    result = run_arb_backtest(ArbInputs(**_inputs(CLOSE_START, CLOSE_END, model)))
    closes = [row for row in result.leg_outs if row.phase == "close"]
    assert closes, "the window must hold a close that was hedged"
    for trade in result.trades:
        rows = sum(row.record.loss_quote for row in result.leg_outs if row.trade_id == trade.trade_id)
        assert trade.leg_out_loss == rows, f"trade {trade.trade_id}: {trade.leg_out_loss} booked, {rows} recorded"
