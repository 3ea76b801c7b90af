"""What the paper venue knows of its market at this instant: the tape every part of the venue reads.

One mutable :class:`Tape` per venue, shared by reference by the account (which values itself at the oracle and
stamps its events with ``now``) and the fill models (which trade against the touch and spend the bar's volume).
Only the venue façade advances it, on each input (``botrunner.paper.venue``); a fill model may spend
``bar_budget``.
"""

from __future__ import annotations

from botrunner.core.side import Side


class Tape:
    """The venue clock, the last traded price, the oracle, the touch and the current bar's maker volume window."""

    __slots__ = (
        "bar_budget",
        "bar_close",
        "bar_ts",
        "bar_volume",
        "best_ask",
        "best_bid",
        "last_price",
        "now",
        "oracle",
    )

    def __init__(self, *, now: int, price: int) -> None:
        self.now = now
        self.last_price = price  # last traded price on the replayed path
        self.oracle = price
        self.best_bid: int | None = None  # None: no book side known (the touch is the last price)
        self.best_ask: int | None = None
        self.bar_ts: int | None = None  # the bar whose volume ``bar_budget`` counts down; None = no bar identity
        self.bar_budget: int | None = None  # maker base still fillable this bar; None = unlimited
        # the candle queue model's view of the bar (``botrunner.paper.candle_queue_fills``); the path model reads none
        self.bar_volume: int | None = None  # the bar's whole volume (base 1e9); None = not given
        self.bar_close = False  # this path point is the bar's close

    def touch(self, side: Side) -> int:
        """The price an order on ``side`` would trade against: the best ask for a buy, the best bid for a sell;
        without a book, the last traded price."""
        if side is Side.BUY:
            return self.best_ask if self.best_ask is not None else self.last_price
        return self.best_bid if self.best_bid is not None else self.last_price
