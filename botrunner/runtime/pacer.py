"""Paced replay: publish a recorded market feed at ``speed`` times real time (or as fast as possible).

:class:`ReplayPacer` maps market time to wall time — market instant ``ts`` is due at ``anchor_wall + (ts -
anchor_market) / speed`` on a monotonic clock — and waits for it in short, interruptible slices.
``botrunner.runtime.feed.MarketFeed`` uses it to publish a market's events when their time comes.

Falling behind (the consumer is slower than the clock): an event that is already due is published at once, never
after a negative sleep. While the lag stays within ``max_lag_s`` wall seconds the replay catches up by publishing
due events back to back — a burst bounded by ``max_lag_s * speed`` market seconds. Beyond that the clock slips: it
is re-anchored at the late event, so the replay continues at ``speed`` from there instead of bursting through the
backlog. No event is ever dropped or reordered; what is lost is only wall-clock fidelity.

Nothing here knows about actors or mailboxes.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Final

UNPACED: Final = math.inf
_UNPACED_NAMES: Final = frozenset({"max", "inf"})


def parse_speed(value: float | str) -> float:
    """A replay speed: a finite number > 0 (market seconds per wall second), or ``inf`` / ``"max"`` for no waiting.

    Raises ValueError naming the value otherwise (0, negative, NaN, -inf, text that is not a number).
    """
    if isinstance(value, bool):
        raise ValueError(f"replay speed must be a number > 0 or 'max', got {value!r}")
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _UNPACED_NAMES:
            return UNPACED
        try:
            speed = float(text)
        except ValueError:
            raise ValueError(f"replay speed must be a number > 0 or 'max', got {value!r}") from None
    else:
        speed = float(value)
    if math.isnan(speed) or speed <= 0:
        raise ValueError(f"replay speed must be a number > 0 or 'max', got {value!r}")
    return speed


def wait_or_stop(stop_event: threading.Event, seconds: float) -> bool:
    """Wait up to ``seconds``; True as soon as ``stop_event`` is set (the default, interruptible ``sleep``)."""
    return stop_event.wait(seconds)


class ReplayPacer:
    """Market time driven by a monotonic clock at ``speed`` market seconds per wall second.

    ``sleep(stop_event, seconds) -> stopped`` must return early (True) when the event is set; waits are sliced to at
    most ``max_sleep_s`` so even a sleep that cannot be interrupted answers a stop within that. ``market_start_ts``
    is the clock's origin until :meth:`anchor` moves it. Thread-safe: the anchor is read and moved under a lock.
    """

    def __init__(
        self,
        speed: float | str,
        market_start_ts: int,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[threading.Event, float], bool] = wait_or_stop,
        max_lag_s: float = 1.0,
        max_sleep_s: float = 0.25,
    ) -> None:
        if not (max_lag_s >= 0 and math.isfinite(max_lag_s)):
            raise ValueError(f"max_lag_s must be a finite number >= 0, got {max_lag_s!r}")
        if not (max_sleep_s > 0 and math.isfinite(max_sleep_s)):
            raise ValueError(f"max_sleep_s must be a finite number > 0, got {max_sleep_s!r}")
        self.speed = parse_speed(speed)
        self.max_lag_s = max_lag_s
        self.max_sleep_s = max_sleep_s
        self._monotonic = monotonic
        self._sleep = sleep
        self._lock = threading.Lock()
        self._anchor_market: float = market_start_ts
        self._anchor_wall = monotonic()

    def anchor(self, market_ts: float) -> None:
        """Make ``market_ts`` the market time now; the clock runs on at ``speed`` from here."""
        with self._lock:
            self._anchor_market = market_ts
            self._anchor_wall = self._monotonic()

    def wait_until(self, market_ts: float, stop_event: threading.Event) -> bool:
        """Block until market time reaches ``market_ts``; False (promptly) if ``stop_event`` is or becomes set.
        At infinite speed it never waits."""
        if stop_event.is_set():
            return False
        if math.isinf(self.speed):
            return True
        with self._lock:
            due_wall = self._anchor_wall + (market_ts - self._anchor_market) / self.speed
            now = self._monotonic()
            behind = now - due_wall
            if behind >= 0:
                if behind > self.max_lag_s:
                    # Slip rather than burst through the backlog: market time restarts at this event.
                    self._anchor_market, self._anchor_wall = market_ts, now
                return True
        while True:
            remaining = due_wall - now
            if remaining <= 0:
                return True
            if self._sleep(stop_event, min(remaining, self.max_sleep_s)) or stop_event.is_set():
                return False
            now = self._monotonic()
