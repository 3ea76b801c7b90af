"""The backtest loop's routing of venue events: every event is recorded even when the connector's lifecycle
refuses one (the connector then resyncs from the venue)."""

from __future__ import annotations

from pathlib import Path

from botrunner.backtest.data import resolve
from botrunner.backtest.engine import BacktestInputs, BacktestResult, _Run
from botrunner.config import load_bot
from botrunner.paper.venue import PaperVenue
from botrunner.venue.port import CancelReason, FundingPaid, OrderCancelled

ROOT = Path(__file__).resolve().parents[1]


def test_events_after_one_the_connector_refuses_are_still_recorded_and_the_connector_resyncs() -> None:
    bot = load_bot(ROOT / "config" / "bots" / "sol-neutral-grid.yaml")
    data = resolve(bot.market)
    first = data.candles.bars[0]
    inputs = BacktestInputs(bot=bot, candles=data.candles, funding=None, start=first.ts, end=first.ts + 300)
    result = BacktestResult(inputs=inputs)
    run = _Run(inputs, result)
    run.venue = PaperVenue(
        bot.market_spec, inputs.paper, deposit_quote=bot.capital_quote, oracle_price=first.open, now=0
    )
    run.state = run.bot.initial_state(started_at=0)
    refused = OrderCancelled(ts=1, user_order_id=7, reason=CancelReason.REQUESTED, filled_base=0)  # never tracked
    funding = FundingPaid(ts=2, position_base=0, rate=5, payment=0)
    run.route([refused, funding])
    assert result.funding == [result.funding[0]] and result.funding[0].ts == 2
    assert result.resyncs == 1
    assert run.state.connector.needs_resync is False and run.state.connector.orders == ()
