"""Hypothesis properties of the live command queue's rule (``botrunner.live.dispatch``), the one ``DriftVenue.execute``
performs: random interleavings of submits (placements, cancels, settlements, pauses), outcomes (confirmed, failed,
UNKNOWN) and account reads (begun, completed, possibly overlapping) checked against an independent account of what
happened:

(a) nothing is sent twice, and every part of every job is answered exactly once (sent or refused), by the end;
(b) after an UNKNOWN outcome nothing is sent until a read begun after it has completed (a full re-read);
(c) a pause is applied without waiting for the transaction confirming: its cancel is answered at once (except for
    orders that very transaction touches: they are in flight), and no job that places orders, queued before the
    pause, is ever sent.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from botrunner.live.dispatch import Dispatch, Go, Job, Refuse

ids = st.frozensets(st.integers(1, 12), min_size=1, max_size=5)
submit = st.one_of(
    st.tuples(st.just("place"), ids),
    st.tuples(st.just("cancel"), ids),
    st.tuples(st.just("settle"), st.just(frozenset[int]())),
    st.tuples(st.just("pause"), ids),
)
outcome = st.tuples(st.just("done"), st.sampled_from(["confirmed", "failed", "unknown"]))
read = st.one_of(st.tuples(st.just("read_begin")), st.tuples(st.just("read_end"), st.integers(0, 3)))
ops = st.lists(st.one_of(submit, outcome, read), min_size=1, max_size=80)


def _job(seq: int, kind: str, touched: frozenset[int]) -> Job:
    ordered = tuple(sorted(touched))
    match kind:
        case "place":
            return Job(seq=seq, touches=touched, places=True)
        case "cancel":
            return Job(seq=seq, touches=touched, cancel=ordered)
        case "pause":
            return Job(seq=seq, touches=touched, cancel=ordered, pause=True)
        case _:
            return Job(seq=seq)


class World:
    """The rule under test plus an independent record of what it answered."""

    def __init__(self) -> None:
        self.dispatch = Dispatch()
        self.seq = 0
        self.expected: set[tuple[int, bool]] = set()  # parts announced by submit
        self.answers: dict[tuple[int, bool], int] = {}
        self.sent: list[tuple[int, bool]] = []
        self.running: int | None = None
        self.unknowns = 0  # our own count
        self.covered = 0  # the UNKNOWNs a completed read begun after them covers (our own bookkeeping)
        self.reads: list[int] = []  # reads under way: the UNKNOWN count when each began
        self.placing: set[int] = set()
        self.dropped: set[int] = set()  # placing jobs queued before a pause, not sent by then: never to be sent

    def take(self, actions: tuple[Go | Refuse, ...]) -> None:
        for action in actions:
            key = (action.seq, action.ahead)
            assert key in self.expected, f"an answer to a part never announced: {action}"
            self.answers[key] = self.answers.get(key, 0) + 1
            assert self.answers[key] == 1, f"answered twice: {action}"
            if isinstance(action, Go):
                assert self.covered >= self.unknowns, f"sent {action} after an UNKNOWN before a full re-read"
                assert action.seq not in self.dropped, f"a placement queued before a pause was sent: {action}"
                self.sent.append(key)
                if not action.ahead:
                    assert self.running is None, "two jobs running at once"
                    self.running = action.seq

    def submit(self, kind: str, touched: frozenset[int]) -> None:
        self.seq += 1
        job = _job(self.seq, kind, touched)
        if job.pause:
            answered = {seq for (seq, _ahead) in self.answers}
            self.dropped |= {seq for seq in self.placing if seq not in answered}
        if job.places:
            self.placing.add(job.seq)
        running_touches = self.dispatch.running.touches if self.dispatch.running is not None else frozenset()
        self.dispatch, actions, parts = self.dispatch.submit(job)
        assert parts, "a job with no part"
        self.expected |= {(job.seq, ahead) for ahead in parts}
        self.take(actions)
        if job.pause:
            # (c) answered now, except the orders the transaction under way touches (they are in flight)
            now = {a.ahead for a in actions if a.seq == job.seq}
            for ahead in parts:
                if ahead or not running_touches:  # a queued part holds only the orders in flight
                    assert ahead in now, f"a pause waited: parts {parts}, answered now {now}"
            queued = [a for a in actions if a.seq == job.seq and not a.ahead]
            assert not (False in parts and not queued) or touched & running_touches, "a pause queued for nothing"

    def done(self, outcome: str) -> None:
        if self.running is None:
            return
        seq, self.running = self.running, None
        if outcome == "unknown":
            self.dispatch = self.dispatch.unknown()
            self.unknowns += 1
        self.dispatch, actions = self.dispatch.done(seq)
        self.take(actions)

    def read_begin(self) -> None:
        self.reads.append(self.dispatch.read_begun())
        assert self.reads[-1] == self.unknowns

    def read_end(self, index: int) -> None:
        if not self.reads:
            return
        token = self.reads.pop(index % len(self.reads))
        self.dispatch = self.dispatch.read_done(token)
        self.covered = max(self.covered, token)


@settings(max_examples=400, deadline=None)
@given(script=ops)
def test_dispatch_when_random_interleavings_then_sent_once_unknown_blocks_until_reread_and_pause_is_at_once(
    script: list[tuple[object, ...]],
) -> None:
    world = World()
    for op in script:
        match op:
            case ("done", str(outcome)):
                world.done(outcome)
            case ("read_begin",):
                world.read_begin()
            case ("read_end", int(index)):
                world.read_end(index)
            case (str(kind), frozenset() as touched):
                world.submit(kind, touched)  # type: ignore[arg-type]  # frozenset[Unknown] from the match
            case _:
                raise AssertionError(op)
    # drain: every transaction confirms, one full re-read; every part has had its one answer
    for _ in range(world.seq + 1):
        world.done("confirmed")
    world.read_begin()
    world.read_end(-1)
    for _ in range(world.seq + 1):
        world.done("confirmed")
    assert world.dispatch.running is None and not world.dispatch.queue
    assert set(world.answers) == world.expected
    assert len(set(world.sent)) == len(world.sent)


def test_dispatch_when_unknown_then_a_read_begun_before_it_does_not_unblock() -> None:
    d, _, _ = Dispatch().submit(Job(seq=1, places=True, touches=frozenset({1})))
    token = d.read_begun()  # a read under way ...
    d = d.unknown()  # ... when the outcome turns UNKNOWN
    d, _ = d.done(1)
    d = d.read_done(token)
    d, actions, _ = d.submit(Job(seq=2, places=True, touches=frozenset({2})))
    assert actions == (Refuse(2, "a transaction outcome is unknown: resync pending"),)
    d = d.read_done(d.read_begun())
    _, actions, _ = d.submit(Job(seq=3, places=True, touches=frozenset({3})))
    assert actions == (Go(3),)


def test_dispatch_when_paused_while_a_transaction_confirms_then_queued_placements_are_dropped_and_the_cancel_goes() -> (
    None
):
    d, first, _ = Dispatch().submit(Job(seq=1, places=True, touches=frozenset({1})))
    assert first == (Go(1),)
    d, queued, _ = d.submit(Job(seq=2, places=True, touches=frozenset({2})))
    assert queued == ()  # waits for job 1
    d, actions, parts = d.submit(Job(seq=3, touches=frozenset({1, 3}), cancel=(1, 3), pause=True))
    assert parts == (True, False)
    assert Refuse(2, "dropped by a pause before it was sent") in actions
    assert Go(3, True, (3,)) in actions  # order 3 cancelled at once; order 1 is job 1's, cancelled in its turn
    d, after = d.done(1)
    assert after == (Go(3, False, (1,)),)
