"""What the runtime shows the outside world without asking a busy actor: the status board and the event hub.

Each bot actor posts its one-line summary to the :class:`StatusBoard` after every step, so ``ctl status`` for a
fleet of any size is a dictionary read, never 100 round trips through mailboxes. The :class:`EventHub` fans bot
events (fills, funding payments, risk-state changes, lifecycle changes) out to ``ctl subscribe`` clients; a
listener that raises is dropped, never the publisher's problem.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import msgspec
import structlog

from botrunner.runtime.snapshots import BotEvent, BotSummary

Listener = Callable[[BotEvent], None]


class StatusBoard:
    """Latest summary per bot (immutable ``BotSummary`` values, so a reader never sees one half-written).
    Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, BotSummary] = {}

    def post(self, name: str, row: BotSummary) -> None:
        with self._lock:
            self._rows[name] = row

    def update(
        self,
        name: str,
        *,
        market: str | None = None,
        mode: str | None = None,
        state: str | None = None,
        restarts: int | None = None,
        flagged: bool | None = None,
    ) -> None:
        """Set the given fields of ``name``'s row (the supervisor's part, before and between the bot's posts)."""
        given = {"market": market, "mode": mode, "state": state, "restarts": restarts, "flagged": flagged}
        changes = {key: value for key, value in given.items() if value is not None}
        with self._lock:
            self._rows[name] = msgspec.structs.replace(self._rows.get(name, BotSummary(name=name)), **changes)

    def get(self, name: str) -> BotSummary | None:
        with self._lock:
            return self._rows.get(name)

    def remove(self, name: str) -> None:
        with self._lock:
            self._rows.pop(name, None)

    def rows(self) -> list[BotSummary]:
        with self._lock:
            return [self._rows[k] for k in sorted(self._rows)]


class EventHub:
    """Fan-out of bot events to listeners, each optionally limited to some bots. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: dict[int, tuple[Listener, frozenset[str] | None]] = {}
        self._next = 0
        self._log = structlog.get_logger("hub")

    def subscribe(self, listener: Listener, bots: tuple[str, ...] | list[str] | None = None) -> Callable[[], None]:
        with self._lock:
            token = self._next
            self._next += 1
            self._listeners[token] = (listener, frozenset(bots) if bots else None)

        def unsubscribe() -> None:
            with self._lock:
                self._listeners.pop(token, None)

        return unsubscribe

    def publish(self, event: BotEvent) -> None:
        with self._lock:
            targets = [(t, f) for t, (f, bots) in self._listeners.items() if bots is None or event.bot in bots]
        for token, listener in targets:
            try:
                listener(event)
            except Exception as exc:  # a broken listener is dropped; the bots never notice
                self._log.warning("listener_dropped", error=str(exc))
                with self._lock:
                    self._listeners.pop(token, None)

    @property
    def listeners(self) -> int:
        with self._lock:
            return len(self._listeners)
