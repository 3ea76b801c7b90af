"""The rows a shell records of its decisions (paper and live share ``DecisionRecorder``)."""

from __future__ import annotations

from typing import Any

import msgspec
import structlog
from structlog.testing import capture_logs

from botrunner.bot.driver import RowBuffer
from botrunner.bot.pipeline import Decision
from botrunner.core.records import SettleRow
from botrunner.core.verdict import RiskAction
from botrunner.runtime.decisions import DecisionRecorder, announce_rows
from botrunner.runtime.hub import EventHub
from botrunner.runtime.snapshots import BotEvent, SettlementEvent
from botrunner.runtime.views import iso_time
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


def test_a_step_s_settlements_are_published_as_exact_decimal_strings() -> None:
    hub = EventHub()
    seen: list[BotEvent] = []
    hub.subscribe(seen.append)
    step = RowBuffer()
    step.on_settle(SettleRow(1_700_000_000, -1_234_567, "position_closed"))
    announce_rows("sol-grid", structlog.get_logger(), hub, step)
    assert seen == [
        SettlementEvent(bot="sol-grid", time=iso_time(1_700_000_000), amount="-1.234567", reason="position_closed")
    ]
    encoded = msgspec.json.decode(msgspec.json.encode(seen[0]))
    assert encoded["kind"] == "settlement" and encoded["amount"] == "-1.234567"
    assert msgspec.json.decode(msgspec.json.encode(seen[0]), type=BotEvent) == seen[0]


def test_ctl_prints_a_settlement_on_one_line() -> None:
    from botrunner.cli.ctl import format_event  # the CLI's output layer: imported only here

    event = SettlementEvent(bot="b", time="t", amount="12.500000", reason="schedule")
    assert format_event(event) == "t b settled 12.500000 into USDC (schedule)"
