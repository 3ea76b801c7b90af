"""The price samples a live bot keeps so a restart can replay its strategy's history (the ``price_samples`` table).

A paper bot re-reads its feed on restart; a live bot has no feed to re-read (the chain keeps no price history), so
without these its strategy would start with empty lookback windows and a grid would stand still until they filled
again (half of the shortest window it uses, at best; the blended range would differ for a week). The strategy says
what it depends on (``Strategy.price_memory``): the last observation of each ``sample_s`` bucket. ``SampleTrail``
hands each bucket's last observation out once the bucket is over, and on shutdown the open bucket's too.
"""

from __future__ import annotations

from strategies.base import PriceMemory

Sample = tuple[int, int]  # (unix seconds, price 1e6)


class SampleTrail:
    """Mutable, owned by one bot actor."""

    __slots__ = ("_open", "memory")

    def __init__(self, memory: PriceMemory) -> None:
        if memory.sample_s < 1 or memory.lookback_s < 1:
            raise ValueError(f"price memory needs sample_s and lookback_s >= 1, got {memory}")
        self.memory = memory
        self._open: Sample | None = None  # the latest observation of the bucket not yet over

    def observe(self, ts: int, price: int) -> Sample | None:
        """Note an observation; returns the previous bucket's last observation when this one starts a new
        bucket (None otherwise)."""
        done = None
        if self._open is not None and ts // self.memory.sample_s != self._open[0] // self.memory.sample_s:
            done = self._open
        self._open = (ts, price)
        return done

    def flush(self) -> Sample | None:
        """The open bucket's latest observation (on shutdown: a restart replays it; a later observation in the same
        bucket then replaces it in the strategy's history, exactly as if the bot had never stopped)."""
        return self._open

    def keep_from(self, now: int) -> int:
        """The oldest sample time any lookback can still reach at ``now``."""
        return now - self.memory.lookback_s
