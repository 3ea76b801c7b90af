"""The position curve: price -> target signed base position (1e9), non-increasing in price.

Over the range [low, high] the curve runs from ``+max_long`` at ``low`` to ``-max_short`` at ``high`` and stays flat
beyond either end. ``max_long = long_levels * level_base`` and ``max_short = short_levels * level_base``; a bias makes
them unequal (bullish: more long levels), which moves the zero crossing away from the mid so that the target is
longer (bullish) or shorter (bearish) at the same price.

- LINEAR: ``max_long - (max_long + max_short) * (p - low) / (high - low)``, rounded to the NEAREST multiple of the
  order step (half up, integer maths). Rounding a non-increasing function this way keeps it non-increasing.
- STEPWISE: the range is cut into ``N = long_levels + short_levels`` equal slices; with
  ``j = floor((p - low) * N / (high - low))`` (clamped to [0, N]) the target is ``level_base * (long_levels - j)``.
  Each grid line ``low + ceil(j * (high - low) / N)`` changes the target by exactly ``level_base``.

``level_base`` must already be a multiple of the step, so every value the curve returns is step-aligned.
"""

from __future__ import annotations

from typing import assert_never

import msgspec

from strategies.config import CurveType


class Curve(msgspec.Struct, frozen=True, kw_only=True):
    """A price -> target position curve over [low, high] (prices 1e6, bases 1e9)."""

    kind: CurveType
    low: int
    high: int
    long_levels: int
    short_levels: int
    level_base: int  # a positive multiple of step
    step: int  # the market's order step (1e9)

    def __post_init__(self) -> None:
        if self.high <= self.low:
            raise ValueError(f"Curve: high {self.high} must be > low {self.low}")
        if self.long_levels < 0 or self.short_levels < 0:
            raise ValueError(f"Curve: level counts must be >= 0, got {self.long_levels}/{self.short_levels}")
        if self.step <= 0 or self.level_base <= 0 or self.level_base % self.step:
            raise ValueError(f"Curve: level_base {self.level_base} must be a positive multiple of step {self.step}")

    @property
    def max_long(self) -> int:
        return self.long_levels * self.level_base

    @property
    def max_short(self) -> int:
        return self.short_levels * self.level_base

    def target(self, price: int) -> int:
        """Target signed base (1e9, step-aligned) at ``price`` (1e6)."""
        p = min(max(price, self.low), self.high)
        width = self.high - self.low
        match self.kind:
            case CurveType.LINEAR:
                total = self.max_long + self.max_short
                num = self.max_long * width - total * (p - self.low)  # target * width
                den = width * self.step
                return ((2 * num + den) // (2 * den)) * self.step
            case CurveType.STEPWISE:
                n = self.long_levels + self.short_levels
                j = min(((p - self.low) * n) // width, n)
                return self.level_base * (self.long_levels - j)
            case _:
                assert_never(self.kind)

    def grid_lines(self) -> tuple[int, ...]:
        """STEPWISE grid lines (1e6): the smallest prices at which the target has dropped by 1..N levels."""
        n = self.long_levels + self.short_levels
        width = self.high - self.low
        return tuple(self.low + -((-j * width) // n) for j in range(1, n + 1))
