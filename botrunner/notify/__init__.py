"""Operator notifications through apprise (one library for Telegram, Discord, Slack, e-mail, webhooks).

URLs come from the fleet's ``fleet.yaml`` (``notify.urls``, with the two limits below; ``botrunner.config.fleet``),
``BOTRUNNER_NOTIFY_URLS`` (space- or comma-separated apprise URLs) and ``botrunner run --notify-url``, merged
without duplicates. The :class:`Notifier` listens to the event hub (risk-state changes, a bot failing or restarting,
a liquidation fill, live health alerts — warning < 50 %, critical < 20 % with the liquidation price — and live
incidents: a transaction with an UNKNOWN outcome, the circuit breaker opening, a safety gate blocking a trade),
watches the status board for a bot the supervisor flags, is told of a paper bot's health by the dashboard's details,
and sends a daily summary at 00:00 UTC.

A notifier must never slow or fail a bot: events are queued (bounded; an overflow is counted, never waited for)
and sent from the notifier's own thread. Identical notifications within ``DEDUP_S`` are sent once; at most
``RATE_PER_MINUTE`` go out per minute (defaults; the fleet file may set both; the rest are counted and reported in
the next one that goes). Every text is scrubbed of registered secrets (``botrunner.logsetup.scrub``) before it leaves.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import structlog

from botrunner.logsetup import scrub
from botrunner.runtime.hub import EventHub, StatusBoard
from botrunner.runtime.snapshots import Alert, BotEvent, Failed, FillEvent, Incident, RiskStateChanged, Started

ENV_URLS: Final = "BOTRUNNER_NOTIFY_URLS"
DEDUP_S: Final = 600.0
RATE_PER_MINUTE: Final = 20
QUEUE_LIMIT: Final = 1000
HEALTH_WARNING: Final = 50
HEALTH_CRITICAL: Final = 20


def urls_from_env(environ: dict[str, str] | None = None) -> list[str]:
    text = (environ if environ is not None else dict(os.environ)).get(ENV_URLS, "")
    return [u for u in text.replace(",", " ").split() if u]


@dataclass(frozen=True)
class Note:
    title: str
    body: str
    level: str  # info | warning | failure
    key: str  # what deduplication compares


class Notifier:
    """See the module's docstring. ``send`` is apprise's by default; a test may pass its own."""

    def __init__(
        self,
        urls: Sequence[str],
        *,
        board: StatusBoard | None = None,
        send: Callable[[Note], bool] | None = None,
        clock: Callable[[], float] = time.time,
        daily_summary: bool = True,
        dedup_s: float = DEDUP_S,
        rate_per_minute: int = RATE_PER_MINUTE,
    ) -> None:
        self._urls = list(urls)
        self._dedup_s = dedup_s
        self._rate_per_minute = rate_per_minute
        self._board = board
        self._clock = clock
        self._send = send or self._apprise_sender()
        self._queue: queue.Queue[Note | None] = queue.Queue(maxsize=QUEUE_LIMIT)
        self._last_sent: dict[str, float] = {}
        self._window: list[float] = []
        self._suppressed = 0
        self.sent = 0
        self.failed = 0
        self._flagged: set[str] = set()
        self._health: dict[str, str] = {}
        self._daily = daily_summary
        self._next_summary = (int(clock()) // 86_400 + 1) * 86_400
        self._log = structlog.get_logger("notify")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._unsubscribe: Callable[[], None] | None = None

    def _apprise_sender(self) -> Callable[[Note], bool]:
        import apprise

        app = apprise.Apprise()
        for url in self._urls:
            if not app.add(url):
                raise ValueError(f"notify: not an apprise URL the installed apprise can use: {scrub(url)[:60]!r}")
        kinds = {"info": apprise.NotifyType.INFO, "warning": apprise.NotifyType.WARNING}

        def send(note: Note) -> bool:
            outcome = app.notify(
                title=note.title, body=note.body, notify_type=kinds.get(note.level, apprise.NotifyType.FAILURE)
            )
            return bool(outcome)

        return send

    # -------------------------------------------------------------- lifecycle

    def start(self, hub: EventHub) -> None:
        self._unsubscribe = hub.subscribe(self.on_event)
        self._thread = threading.Thread(target=self._run, name="notifier", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._stop.set()
        with contextlib.suppress(queue.Full):  # the thread sees the stop flag within a second anyway
            self._queue.put_nowait(None)
        if self._thread is not None:
            self._thread.join(timeout_s)

    # -------------------------------------------------------------- inputs (any thread; never block)

    def notify(self, note: Note) -> None:
        try:
            self._queue.put_nowait(note)
        except queue.Full:
            self._suppressed += 1  # never waited for: the bots come first

    def on_event(self, event: BotEvent) -> None:
        note = note_for(event)
        if note is not None:
            self.notify(note)

    def on_health(self, bot: str, health: int | None, liq_price: str | None) -> None:
        """A bot's health (from the dashboard's details): a note when its level changes."""
        if health is None:
            return
        level = "critical" if health < HEALTH_CRITICAL else "warning" if health < HEALTH_WARNING else "ok"
        if self._health.get(bot, "ok") == level:
            self._health[bot] = level
            return
        self._health[bot] = level
        if level == "ok":
            self.notify(
                Note(f"{bot}: health back to {health} %", f"{bot} health {health} %", "info", f"{bot}:health:ok")
            )
        else:
            liq = f", liquidation price {liq_price}" if level == "critical" and liq_price else ""
            line = HEALTH_CRITICAL if level == "critical" else HEALTH_WARNING
            body = f"{bot} health {health} % ({level}: under {line} %){liq}"
            self.notify(
                Note(
                    f"{bot}: health {level}",
                    body,
                    "failure" if level == "critical" else "warning",
                    f"{bot}:health:{level}",
                )
            )

    # -------------------------------------------------------------- the notifier's thread

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                note = self._queue.get(timeout=1.0)
            except queue.Empty:
                note = None
            if note is not None:
                self._deliver(note)
            self._watch_board()
            if self._daily and self._clock() >= self._next_summary:
                self._next_summary += 86_400
                self._deliver(self.summary())

    def _deliver(self, note: Note) -> None:
        now = self._clock()
        last = self._last_sent.get(note.key)
        if last is not None and now - last < self._dedup_s:
            return
        self._window = [t for t in self._window if now - t < 60.0]
        if len(self._window) >= self._rate_per_minute:
            self._suppressed += 1
            return
        self._window.append(now)
        self._last_sent[note.key] = now
        body = note.body
        if self._suppressed:
            body += f"\n({self._suppressed} more notifications were suppressed by the rate limit)"
            self._suppressed = 0
        try:
            ok = self._send(Note(scrub(note.title), scrub(body), note.level, note.key))
        except Exception as exc:  # a failing notifier never fails a bot
            ok = False
            self._log.warning("notify_failed", error=scrub(str(exc))[:200])
        if ok:
            self.sent += 1
        else:
            self.failed += 1
            self._log.warning("notify_not_delivered", title=scrub(note.title))

    def _watch_board(self) -> None:
        if self._board is None:
            return
        for row in self._board.rows():
            if row.flagged and row.name not in self._flagged:
                self._deliver(
                    Note(
                        f"{row.name}: flagged",
                        f"{row.name} failed {row.restarts} times and is flagged: started paused until an operator "
                        "starts it",
                        "failure",
                        f"{row.name}:flagged:{row.restarts}",
                    )
                )
            if row.flagged:
                self._flagged.add(row.name)
            else:
                self._flagged.discard(row.name)

    def summary(self) -> Note:
        lines = []
        for row in self._board.rows() if self._board is not None else []:
            equity = f"{row.equity / 1e6:.2f}" if row.equity is not None else "-"
            pnl = f"{row.pnl / 1e6:+.2f}" if row.pnl is not None else "-"
            lines.append(f"{row.name}: {row.state or '-'} risk={row.risk_state or '-'} equity={equity} pnl={pnl}")
        day = time.strftime("%Y-%m-%d", time.gmtime(self._clock()))
        return Note(f"botrunner daily summary {day}", "\n".join(lines) or "no bots", "info", f"summary:{day}")


def note_for(event: BotEvent) -> Note | None:  # noqa: PLR0911  <why: one flat match over the event kinds>
    """The notification an event deserves, or None."""
    match event:
        case RiskStateChanged(bot=bot, state=state, reasons=reasons, time=when):
            why = f" ({', '.join(reasons)})" if reasons else ""
            level = "info" if state == "APPROVE" else "warning"
            return Note(
                f"{bot}: risk {state}", f"{bot} risk state {state}{why} at {when}", level, f"{bot}:risk:{state}"
            )
        case Failed(bot=bot, error=error, generation=generation):
            return Note(f"{bot}: failed", f"{bot} failed: {error[:300]}", "failure", f"{bot}:failed:{generation}")
        case Started(bot=bot, generation=generation, state=state) if generation > 0:
            return Note(f"{bot}: restarted", f"{bot} restarted ({state})", "warning", f"{bot}:started:{generation}")
        case FillEvent(bot=bot, order_id=0, time=when, base=base, price=price):
            return Note(
                f"{bot}: LIQUIDATION",
                f"{bot} was liquidated at {when}: {base} at {price}",
                "failure",
                f"{bot}:liquidation:{when}",
            )
        case Alert(bot=bot, level=level, message=message):
            kind = {"critical": "failure", "warning": "warning"}.get(level, "info")
            return Note(f"{bot}: {level}", f"{bot}: {message}", kind, f"{bot}:alert:{level}")
        case Incident(bot=bot, what=what, message=message, ref=ref):
            title = _INCIDENT_TITLES.get(what, what)
            return Note(f"{bot}: {title}", f"{bot}: {message}", "failure", f"{bot}:{what}:{ref}")
        case _:
            return None


_INCIDENT_TITLES: Final = {
    "tx_unknown": "transaction outcome UNKNOWN",
    "breaker_open": "circuit breaker open",
    "gate_blocked": "safety gate blocked a trade",
}
