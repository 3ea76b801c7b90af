"""The rows a shell records of its decisions (paper and live share ``DecisionRecorder``)."""

from __future__ import annotations

from typing import Any

import msgspec
from structlog.testing import capture_logs

from botrunner.bot.pipeline import Decision
from botrunner.core.verdict import RiskAction
from botrunner.runtime.decisions import DecisionRecorder
from botrunner.runtime.hub import EventHub
from tests.unit.bot.test_pipeline import _run


class _Log:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def info(self, event: str, **fields: Any) -> None:
        self.events.append((event, fields))


def _with(decision: Decision, **verdict_fields: Any) -> Decision:
    return msgspec.structs.replace(decision, verdict=msgspec.structs.replace(decision.verdict, **verdict_fields))


def test_recorder_when_only_the_band_moves_then_an_objective_row_and_no_risk_event() -> None:
    first = _run(120, 1)[-1]
    moved = msgspec.structs.replace(first.verdict.band, max_base=first.verdict.band.max_base + 10**9)
    log = _Log()
    recorder = DecisionRecorder("bot", log, EventHub())
    recorder.record(first, 1)
    objective, events, _ = recorder.take()
    assert objective is not None and len(events) == 1  # the first decision sets both
    recorder.record(first, 2)
    assert not recorder.pending()  # nothing changed: nothing to write
    recorder.record(_with(first, band=moved), 3)
    objective, events, _ = recorder.take()
    assert objective is not None and objective.band_max == moved.max_base and events == ()
    assert [e for e, _ in log.events].count("decision") == 3


def test_recorder_when_the_action_changes_then_a_risk_event_from_the_previous_state() -> None:
    first = _run(120, 1)[-1]
    recorder = DecisionRecorder("bot", _Log(), EventHub())
    recorder.record(first, 1)
    recorder.take()
    with capture_logs():
        recorder.record(_with(first, action=RiskAction.PAUSE), 2)
    objective, events, _ = recorder.take()
    assert [(e.from_state, e.to_state) for e in events] == [(first.verdict.action.value, "PAUSE")]
    assert objective is not None and objective.verdict == "PAUSE"
    assert recorder.state == "PAUSE"
