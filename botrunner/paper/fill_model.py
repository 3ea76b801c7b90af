"""How resting and crossing paper orders fill: the protocol the venue drives, whichever model is in use.

Two implementations: :class:`~botrunner.paper.candle_fills.CandleFillModel` (a replayed price path: makers fill
when the path trades through their price, within a share of each bar's volume; takers pay modelled slippage) and
:class:`~botrunner.paper.queue_fills.QueueFillModel` (an L2 book and trade prints: makers queue behind the
displayed depth and fill from prints; takers walk the book). A venue starts with the candle model and switches to
the queue model for good at its first book (``PaperVenue.on_book``). Opt-in on candles (``PaperConfig.fill_model``):
:class:`~botrunner.paper.candle_queue_fills.CandleQueueFillModel` (makers fill by a queue position modelled from
the bars).

A model decides which orders fill, how much and at what price; the account books each fill
(``PaperAccount.fill``: reduce-only clipping, fees, events). The venue checks liquidation after the model has run.
"""

from __future__ import annotations

from typing import Protocol

from botrunner.marketdata.l2 import Trade
from botrunner.paper.orders import RestingOrder
from botrunner.paper.queue import BookView
from botrunner.venue.port import VenueEvent


class FillModel(Protocol):
    """One paper venue's fill model. Every method reads the venue's tape as it is (the venue has advanced it)."""

    @property
    def book(self) -> BookView | None:
        """The L2 book the model reads (None: none, the candle model)."""
        ...

    def on_price(self, out: list[VenueEvent]) -> None:
        """A new path point is on the tape: orders past their ``max_ts`` expire, then the makers it fills fill."""
        ...

    def on_trade(self, trade: Trade, out: list[VenueEvent]) -> None:
        """A trade print (the tape's last price is already the print's): orders past their ``max_ts`` expire, then
        the resting orders on the side the aggressor hit fill as makers."""
        ...

    def take(self, order: RestingOrder, out: list[VenueEvent]) -> None:
        """Fill ``order``, just accepted and crossing, as a taker; a market order's unfilled rest is cancelled."""
        ...

    def rest(self, order: RestingOrder) -> None:
        """``order`` was just accepted (and took what it could): if it is still open, it starts resting."""
        ...
