"""Rolling percentiles over a time window, without re-sorting: an order-statistic window.

``RollingWindow`` keeps the samples whose timestamp lies in ``(now - lookback_s, now]`` twice: in arrival order (a
deque, so the oldest leaves in O(1)) and as a sorted Python list of prices (so the k-th smallest is an O(1) index).
Insert and delete are a binary search plus a ``list`` memmove: O(n) in theory, but the memmove of a week of
1-minute samples (10,080 pointers, 80 KB) costs about a microsecond, which beats a balanced tree or skiplist written
in pure Python by a wide margin (see ``botrunner.bench.strategy``). Nothing is ever re-sorted.

Percentile definition (nearest rank, integers only): for ``n`` samples sorted ascending and a percentile ``p`` in
basis points, the rank is ``r = ceil(p * n / 10000)`` clamped to ``[1, n]`` and the percentile is the ``r``-th
smallest sample. It is always an observed price, so no rounding is involved; ``p = 0`` is the minimum and
``p = 10000`` the maximum.

Ownership: a ``RollingWindow`` is MUTABLE, for speed. It belongs to exactly one ``PriceHistory`` which belongs to
exactly one strategy state owned by one bot step; it is never shared across threads or bots. Use ``copy()`` to
branch (e.g. a what-if backtest).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque

from botrunner.core.precision import BPS_PRECISION


def nearest_rank(n: int, percentile_bps: int) -> int:
    """The 1-based nearest rank of ``percentile_bps`` among ``n >= 1`` samples: ``ceil(p*n/1e4)`` in ``[1, n]``."""
    if n < 1:
        raise ValueError(f"nearest_rank needs n >= 1 samples, got {n}")
    if not 0 <= percentile_bps <= BPS_PRECISION:
        raise ValueError(f"percentile_bps must be in [0, {BPS_PRECISION}], got {percentile_bps}")
    rank = -((-percentile_bps * n) // BPS_PRECISION)
    return min(max(rank, 1), n)


class RollingWindow:
    """Samples ``(ts, price)`` with ts in ``(now - lookback_s, now]``, queryable by percentile in O(1)."""

    __slots__ = ("_sorted", "_times", "lookback_s")

    def __init__(self, lookback_s: int) -> None:
        if lookback_s <= 0:
            raise ValueError(f"RollingWindow.lookback_s must be > 0, got {lookback_s}")
        self.lookback_s = lookback_s
        self._times: deque[tuple[int, int]] = deque()  # (ts, price), arrival order, ts non-decreasing
        self._sorted: list[int] = []  # the same prices, ascending

    def __len__(self) -> int:
        return len(self._sorted)

    @property
    def oldest_ts(self) -> int | None:
        """Timestamp of the oldest sample still in the window, or None when empty."""
        return self._times[0][0] if self._times else None

    def push(self, ts: int, price: int) -> None:
        """Add a sample at ``ts`` (>= every earlier sample's ts) and drop samples that fell out of the window."""
        self._times.append((ts, price))
        insort(self._sorted, price)
        self.evict(ts)

    def replace_last(self, ts: int, price: int) -> None:
        """Replace the newest sample (same sampling bucket, fresher price) and evict as of ``ts``."""
        if not self._times:
            raise ValueError("RollingWindow.replace_last on an empty window")
        _, old = self._times.pop()
        self._remove(old)
        self.push(ts, price)

    def evict(self, now: int) -> None:
        """Drop samples with ts <= now - lookback_s."""
        cutoff = now - self.lookback_s
        times = self._times
        while times and times[0][0] <= cutoff:
            _, price = times.popleft()
            self._remove(price)

    def percentile(self, percentile_bps: int) -> int:
        """Nearest-rank percentile (see the module docstring). Raises ``ValueError`` on an empty window."""
        if not self._sorted:
            raise ValueError(f"percentile of an empty {self.lookback_s}s window")
        return self._sorted[nearest_rank(len(self._sorted), percentile_bps) - 1]

    def sorted_prices(self) -> tuple[int, ...]:
        """A snapshot of the window's prices, ascending (for tests and reports)."""
        return tuple(self._sorted)

    def copy(self) -> RollingWindow:
        """An independent copy (O(n))."""
        clone = RollingWindow(self.lookback_s)
        clone._times = deque(self._times)
        clone._sorted = list(self._sorted)
        return clone

    def _remove(self, price: int) -> None:
        i = bisect_left(self._sorted, price)
        # Any equal price will do: the sorted list only holds values, the deque keeps the order.
        del self._sorted[i]
