"""A bot trading against its paper venue on a replayed market: what the backtest loop and a paper bot actor both
run for each market event (``botrunner.runtime.market``). The bot's part is its driver (``botrunner.bot.driver``);
this is only where its inputs come from and where its commands go:

* a funding settlement becomes the rate the guardrail reads (``FundingSettled``), then goes to the venue, which
  settles it into the position; what the venue reports is fed back (``VenueReport``);
* a price point goes to the venue, which expires orders, fills the makers the path trades through and checks
  liquidation; what it reports is fed back;
* at a bar's close point the bot steps on ``BarClose``: the strategy sees the close, the bot decides against the
  venue's account, and the driver sends the commands (a settlement among them) to the venue at once.

Without latency the venue answers every command at once. With a latency of N slots (``PaperConfig.latency_slots``,
``botrunner.paper.latency``) the driver's venue is a ``LatentVenue``: commands land N × 400 ms after they were sent
and every report reaches the bot N × 400 ms after the venue produced it (a command's answer: 2N after sending); and
the bar's path is walked in time (``botrunner.paper.walk``): its four points spread over the whole bar (the close at
the bar's end, where the bot decides), the price moving linearly between them. The venue is moved to each price at
which the path trades through a resting order, at the millisecond it gets there, and whatever is due before that
lands or is delivered first, in order (``_walk``). So a cancel sent at a close lands 2 slots into the next bar's
first leg: an order that leg reaches before then fills (the cancel lost the race, as on chain), one it reaches
later is cancelled. ``flush`` lands the rest at the end of a replay.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import assert_never

from botrunner.bot.driver import BotDriver, ladder_prices
from botrunner.bot.operator_position import BotCommand
from botrunner.bot.step import BarClose, Effects, FundingSettled, Operator, VenueReport
from botrunner.core.records import SnapshotRow
from botrunner.paper.latency import LatentVenue
from botrunner.paper.venue import PaperVenue
from botrunner.paper.walk import crossing_ms, next_trigger, point_ms, price_at
from botrunner.runtime.market import FundingPoint, MarketEvent, PricePoint
from botrunner.venue.port import VenueEvent


class PaperBot:
    """One bot's driver and its paper venue, stepped by market events. Not thread-safe: one owner."""

    __slots__ = ("_walk_ms", "driver", "latency", "venue")

    def __init__(self, driver: BotDriver, venue: PaperVenue, latency: LatentVenue | None = None) -> None:
        """``latency``: the driver's venue when commands and reports are delayed (it wraps ``venue``)."""
        self.driver = driver
        self.venue = venue
        self.latency = latency
        assert latency is None or (latency.venue is venue and driver.venue is latency), "one venue, seen delayed"
        self._walk_ms: int | None = None  # with latency: where the walked path is (ms); None before the first point

    def on_event(self, event: MarketEvent) -> Effects | None:
        """Apply one market event. At a bar close, returns the effects of the bot's decision."""
        if self.latency is not None:
            return self._on_event_walked(event)
        match event:
            case FundingPoint():
                self.driver.feed(FundingSettled(event.ts, event.rate))
                self._deliver(self.venue.apply_funding(event.ts, event.rate_long, event.rate_short), event.ts)
                return None
            case PricePoint():
                self._deliver(
                    self.venue.on_price(
                        event.ts,
                        event.price,
                        event.oracle,
                        bar_ts=event.bar_ts,
                        bar_volume=event.bar_volume,
                        bar_close=bool(event.close_ts),
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

    def _on_event_walked(self, event: MarketEvent) -> Effects | None:
        """``on_event`` with latency: the path walked in time (module doc)."""
        latency, venue = self.latency, self.venue
        assert latency is not None
        match event:
            case FundingPoint():
                # the walk may already be past ``event.ts`` (its points sit later in the bar than the replay's):
                # the settlement then takes effect where the path is, never back in time
                ts = max(event.ts, venue.now)
                self._land(ts * 1000)
                latency.now_ms = max(latency.now_ms, ts * 1000)
                self.driver.feed(FundingSettled(ts, event.rate))
                latency.defer_ms(tuple(venue.apply_funding(ts, event.rate_long, event.rate_short)), ts * 1000)
                return None
            case PricePoint():
                at_ms = point_ms(event.ts, event.bar_ts, event.interval_s)
                self._walk(at_ms, event)
                if not event.close_ts:
                    return None
                latency.now_ms = max(latency.now_ms, at_ms)
                ts = max(at_ms // 1000, venue.now)
                close = BarClose(ts=ts, close_ts=event.close_ts, price=event.price, oracle=event.oracle)
                return self.driver.feed(close)
            case _ as unreachable:
                assert_never(unreachable)

    def _walk(self, end_ms: int, point: PricePoint) -> None:
        """Walk the path from where it is to ``point`` at ``end_ms``: stop at each price that trades through a
        resting order, landing first what is due before (at equal times the command first: it was sent first)."""
        latency, venue = self.latency, self.venue
        assert latency is not None
        start_ms = self._walk_ms
        start_price = venue.last_price
        self._walk_ms = end_ms
        end_price = point.price
        if start_ms is None or end_ms <= start_ms:  # the first point, or a gap at an instant: a jump
            self._land(end_ms)
            self._move(end_ms, end_price, point.oracle, point)
            return
        through = venue.config.trade_through_ticks * venue.market.tick_size
        while True:
            here = venue.last_price
            trigger = next_trigger(venue.orders.values(), through, here, end_price)
            stop_ms = end_ms if trigger is None else crossing_ms(start_ms, start_price, end_ms, end_price, trigger)
            due = latency.due_ms()
            if due is not None and due <= stop_ms:
                # the command or report is due before the path reaches the next order: bring the venue to where the
                # path is then (short of that order: nothing fills on the way), then land or deliver it
                price = price_at(start_ms, start_price, end_ms, end_price, due)
                if trigger is not None:
                    price = max(price, trigger + 1) if end_price < here else min(price, trigger - 1)
                if due > start_ms and price != here:
                    self._move(due, price, price, point)
                self._land(due)
                continue
            if trigger is None:
                self._move(end_ms, end_price, point.oracle, point)
                return
            self._move(stop_ms, trigger, trigger, point)  # the oracle is the path (``botrunner.runtime.market``)

    def _move(self, at_ms: int, price: int, oracle: int, point: PricePoint) -> None:
        """The venue at ``price`` (oracle ``oracle``) at ``at_ms`` on ``point``'s bar; what it does is reported
        ``delay`` later."""
        latency, venue = self.latency, self.venue
        assert latency is not None
        ts = max(at_ms // 1000, venue.now)
        events = venue.on_price(ts, price, oracle, bar_ts=point.bar_ts, bar_volume=point.bar_volume)
        latency.defer_ms(tuple(events), at_ms)

    def _deliver(self, events: Sequence[VenueEvent], ts: int) -> None:
        """Without latency: what the venue did goes to the bot at once."""
        if events:
            self.driver.feed(VenueReport(ts, tuple(events)))

    def _land(self, until_ms: int | None) -> None:
        """Land the commands and deliver the reports due by ``until_ms`` (None: all), one at a time and in order
        (a report's step may read the venue for a resync: it must see only what has landed before it)."""
        latency = self.latency
        assert latency is not None
        feed = self.driver.feed
        while (due := latency.next_due(until_ms)) is not None:
            feed(VenueReport(due[0], due[1]))

    def flush(self) -> None:
        """Land every command still in flight and deliver every report (the end of a replay)."""
        if self.latency is not None:
            self._land(None)

    def command(self, command: BotCommand) -> Effects:
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
