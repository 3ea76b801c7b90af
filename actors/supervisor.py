"""The supervisor: one pykka actor that starts, stops, restarts and reloads the fleet's bot actors.

Isolation: every bot is its own actor (own thread, own mailbox, own venue, own log). A bot that raises is stopped
by pykka; its ``on_failure`` reports here with its generation. The supervisor first makes everything the writer
holds durable (so the restart resumes from the last complete step), then asks the restart policy: restart after an
exponential backoff, or — after too many failures in the window — one last start PAUSED (its orders are cancelled
at once, the position left alone) and flag it for a human. Other bots never notice any of this.

The supervisor never waits on a bot from inside its own mailbox except to stop it; views and commands go to the
bots directly from the control socket's worker threads (``bot_ref``).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, assert_never

import pykka
import structlog

from actors.bot_actor import BotActor, BotSetup
from botrunner.bot.lifecycle import BotRunState
from botrunner.config import BotConfig, BotMode
from botrunner.core.operator import Start, Stop
from botrunner.paper.config import PaperConfig
from botrunner.runtime.feed import MarketFeed
from botrunner.runtime.hub import EventHub, StatusBoard
from botrunner.runtime.restart import GiveUp, Restart, RestartPolicy, after_failure
from botrunner.runtime.snapshots import BotState, Failed
from botrunner.store import StoreWriter


@dataclass(frozen=True)
class FleetChanges:
    """What a re-read fleet changes, by bot name (each list in fleet order)."""

    changed: list[str]  # same name, another configuration: restarted
    added: list[str]
    removed: list[str]
    unchanged: list[str]  # left running as they are


def fleet_changes(old: Sequence[BotConfig], new: Sequence[BotConfig]) -> FleetChanges:
    """Compare two fleets. Where a bot's file lives is not part of its configuration (``without_source``)."""
    before = {c.name: c.without_source() for c in old}
    after = {c.name for c in new}
    changed = [c.name for c in new if c.name in before and before[c.name] != c.without_source()]
    added = [c.name for c in new if c.name not in before]
    return FleetChanges(
        changed=changed,
        added=added,
        removed=[name for name in before if name not in after],
        unchanged=[c.name for c in new if c.name not in changed and c.name not in added],
    )


class SupervisorError(Exception):
    """An operator request the supervisor refuses; ``code`` is the control protocol's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class RuntimeContext:
    """The shared, thread-safe pieces every bot gets."""

    store_path: str
    writer: StoreWriter
    board: StatusBoard
    hub: EventHub
    feeds: Mapping[str, MarketFeed]  # by market symbol
    bot_logger: Callable[[str], Any]  # name -> structlog logger writing to the bot's own file
    paper: PaperConfig = field(default_factory=PaperConfig)
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    snapshot_every_s: int = 60
    stop_timeout_s: float = 10.0
    monotonic: Callable[[], float] = time.monotonic
    probe: Callable[[str, int], None] | None = None  # see BotSetup.probe
    live: Mapping[str, LiveAccess] = field(default_factory=dict)  # live and monitor bots' access, by bot name
    dry_run: bool = False  # live bots build and simulate but never send


@dataclass(frozen=True)
class LiveAccess:
    """How a live or monitor bot reaches Drift: its RPC URL and (live only) its signing key, in memory only."""

    rpc_url: str
    wallet: Any = None  # solders Keypair; None for a monitor bot

    def __repr__(self) -> str:  # never let a key reach a log through a repr
        return f"LiveAccess(rpc_url=<{len(self.rpc_url)} chars>, wallet={'<key>' if self.wallet else None})"


@dataclass
class _Slot:
    config: BotConfig
    ref: pykka.ActorRef[Any] | None = None
    generation: int = -1
    state: BotRunState = BotRunState.STOPPED
    failures: list[float] = field(default_factory=list)
    restarts: int = 0
    flagged: bool = False
    last_error: str = ""
    timer: threading.Timer | None = None


class Supervisor(pykka.ThreadingActor):
    def __init__(self, ctx: RuntimeContext, configs: tuple[BotConfig, ...]) -> None:
        super().__init__()
        self.ctx = ctx
        self.slots: dict[str, _Slot] = {c.name: _Slot(c) for c in configs}
        self.log = structlog.get_logger("supervisor")
        self.shutting_down = False

    # -------------------------------------------------------------- starting bots

    def start_all(self) -> list[str]:
        for name in self.slots:
            self._start(name)
        return sorted(self.slots)

    def _start(self, name: str, *, force_pause: bool = False) -> None:
        slot = self.slots[name]
        # The bot resumes from its last checkpoint: everything its previous actor handed the writer must be in.
        self.ctx.writer.flush(self.ctx.stop_timeout_s)
        slot.generation += 1
        slot.state = BotRunState.STARTING
        config = slot.config
        self.ctx.board.update(name, market=config.market, mode=config.mode.value, state="starting")
        if config.mode is not BotMode.PAPER:
            slot.ref = self._start_live(name, force_pause)
            slot.state = BotRunState.RUNNING
            self._post_slot(name)
            self.log.info("bot_spawned", bot=name, generation=slot.generation, mode=config.mode.value)
            return
        feed = self.ctx.feeds[config.market]
        setup = BotSetup(**self._setup_fields(name, force_pause), feed=feed, paper=self.ctx.paper, probe=self.ctx.probe)
        slot.ref = BotActor.start(setup)
        slot.state = BotRunState.RUNNING
        self._post_slot(name)
        self.log.info("bot_spawned", bot=name, generation=slot.generation, force_pause=force_pause)

    def _setup_fields(self, name: str, force_pause: bool) -> dict[str, Any]:
        """The ``ActorSetup`` fields of bot ``name``'s next actor, paper or live."""
        slot = self.slots[name]
        return {
            "config": slot.config,
            "store_path": self.ctx.store_path,
            "writer": self.ctx.writer,
            "board": self.ctx.board,
            "hub": self.ctx.hub,
            "log": self.ctx.bot_logger(name),
            "generation": slot.generation,
            "on_failure": self._failure_hook,
            "force_pause": force_pause,
            "snapshot_every_s": self.ctx.snapshot_every_s,
        }

    def _start_live(self, name: str, force_pause: bool) -> pykka.ActorRef[Any]:
        from actors.live_actor import LiveBotActor, LiveSetup

        access = self.ctx.live[name]
        setup = LiveSetup(
            **self._setup_fields(name, force_pause),
            wallet=access.wallet,
            rpc_url=access.rpc_url,
            dry_run=self.ctx.dry_run,
        )
        ref: pykka.ActorRef[Any] = LiveBotActor.start(setup)
        return ref

    def _failure_hook(self, name: str, generation: int, error: str) -> None:
        """Called from the failing bot's thread: hand over to the supervisor's mailbox."""
        with contextlib.suppress(pykka.ActorDeadError):
            self.actor_ref.proxy().bot_failed(name, generation, error)

    def bot_failed(self, name: str, generation: int, error: str) -> None:
        slot = self.slots.get(name)
        if slot is None or generation != slot.generation or self.shutting_down:
            return
        slot.ref = None
        slot.last_error = error
        if slot.flagged:  # its one paused start failed too: it stays down until an operator starts it
            slot.state = BotRunState.FAILED
            self.log.error("bot_down", bot=name, error=error)
            self.ctx.hub.publish(Failed(bot=name, error=error, generation=generation))
            self._post_slot(name)
            return
        now = self.ctx.monotonic()
        outcome = after_failure(slot.failures, now, self.ctx.restart)
        slot.failures = [*slot.failures, now][-self.ctx.restart.max_failures :]
        self.ctx.hub.publish(Failed(bot=name, error=error, generation=generation))
        match outcome:
            case Restart(delay, count):
                slot.state = BotRunState.RESTARTING
                self.log.warning(
                    "bot_restart_scheduled", bot=name, delay_s=delay, failures_in_window=count, error=error
                )
                timer = threading.Timer(delay, self._restart_due, args=(name, generation))
                timer.daemon = True
                slot.timer = timer
                timer.start()
            case GiveUp(count):
                slot.flagged = True
                self.log.error("bot_flagged", bot=name, failures_in_window=count, error=error)
                self._start(name, force_pause=True)
                slot.state = BotRunState.FAILED
        self._post_slot(name)

    def _restart_due(self, name: str, generation: int) -> None:
        with contextlib.suppress(pykka.ActorDeadError):
            self.actor_ref.proxy().restart(name, generation)

    def restart(self, name: str, generation: int) -> None:
        slot = self.slots.get(name)
        if slot is None or slot.generation != generation or slot.state is not BotRunState.RESTARTING:
            return  # the operator started or stopped it meanwhile
        slot.restarts += 1
        slot.timer = None
        self._start(name)

    # -------------------------------------------------------------- operator requests

    def bot_ref(self, name: str) -> pykka.ActorRef[Any] | None:
        slot = self._slot(name)
        return slot.ref if slot.ref is not None and slot.ref.is_alive() else None

    def slot_view(self, name: str) -> dict[str, Any]:
        slot = self._slot(name)
        return self._slot_fields(slot)

    def command(self, command: Stop | Start) -> BotState:
        """An operator's ``stop`` or ``start`` of one bot."""
        match command:
            case Stop(name=name):
                done = self.stop_bot(name)
            case Start(name=name):
                done = self.start_bot(name)
            case _ as unreachable:
                assert_never(unreachable)
        return BotState(name=done["name"], state=done["state"])

    def stop_bot(self, name: str) -> dict[str, Any]:
        slot = self._slot(name)
        if slot.state is BotRunState.STOPPED:
            raise SupervisorError("conflict", f"bot {name!r} is already stopped")
        self._stop_slot(slot)
        self._post_slot(name)
        return {"name": name, "state": slot.state.value}

    def start_bot(self, name: str) -> dict[str, Any]:
        slot = self._slot(name)
        if slot.ref is not None and slot.ref.is_alive() and slot.state is not BotRunState.FAILED:
            raise SupervisorError("conflict", f"bot {name!r} is already running ({slot.state.value})")
        self._stop_slot(slot)
        slot.flagged = False
        slot.failures = []
        slot.last_error = ""
        self._start(name)
        return {"name": name, "state": slot.state.value}

    def reload(self, configs: tuple[BotConfig, ...]) -> dict[str, list[str]]:
        """Apply a re-read fleet: restart changed bots, start new ones, stop removed ones; leave the rest. The
        runner has checked it first (every paper bot's market has a feed in this run)."""
        new = {c.name: c for c in configs}
        changes = fleet_changes([slot.config for slot in self.slots.values()], configs)
        changed, added, removed = changes.changed, changes.added, changes.removed
        for name in removed:
            self._stop_slot(self.slots[name])
            del self.slots[name]
            self.ctx.board.remove(name)
        for name in changed:
            slot = self.slots[name]
            self._stop_slot(slot)
            slot.config = new[name]
            self._start(name)
        for name in added:
            self.slots[name] = _Slot(new[name])
            self._start(name)
        self.log.info("fleet_reloaded", changed=changed, added=added, removed=removed)
        return {"changed": changed, "added": added, "removed": removed, "unchanged": sorted(changes.unchanged)}

    def status(self) -> dict[str, dict[str, Any]]:
        return {name: self._slot_fields(slot) for name, slot in self.slots.items()}

    def shutdown(self) -> None:
        """Stop every bot (each applies its shutdown policy), concurrently."""
        self.shutting_down = True
        futures = []
        for slot in self.slots.values():
            if slot.timer is not None:
                slot.timer.cancel()
            if slot.ref is not None and slot.ref.is_alive():
                futures.append(slot.ref.stop(block=False))
                slot.state = BotRunState.STOPPED
        for future in futures:
            try:
                future.get(timeout=self.ctx.stop_timeout_s)
            except (pykka.Timeout, pykka.ActorDeadError):
                self.log.error("bot_stop_timeout")
        for name in self.slots:
            self._post_slot(name)

    # -------------------------------------------------------------- helpers

    def _slot(self, name: str) -> _Slot:
        slot = self.slots.get(name)
        if slot is None:
            raise SupervisorError("not_found", f"no bot named {name!r} (bots: {', '.join(sorted(self.slots))})")
        return slot

    def _stop_slot(self, slot: _Slot) -> None:
        if slot.timer is not None:
            slot.timer.cancel()
            slot.timer = None
        ref, slot.ref = slot.ref, None
        slot.generation += 1  # a failure report from the old actor is stale from now on
        if ref is not None and ref.is_alive():
            try:
                ref.stop(timeout=self.ctx.stop_timeout_s)
            except (pykka.Timeout, pykka.ActorDeadError):
                self.log.error("bot_stop_timeout", bot=slot.config.name)
        slot.state = BotRunState.STOPPED

    def _slot_fields(self, slot: _Slot) -> dict[str, Any]:
        return {
            "supervision": slot.state.value,
            "restarts": slot.restarts,
            "flagged": slot.flagged,
            "last_error": slot.last_error or None,
            "alive": slot.ref is not None and slot.ref.is_alive(),
        }

    def _post_slot(self, name: str) -> None:
        slot = self.slots.get(name)
        if slot is not None:
            self.ctx.board.update(name, restarts=slot.restarts, flagged=slot.flagged)
