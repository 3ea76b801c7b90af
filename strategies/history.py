"""PriceHistory: sampled mark prices in several rolling lookback windows at once.

One sample per ``sample_interval_s`` bucket (``bucket = ts // sample_interval_s``): the first observation in a bucket
adds a sample, later observations in the same bucket replace it with the fresher price (so the newest bucket always
holds the latest price, and the history holds bucket closes). Each lookback window then keeps the samples with
``ts`` in ``(now - lookback, now]`` where ``now`` is the newest observation's ts.

Ownership: MUTABLE for speed (a week of 1-minute samples per window). A ``PriceHistory`` is owned by one strategy
state, which is owned by one bot step; never share it across bots or threads. ``observe`` mutates in place;
``copy()`` branches.
"""

from __future__ import annotations

from strategies.rolling import RollingWindow


class PriceHistory:
    """Rolling windows over sampled prices (1e6 ints) keyed by unix-second timestamps."""

    __slots__ = ("_last_bucket", "_last_ts", "sample_interval_s", "windows")

    def __init__(self, lookbacks_s: tuple[int, ...], sample_interval_s: int) -> None:
        if sample_interval_s < 1:
            raise ValueError(f"PriceHistory.sample_interval_s must be >= 1, got {sample_interval_s}")
        self.sample_interval_s = sample_interval_s
        self.windows: tuple[RollingWindow, ...] = tuple(RollingWindow(lb) for lb in lookbacks_s)
        self._last_ts: int | None = None
        self._last_bucket: int | None = None

    @property
    def last_ts(self) -> int | None:
        """Timestamp of the newest observation, or None before the first."""
        return self._last_ts

    def observe(self, ts: int, price: int) -> None:
        """Feed one observation. Rejects non-int or non-positive prices and timestamps that go backwards."""
        if type(price) is not int or price <= 0:
            raise ValueError(f"PriceHistory.observe: price must be a positive int (1e6), got {price!r} at ts {ts}")
        if type(ts) is not int:
            raise ValueError(f"PriceHistory.observe: ts must be int unix seconds, got {ts!r}")
        if self._last_ts is not None and ts < self._last_ts:
            raise ValueError(f"PriceHistory.observe: ts {ts} is older than the previous observation {self._last_ts}")
        bucket = ts // self.sample_interval_s
        same_bucket = bucket == self._last_bucket
        for window in self.windows:
            # A window can only have lost the bucket's sample if its lookback is shorter than the bucket, which
            # GridConfig.validate forbids; the len() guard keeps a hand-built history correct anyway.
            if same_bucket and len(window):
                window.replace_last(ts, price)
            else:
                window.push(ts, price)
        self._last_ts = ts
        self._last_bucket = bucket

    def copy(self) -> PriceHistory:
        """An independent deep copy."""
        clone = PriceHistory((), self.sample_interval_s)
        clone.windows = tuple(w.copy() for w in self.windows)
        clone._last_ts = self._last_ts
        clone._last_bucket = self._last_bucket
        return clone
