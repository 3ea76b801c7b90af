"""Queue-position fills from candles, for a resting order where the data has no order book (issue 22, item 4).

On L2 data the queue model exists (``botrunner.paper.queue``: an order joins behind ``queue_depth_share_bps`` of
the displayed depth at its price and fills as printed volume at that price eats through it). Candles show neither
the depth at a price nor the volume traded there, so both are estimated by a documented depth model, pure
integers, deterministic:

- **Volume at a price in a bar**: spread evenly over the bar's range, ``volume / levels`` with
  ``levels = (high - low) / tick + 1`` (:func:`level_volume`).
- **Resting depth at entry**: what a level holds is taken to be one bar's worth of that per-level volume, averaged
  over the ``lookback_bars`` bars before the order (:func:`resting_depth`): the book at a level is about as deep as
  what trades at a level in a bar. This is the model's assumption; it has no book to check against.
- **Joining**: the order queues behind ``queue_share_bps`` of that depth (default 2000: the seed's "fills once 20 %
  of the resting depth has traded"), rounded up.
- **A bar** (:func:`on_bar`): one that trades strictly through the order's price (a bid: ``low < price``; an ask:
  ``high > price``) consumed the whole level: the rest of the order fills. One that only touches it (``low ==
  price`` for a bid, ``high == price`` for an ask) adds its per-level volume to what has traded at the price; only
  the volume beyond the queue reaches the order (partial fills, rounded down to the step). A bar that does not
  reach the price does nothing.

The caller passes the bars that closed after the order was placed (the bar it was placed in saw prices before it).
Property (tests/property/test_candle_queue.py): an order never fills from touches before the volume traded at its
price exceeds the queue, and never by more than the volume beyond it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import msgspec

from botrunner.core.fixed import ceil_div
from botrunner.core.precision import BPS_PRECISION
from botrunner.core.side import Side
from botrunner.marketdata.candles import Candle

DEFAULT_QUEUE_SHARE_BPS: Final = 2_000  # the seed's 20 %
DEFAULT_LOOKBACK_BARS: Final = 12


class CandleDepthModel(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The depth model's knobs: price ``tick`` (1e6) and base ``step`` (1e9) of the market, the share of the
    estimated depth an order queues behind (bps) and the bars the depth is averaged over."""

    tick: int
    step: int
    queue_share_bps: int = DEFAULT_QUEUE_SHARE_BPS
    lookback_bars: int = DEFAULT_LOOKBACK_BARS

    def validate(self) -> CandleDepthModel:
        if self.tick <= 0 or self.step <= 0:
            raise ValueError(f"CandleDepthModel: tick and step must be > 0, got {self.tick}, {self.step}")
        if not 0 <= self.queue_share_bps <= BPS_PRECISION:
            raise ValueError(f"CandleDepthModel.queue_share_bps must be in [0, 10000], got {self.queue_share_bps}")
        if self.lookback_bars <= 0:
            raise ValueError(f"CandleDepthModel.lookback_bars must be > 0, got {self.lookback_bars}")
        return self


def level_volume(bar: Candle, tick: int) -> int:
    """The bar's volume (base 1e9) per price level of its range, rounded down."""
    levels = (bar.high - bar.low) // tick + 1
    return bar.volume // levels


def resting_depth(bars: Sequence[Candle], model: CandleDepthModel) -> int:
    """Estimated depth (base 1e9) at a level: the mean per-level volume of the last ``lookback_bars`` bars."""
    recent = bars[-model.lookback_bars :]
    if not recent:
        return 0
    return sum(level_volume(b, model.tick) for b in recent) // len(recent)


class CandleQueue(msgspec.Struct, frozen=True, kw_only=True):
    """A resting order's place in the estimated queue: ``queue`` base ahead of it at entry, ``traded`` base traded
    at its price since, ``filled`` so far (all base 1e9)."""

    side: Side
    price: int
    base: int
    queue: int
    traded: int = 0
    filled: int = 0

    @property
    def remaining(self) -> int:
        return self.base - self.filled


def join(model: CandleDepthModel, side: Side, price: int, base: int, bars_before: Sequence[Candle]) -> CandleQueue:
    """An order of ``base`` resting at ``price``, queued behind ``queue_share_bps`` of the depth estimated from
    ``bars_before`` (the bars closed before it was placed)."""
    model.validate()
    if base <= 0 or base % model.step:
        raise ValueError(f"base must be a positive multiple of the step {model.step}, got {base}")
    queue = ceil_div(resting_depth(bars_before, model) * model.queue_share_bps, BPS_PRECISION)
    return CandleQueue(side=side, price=price, base=base, queue=queue)


def on_bar(queue: CandleQueue, bar: Candle, model: CandleDepthModel) -> tuple[CandleQueue, int]:
    """The queue after ``bar`` and the base that fills in it (module docstring)."""
    if queue.remaining == 0:
        return queue, 0
    buy = queue.side is Side.BUY
    if (bar.low < queue.price) if buy else (bar.high > queue.price):  # traded through: the level is gone
        fill = queue.remaining
        return msgspec.structs.replace(queue, filled=queue.base), fill
    if (bar.low == queue.price) if buy else (bar.high == queue.price):  # touched: volume at the price counts
        traded = queue.traded + level_volume(bar, model.tick)
        beyond = max(0, traded - queue.queue)
        fill = min(queue.remaining, (beyond - queue.filled) // model.step * model.step)
        fill = max(0, fill)
        return msgspec.structs.replace(queue, traded=traded, filled=queue.filled + fill), fill
    return queue, 0
