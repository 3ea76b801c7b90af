"""When a live bot may touch the chain: the RPC retry schedule, the circuit breaker and the connection-health state.

Pure: no I/O, no clock. Every time is a float of seconds passed in by the caller (monotonic in practice), every
state is an immutable value and every transition returns a new one, so a bot's shell can keep the current value in
one field and tests can replay any sequence of events.

Two independent reasons stop trading, and ``Link.can_trade`` needs both to be clear:

* **The circuit breaker** (REQ 9: "N consecutive failures -> pause for a cool-down"): ``breaker_failures``
  consecutive transaction failures open it for ``breaker_cool_down_s``; afterwards it half-opens and lets one trial
  operation through: a success closes it, a failure re-opens it at once for another cool-down.
* **The link** (REQ 9.5: "lost connection retried every 10 s; after reconnecting, resync before trading"):
  CONNECTED -> (connection lost) RECOVERING -> (reconnected) RESYNC_REQUIRED -> (resynced) CONNECTED. A transaction
  whose outcome is unknown also forces RESYNC_REQUIRED: the account may have changed in a way we did not see, so no
  new order may be built on the old picture of it.
"""

from __future__ import annotations

import enum
from typing import assert_never

import msgspec

from botrunner.config.live import LiveSettings


def backoff_delays(settings: LiveSettings) -> tuple[float, ...]:
    """The sleeps between attempts of a retried RPC read: ``(1.0, 2.0, 4.0)`` by default, so four attempts in all."""
    return tuple(float(delay) for delay in settings.rpc_retry_delays_s)


class BreakerState(enum.Enum):
    """Where a circuit breaker stands at a given time."""

    CLOSED = "closed"  # operations flow; consecutive failures are being counted
    OPEN = "open"  # tripped: nothing may be sent until the cool-down ends
    HALF_OPEN = "half_open"  # the cool-down is over: one trial operation decides (success closes, failure re-opens)


class CircuitBreaker(msgspec.Struct, frozen=True, kw_only=True):
    """Counts consecutive transaction failures and trips after ``threshold`` of them for ``cool_down_s`` seconds.

    ``opens_until`` is set from the moment the breaker trips until a success closes it: before that time the breaker
    is OPEN, from that time on HALF_OPEN.
    """

    threshold: int
    cool_down_s: float
    failures: int = 0  # consecutive failures since the last success
    opens_until: float | None = None

    @classmethod
    def from_settings(cls, settings: LiveSettings) -> CircuitBreaker:
        """A closed breaker with the bot's ``breaker_failures`` and ``breaker_cool_down_s``."""
        return cls(threshold=settings.breaker_failures, cool_down_s=float(settings.breaker_cool_down_s))

    def state(self, now: float) -> BreakerState:
        """CLOSED, OPEN or HALF_OPEN at ``now``."""
        if self.opens_until is None:
            return BreakerState.CLOSED
        if now < self.opens_until:
            return BreakerState.OPEN
        return BreakerState.HALF_OPEN

    def is_open(self, now: float) -> bool:
        """True while tripped and cooling down: no operation may start."""
        return self.state(now) is BreakerState.OPEN

    def record_failure(self, now: float) -> CircuitBreaker:
        """One more failed operation, finished at ``now``."""
        failures = self.failures + 1
        state = self.state(now)
        match state:
            case BreakerState.CLOSED:
                if failures >= self.threshold:
                    return msgspec.structs.replace(self, failures=failures, opens_until=now + self.cool_down_s)
                return msgspec.structs.replace(self, failures=failures)
            case BreakerState.OPEN:
                # An operation that started before the trip failed late: it is already paid for by the running
                # cool-down, so do not extend it.
                return msgspec.structs.replace(self, failures=failures)
            case BreakerState.HALF_OPEN:
                # The trial failed: the cause is still there, so pause again for a whole cool-down.
                return msgspec.structs.replace(self, failures=failures, opens_until=now + self.cool_down_s)
            case _:
                assert_never(state)

    def record_success(self) -> CircuitBreaker:
        """A successful operation: the breaker closes and the count starts again from zero."""
        return CircuitBreaker(threshold=self.threshold, cool_down_s=self.cool_down_s)


class LinkState(enum.Enum):
    """The health of a bot's connection to its RPC node, as far as trading is concerned."""

    CONNECTED = "connected"
    RECOVERING = "recovering"  # the connection is lost; try again at next_attempt_at
    RESYNC_REQUIRED = "resync_required"  # connected, but our picture of the account may be stale


class Link(msgspec.Struct, frozen=True, kw_only=True):
    """Connection health plus the circuit breaker: the one answer to "may this bot send a transaction now?".

    Out-of-order events never open a path to trading: ``reconnected`` outside RECOVERING and ``resynced`` while
    RECOVERING (a resync needs a connection) leave the state as it is.
    """

    reconnect_every_s: float
    breaker: CircuitBreaker
    state: LinkState = LinkState.CONNECTED
    next_attempt_at: float | None = None  # set while RECOVERING
    unknown_tx: bool = False  # why a resync is required (for messages); implies state is not CONNECTED

    @classmethod
    def from_settings(cls, settings: LiveSettings) -> Link:
        """A connected link with a closed breaker, from the bot's ``LiveSettings``."""
        return cls(reconnect_every_s=float(settings.reconnect_every_s), breaker=CircuitBreaker.from_settings(settings))

    def connection_lost(self, now: float) -> Link:
        """The connection failed at ``now`` (also a failed reconnection attempt): retry after ``reconnect_every_s``."""
        return msgspec.structs.replace(self, state=LinkState.RECOVERING, next_attempt_at=now + self.reconnect_every_s)

    def should_reconnect(self, now: float) -> bool:
        """True when recovering and the next reconnection attempt is due."""
        return self.state is LinkState.RECOVERING and self.next_attempt_at is not None and now >= self.next_attempt_at

    def reconnected(self) -> Link:
        """The node answers again: the account must be resynced before the next trade."""
        state = self.state
        match state:
            case LinkState.RECOVERING:
                return msgspec.structs.replace(self, state=LinkState.RESYNC_REQUIRED, next_attempt_at=None)
            case LinkState.CONNECTED | LinkState.RESYNC_REQUIRED:
                return self
            case _:
                assert_never(state)

    def resynced(self) -> Link:
        """The account (orders, position, collateral) was re-read from the chain: trading may resume."""
        state = self.state
        match state:
            case LinkState.RESYNC_REQUIRED | LinkState.CONNECTED:
                return msgspec.structs.replace(self, state=LinkState.CONNECTED, unknown_tx=False)
            case LinkState.RECOVERING:
                return self  # a resync cannot have happened without a connection
            case _:
                assert_never(state)

    def unknown_transaction(self) -> Link:
        """A transaction's outcome is unknown (it may yet land): resync before any new trade."""
        state = self.state
        match state:
            case LinkState.CONNECTED | LinkState.RESYNC_REQUIRED:
                return msgspec.structs.replace(self, state=LinkState.RESYNC_REQUIRED, unknown_tx=True)
            case LinkState.RECOVERING:
                # Reconnecting leads through RESYNC_REQUIRED anyway; the flag records why.
                return msgspec.structs.replace(self, unknown_tx=True)
            case _:
                assert_never(state)

    def tx_failed(self, now: float) -> Link:
        """A transaction failed (rejected, failed on chain, expired, unknown): count it on the breaker."""
        return msgspec.structs.replace(self, breaker=self.breaker.record_failure(now))

    def tx_succeeded(self) -> Link:
        """A transaction was confirmed: the breaker closes."""
        return msgspec.structs.replace(self, breaker=self.breaker.record_success())

    def can_trade(self, now: float) -> bool:
        """True only when CONNECTED and the breaker is not open. An unknown transaction needs no check of its own:
        ``unknown_tx`` is only ever set outside CONNECTED, and only ``resynced`` (which clears it) returns there."""
        return self.state is LinkState.CONNECTED and not self.breaker.is_open(now)
