"""A bot trading against its paper venue on a replayed market: what the backtest loop and a paper bot actor both
run for each market event (``botrunner.runtime.market``). The bot's part is its driver (``botrunner.bot.driver``);
this is only where its inputs come from and where its commands go:

* a funding settlement becomes the rate the guardrail reads (``FundingSettled``), then goes to the venue, which
  settles it into the position; what the venue reports is fed back (``VenueReport``);
* a price point goes to the venue, which expires orders, fills the makers the path trades through and checks
  liquidation; what it reports is fed back;
* at a bar's close point the bot steps on ``BarClose``: the strategy sees the close, the bot decides against the
  venue's account, and the driver sends the commands (a settlement among them) to the venue at once.

The venue answers every command at once. A paper latency model would hold the answers here and feed them back as
later ``VenueReport`` s (the seam is ``_deliver``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import assert_never

from botrunner.bot.driver import BotDriver, ladder_prices
from botrunner.bot.step import BarClose, Effects, FundingSettled, Operator, VenueReport
from botrunner.core.operator import ModeCommand
from botrunner.core.records import SnapshotRow
from botrunner.paper.venue import PaperVenue
from botrunner.runtime.market import FundingPoint, MarketEvent, PricePoint
from botrunner.venue.port import VenueEvent


class PaperBot:
    """One bot's driver and its paper venue, stepped by market events. Not thread-safe: one owner."""

    __slots__ = ("driver", "venue")

    def __init__(self, driver: BotDriver, venue: PaperVenue) -> None:
        self.driver = driver
        self.venue = venue

    def on_event(self, event: MarketEvent) -> Effects | None:
        """Apply one market event. At a bar close, returns the effects of the bot's decision."""
        match event:
            case FundingPoint():
                self.driver.feed(FundingSettled(event.ts, event.rate))
                self._deliver(self.venue.apply_funding(event.ts, event.rate_long, event.rate_short), event.ts)
                return None
            case PricePoint():
                self._deliver(
                    self.venue.on_price(
                        event.ts, event.price, event.oracle, bar_ts=event.bar_ts, bar_volume=event.bar_volume
                    ),
                    event.ts,
                )
                if not event.close_ts:
                    return None
                return self.driver.feed(
                    BarClose(ts=event.ts, close_ts=event.close_ts, price=event.price, oracle=event.oracle)
                )
            case _ as unreachable:
                assert_never(unreachable)

    def _deliver(self, events: Sequence[VenueEvent], ts: int) -> None:
        if events:
            self.driver.feed(VenueReport(ts, tuple(events)))

    def command(self, command: ModeCommand) -> Effects:
        """An operator command: the bot decides at once at the venue's last price."""
        venue = self.venue
        return self.driver.feed(Operator(ts=venue.now, command=command, mark=venue.last_price, oracle=venue.oracle))


def snapshot_row(venue: PaperVenue, driver: BotDriver, effects: Effects) -> SnapshotRow:
    """The account at a decision, as the decision saw it, plus what it produced (the resting ladder after it)."""
    decision = effects.decision
    assert decision is not None, "a snapshot is taken at a decision"
    equity = effects.equity
    snap = decision.snapshot
    bids, asks = ladder_prices(driver.state.connector.orders)
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
