"""A bot trading against its paper venue on a replayed market: what the backtest loop and a paper bot actor both
run for each market event (``botrunner.runtime.market``).

* a funding settlement goes to the venue (it settles into unsettled PnL) and becomes the rate the Risk Governor's
  funding guardrail reads;
* a price point goes to the venue, which expires orders, fills the makers the path trades through and checks
  liquidation; every venue event is routed through the session;
* at a bar's close point the strategy sees the close, and the bot decides against the venue's account.

The day's starting equity (for the daily-loss limit) is the session's (``BotSession.decide``).
"""

from __future__ import annotations

from typing import assert_never

from botrunner.bot.pipeline import Decision, MarketUpdate, OperatorFlags, observe_price
from botrunner.bot.session import BotSession, ladder_prices
from botrunner.core.records import SnapshotRow
from botrunner.paper.venue import PaperVenue
from botrunner.runtime.market import FundingPoint, MarketEvent, PricePoint


class PaperBot:
    """One bot, its session and its paper venue, stepped by market events. Not thread-safe: one owner."""

    __slots__ = ("funding_rate", "session", "venue")

    def __init__(self, session: BotSession, venue: PaperVenue, funding_rate: int = 0) -> None:
        self.session = session
        self.venue = venue
        self.funding_rate = funding_rate  # the last settled rate (1e9), what the funding guardrail reads

    def on_event(self, event: MarketEvent, operator: OperatorFlags | None = None) -> tuple[Decision, int] | None:
        """Apply one market event. At a bar close, returns the decision and the equity it saw."""
        match event:
            case FundingPoint():
                self.funding_rate = event.rate
                self.session.route(self.venue.apply_funding(event.ts, event.rate_long, event.rate_short))
                return None
            case PricePoint():
                self.session.route(
                    self.venue.on_price(
                        event.ts, event.price, event.oracle, bar_ts=event.bar_ts, bar_volume=event.bar_volume
                    )
                )
                if not event.close_ts:
                    return None
                session = self.session
                session.state = observe_price(session.bot, session.state, event.close_ts, event.price)
                return self.decide(event.ts, event.price, operator)
            case _ as unreachable:
                assert_never(unreachable)

    def decide(self, ts: int, mark: int, operator: OperatorFlags | None = None) -> tuple[Decision, int]:
        venue = self.venue
        equity = venue.equity()
        update = MarketUpdate(ts=ts, mark=mark, oracle=venue.oracle, oracle_ts=ts, funding_rate=self.funding_rate)
        return self.session.decide(update, equity, operator), equity


def snapshot_row(venue: PaperVenue, session: BotSession, decision: Decision, equity: int) -> SnapshotRow:
    """The account at a decision, as the decision saw it, plus what it produced (the resting ladder after it)."""
    snap = decision.snapshot
    bids, asks = ladder_prices(session.state.connector.orders)
    ledger = venue.ledger
    return SnapshotRow(
        ts=decision.ts,
        mark=decision.mark,
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
        risk_state=decision.verdict.action.value,
        range_low=decision.strategy.range_low,
        range_high=decision.strategy.range_high,
        band_min=decision.verdict.band.min_base,
        band_max=decision.verdict.band.max_base,
        bid_prices=bids,
        ask_prices=asks,
        realized=ledger.realized,
        funding=ledger.funding,
        fees=ledger.fees,
    )
