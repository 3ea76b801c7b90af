"""Paper latency with the bar's path walked in time (``botrunner.paper.walk``, ``PaperBot._walk``): a cancel sent at
a bar's close races the next bar's first leg to the order, to the millisecond.

The scene: a bid rests 1.00 below a flat bar; the bot cancels it at that bar's close (its end); the next bar opens
at the close and falls 10.00 to its low (nearer than its high), the first of its path points, over a third of the
bar (100 s), so the path trades through the bid (1.00 + one tick down) 10.1 s after the cancel was sent. A cancel
that lands sooner wins; one that lands later loses the race: the bid fills and the cancel finds nothing."""

from __future__ import annotations

from botrunner.bot.step import BarClose, Effects, VenueReport
from botrunner.connector.commands import CancelOrders, PlaceOrders, PlanReason
from botrunner.connector.orders import OrderIntent
from botrunner.core.catalogue import load_catalogue
from botrunner.core.policy import PostOnlyMode
from botrunner.core.precision import PRICE_PRECISION, QUOTE_PRECISION
from botrunner.core.side import Side
from botrunner.marketdata.candles import Candle
from botrunner.paper.config import PaperConfig
from botrunner.paper.latency import LatentVenue
from botrunner.paper.venue import PaperVenue
from botrunner.runtime.market import market_events
from botrunner.runtime.paper_bot import PaperBot
from botrunner.venue.port import Fill, OrderCancelled, OrderRejected, VenueEvent

SOL = load_catalogue().perp("SOL-PERP")
T0 = 1_750_000_200  # a 5-minute boundary
USD = PRICE_PRECISION
BID = 99 * USD


class CancelAtClose:
    """A driver that cancels order 1 at the first bar close and keeps what the venue reports (when it arrives)."""

    def __init__(self, venue: LatentVenue) -> None:
        self.venue = venue
        self.reports: list[tuple[int, VenueEvent]] = []
        self.cancelled_at: int | None = None

    def feed(self, item: object) -> Effects:
        if isinstance(item, VenueReport):
            self.reports.extend((item.ts, e) for e in item.events)
        elif isinstance(item, BarClose) and self.cancelled_at is None:
            self.cancelled_at = item.ts
            self.venue.submit(CancelOrders((1,), PlanReason.VERDICT_PAUSE), item.ts)
        return Effects()


def _run(slots: int) -> CancelAtClose:
    venue = PaperVenue(SOL, PaperConfig(), deposit_quote=10_000 * QUOTE_PRECISION, oracle_price=100 * USD, now=T0)
    bid = OrderIntent(
        user_order_id=1,
        side=Side.BUY,
        price=BID,
        base=SOL.min_order_size,
        post_only=PostOnlyMode.MUST_POST_ONLY,
        reduce_only=False,
        max_ts=T0 + 3600,
        placed_at=T0,
        anchor_price=100 * USD,
    )
    venue.submit(PlaceOrders((bid,), PlanReason.LADDER_EMPTY), T0)
    latent = LatentVenue(venue, slots)
    driver = CancelAtClose(latent)
    paper = PaperBot(driver, venue, latent)  # type: ignore[arg-type]  # a stand-in driver: only feed() is used
    flat = Candle(ts=T0, open=100 * USD, high=100 * USD, low=100 * USD, close=100 * USD, volume=10**15)
    fall = Candle(ts=T0 + 300, open=100 * USD, high=112 * USD, low=90 * USD, close=95 * USD, volume=10**15)
    for event in market_events((flat, fall), 300, SOL, None):
        paper.on_event(event)
    paper.flush()
    return driver


def test_walk_when_the_cancel_lands_before_the_path_reaches_the_bid_then_it_is_cancelled() -> None:
    driver = _run(slots=25)  # 10 s < 10.1 s
    assert driver.cancelled_at == T0 + 300  # the close is at the bar's end
    events = [e for _, e in driver.reports]
    assert not any(isinstance(e, Fill) for e in events)
    assert any(isinstance(e, OrderCancelled) and e.user_order_id == 1 for e in events)


def test_walk_when_the_path_reaches_the_bid_before_the_cancel_lands_then_it_fills_and_the_cancel_is_refused() -> None:
    driver = _run(slots=26)  # 10.4 s > 10.1 s
    fills = [(ts, e) for ts, e in driver.reports if isinstance(e, Fill)]
    assert len(fills) == 1
    ts, fill = fills[0]
    assert fill.user_order_id == 1 and fill.price == BID
    assert fill.ts == T0 + 300 + 10  # the venue filled it 10.1 s into the falling leg (the venue counts seconds)
    assert ts == T0 + 300 + 20  # and the bot heard of it 26 slots later (20.5 s: seconds floored)
    assert any(isinstance(e, OrderRejected) and e.user_order_id == 1 for _, e in driver.reports)
