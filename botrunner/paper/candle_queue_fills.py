"""The candle queue fill model: resting orders fill by their estimated place in the queue, from candles alone.

Opt-in (a bot's ``paper: fill_model: candle_queue``; ``PaperConfig.fill_model``): the default stays the path model
(``botrunner.paper.candle_fills``). The depth model is ``botrunner.paper.candle_queue`` (its docstring states the
assumptions); this module drives it from the venue's path points:

- **Bars.** The venue gives each path point its bar (``Tape.bar_ts``, ``Tape.bar_volume``) and flags the bar's
  close point (``Tape.bar_close``). The model rebuilds the bar's open, high, low and close from the points it sees
  (the replay visits both extremes: ``botrunner.marketdata.feed``) and keeps the last ``lookback_bars`` closed bars,
  the depth lookback. A bar whose close point was not flagged is closed when the next bar's first point arrives.
- **Joining.** An order accepted and still open joins the queue at its price behind ``queue_depth_share_bps`` of
  the depth estimated from the closed bars (:func:`~botrunner.paper.candle_queue.join`); an order with no queue yet
  (restored from a checkpoint) or whose resting price moved (an oracle-offset order) joins again, at the back.
- **Trade-through.** At any path point strictly through an order's price (a bid: below it; an ask: above it) the
  rest of the order fills at its own price (best price first, then oldest): the level is gone. The L2 model's rule;
  the path model's ``trade_through_ticks`` is not read.
- **Touches.** At a bar's close, for each order that was resting since before the bar started, the bar's volume at
  the order's price (spread evenly over the bar's range) is added to what has traded there; only the volume beyond
  the queue fills (:func:`~botrunner.paper.candle_queue.on_bar`, rounded down to the step). Each order counts the
  level's volume against its own queue (two of a bot's orders at one price do not share it).
- No per-bar volume window (``volume_share_bps``): the queue is the limit. Takers and trade prints are the path
  model's (slippage; prints with every queue empty).

Latency (``latency_slots > 0``) is refused by the configuration: the walked path (``botrunner.paper.walk``) stops
where the path model would fill, not where this one does. The model's bars and queues are not in the venue's
checkpoint: a restored venue starts with no depth history and re-joins its orders at the back.
"""

from __future__ import annotations

from collections import deque
from typing import assert_never

from botrunner.core.markets import PerpMarketSpec
from botrunner.marketdata.candles import Candle
from botrunner.marketdata.l2 import Trade
from botrunner.paper.account import PaperAccount
from botrunner.paper.candle_fills import CandleFillModel
from botrunner.paper.candle_queue import CandleDepthModel, CandleQueue, join, on_bar
from botrunner.paper.config import FillModelKind, PaperConfig
from botrunner.paper.fill_model import FillModel
from botrunner.paper.orders import RestingOrder, resting_price
from botrunner.paper.queue import BookView
from botrunner.venue.port import Liquidity, VenueEvent


class _OpenBar:
    """The bar the path is in, as far as its points have shown it."""

    __slots__ = ("close", "high", "low", "open", "ts", "volume")

    def __init__(self, ts: int, price: int, volume: int) -> None:
        self.ts = ts
        self.open = self.high = self.low = self.close = price
        self.volume = volume

    def candle(self) -> Candle:
        return Candle(self.ts, self.open, self.high, self.low, self.close, self.volume)


class _Joined:
    """An order's queue and the bar in progress when it joined (None: before any bar), whose touches it missed."""

    __slots__ = ("bar_ts", "order", "queue")

    def __init__(self, order: RestingOrder, queue: CandleQueue, bar_ts: int | None) -> None:
        self.order = order  # identity: a modified order keeps its id but is a new order at the back
        self.queue = queue
        self.bar_ts = bar_ts


class CandleQueueFillModel:
    """Makers fill by queue position modelled from candles (module docstring). Implements ``FillModel``."""

    __slots__ = ("_account", "_bar", "_depth", "_history", "_path", "_queues", "_spec")

    def __init__(self, account: PaperAccount, spec: PerpMarketSpec, config: PaperConfig) -> None:
        self._account = account
        self._spec = spec
        self._depth = CandleDepthModel(
            tick=spec.tick_size, step=spec.step_size, queue_share_bps=config.queue_depth_share_bps
        ).validate()
        self._path = CandleFillModel(account, spec, config)  # takers and prints, unchanged
        self._history: deque[Candle] = deque(maxlen=self._depth.lookback_bars)
        self._bar: _OpenBar | None = None
        self._queues: dict[int, _Joined] = {}

    @property
    def book(self) -> BookView | None:
        return None

    @property
    def history(self) -> tuple[Candle, ...]:
        """The closed bars the depth is estimated from (oldest first)."""
        return tuple(self._history)

    def queue_of(self, uid: int) -> CandleQueue | None:
        """The queue an open order has joined (None: none yet)."""
        joined = self._queues.get(uid)
        return joined.queue if joined is not None else None

    def on_price(self, out: list[VenueEvent]) -> None:
        account = self._account
        tape = account.tape
        if tape.bar_ts is None or tape.bar_volume is None:
            raise ValueError(
                "fill_model candle_queue: every path point needs its bar (PaperVenue.on_price bar_ts and bar_volume)"
            )
        price = tape.last_price
        bar = self._bar
        if bar is not None and bar.ts != tape.bar_ts:  # the previous bar ended without a flagged close point
            account.expire(out)
            self._close_bar(bar, out)
            bar = None
        if bar is None:
            bar = self._bar = _OpenBar(tape.bar_ts, price, tape.bar_volume)
        else:
            bar.high = max(bar.high, price)
            bar.low = min(bar.low, price)
            bar.close = price
        account.expire(out)
        if account.orders:
            self._trade_through(price, out)
        if tape.bar_close:
            self._close_bar(bar, out)
            self._bar = None

    def _trade_through(self, price: int, out: list[VenueEvent]) -> None:
        """Fill in full every order the path is strictly through, best price first, then oldest."""
        account = self._account
        oracle, tick = account.tape.oracle, self._spec.tick_size
        # a bid: the path below its price; an ask: above it
        through = [o for o in account.orders.values() if (resting_price(o, oracle, tick) - price) * o.side.sign > 0]
        through.sort(key=lambda o: (-o.side.sign * resting_price(o, oracle, tick), o.placed_at))
        orders = account.orders
        for order in through:
            if order.uid in orders:
                account.fill(order, order.base - order.filled, resting_price(order, oracle, tick), Liquidity.MAKER, out)

    def _close_bar(self, bar: _OpenBar, out: list[VenueEvent]) -> None:
        """The bar is complete: touches fill the orders that rested through all of it, then it joins the
        history."""
        account = self._account
        candle = bar.candle()
        oracle, tick = account.tape.oracle, self._spec.tick_size
        queues: dict[int, _Joined] = {}
        for order in tuple(account.orders.values()):  # placement order: oldest first
            price = resting_price(order, oracle, tick)
            joined = self._queues.get(order.uid)
            if joined is None or joined.order is not order or joined.queue.price != price:
                queues[order.uid] = self._join(order, price, bar.ts)  # this bar's touches came before it
                continue
            queues[order.uid] = joined
            if joined.bar_ts is not None and joined.bar_ts >= bar.ts:
                continue  # it joined during this bar: the bar's volume traded (partly) before it
            joined.queue, fill = on_bar(joined.queue, candle, self._depth)
            want = min(fill, order.base - order.filled)
            if want > 0:
                account.fill(order, want, price, Liquidity.MAKER, out)
        self._queues = {uid: j for uid, j in queues.items() if uid in account.orders}
        self._history.append(candle)

    def _join(self, order: RestingOrder, price: int, bar_ts: int | None) -> _Joined:
        queue = join(self._depth, order.side, price, order.base, tuple(self._history))
        return _Joined(order, queue, bar_ts)

    def on_trade(self, trade: Trade, out: list[VenueEvent]) -> None:
        self._path.on_trade(trade, out)

    def take(self, order: RestingOrder, out: list[VenueEvent]) -> None:
        self._path.take(order, out)

    def rest(self, order: RestingOrder) -> None:
        """An order still open after acceptance joins the queue at its price; the bar in progress does not count
        for it."""
        account = self._account
        if account.orders.get(order.uid) is order:
            price = resting_price(order, account.tape.oracle, self._spec.tick_size)
            self._queues[order.uid] = self._join(order, price, account.tape.bar_ts)


def candle_fill_model(account: PaperAccount, spec: PerpMarketSpec, config: PaperConfig) -> FillModel:
    """The fill model a venue starts with (before any book): the one ``config.fill_model`` names."""
    match config.fill_model:
        case FillModelKind.PATH:
            return CandleFillModel(account, spec, config)
        case FillModelKind.CANDLE_QUEUE:
            return CandleQueueFillModel(account, spec, config)
        case _ as unreachable:
            assert_never(unreachable)
