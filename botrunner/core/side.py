"""Order side. Drift calls it PositionDirection (Long/Short); we say what the order does."""

from __future__ import annotations

import enum


class Side(enum.Enum):
    BUY = "buy"  # Drift PositionDirection.Long: adds to a long, reduces a short
    SELL = "sell"  # Drift PositionDirection.Short

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell: ``position + side.sign * base`` is the position after a fill."""
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY
