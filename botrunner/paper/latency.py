"""Latency between a bot and its paper venue: commands land, and reports arrive, N Solana slots later.

On Drift every command is a transaction: it lands some slots after the bot sent it and acts on the account as it
is *then* (a cancel that lands after its order filled finds nothing to cancel; a post-only order that would cross
at landing is rejected, skipped or slid per its mode, by the venue's own admission at landing time). Meanwhile the
bot sees its orders pending (``PENDING_NEW``, ``PENDING_CANCEL``: the connector's lifecycle), and it learns of what
the venue did (fills, expiries, funding, liquidation) only when the report reaches it. ``LatentVenue`` models both
with one delay of ``slots × 400 ms``:

* ``submit`` queues the command and answers nothing at once; the command lands at ``sent + delay`` against the
  venue's state at that moment;
* every report reaches the bot ``delay`` after the venue produced it: what a landed command did, and what the venue
  did on its own at a market event (``defer``: fills, expiries, funding, liquidation).

So a command's answer comes back ``2 × delay`` after it was sent, and the bot sees every venue event in the order
the venue produced it: a cancel that landed after its order filled is refused, and the bot learns of the fill
before it learns of the refusal (the fill happened first), as it would from the chain.

Time: the queue keeps milliseconds; the shell says when it is (``now_ms``, finer than the venue's seconds) so a
command sent during a step leaves then. The shell (``botrunner.runtime.paper_bot``) walks the bar's path in time
(``botrunner.paper.walk``) and lands what is due before each price the path reaches. The venue clock is the landing
time floored to the second (the venue counts in seconds; never backwards).

The queue is a heap on (due time, sequence): equal times keep the order they were queued in. Nautilus' ``LatencyModel``
(base + insert / update / cancel nanoseconds on inbound commands) is the anchor; Drift has one path for every
command, hence one delay, and its reports come back over the same RPC, hence delayed too.

The read half (``VenueAccount``: position, equity, margin) is the venue's as it is now: a live bot reads its
account from the chain as it is, while its order events lag. In-flight commands are not checkpointed: a paper bot
that restarts resyncs from the venue, as a transaction that never landed.
"""

from __future__ import annotations

import heapq

from botrunner.config.paper import MAX_LATENCY_SLOTS, SLOT_MS, check_latency_slots
from botrunner.margin.view import AccountMarginView
from botrunner.paper.venue import PaperVenue
from botrunner.venue.port import ReadThrough, VenueCommand, VenueEvent

__all__ = ["MAX_LATENCY_SLOTS", "SLOT_MS", "LatentVenue", "check_latency_slots"]


class LatentVenue(ReadThrough[PaperVenue]):
    """A ``PaperVenue`` seen through ``slots`` of latency (see the module doc). Implements
    ``botrunner.venue.port.Venue``; not thread-safe (one owner, like the venue)."""

    __slots__ = ("_queue", "_seq", "delay_ms", "now_ms")

    def __init__(self, venue: PaperVenue, slots: int) -> None:
        super().__init__(venue)
        self.delay_ms = check_latency_slots(slots, "latency_slots") * SLOT_MS
        # (due ms, sequence, a command to land | events to report)
        self._queue: list[tuple[int, int, VenueCommand | tuple[VenueEvent, ...]]] = []
        self._seq = 0
        # the shell's time in ms when it knows it finer than the venue's seconds (the walked path): a command sent
        # during a step at ``now_ms`` lands ``delay`` after it, not after its whole second
        self.now_ms = 0

    # ---------------------------------------------------------------- the read half: the venue as it is now
    # (ReadThrough); only the margin view is narrowed to the paper venue's own type

    def margin_view(self) -> AccountMarginView:
        return self.venue.margin_view()

    # ---------------------------------------------------------------- the delayed half

    def submit(self, command: VenueCommand, now: int) -> tuple[VenueEvent, ...]:
        """Send ``command`` at ``now`` (s): it lands ``delay`` later; nothing is answered now."""
        self._push(max(now * 1000, self.now_ms) + self.delay_ms, command)
        return ()

    def defer(self, events: tuple[VenueEvent, ...], ts: int) -> None:
        """What the venue did on its own at ``ts`` (s), reported ``delay`` later."""
        self.defer_ms(events, ts * 1000)

    def defer_ms(self, events: tuple[VenueEvent, ...], at_ms: int) -> None:
        """What the venue did on its own at ``at_ms`` (ms), reported ``delay`` later."""
        if events:
            self._push(at_ms + self.delay_ms, events)

    def _push(self, due_ms: int, item: VenueCommand | tuple[VenueEvent, ...]) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (due_ms, self._seq, item))

    @property
    def in_flight(self) -> int:
        """Commands not yet landed plus reports not yet delivered."""
        return len(self._queue)

    def due_ms(self) -> int | None:
        """When the next queued item is due (ms), or None when nothing is in flight."""
        return self._queue[0][0] if self._queue else None

    def next_due(self, until_ms: int | None) -> tuple[int, tuple[VenueEvent, ...]] | None:
        """Take the first report due at or before ``until_ms`` (None: whatever is queued), landing the commands
        due before it on the way (their reports are queued ``delay`` later). Returns (arrival s, events), or None
        when nothing more is due."""
        queue = self._queue
        venue = self.venue
        while queue:
            due = queue[0][0]
            if until_ms is not None and due > until_ms:
                return None
            _, _, item = heapq.heappop(queue)
            if isinstance(item, tuple):
                self.now_ms = max(self.now_ms, due)  # what the bot sends on this report leaves from here
                return max(due // 1000, venue.now), item
            events = venue.submit(item, max(due // 1000, venue.now))
            if events:
                self._push(due + self.delay_ms, events)
        return None
