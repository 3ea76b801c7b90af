"""When a failed bot restarts, and when it stops trying: exponential backoff inside a failure window.

A bot that raises restarts after ``base_delay_s``, then twice that, and so on up to ``max_delay_s``; once
``max_failures`` failures fall within the last ``window_s`` seconds it is not restarted again: it stays PAUSED and
is flagged for a human (``botrunner ctl start NAME`` clears the flag). Failures older than the window are forgiven,
so a bot that fails once a day keeps restarting quickly.

Pure: the caller passes its own clock readings (monotonic seconds).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import msgspec


class RestartPolicy(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    base_delay_s: float = 1.0
    max_delay_s: float = 60.0
    max_failures: int = 5
    window_s: float = 600.0

    def __post_init__(self) -> None:
        for name in ("base_delay_s", "max_delay_s", "window_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"restart policy: {name} must be a positive number of seconds, got {value!r}")
        if self.max_delay_s < self.base_delay_s:
            raise ValueError("restart policy: max_delay_s must be >= base_delay_s")
        if self.max_failures < 1:
            raise ValueError(f"restart policy: max_failures must be >= 1, got {self.max_failures}")


class Restart(msgspec.Struct, frozen=True):
    delay_s: float
    failures_in_window: int


class GiveUp(msgspec.Struct, frozen=True):
    failures_in_window: int


def recent_failures(failures: Sequence[float], now: float, policy: RestartPolicy) -> tuple[float, ...]:
    """The failure times still inside the window ending at ``now``."""
    return tuple(t for t in failures if now - t < policy.window_s)


def after_failure(failures: Sequence[float], now: float, policy: RestartPolicy) -> Restart | GiveUp:
    """What to do about the failure at ``now``; ``failures`` are the earlier ones (any order, any age)."""
    recent = (*recent_failures(failures, now, policy), now)
    count = len(recent)
    if count >= policy.max_failures:
        return GiveUp(count)
    delay = min(policy.max_delay_s, policy.base_delay_s * 2 ** (count - 1))
    return Restart(delay, count)
