"""A running bot's operator state: the closed set of states ``ctl`` shows and the commands that move between them.

Operator commands set flags the Risk Governor reads (``pipeline.OperatorFlags``); they are not latched by the
governor, so a human decided and a human undoes (``resume``). ``flatten`` works the position to zero reduce-only
and then becomes ``pause``. Supervisor-owned states (restarting after a failure, failed and flagged, stopped) sit
beside them.
"""

from __future__ import annotations

import enum
from typing import assert_never

from botrunner.bot.pipeline import OperatorFlags
from botrunner.core.operator import Flatten, ModeCommand, Pause, ReduceOnly, Resume


class BotRunState(enum.Enum):
    STARTING = "starting"  # reconciling with its venue and catching up
    RUNNING = "running"
    PAUSED = "paused"  # operator pause, or a finished flatten
    REDUCE_ONLY = "reduce_only"  # operator reduce-only
    FLATTENING = "flattening"  # closing the position reduce-only, then PAUSED
    STOPPED = "stopped"  # stopped by the operator or at shutdown
    RESTARTING = "restarting"  # failed; restarting after a backoff
    FAILED = "failed"  # failed too often: stays paused and flagged until ``ctl start``


def apply_command(flags: OperatorFlags, command: ModeCommand) -> OperatorFlags:
    """The flags after ``command`` (the operator's vocabulary, ``botrunner.core.operator``): each command states
    the whole intent, so the last one wins."""
    match command:
        case Pause():
            return OperatorFlags(pause=True)
        case Resume():
            return OperatorFlags()
        case ReduceOnly():
            return OperatorFlags(reduce_only=True)
        case Flatten():
            return OperatorFlags(flatten=True)
        case _ as unreachable:
            assert_never(unreachable)


def after_step(flags: OperatorFlags, position_base: int, open_orders: int) -> OperatorFlags:
    """A finished flatten (flat and nothing resting) becomes a pause."""
    if flags.flatten and position_base == 0 and open_orders == 0:
        return OperatorFlags(pause=True)
    return flags


def run_state(flags: OperatorFlags) -> BotRunState:
    if flags.flatten:
        return BotRunState.FLATTENING
    if flags.pause:
        return BotRunState.PAUSED
    if flags.reduce_only:
        return BotRunState.REDUCE_ONLY
    return BotRunState.RUNNING
