"""What every bot actor shares, paper or live: its setup, its operator flags, how it records a
decision, applies an operator command, announces its start and reports its failure.

The paper ``BotActor`` (``actors.bot_actor``) and the ``LiveBotActor`` (``actors.live_actor``) differ
in where market data and the account come from and in what they checkpoint; the shell around the decision is the
same, so it lives here once and both behave alike to the supervisor, the store, the logs and ``botrunner ctl``.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import assert_never

import pykka
from structlog.typing import FilteringBoundLogger

from botrunner.bot.driver import BotDriver, RowBuffer
from botrunner.bot.lifecycle import BotRunState, run_state
from botrunner.bot.operator_position import (
    BotCommand,
    PositionRefused,
    Refusal,
    base_text,
    describe_open,
    resolve_open,
)
from botrunner.bot.pipeline import NO_OPERATOR, Decision, OperatorFlags
from botrunner.bot.step import Effects
from botrunner.config import BotConfig
from botrunner.core.operator import ClosePosition, Flatten, ModeCommand, OpenPosition, PositionCommand
from botrunner.core.records import OrderRow, SnapshotRow
from botrunner.runtime.decisions import DecisionRecorder, announce_rows
from botrunner.runtime.hub import EventHub, StatusBoard
from botrunner.runtime.snapshots import BotSnapshot, BotState, PositionResult, Started, StateChanged
from botrunner.store import PositionRow, StepRecord, Store, StoreWriteError, StoreWriter


@dataclass(frozen=True, kw_only=True)
class ActorSetup:
    """Everything the supervisor gives any bot actor. Shared objects are thread-safe."""

    config: BotConfig
    store_path: str
    writer: StoreWriter
    board: StatusBoard
    hub: EventHub
    log: FilteringBoundLogger  # the bot's own log file
    generation: int  # bumps on every (re)start, so stale failure reports are recognised
    on_failure: Callable[[str, int, str], None]  # the supervisor's failure hook: (name, generation, error text)
    on_started: Callable[[str, int], None] | None = None  # the supervisor's hook once it has reconciled and caught up
    force_pause: bool = False  # start PAUSED whatever was saved (a bot that failed too often)
    snapshot_every_s: int = 60  # margin snapshot cadence (and on every step with a fill)


class BotShell(pykka.ThreadingActor):
    """The part of a bot actor that does not depend on its venue. Subclasses implement ``_start`` and
    ``_release`` (give back what the actor holds outside itself: a feed subscription, an RPC connection)."""

    def __init__(self, setup: ActorSetup) -> None:
        super().__init__()
        self.setup = setup
        self.config = setup.config
        self.name = setup.config.name
        self.log = setup.log
        self.driver: BotDriver | None = None  # the bot's driver, once started
        self.flags_seen = NO_OPERATOR  # the flags last announced (a step may change them: a finished flatten)
        self.step = RowBuffer()  # the rows of the step under way, handed to the writer as one record
        self.fill_seq = 0
        self.last_snapshot_ts = 0
        self.last_decision: Decision | None = None
        self.recorder = DecisionRecorder(self.name, self.log, setup.hub)

    @property
    def flags(self) -> OperatorFlags:
        """The operator's flags, as the bot's state holds them (a fresh bot's before it starts)."""
        return self.driver.state.flags if self.driver is not None else NO_OPERATOR

    @property
    def mode(self) -> BotRunState:
        """The operator mode its flags give (running, paused, reduce-only, flattening). Whether it is starting,
        restarting, failed or stopped is the supervisor's to say (``runtime.supervision``), never the actor's."""
        return run_state(self.flags)

    # -------------------------------------------------------------- start

    def on_start(self) -> None:
        try:
            self._start()
        except Exception:
            # pykka stops an actor whose on_start raises without calling on_failure: report it the same way.
            self.on_failure(*sys.exc_info())
            raise

    def _start(self) -> None:
        raise NotImplementedError

    def _release(self) -> None:
        raise NotImplementedError

    def _announce_start(
        self,
        now: int,
        *,
        resumed: bool,
        position_base: int,
        adopted: tuple[int, ...],
        audit: dict[str, object],
        log: dict[str, object],
    ) -> None:
        """Audit the reconciliation (what was adopted) and log the start; ``audit`` / ``log``: the venue's own
        fields beside the common ones."""
        generation = self.setup.generation
        self.setup.writer.audit(
            ts=now,
            actor=f"bot:{self.name}",
            cmd="reconcile",
            args={
                "generation": generation,
                "resumed": resumed,
                "position_base": position_base,
                "adopted_orders": list(adopted),
                **audit,
            },
            outcome="ok",
        )
        self.log.info(
            "bot_started",
            generation=generation,
            resumed=resumed,
            position_base=position_base,
            adopted_orders=len(adopted),
            **log,
        )

    def _announce_started(self) -> None:
        self.setup.hub.publish(Started(bot=self.name, generation=self.setup.generation, state=self.mode.value))
        if self.setup.on_started is not None:
            self.setup.on_started(self.name, self.setup.generation)

    # -------------------------------------------------------------- decisions and commands

    def _note_decision(self, effects: Effects) -> None:
        """Record a step's decision, if it made one (numbered as the bot's state says)."""
        decision = effects.decision
        driver = self.driver
        if decision is None or driver is None:
            return
        self.last_decision = decision
        self.recorder.record(decision, driver.state.decision_seq)

    def _note_flags(self, ts: int | None) -> None:
        """Announce flags a step changed on its own: a flatten that is done (flat, nothing resting) is a pause."""
        flags = self.flags
        if flags == self.flags_seen:
            return
        if self.flags_seen.flatten and flags.pause:
            self.log.info("flatten_done", ts=ts)
            self.setup.hub.publish(StateChanged(bot=self.name, state=self.mode.value))
        self.flags_seen = flags

    def _store_down(self) -> bool:
        """Whether the store can no longer record a step: then the bot must not trade (nothing it did could be
        recovered after a crash); the runner, told by the writer, is stopping the fleet."""
        return self.setup.writer.failed is not None

    def _snapshot_due(self, ts: int) -> bool:
        return ts - self.last_snapshot_ts >= self.setup.snapshot_every_s

    def command(self, command: ModeCommand) -> BotState:
        """Apply an operator command now: the bot steps on it (``_decide_now``): the step sets the flags it asks
        for and decides at once at the last price, so a pause cancels at once."""
        self._decide_now(command)
        if isinstance(command, Flatten) and not self.flags.flatten:
            self.log.info("flatten_done", ts=None)  # already flat with nothing resting: paused at once
        self.flags_seen = self.flags
        self.log.info("operator_command", command=command.cmd, state=self.mode.value)
        self.setup.hub.publish(StateChanged(bot=self.name, state=self.mode.value, command=command.cmd))
        return BotState(name=self.name, state=self.mode.value)

    def position(self, command: PositionCommand) -> PositionResult:
        """``ctl open`` / ``ctl close``: the bot steps on it, through its governors (``bot.operator_position``).
        Raises ``SizeError`` (a size its markets cannot trade) or ``PositionRefused`` (a gate refused the open:
        nothing was done); the runner answers both as structured errors."""
        driver = self.driver
        assert driver is not None
        if isinstance(command, OpenPosition) and self._store_down():
            # as the bot's own steps: a trade the store cannot record could not be recovered after a crash (the
            # runner, told by the writer, is stopping the fleet); a close still runs (it only reduces)
            refusal = Refusal(gate="store_down", reasons=("the store cannot be written: the fleet is stopping",))
            self.log.warning("operator_open_refused", command=command.cmd, refusal=refusal.describe())
            raise PositionRefused(refusal)
        target: BotCommand
        match command:
            case OpenPosition():
                target = resolve_open(driver.bot, command)
            case ClosePosition():
                target = command
            case _ as unreachable:
                assert_never(unreachable)
        effects = self._decide_now(target)
        said = describe_open(target)
        if effects.refusal is not None:
            self.log.warning("operator_open_refused", command=said, refusal=effects.refusal.describe())
            raise PositionRefused(effects.refusal)
        if isinstance(command, ClosePosition) and not self.flags.flatten:
            self.log.info("flatten_done", ts=None)  # already flat with nothing resting: paused at once
        self.flags_seen = self.flags
        sent = tuple(type(c).__name__ for c in effects.commands)
        self.log.info("operator_command", command=said, state=self.mode.value, commands=list(sent))
        self.setup.hub.publish(StateChanged(bot=self.name, state=self.mode.value, command=command.cmd))
        target_base = self.flags.target_base
        return PositionResult(
            name=self.name,
            state=self.mode.value,
            action=command.cmd,
            target_base=None if target_base is None else base_text(target_base),
            commands=sent,
        )

    def _decide_now(self, command: BotCommand) -> Effects:
        """Step on ``command`` (the bot decides at its last price), record the step and return its effects."""
        raise NotImplementedError

    def detail(self) -> BotSnapshot:
        """``ctl bot NAME``."""
        raise NotImplementedError

    def flush_marker(self) -> int | None:
        """A mark after everything queued before this call (tests and the runner use it as a barrier)."""
        raise NotImplementedError

    # -------------------------------------------------------------- records

    def _commit(
        self,
        driver: BotDriver,
        *,
        ts: int,
        cursor: int,
        venue_state: bytes,
        snapshot: SnapshotRow | None = None,
        position: PositionRow | None = None,
        samples: tuple[tuple[int, int], ...] = (),
        samples_from: int | None = None,
    ) -> None:
        """Announce the step's fills and funding, take the decision rows, and hand everything to the writer as ONE
        ``StepRecord`` (after a crash a step is either wholly stored or wholly absent); then start the next
        step's buffer."""
        step = self.step
        self.fill_seq += len(step.fills)
        announce_rows(self.name, self.log, self.setup.hub, step)
        objective, risk_events, decisions = self.recorder.take()
        record = StepRecord(
            bot=self.name,
            ts=ts,
            cursor=cursor,
            venue_state=venue_state,
            orders=tuple(step.orders),
            fills=tuple(step.fills),
            funding=tuple(step.funding),
            settlements=tuple(step.settlements),
            spot_fills=tuple(step.spot_fills),
            interest=tuple(step.interest),
            legs=tuple(step.legs),
            snapshot=snapshot,
            objective=objective,
            risk_events=risk_events,
            position=position,
            samples=samples,
            samples_from=samples_from,
            decisions=decisions,
            order_seq=driver.state.order_seq,
            fill_seq=self.fill_seq,
            decision_seq=driver.state.decision_seq,
        )
        try:
            self.setup.writer.submit(record)
        except StoreWriteError as exc:
            # Nothing more can be stored: the step is logged as lost rather than failing the bot (it would only
            # restart into the same wall); the runner, told by the writer, stops the fleet (``_store_down``).
            self.log.error("step_not_stored", ts=ts, error=str(exc))
        self.step = RowBuffer()
        driver.sink = self.step

    # -------------------------------------------------------------- failure

    def on_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Log the stack to the bot's own log and tell the supervisor, which decides about a restart."""
        self._release()
        text = "".join(traceback.format_exception(exception_type, exception_value, tb)) if exception_type else ""
        self.log.error("bot_failed", error=repr(exception_value), stack=text)
        self.setup.on_failure(self.name, self.setup.generation, repr(exception_value))


def open_order_rows(store: Store, bot: str) -> dict[int, OrderRow]:
    """The placed row of every order the store saw placed (or adopted) and not yet closed, by user_order_id: what a
    restarting bot reconciles its venue's open orders against."""
    return {row.user_order_id: row for row in store.open_orders(bot)}
