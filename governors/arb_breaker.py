"""The funding-arbitrage circuit breaker (the funding-bot seed's ``CircuitBreaker``): after ``threshold`` (3)
consecutive execution failures, no new entry for ``cooldown_s`` (5 min) after the last of them. Pure and immutable.

A failure is an execution that did not end as planned: abandoned (the Drift leg filled nothing or was refused),
market-hedged or unwound after a leg-out, or stuck (``governors.leg_out.FAILED_OUTCOMES``); a completed or partial
execution is a success and breaks the run. The count is not reset when the breaker opens: once the cooldown has
passed, one more entry may be tried (half-open), and if it fails too the run is 4 long and the breaker opens again
at once. Exits are never blocked: the breaker only stops new risk.
"""

from __future__ import annotations

import msgspec

from botrunner.core.invalid import InvalidField
from governors.leg_out import FAILED_OUTCOMES, Outcome


class BreakerConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    threshold: int = 3
    cooldown_s: int = 300

    def validate(self) -> BreakerConfig:
        if self.threshold < 1:
            raise InvalidField("BreakerConfig", "threshold", "must be >= 1")
        if self.cooldown_s < 0:
            raise InvalidField("BreakerConfig", "cooldown_s", "must be >= 0")
        return self


class Breaker(msgspec.Struct, frozen=True):
    consecutive_failures: int = 0
    last_failure_s: int | None = None
    trips: int = 0  # how many times the run reached the threshold (for the report)


def record(config: BreakerConfig, breaker: Breaker, outcome: Outcome, now_s: int) -> Breaker:
    """The breaker after one execution's ``outcome`` at ``now_s``."""
    if outcome not in FAILED_OUTCOMES:
        return Breaker(0, breaker.last_failure_s, breaker.trips)
    run = breaker.consecutive_failures + 1
    return Breaker(run, now_s, breaker.trips + (run >= config.threshold))


def allows_entry(config: BreakerConfig, breaker: Breaker, now_s: int) -> bool:
    """False while the last ``threshold`` executions all failed and the last failure is under ``cooldown_s`` ago."""
    if breaker.consecutive_failures < config.threshold or breaker.last_failure_s is None:
        return True
    return now_s - breaker.last_failure_s >= config.cooldown_s
