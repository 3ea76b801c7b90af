"""A bot's supervision as a table: ``TRANSITIONS[(state, event)] -> state``, owned by one writer (the supervisor).

The supervisor keeps one :class:`BotSupervision` value per bot and changes it only through the functions here;
each returns the next value and what the supervisor must do (:data:`Action`). The bot actor never writes it: a bot
owns its operator flags (persisted in its checkpoint, so a pause outlives a crash), and the operator mode an
operator reads (paused, reduce-only, flattening) is derived from those flags (``bot.lifecycle.run_state``);
:func:`shown_state` puts the two together for ``ctl status``.

::

    STOPPED ──START──► STARTING ──STARTED──► RUNNING
       ▲                 │  ▲                  │
       │            BACKOFF │ GIVE_UP (one start PAUSED, flagged)
       │                 ▼  │                  │ BACKOFF / GIVE_UP / DOWN (a crash; the restart policy decides)
       │             RESTARTING ◄──────────────┘
       │                 │ RESTART_DUE ──► STARTING
       │                 │
     STOP (from any state but STOPPED)      FAILED (its flagged paused start crashed too): START ──► STARTING

A crash is one of three events, chosen by the restart policy (``runtime.restart``): ``BACKOFF`` (restart after a
delay), ``GIVE_UP`` (too many failures in the window: one more start, PAUSED, and the bot is flagged for a human)
or ``DOWN`` (the flagged start failed as well: it stays down until an operator starts it). Anything not in the
table is a bug in the caller and raises :class:`IllegalTransition`; an operator request that does not apply now
(stopping a stopped bot) raises :class:`Refused`, which the control socket answers as a conflict.

Reports from an actor that is no longer the bot's current one (a crash or a backoff timer from before an operator
``stop`` or ``start``) carry an old ``generation`` and change nothing: that is what keeps a stopped bot from being
restarted by the policy.

Pure: no actor, no thread, no clock (callers pass monotonic seconds).
"""

from __future__ import annotations

import enum
from typing import Final, assert_never

import msgspec

from botrunner.bot.lifecycle import BotRunState
from botrunner.runtime.restart import GiveUp, Restart, RestartPolicy, after_failure


class Supervision(enum.Enum):
    """Whether a bot has an actor and why (the values are ``BotRunState``'s, which ``ctl`` shows)."""

    STARTING = "starting"  # its actor reconciles with the venue and catches up
    RUNNING = "running"  # its actor trades (or not: its operator flags say how)
    RESTARTING = "restarting"  # it crashed; a restart is scheduled after a backoff
    FAILED = "failed"  # its flagged paused start crashed too: down until an operator starts it
    STOPPED = "stopped"  # not started, stopped by an operator or a reload, or shut down


class SupervisionEvent(enum.Enum):
    START = "start"  # the runner's first start, an operator's ``start``, a reload that starts or changes it
    STARTED = "started"  # its actor reports it has reconciled and caught up
    BACKOFF = "backoff"  # it crashed; the policy restarts it after a delay
    GIVE_UP = "give_up"  # it crashed too often in the window: one more start, PAUSED, flagged
    DOWN = "down"  # its flagged start crashed: no more starts until an operator's ``start``
    RESTART_DUE = "restart_due"  # the backoff delay has passed
    STOP = "stop"  # an operator's ``stop``, a reload that removes or changes it, shutdown
    OPERATOR = "operator"  # pause / resume / reduce-only / flatten reached its actor (the actor sets its flags)


_S = Supervision
_E = SupervisionEvent

TRANSITIONS: Final[dict[tuple[Supervision, SupervisionEvent], Supervision]] = {
    (_S.STOPPED, _E.START): _S.STARTING,
    (_S.FAILED, _E.START): _S.STARTING,
    (_S.RESTARTING, _E.START): _S.STARTING,  # an operator does not wait for the backoff
    (_S.STARTING, _E.STARTED): _S.RUNNING,
    # A crash while starting (reconciling, catching up) is a crash like any other.
    (_S.STARTING, _E.BACKOFF): _S.RESTARTING,
    (_S.STARTING, _E.GIVE_UP): _S.STARTING,
    (_S.STARTING, _E.DOWN): _S.FAILED,
    (_S.RUNNING, _E.BACKOFF): _S.RESTARTING,
    (_S.RUNNING, _E.GIVE_UP): _S.STARTING,
    (_S.RUNNING, _E.DOWN): _S.FAILED,
    (_S.RESTARTING, _E.RESTART_DUE): _S.STARTING,
    (_S.STARTING, _E.STOP): _S.STOPPED,
    (_S.RUNNING, _E.STOP): _S.STOPPED,
    (_S.RESTARTING, _E.STOP): _S.STOPPED,
    (_S.FAILED, _E.STOP): _S.STOPPED,
    # Operator commands go to the bot's actor, so only a bot that has one takes them; they change its flags (the
    # operator mode), never its supervision.
    (_S.STARTING, _E.OPERATOR): _S.STARTING,
    (_S.RUNNING, _E.OPERATOR): _S.RUNNING,
}

# States in which the bot has an actor (started, not yet stopped or crashed).
WITH_ACTOR: Final = frozenset({_S.STARTING, _S.RUNNING})


class IllegalTransition(Exception):
    """An event the table has no entry for in the bot's current state: a bug in the caller, never an input."""

    def __init__(self, state: Supervision, event: SupervisionEvent) -> None:
        self.state = state
        self.event = event
        super().__init__(f"illegal supervision transition: {event.value} in state {state.value}")


class Refused(Exception):
    """An operator request that does not apply in the bot's current state (the control protocol's ``conflict``)."""


def transition(state: Supervision, event: SupervisionEvent) -> Supervision:
    """The state after ``event``; ``IllegalTransition`` when the table has no entry."""
    nxt = TRANSITIONS.get((state, event))
    if nxt is None:
        raise IllegalTransition(state, event)
    return nxt


class BotSupervision(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the supervisor knows about one bot's life, as one value.

    ``generation`` names the bot's current actor (it bumps on every start and stop, so a report from an older
    actor is recognised and ignored); ``failures`` are the monotonic times of its recent crashes (at most the
    policy's ``max_failures``); ``flagged``: it failed too often and waits for a human (``ctl start`` clears it).
    """

    state: Supervision = Supervision.STOPPED
    generation: int = -1
    flagged: bool = False
    failures: tuple[float, ...] = ()
    restarts: int = 0  # backoff restarts since the runner started (shown by ``ctl status``)
    last_error: str = ""


class Spawn(msgspec.Struct, frozen=True):
    """Start an actor for the bot with this generation; ``force_pause``: it cancels its orders and pauses at once."""

    generation: int
    force_pause: bool = False


class StopActor(msgspec.Struct, frozen=True):
    """Stop the bot's actor (it applies its shutdown policy) and cancel any scheduled restart."""


class ScheduleRestart(msgspec.Struct, frozen=True):
    """Call :func:`restart_due` with ``generation`` after ``delay_s`` seconds."""

    delay_s: float
    generation: int
    failures_in_window: int


Action = Spawn | StopActor | ScheduleRestart


def _move(sup: BotSupervision, event: SupervisionEvent, **changes: object) -> BotSupervision:
    return msgspec.structs.replace(sup, state=transition(sup.state, event), **changes)


def start(sup: BotSupervision) -> tuple[BotSupervision, tuple[Action, ...]]:
    """An operator's (or the runner's, or a reload's) start: a fresh start, unflagged, its failures forgotten.

    A bot that has an actor is refused, except a flagged one (its paused start): ``start`` is how an operator
    clears the flag, so its actor is stopped and a new one started."""
    actions: tuple[Action, ...] = ()
    if sup.state in WITH_ACTOR:
        if not sup.flagged:
            raise Refused(f"it is already running ({sup.state.value})")
        sup, actions = stop(sup)
    generation = sup.generation + 1
    sup = _move(sup, _E.START, generation=generation, flagged=False, failures=(), last_error="")
    return sup, (*actions, Spawn(generation))


def stop(sup: BotSupervision) -> tuple[BotSupervision, tuple[Action, ...]]:
    """An operator's stop (or a reload's, or shutdown's): its actor goes, a scheduled restart is void."""
    if sup.state is Supervision.STOPPED:
        raise Refused("it is already stopped")
    return _move(sup, _E.STOP, generation=sup.generation + 1), (StopActor(),)


def started(sup: BotSupervision, generation: int) -> BotSupervision:
    """Its actor ``generation`` reports it has reconciled and caught up."""
    if generation != sup.generation:
        return sup  # an actor stopped or replaced since
    return _move(sup, _E.STARTED)


def crashed(
    sup: BotSupervision, generation: int, now: float, policy: RestartPolicy, error: str
) -> tuple[BotSupervision, tuple[Action, ...]]:
    """Its actor ``generation`` failed at ``now``: the restart policy chooses backoff, a flagged paused start, or
    (its flagged start failed too) down for good."""
    if generation != sup.generation:
        return sup, ()  # a report from an actor stopped or replaced since
    if sup.flagged:
        return _move(sup, _E.DOWN, last_error=error), ()
    outcome = after_failure(sup.failures, now, policy)
    failures = (*sup.failures, now)[-policy.max_failures :]
    match outcome:
        case Restart(delay, count):
            sup = _move(sup, _E.BACKOFF, failures=failures, last_error=error)
            return sup, (ScheduleRestart(delay, generation, count),)
        case GiveUp():
            sup = _move(sup, _E.GIVE_UP, failures=failures, last_error=error, flagged=True, generation=generation + 1)
            return sup, (Spawn(sup.generation, force_pause=True),)
        case _ as unreachable:
            assert_never(unreachable)


def restart_due(sup: BotSupervision, generation: int) -> tuple[BotSupervision, tuple[Action, ...]]:
    """The backoff timer set for actor ``generation`` fired. Stale after an operator's stop or start: nothing."""
    if generation != sup.generation:
        return sup, ()
    sup = _move(sup, _E.RESTART_DUE, generation=generation + 1, restarts=sup.restarts + 1)
    return sup, (Spawn(sup.generation),)


def operator_command(sup: BotSupervision) -> BotSupervision:
    """An operator command (pause, resume, reduce-only, flatten) for its actor: refused when it has none."""
    if (sup.state, _E.OPERATOR) not in TRANSITIONS:
        raise Refused(f"it is not running ({sup.state.value}); `start` it first")
    return _move(sup, _E.OPERATOR)


def shown_state(supervision: Supervision, mode: BotRunState) -> BotRunState:
    """What an operator reads: while the bot runs, its operator mode (``run_state`` of its flags: running, paused,
    reduce-only, flattening); otherwise its supervision state."""
    match supervision:
        case Supervision.RUNNING:
            return mode
        case Supervision.STARTING | Supervision.RESTARTING | Supervision.FAILED | Supervision.STOPPED:
            return BotRunState(supervision.value)
        case _ as unreachable:
            assert_never(unreachable)
