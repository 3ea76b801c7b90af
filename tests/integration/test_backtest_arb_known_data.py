"""The funding-arbitrage backtest decides only on data published by the decision time: a Drift funding record that
lands seconds after the hour is not known on the hour (``botrunner.backtest.arb``)."""

from __future__ import annotations

import bisect

from botrunner.backtest.arb import ArbInputs, run_arb_backtest
from botrunner.config import load_bot
from botrunner.core.side import Side
from botrunner.marketdata.candles import load_candles
from botrunner.marketdata.funding import load_drift_funding
from botrunner.marketdata.venue_data import Coin, Venue, candles_path, funding_path
from botrunner.marketdata.venue_funding import load_venue_funding
from botrunner.paper.external import external_rules
from botrunner.paper.fees import drift_fee_tier
from tests.support.margin import SHARED_DATA, require
from tests.integration.test_backtest_arb import BOT

START = 1_746_748_800  # 2025-05-09T00:00Z
END = 1_747_267_200  # 2025-05-15T00:00Z: two pairs opened on hours whose Drift record landed after the hour


def test_an_entry_uses_the_drift_rate_published_by_then_not_the_one_landing_seconds_later() -> None:
    data = require(SHARED_DATA / "market" / "hyperliquid").parent.parent
    drift_file = funding_path(data, Venue.DRIFT, Coin.SOL)
    hl_file = funding_path(data, Venue.HYPERLIQUID, Coin.SOL)
    drift_candles = candles_path(data, Venue.BINANCE, Coin.SOL, "5m")
    hl_candles = candles_path(data, Venue.HYPERLIQUID, Coin.SOL, "5m")
    assert drift_file and hl_file and drift_candles and hl_candles
    records = load_drift_funding(drift_file).records
    drift_rates = load_venue_funding(drift_file, Venue.DRIFT, Coin.SOL)
    hl = load_venue_funding(hl_file, Venue.HYPERLIQUID, Coin.SOL)
    result = run_arb_backtest(
        ArbInputs(
            bot=load_bot(BOT),
            drift_candles=load_candles(drift_candles),
            external_candles=load_candles(hl_candles),
            drift_funding=records,
            drift_rates=drift_rates,
            external_funding=hl,
            external_rules=external_rules(Venue.HYPERLIQUID, Coin.SOL),
            drift_fees=drift_fee_tier(1),
            start=START,
            end=END,
        )
    )
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
