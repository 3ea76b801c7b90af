"""The supervisor: one pykka actor that starts, stops, restarts and reloads the fleet's bot actors.

Isolation: every bot is its own actor (own thread, own mailbox, own venue, own log). A bot that raises is stopped
by pykka; its ``on_failure`` reports here with its generation. The supervisor first makes everything the writer
holds durable (so the restart resumes from the last complete step), then asks the restart policy: restart after an
exponential backoff, or — after too many failures in the window — one last start PAUSED (its orders are cancelled
at once, the position left alone) and flag it for a human. Other bots never notice any of this.

Each bot's supervision (starting, running, restarting, failed, stopped; flagged; its recent failures) is one
``BotSupervision`` value that only this actor writes, and only through the transition table in
``botrunner.runtime.supervision``; the actions a transition returns (spawn, stop, schedule a restart) are carried
out here. The bot actor owns its operator flags; what ``ctl status`` shows combines the two (``shown_state``).

The supervisor never waits on a bot from inside its own mailbox except to stop it; views and commands go to the
bots directly from the control socket's worker threads (``bot_ref``).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypedDict, TypeVar, assert_never, cast

import pykka
import structlog
from structlog.typing import FilteringBoundLogger

from actors.actor_shell import BotShell
from actors.bot_actor import BotActor, BotSetup
from botrunner.config import BotConfig, BotMode
from botrunner.core.operator import Start, Stop
from botrunner.paper.config import PaperConfig
from botrunner.runtime import supervision
from botrunner.runtime.feed import MarketFeed
from botrunner.runtime.hub import EventHub, StatusBoard
from botrunner.runtime.restart import RestartPolicy
from botrunner.runtime.snapshots import BotState, Failed, SupervisionView
from botrunner.runtime.supervision import Action, BotSupervision, ScheduleRestart, Spawn, StopActor, Supervision
from botrunner.store import StoreWriter

if TYPE_CHECKING:  # solders is imported only when a live bot starts (``_start_live``)
    from solders.keypair import Keypair


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
    bot_logger: Callable[[str], FilteringBoundLogger]  # name -> the logger writing to the bot's own file
    paper: PaperConfig = field(default_factory=PaperConfig)
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    snapshot_every_s: int = 60
    stop_timeout_s: float = 10.0
    monotonic: Callable[[], float] = time.monotonic
    probe: Callable[[str, int], None] | None = None  # see BotSetup.probe
    live_decided: Callable[[str, float], None] | None = None  # see LiveSetup.decided
    live: Mapping[str, LiveAccess] = field(default_factory=dict)  # live and monitor bots' access, by bot name
    dry_run: bool = False  # live bots build and simulate but never send


@dataclass(frozen=True)
class LiveAccess:
    """How a live or monitor bot reaches Drift: its RPC URL and (live only) its signing key, in memory only."""

    rpc_url: str
    wallet: Keypair | None = None  # None for a monitor bot

    def __repr__(self) -> str:  # never let a key reach a log through a repr
        return f"LiveAccess(rpc_url=<{len(self.rpc_url)} chars>, wallet={'<key>' if self.wallet else None})"


A = TypeVar("A", bound=BotShell)


class _SetupFields(TypedDict):
    """The ``ActorSetup`` fields every bot actor gets, paper or live (``Supervisor._setup_fields``)."""

    config: BotConfig
    store_path: str
    writer: StoreWriter
    board: StatusBoard
    hub: EventHub
    log: FilteringBoundLogger
    generation: int
    on_failure: Callable[[str, int, str], None]
    on_started: Callable[[str, int], None] | None
    force_pause: bool
    snapshot_every_s: int


def _shell_ref(ref: pykka.ActorRef[A]) -> pykka.ActorRef[BotShell]:
    """A bot actor's ref as the supervisor keeps it: pykka types ``ActorRef`` invariant, but every bot actor is a
    ``BotShell`` and only the shell's members are asked of it (``actors.proxies``)."""
    return cast("pykka.ActorRef[BotShell]", ref)


@dataclass
class _Slot:
    config: BotConfig
    ref: pykka.ActorRef[BotShell] | None = None  # a BotActor (paper) or a LiveBotActor (live, monitor)
    sup: BotSupervision = field(default_factory=BotSupervision)  # changed only through runtime.supervision
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
        for name, slot in self.slots.items():
            self._apply(name, *supervision.start(slot.sup))
        return sorted(self.slots)

    def _apply(self, name: str, sup: BotSupervision, actions: tuple[Action, ...]) -> None:
        """Make ``sup`` bot ``name``'s supervision and carry out what the transition asks for, in order."""
        slot = self.slots[name]
        slot.sup = sup
        for action in actions:
            match action:
                case StopActor():
                    self._stop_actor(slot)
                case Spawn(generation, force_pause):
                    self._spawn(name, generation, force_pause)
                case ScheduleRestart(delay, generation, count):
                    self.log.warning(
                        "bot_restart_scheduled", bot=name, delay_s=delay, failures_in_window=count, error=sup.last_error
                    )
                    timer = threading.Timer(delay, self._restart_due, args=(name, generation))
                    timer.daemon = True
                    slot.timer = timer
                    timer.start()
                case _ as unreachable:
                    assert_never(unreachable)
        self._post_slot(name)

    def _spawn(self, name: str, generation: int, force_pause: bool) -> None:
        slot = self.slots[name]
        if slot.timer is not None:  # an operator's start during a backoff: that restart is void (and stale)
            slot.timer.cancel()
            slot.timer = None
        # The bot resumes from its last checkpoint: everything its previous actor handed the writer must be in.
        self.ctx.writer.flush(self.ctx.stop_timeout_s)
        config = slot.config
        self.ctx.board.update(name, market=config.market, mode=config.mode.value)
        if config.mode is not BotMode.PAPER:
            slot.ref = self._start_live(name, generation, force_pause)
            self.log.info("bot_spawned", bot=name, generation=generation, mode=config.mode.value)
            return
        feed = self.ctx.feeds[config.market]
        fields = self._setup_fields(name, generation, force_pause)
        slot.ref = _shell_ref(BotActor.start(BotSetup(**fields, feed=feed, paper=self.ctx.paper, probe=self.ctx.probe)))
        self.log.info("bot_spawned", bot=name, generation=generation, force_pause=force_pause)

    def _setup_fields(self, name: str, generation: int, force_pause: bool) -> _SetupFields:
        """The ``ActorSetup`` fields of bot ``name``'s next actor, paper or live."""
        return _SetupFields(
            config=self.slots[name].config,
            store_path=self.ctx.store_path,
            writer=self.ctx.writer,
            board=self.ctx.board,
            hub=self.ctx.hub,
            log=self.ctx.bot_logger(name),
            generation=generation,
            on_failure=self._failure_hook,
            on_started=self._started_hook,
            force_pause=force_pause,
            snapshot_every_s=self.ctx.snapshot_every_s,
        )

    def _start_live(self, name: str, generation: int, force_pause: bool) -> pykka.ActorRef[BotShell]:
        from actors.live_actor import LiveBotActor, LiveSetup

        access = self.ctx.live[name]
        setup = LiveSetup(
            **self._setup_fields(name, generation, force_pause),
            wallet=access.wallet,
            rpc_url=access.rpc_url,
            dry_run=self.ctx.dry_run,
            decided=self.ctx.live_decided,
        )
        return _shell_ref(LiveBotActor.start(setup))

    def _failure_hook(self, name: str, generation: int, error: str) -> None:
        """Called from the failing bot's thread: hand over to the supervisor's mailbox."""
        with contextlib.suppress(pykka.ActorDeadError):
            self.actor_ref.proxy().bot_failed(name, generation, error)

    def _started_hook(self, name: str, generation: int) -> None:
        """Called from the bot's thread once it has reconciled and caught up: hand over to the mailbox."""
        with contextlib.suppress(pykka.ActorDeadError):
            self.actor_ref.proxy().bot_started(name, generation)

    def bot_started(self, name: str, generation: int) -> None:
        slot = self.slots.get(name)
        if slot is None or self.shutting_down:
            return
        slot.sup = supervision.started(slot.sup, generation)
        self._post_slot(name)

    def bot_failed(self, name: str, generation: int, error: str) -> None:
        slot = self.slots.get(name)
        if slot is None or self.shutting_down or generation != slot.sup.generation:
            return  # removed, shutting down, or a report from an actor stopped or replaced since
        slot.ref = None
        self.ctx.hub.publish(Failed(bot=name, error=error, generation=generation))
        sup, actions = supervision.crashed(slot.sup, generation, self.ctx.monotonic(), self.ctx.restart, error)
        match sup.state:
            case Supervision.FAILED:  # its one paused start failed too: it stays down until an operator starts it
                self.log.error("bot_down", bot=name, error=error)
            case Supervision.STARTING:  # too many failures in the window: one start PAUSED, flagged
                self.log.error("bot_flagged", bot=name, failures_in_window=len(sup.failures), error=error)
            case _:
                pass  # a backoff: logged as it is scheduled
        self._apply(name, sup, actions)

    def _restart_due(self, name: str, generation: int) -> None:
        with contextlib.suppress(pykka.ActorDeadError):
            self.actor_ref.proxy().restart(name, generation)

    def restart(self, name: str, generation: int) -> None:
        slot = self.slots.get(name)
        if slot is None or self.shutting_down:
            return
        if generation == slot.sup.generation:  # else stale: stopped or started meanwhile, and nothing happens
            slot.timer = None
        self._apply(name, *supervision.restart_due(slot.sup, generation))

    # -------------------------------------------------------------- operator requests

    def bot_ref(self, name: str) -> pykka.ActorRef[BotShell] | None:
        slot = self._slot(name)
        return slot.ref if slot.ref is not None and slot.ref.is_alive() else None

    def slot_view(self, name: str) -> SupervisionView:
        return self._view(self._slot(name))

    def command(self, command: Stop | Start) -> BotState:
        """An operator's ``stop`` or ``start`` of one bot."""
        match command:
            case Stop(name=name):
                return self.stop_bot(name)
            case Start(name=name):
                return self.start_bot(name)
            case _ as unreachable:
                assert_never(unreachable)

    def stop_bot(self, name: str) -> BotState:
        slot = self._slot(name)
        self._apply(name, *self._refusing(name, supervision.stop, slot.sup))
        return BotState(name=name, state=slot.sup.state.value)

    def start_bot(self, name: str) -> BotState:
        slot = self._slot(name)
        self._apply(name, *self._refusing(name, supervision.start, slot.sup))
        return BotState(name=name, state=slot.sup.state.value)

    def reload(
        self,
        configs: tuple[BotConfig, ...],
        changes: FleetChanges,
        applied: Callable[[], None] | None = None,
    ) -> dict[str, list[str]]:
        """Apply a re-read fleet: restart changed bots, start new ones, stop removed ones; leave the rest. The
        runner has checked it first (every paper bot's market has a feed in this run) and compared it with the
        fleet it last sent here (``changes``: reloads apply in the order they were sent, so that fleet is this
        one's). ``applied()`` runs once it is in effect, the removed bots stopped: the runner gives back their
        subaccount locks and keys then, whether or not it still waits for this answer (a reload answered as
        queued is applied later)."""
        new = {c.name: c for c in configs}
        changed, added, removed = changes.changed, changes.added, changes.removed
        for name in removed:
            self._stop_if_needed(name)
            del self.slots[name]
            self.ctx.board.remove(name)
        for name in changed:
            self._stop_if_needed(name)
            self.slots[name].config = new[name]
            self._apply(name, *supervision.start(self.slots[name].sup))
        for name in added:
            self.slots[name] = _Slot(new[name])
            self._apply(name, *supervision.start(self.slots[name].sup))
        self.log.info("fleet_reloaded", changed=changed, added=added, removed=removed)
        if applied is not None:
            applied()
        return {"changed": changed, "added": added, "removed": removed, "unchanged": sorted(changes.unchanged)}

    def status(self) -> dict[str, SupervisionView]:
        return {name: self._view(slot) for name, slot in self.slots.items()}

    def shutdown(self) -> None:
        """Stop every bot (each applies its shutdown policy), concurrently."""
        self.shutting_down = True
        futures = []
        for slot in self.slots.values():
            if slot.sup.state is not Supervision.STOPPED:
                slot.sup, _ = supervision.stop(slot.sup)  # its actor is stopped here, with everyone else's
            if slot.timer is not None:
                slot.timer.cancel()
                slot.timer = None
            ref, slot.ref = slot.ref, None
            if ref is not None and ref.is_alive():
                futures.append(ref.stop(block=False))
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

    @staticmethod
    def _refusing(
        name: str,
        request: Callable[[BotSupervision], tuple[BotSupervision, tuple[Action, ...]]],
        sup: BotSupervision,
    ) -> tuple[BotSupervision, tuple[Action, ...]]:
        """``request(sup)``, an operator's refusal answered as the control protocol's ``conflict``."""
        try:
            return request(sup)
        except supervision.Refused as exc:
            raise SupervisorError("conflict", f"bot {name!r} {exc}") from None

    def _stop_if_needed(self, name: str) -> None:
        sup = self.slots[name].sup
        if sup.state is not Supervision.STOPPED:
            self._apply(name, *supervision.stop(sup))

    def _stop_actor(self, slot: _Slot) -> None:
        if slot.timer is not None:
            slot.timer.cancel()
            slot.timer = None
        ref, slot.ref = slot.ref, None
        if ref is not None and ref.is_alive():
            try:
                ref.stop(timeout=self.ctx.stop_timeout_s)
            except (pykka.Timeout, pykka.ActorDeadError):
                self.log.error("bot_stop_timeout", bot=slot.config.name)

    @staticmethod
    def _view(slot: _Slot) -> SupervisionView:
        sup = slot.sup
        return SupervisionView(
            supervision=sup.state.value,
            restarts=sup.restarts,
            flagged=sup.flagged,
            last_error=sup.last_error or None,
            alive=slot.ref is not None and slot.ref.is_alive(),
        )

    def _post_slot(self, name: str) -> None:
        slot = self.slots.get(name)
        if slot is not None:
            self.ctx.board.update(name, restarts=slot.sup.restarts, flagged=slot.sup.flagged)
