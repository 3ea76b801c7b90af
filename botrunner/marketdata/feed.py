"""A candle's intrabar price path: the order of its four prices and the times they are replayed at.

Intrabar path (four ticks per bar, always): ``open``, then the extreme NEARER to the open, then the other extreme,
then ``close``. If ``|high − open| <= |open − low|`` the path is O→H→L→C, otherwise O→L→H→C (a tie goes to the
high first). Why this rule: a bar records only its extremes, not their order; the nearer extreme is the likelier to
have been reached first (a random walk from the open hits the nearer barrier first more often), and it is the rule
NautilusTrader's adaptive bar ordering uses, so results compare. It is a pure function of the bar, hence
deterministic. Every tick is emitted even when two legs share a price, so each bar is exactly four ticks.

Tick times: leg ``k`` of a bar opening at ``ts`` is stamped ``ts + k * interval_s // 4`` (0, ¼, ½, ¾ of the bar),
so every tick of a bar is strictly before the next bar's open and a fill model sees time pass inside the bar.

``botrunner.runtime.market`` builds the market events that backtests and paper bots replay from this path.
"""

from __future__ import annotations

import enum
from typing import Final

from botrunner.marketdata.candles import Candle

TICKS_PER_BAR: Final = 4


class Leg(enum.Enum):
    """Which of a bar's four prices a tick is."""

    OPEN = "open"
    HIGH = "high"
    LOW = "low"
    CLOSE = "close"


def bar_path(bar: Candle) -> tuple[tuple[Leg, int], tuple[Leg, int], tuple[Leg, int], tuple[Leg, int]]:
    """The bar's four (leg, price) points in replay order: open, nearer extreme, farther extreme, close."""
    if abs(bar.high - bar.open) <= abs(bar.open - bar.low):
        return (Leg.OPEN, bar.open), (Leg.HIGH, bar.high), (Leg.LOW, bar.low), (Leg.CLOSE, bar.close)
    return (Leg.OPEN, bar.open), (Leg.LOW, bar.low), (Leg.HIGH, bar.high), (Leg.CLOSE, bar.close)


def tick_offsets(interval_s: int) -> tuple[int, ...]:
    """Seconds after the bar's open of its four ticks: 0, ¼, ½, ¾ of the interval (floored)."""
    if interval_s < TICKS_PER_BAR:
        raise ValueError(f"bar interval {interval_s}s is too short for {TICKS_PER_BAR} distinct tick times")
    return tuple(k * interval_s // TICKS_PER_BAR for k in range(TICKS_PER_BAR))
