"""The live command queue's rule: which of a live bot's commands goes to the chain, when, or never. Pure: no I/O,
no clock, no asyncio. ``DriftVenue.execute`` (``botrunner.live.venue``) holds one ``Dispatch`` and performs what it
answers; ``tests/property/test_live_dispatch.py`` drives it through random interleavings.

A command is a ``Job``: the user order ids it touches, whether it places orders, whether it is a plain cancel (and
a pause's cancel-everything). Each part of a submitted job is answered exactly once: ``Go`` (send it now) or
``Refuse`` (never sent). The rules:

1. **One at a time, in order.** Commands run one at a time in submission order: a job's turn comes when the job
   running before it is ``done`` (whatever its outcome).
2. **A cancel goes ahead.** A cancel submitted while a job runs goes at once for the orders that job does not touch
   (a cancel never adds exposure, and an operator's pause must not wait for another order's confirmation); the
   orders the running job touches are cancelled in their turn.
3. **UNKNOWN blocks until a full re-read.** After an UNKNOWN outcome (the transaction may still land) nothing is
   sent — a job whose turn comes is refused, a cancel ahead too — until a read of the account *begun after* that
   outcome has completed (a read under way when it turned UNKNOWN may predate its landing).
4. **A pause drops what would place.** A pause's cancel (``pause``) refuses every queued job that places orders,
   at once: they were decided before the pause and must not reach the chain after it. The cancel itself is rule 2.
"""

from __future__ import annotations

import msgspec


class Job(msgspec.Struct, frozen=True):
    """One submitted command as the rule sees it. ``cancel``: the ids of a plain cancel (None: not one)."""

    seq: int
    touches: frozenset[int] = frozenset()
    places: bool = False
    cancel: tuple[int, ...] | None = None
    pause: bool = False  # a pause's cancel-everything (rule 4)


class Go(msgspec.Struct, frozen=True):
    """Send part of job ``seq`` now. ``ahead``: the part of a cancel that goes ahead of the queue (rule 2);
    ``ids``: a cancel part's order ids (None: the whole job as submitted)."""

    seq: int
    ahead: bool = False
    ids: tuple[int, ...] | None = None


class Refuse(msgspec.Struct, frozen=True):
    """Never send this part of job ``seq`` (why: one line for the log and the rejection)."""

    seq: int
    why: str
    ahead: bool = False


Action = Go | Refuse

RESYNC_PENDING = "a transaction outcome is unknown: resync pending"
PAUSED = "dropped by a pause before it was sent"


class Dispatch(msgspec.Struct, frozen=True):
    """The queue's state (see the module doc). ``unknowns``: UNKNOWN outcomes so far; ``covered``: how many of
    them a completed full re-read covers."""

    queue: tuple[Job, ...] = ()
    running: Job | None = None
    unknowns: int = 0
    covered: int = 0

    @property
    def blocked(self) -> bool:
        """True while an UNKNOWN outcome has not been covered by a full re-read (rule 3)."""
        return self.unknowns > self.covered

    @property
    def busy(self) -> bool:
        """Whether a job runs (later ones wait)."""
        return self.running is not None

    def submit(self, job: Job) -> tuple[Dispatch, tuple[Action, ...], tuple[bool, ...]]:
        """A new job. Returns the next state, what to do now, and the parts the job was split into (``ahead`` flag
        of each, the ahead part first): each part is answered exactly once, now or later."""
        state = self
        actions: list[Action] = []
        if job.pause:  # rule 4: what was decided before the pause and would place never goes
            kept = tuple(j for j in state.queue if not j.places)
            actions.extend(Refuse(j.seq, PAUSED) for j in state.queue if j.places)
            state = msgspec.structs.replace(state, queue=kept)
        running = state.running
        if job.cancel is not None and running is not None:  # rule 2
            now = tuple(i for i in job.cancel if i not in running.touches)
            later = tuple(i for i in job.cancel if i in running.touches)
            parts: list[bool] = []
            if now or not later:
                parts.append(True)
                actions.append(Refuse(job.seq, RESYNC_PENDING, ahead=True) if state.blocked else Go(job.seq, True, now))
            if later:
                parts.append(False)
                rest = msgspec.structs.replace(job, touches=frozenset(later), cancel=later)
                state = msgspec.structs.replace(state, queue=(*state.queue, rest))
            return state, tuple(actions), tuple(parts)
        state = msgspec.structs.replace(state, queue=(*state.queue, job))
        state, turns = state._advance()
        return state, (*actions, *turns), (False,)

    def done(self, seq: int) -> tuple[Dispatch, tuple[Action, ...]]:
        """The running job ``seq`` has an outcome (report an UNKNOWN with ``unknown`` first): the next one's turn."""
        if self.running is None or self.running.seq != seq:
            raise ValueError(f"dispatch: job {seq} is not the one running ({self.running})")
        return msgspec.structs.replace(self, running=None)._advance()

    def unknown(self) -> Dispatch:
        """A transaction's outcome is UNKNOWN: nothing goes until a full re-read begun after now (rule 3)."""
        return msgspec.structs.replace(self, unknowns=self.unknowns + 1)

    def read_begun(self) -> int:
        """A read of the whole account begins: its token (give it back to ``read_done`` when it completed)."""
        return self.unknowns

    def read_done(self, token: int) -> Dispatch:
        """The read begun with ``token`` completed: it covers the UNKNOWN outcomes known when it began. Jobs
        already refused stay refused (the step decides again on what the read shows)."""
        return msgspec.structs.replace(self, covered=max(self.covered, token))

    def resynced_by(self, token: int) -> bool:
        """Whether a completed read begun with ``token`` is the full re-read every UNKNOWN so far requires."""
        return token == self.unknowns

    def _advance(self) -> tuple[Dispatch, tuple[Action, ...]]:
        """While nothing runs: the head's turn (refused while blocked, and the next one's turn then)."""
        state = self
        actions: list[Action] = []
        while state.running is None and state.queue:
            head, rest = state.queue[0], state.queue[1:]
            if state.blocked:
                actions.append(Refuse(head.seq, RESYNC_PENDING))
                state = msgspec.structs.replace(state, queue=rest)
                continue
            actions.append(Go(head.seq, False, head.cancel))
            state = msgspec.structs.replace(state, queue=rest, running=head)
        return state, tuple(actions)
