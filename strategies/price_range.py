"""The grid range: percentiles of several lookback windows, blended by weight (MVP spec §3).

    low  = floor( Σ w_i · P_low(window_i)  / Σ w_i )      over the windows that qualify
    high = ceil(  Σ w_i · P_high(window_i) / Σ w_i )

``P`` is the nearest-rank percentile (``strategies.rolling``). Rounding is explicit and outward (low down, high up)
so the blended range never shrinks through rounding. A window qualifies when it holds at least
``config.min_samples`` samples and they span at least ``config.min_coverage_bps`` of its lookback (the span of a
sample counts its whole sampling bucket); weights are renormalised over the qualifying windows. When none
qualifies the range is unknown (None) and the strategy opens no new exposure.
"""

from __future__ import annotations

import msgspec

from botrunner.core.precision import BPS_PRECISION
from strategies.config import GridConfig
from strategies.history import PriceHistory


class PriceRange(msgspec.Struct, frozen=True):
    """A price range [low, high] (1e6), low < high, and which windows (by index) it was blended from."""

    low: int
    high: int
    windows_used: tuple[int, ...] = ()

    @property
    def width(self) -> int:
        return self.high - self.low

    def contains(self, price: int) -> bool:
        return self.low <= price <= self.high


def window_qualifies(history: PriceHistory, index: int, config: GridConfig) -> bool:
    """True when window ``index`` has enough samples over enough of its lookback to be trusted."""
    window = history.windows[index]
    oldest = window.oldest_ts
    now = history.last_ts
    if oldest is None or now is None or len(window) < config.min_samples:
        return False
    covered_s = now - oldest + config.sample_interval_s
    return covered_s * BPS_PRECISION >= window.lookback_s * config.min_coverage_bps


def blended_range(history: PriceHistory, config: GridConfig) -> PriceRange | None:
    """The weighted blend of the qualifying windows' percentile ranges, widened to ``config.min_range_bps``.

    Returns None when no window with a non-zero weight qualifies.
    """
    if len(history.windows) != len(config.weights_bps):
        raise ValueError(
            f"blended_range: history has {len(history.windows)} windows, config has {len(config.weights_bps)} weights"
        )
    total_w = 0
    low_num = 0
    high_num = 0
    used: list[int] = []
    for i, (window, weight) in enumerate(zip(history.windows, config.weights_bps, strict=True)):
        if weight == 0 or not window_qualifies(history, i, config):
            continue
        total_w += weight
        low_num += weight * window.percentile(config.percentile_low_bps)
        high_num += weight * window.percentile(config.percentile_high_bps)
        used.append(i)
    if total_w == 0:
        return None
    low = low_num // total_w
    high = -((-high_num) // total_w)
    low, high = widen(low, high, config.min_range_bps)
    return PriceRange(low, high, tuple(used))


def widen(low: int, high: int, min_range_bps: int) -> tuple[int, int]:
    """Widen [low, high] symmetrically about its mid to at least ``min_range_bps`` of the mid (and >= 2 units).

    Keeps low >= 1 (prices are positive): a range that would cross zero is shifted up instead.
    """
    mid2 = low + high  # twice the mid, kept exact
    min_width = max(2, -((-mid2 * min_range_bps) // (2 * BPS_PRECISION)))
    width = high - low
    if width >= min_width:
        return low, high
    extra = min_width - width
    new_low = low - extra // 2
    new_high = high + (extra - extra // 2)
    if new_low < 1:
        new_high += 1 - new_low
        new_low = 1
    return new_low, new_high


def recentre(price_range: PriceRange, mark: int) -> PriceRange:
    """The same width, moved so the mark sits at its mid (infinity grid). Keeps low >= 1."""
    width = price_range.width
    low = mark - width // 2
    low = max(low, 1)
    return PriceRange(low, low + width, price_range.windows_used)
