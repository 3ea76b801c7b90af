"""botrunner.runtime.incidents: which venue events and breaker readings become an operator's incident, and their refs
(what the notifier deduplicates on)."""

from __future__ import annotations

from botrunner.core.side import Side
from botrunner.live.retry import CircuitBreaker
from botrunner.runtime.incidents import BREAKER_OPEN, GATE_BLOCKED, TX_UNKNOWN, breaker_opened, from_events
from botrunner.venue.port import CommandRejected, OrderRejected, RejectReason


def _rejected(uid: int, reason: RejectReason, detail: str) -> OrderRejected:
    return OrderRejected(ts=0, user_order_id=uid, reason=reason, detail=detail, side=Side.BUY, price=1, base=1)


def test_one_incident_per_unknown_transaction_and_per_gate() -> None:
    unknown = "unknown: no final status (signature SiG1)"
    events = (
        _rejected(1, RejectReason.OUTCOME_UNKNOWN, unknown),
        _rejected(2, RejectReason.OUTCOME_UNKNOWN, unknown),
        CommandRejected(ts=0, command="SettlePnl", reason=RejectReason.OUTCOME_UNKNOWN, detail="unknown: x"),
        _rejected(3, RejectReason.SAFETY_GATE, "latency: 900 ms > 500 ms (token ab)"),
        _rejected(4, RejectReason.SAFETY_GATE, "latency: 900 ms > 500 ms (token cd)"),
        _rejected(5, RejectReason.TRANSACTION_FAILED, "failed_on_chain"),  # the breaker's business, not an incident
    )
    found = from_events("b", events)
    assert [(i.what, i.ref) for i in found] == [
        (TX_UNKNOWN, "SiG1"),
        (TX_UNKNOWN, "unknown: x"),
        (GATE_BLOCKED, "latency"),
    ]
    assert "#1 buy 0.000000001 @ 0.000001, #2 buy" in found[0].message
    assert "SettlePnl" in found[1].message
    assert "blocked 2 order(s) #3" in found[2].message and "900 ms > 500 ms" in found[2].message


def test_the_breaker_is_an_incident_once_per_trip() -> None:
    closed = CircuitBreaker(threshold=2, cool_down_s=30)
    assert breaker_opened("b", None, closed, 0) is None
    tripped = closed.record_failure(1).record_failure(2)
    first = breaker_opened("b", None, tripped, 0)
    assert first is not None and first.what == BREAKER_OPEN and first.ref == "2"
    assert "after 2 consecutive transaction failures (threshold 2): no trade for 30 s" in first.message
    assert breaker_opened("b", tripped.opens_until, tripped, 0) is None  # the same trip seen again
    again = tripped.record_failure(100)  # the half-open trial failed: a new trip
    second = breaker_opened("b", tripped.opens_until, again, 0)
    assert second is not None and second.ref == "3"
