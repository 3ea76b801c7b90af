"""A bot's supervision as a table (``botrunner.runtime.supervision``): the transitions, the restart policy's three
answers to a crash, the operator's start and stop, and a property over random event sequences."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from botrunner.bot.lifecycle import BotRunState, apply_command, run_state
from botrunner.bot.pipeline import OperatorFlags
from botrunner.core.operator import Flatten, ModeCommand, Pause, ReduceOnly, Resume
from botrunner.runtime import supervision as sv
from botrunner.runtime.restart import RestartPolicy
from botrunner.runtime.supervision import (
    TRANSITIONS,
    WITH_ACTOR,
    Action,
    BotSupervision,
    IllegalTransition,
    Refused,
    ScheduleRestart,
    Spawn,
    StopActor,
    Supervision,
    SupervisionEvent,
    shown_state,
)

POLICY = RestartPolicy()  # the runtime's own: 1 s doubling to 60 s; 5 failures in 10 minutes


def _running() -> BotSupervision:
    sup, actions = sv.start(BotSupervision())
    assert actions == (Spawn(0),)
    return sv.started(sup, 0)


def test_every_state_is_in_the_table_and_the_states_are_what_ctl_shows() -> None:
    assert {s for s, _ in TRANSITIONS} | set(TRANSITIONS.values()) == set(Supervision)
    assert {e for _, e in TRANSITIONS} == set(SupervisionEvent)
    assert {BotRunState(s.value) for s in Supervision} <= set(BotRunState)


@pytest.mark.parametrize(
    ("state", "event"),
    [
        (Supervision.STOPPED, SupervisionEvent.STARTED),
        (Supervision.RUNNING, SupervisionEvent.RESTART_DUE),
        (Supervision.FAILED, SupervisionEvent.BACKOFF),
        (Supervision.STOPPED, SupervisionEvent.STOP),
        (Supervision.RESTARTING, SupervisionEvent.OPERATOR),
    ],
)
def test_a_transition_not_in_the_table_raises(state: Supervision, event: SupervisionEvent) -> None:
    with pytest.raises(IllegalTransition, match=f"{event.value} in state {state.value}"):
        sv.transition(state, event)


def test_a_crash_restarts_after_a_doubling_backoff_and_the_timer_starts_the_next_actor() -> None:
    sup = _running()
    sup, actions = sv.crashed(sup, 0, 100.0, POLICY, "boom")
    assert sup.state is Supervision.RESTARTING and actions == (ScheduleRestart(1.0, 0, 1),)
    assert sup.last_error == "boom"
    sup, actions = sv.restart_due(sup, 0)
    assert sup.state is Supervision.STARTING and actions == (Spawn(1),) and sup.restarts == 1
    sup, actions = sv.crashed(sup, 1, 101.5, POLICY, "boom")  # while still starting
    assert actions == (ScheduleRestart(2.0, 1, 2),)


def test_five_failures_in_ten_minutes_give_one_paused_start_flagged_and_the_next_failure_stays_down() -> None:
    sup, generation = _running(), 0
    for i, now in enumerate((0.0, 1.0, 3.0, 7.0)):
        sup, actions = sv.crashed(sup, generation, now, POLICY, "boom")
        assert actions == (ScheduleRestart(float(2**i), generation, i + 1),)
        sup, (spawn,) = sv.restart_due(sup, generation)
        assert isinstance(spawn, Spawn) and not spawn.force_pause
        generation = spawn.generation
    sup, actions = sv.crashed(sup, generation, 599.0, POLICY, "boom")  # the fifth within 600 s
    assert actions == (Spawn(generation + 1, force_pause=True),)
    assert sup.state is Supervision.STARTING and sup.flagged
    sup = sv.started(sup, generation + 1)
    assert shown_state(sup.state, run_state(OperatorFlags(pause=True))) is BotRunState.PAUSED
    sup, actions = sv.crashed(sup, generation + 1, 600.0, POLICY, "again")
    assert sup.state is Supervision.FAILED and actions == () and sup.flagged
    sup, actions = sv.start(sup)  # an operator clears the flag
    assert actions == (Spawn(generation + 2),) and not sup.flagged and sup.failures == ()


def test_five_failures_spread_over_more_than_ten_minutes_keep_restarting() -> None:
    sup, generation = _running(), 0
    for now in (0.0, 200.0, 400.0, 600.0, 800.0):
        sup, actions = sv.crashed(sup, generation, now, POLICY, "boom")
        assert isinstance(actions[0], ScheduleRestart)
        sup, (spawn,) = sv.restart_due(sup, generation)
        assert isinstance(spawn, Spawn)
        generation = spawn.generation
    assert not sup.flagged


def test_a_stopped_bot_is_not_restarted_by_its_pending_timer_nor_by_a_late_crash_report() -> None:
    sup, _ = sv.crashed(_running(), 0, 10.0, POLICY, "boom")
    sup, actions = sv.stop(sup)
    assert sup.state is Supervision.STOPPED and actions == (StopActor(),)
    assert sv.restart_due(sup, 0) == (sup, ())
    assert sv.crashed(sup, 0, 11.0, POLICY, "late") == (sup, ())


def test_operator_start_and_stop_refuse_what_does_not_apply() -> None:
    running = _running()
    with pytest.raises(Refused, match="already running"):
        sv.start(running)
    with pytest.raises(Refused, match="already stopped"):
        sv.stop(BotSupervision())
    with pytest.raises(Refused, match="not running"):
        sv.operator_command(sv.crashed(running, 0, 0.0, POLICY, "boom")[0])


def test_start_of_a_flagged_running_bot_replaces_its_actor() -> None:
    sup = BotSupervision(state=Supervision.RUNNING, generation=4, flagged=True, failures=(1.0,) * 5)
    sup, actions = sv.start(sup)
    assert actions == (StopActor(), Spawn(6)) and sup.state is Supervision.STARTING and not sup.flagged


@pytest.mark.parametrize(
    ("supervision", "mode", "shown"),
    [
        (Supervision.RUNNING, BotRunState.REDUCE_ONLY, BotRunState.REDUCE_ONLY),
        (Supervision.RUNNING, BotRunState.RUNNING, BotRunState.RUNNING),
        (Supervision.STARTING, BotRunState.PAUSED, BotRunState.STARTING),
        (Supervision.FAILED, BotRunState.RUNNING, BotRunState.FAILED),
        (Supervision.STOPPED, BotRunState.FLATTENING, BotRunState.STOPPED),
    ],
)
def test_shown_state_is_the_operator_mode_only_while_the_bot_runs(
    supervision: Supervision, mode: BotRunState, shown: BotRunState
) -> None:
    assert shown_state(supervision, mode) is shown


# ------------------------------------------------------------------ the property


@dataclass
class _Harness:
    """The supervisor shell around the pure table, with a bot that keeps its flags across restarts (as its
    checkpoint does) and an oracle of the restart policy's promise."""

    sup: BotSupervision = field(default_factory=BotSupervision)
    now: float = 0.0
    alive: bool = False  # the current generation's actor
    timers: list[int] = field(default_factory=list)  # generations of scheduled restarts (fired or not)
    flags: OperatorFlags = field(default_factory=OperatorFlags)
    operator_stopped: bool = True  # nothing starts it but an operator
    crashes: list[float] = field(default_factory=list)  # since the operator's last start
    paused_starts: int = 0  # forced-paused starts since the operator's last start

    def apply(self, actions: tuple[Action, ...]) -> None:
        for action in actions:
            match action:
                case Spawn(generation, force_pause):
                    assert not self.operator_stopped, "a stopped bot was started by the policy"
                    assert generation == self.sup.generation and not self.alive
                    self.alive = True
                    if force_pause:
                        self.paused_starts += 1
                        self.flags = OperatorFlags(pause=True)  # the bot pauses at once, and persists it
                case StopActor():
                    self.alive = False
                case ScheduleRestart(_, generation, _):
                    self.timers.append(generation)

    def crash(self) -> None:
        if not self.alive:  # a report from an actor that is gone: nothing happens
            assert sv.crashed(self.sup, self.sup.generation - 1, self.now, POLICY, "late") == (self.sup, ())
            return
        was_flagged = self.sup.flagged
        self.alive = False
        self.crashes.append(self.now)
        sup, actions = sv.crashed(self.sup, self.sup.generation, self.now, POLICY, "boom")
        recent = sum(1 for t in self.crashes if self.now - t < POLICY.window_s)
        if was_flagged:
            assert sup.state is Supervision.FAILED and actions == ()
        elif recent >= POLICY.max_failures:
            assert sup.state is Supervision.STARTING and sup.flagged
            assert actions == (Spawn(sup.generation, force_pause=True),)
        else:
            assert sup.state is Supervision.RESTARTING and not sup.flagged
            assert len(actions) == 1 and isinstance(actions[0], ScheduleRestart)
        self.sup = sup
        self.apply(actions)

    def start(self) -> None:
        try:
            sup, actions = sv.start(self.sup)
        except Refused:
            assert self.sup.state in WITH_ACTOR and not self.sup.flagged
            return
        self.sup, self.operator_stopped = sup, False
        self.crashes, self.paused_starts = [], 0
        self.apply(actions)

    def stop(self) -> None:
        try:
            sup, actions = sv.stop(self.sup)
        except Refused:
            assert self.sup.state is Supervision.STOPPED
            return
        self.sup, self.operator_stopped = sup, True
        self.apply(actions)

    def timer(self, which: int) -> None:
        if not self.timers:
            return
        generation = self.timers.pop(which % len(self.timers))
        sup, actions = sv.restart_due(self.sup, generation)
        if generation != self.sup.generation:  # set before an operator's stop or start, or a later crash
            assert (sup, actions) == (self.sup, ()), "a stale restart timer restarted the bot"
        self.sup = sup
        self.apply(actions)

    def started(self) -> None:
        if self.alive and self.sup.state is Supervision.STARTING:
            self.sup = sv.started(self.sup, self.sup.generation)

    def command(self, command: ModeCommand) -> None:
        try:
            self.sup = sv.operator_command(self.sup)
        except Refused:
            assert not self.alive
            return
        assert self.alive
        self.flags = apply_command(self.flags, command)

    def check(self) -> None:
        assert self.sup.state in Supervision
        assert self.alive == (self.sup.state in WITH_ACTOR)
        assert self.paused_starts <= 1, "more than one paused start without an operator's start"
        assert self.sup.flagged == (self.paused_starts == 1)
        if self.operator_stopped:
            assert self.sup.state is Supervision.STOPPED
        shown = shown_state(self.sup.state, run_state(self.flags))
        if self.sup.state is Supervision.RUNNING:
            assert shown is run_state(self.flags)
        else:
            assert shown.value == self.sup.state.value


_EVENTS = st.one_of(
    st.tuples(st.just("crash"), st.none()),
    st.tuples(st.just("crash"), st.none()),
    st.tuples(st.just("crash, then its restart timer"), st.none()),
    st.tuples(st.just("crash, then its restart timer"), st.none()),
    st.tuples(st.just("start"), st.none()),
    st.tuples(st.just("stop"), st.none()),
    st.tuples(st.just("timer"), st.integers(min_value=0, max_value=3)),
    st.tuples(st.just("started"), st.none()),
    st.tuples(
        st.just("command"),
        st.sampled_from([Pause(name="b"), Resume(name="b"), ReduceOnly(name="b"), Flatten(name="b")]),
    ),
    st.tuples(st.just("wait"), st.floats(min_value=0, max_value=400, allow_nan=False)),
    st.tuples(st.just("wait"), st.floats(min_value=0, max_value=5, allow_nan=False)),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_EVENTS, max_size=60))
def test_any_sequence_of_events_stays_in_the_table_never_restarts_a_stopped_bot_and_pauses_once_after_five_failures(
    events: list[tuple[str, object]],
) -> None:
    bot = _Harness()
    bot.start()
    for kind, arg in events:
        match kind:
            case "crash":
                bot.crash()
            case "crash, then its restart timer":  # so that runs of failures are common, not rare
                bot.crash()
                bot.timer(-1)
            case "start":
                bot.start()
            case "stop":
                bot.stop()
            case "timer":
                assert isinstance(arg, int)
                bot.timer(arg)
            case "started":
                bot.started()
            case "command":
                assert isinstance(arg, Pause | Resume | ReduceOnly | Flatten)
                bot.command(arg)
            case "wait":
                assert isinstance(arg, float)
                bot.now += arg
        bot.check()  # an illegal transition would have raised IllegalTransition out of the test


def test_a_restart_timer_set_before_an_operators_start_does_not_cut_a_later_backoff_short() -> None:
    sup, _ = sv.crashed(_running(), 0, 0.0, POLICY, "boom")  # a restart is due at 1 s for actor 0
    sup, _ = sv.start(sup)  # the operator does not wait: actor 1
    sup, actions = sv.crashed(sup, 1, 0.5, POLICY, "boom")  # actor 1 fails: its own backoff
    assert actions == (ScheduleRestart(1.0, 1, 1),)
    assert sv.restart_due(sup, 0) == (sup, ())  # actor 0's timer fires now: nothing happens
