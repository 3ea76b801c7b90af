"""Leg-out protection (governors.leg_out): for every interleaving of acks, fills (partial included), rejects, cancel
confirmations and time passing, the two legs are never apart by more than one order step for longer than the bound,
unless every market remedy was refused (``Outcome.STUCK``, which stops the bot); and a finished execution leaves
the legs level.

The venue model: limit orders rest and fill in any pieces at any time (also after a cancel was asked, until the
cancel is confirmed); a market order fills at once or is rejected at once (an IOC on a liquid venue); the driver
ticks the machine at ``wake_at_ms`` whenever that comes before the venue's next event, as a timer would."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from botrunner.core.side import Side
from governors.leg_out import (
    Acked,
    Cancelled,
    CancelOrder,
    Event,
    Filled,
    Finished,
    LegOutConfig,
    OrderKind,
    Outcome,
    Output,
    PairExecution,
    PlaceOrder,
    Rejected,
    Tick,
)

STEP = 10_000_000  # 0.01 base
USD = 10**6


class Venue:
    """Both venues as the machine sees them: every order it placed, what is left of it, what it asked to cancel."""

    def __init__(self, execution: PairExecution, draw: st.DrawFn) -> None:
        self.execution = execution
        self.draw = draw
        self.rest: dict[int, int] = {}
        self.commands: dict[int, PlaceOrder] = {}
        self.cancel_asked: set[int] = set()
        self.positions = {"drift": execution.drift_size, "external": execution.external_size}
        self.naked_since: int | None = None
        self.now = 0
        self.stuck = False
        self.finished: Finished | None = None
        self.max_naked_ms = 0
        self.log: list[object] = []  # everything that happened, for a failing example's message

    def feed(self, outputs: list[Output]) -> None:
        """Apply the machine's outputs; market orders resolve at once (fill or reject), recursively."""
        queue = list(outputs)
        while queue:
            out = queue.pop(0)
            self.log.append((self.now, out))
            match out:
                case PlaceOrder():
                    self.commands[out.order_id] = out
                    self.rest[out.order_id] = out.base
                    if out.kind is OrderKind.MARKET:
                        if self.draw(st.booleans(), label="market rejected"):
                            del self.rest[out.order_id]
                            queue.extend(self.execution.on_event(Rejected(out.order_id, self.now)))
                        else:
                            queue.extend(self._fill(out.order_id, out.base))
                case CancelOrder():
                    self.cancel_asked.add(out.order_id)
                case Finished():
                    self.finished = out
                    self.stuck = self.stuck or out.outcome is Outcome.STUCK  # the bot stops: sticky
                case _:
                    pass
        self._check()

    def _fill(self, order_id: int, base: int) -> list[Output]:
        command = self.commands[order_id]
        self.rest[order_id] -= base
        if self.rest[order_id] == 0:
            del self.rest[order_id]
        grows = command.reduce_only is False
        self.positions[command.leg.value] += base if grows else -base
        price = command.price + (USD if command.side is Side.BUY else -USD)  # a market order pays 1 USD worse
        if command.kind is OrderKind.LIMIT:
            price = command.price
        self.log.append(Filled(order_id, base, price, self.now))
        return self.execution.on_event(Filled(order_id, base, price, self.now))

    def event(self, event: Event) -> None:
        self.log.append(event)
        self.feed(self.execution.on_event(event))

    def _check(self) -> None:
        gap = abs(self.positions["drift"] - self.positions["external"])
        if gap > STEP:
            if self.naked_since is None:
                self.naked_since = self.now
            self.max_naked_ms = max(self.max_naked_ms, self.now - self.naked_since)
        else:
            self.naked_since = None

    def advance(self, dt: int) -> None:
        """Let ``dt`` ms pass, ticking the machine at its wake-up times on the way."""
        until = self.now + dt
        ticked: int | None = None
        while True:
            wake = self.execution.wake_at_ms()
            if wake is None or wake > until or wake == ticked:  # the same wake-up again: the machine ignored it
                break
            ticked = wake
            self.now = max(self.now, wake)
            self._check()  # the state just before the machine acts
            self.event(Tick(self.now))
        self.now = until
        self._check()
        self.event(Tick(self.now))


@st.composite
def scenario(draw: st.DrawFn) -> tuple[Venue, int]:
    bound = draw(st.sampled_from([100, 500, 2_000]))
    closing = draw(st.booleans())
    size = draw(st.integers(1, 50)) * STEP
    execution = PairExecution(
        LegOutConfig(
            bound_ms=bound,
            first_leg_window_ms=draw(st.sampled_from([100, 2_000])),
            step_base=STEP,
            max_market_rejects=draw(st.integers(1, 6)),
        ),
        drift_side=draw(st.sampled_from([Side.BUY, Side.SELL])),
        drift_size=size if closing else 0,
        external_size=size if closing else 0,
        target=0 if closing else size,
        drift_price=150 * USD,
        external_price=151 * USD,
        first_order_id=1,
    )
    venue = Venue(execution, draw)
    venue.feed(execution.start(0))
    for _ in range(draw(st.integers(0, 40))):
        open_ids = sorted(venue.rest)
        action = draw(st.sampled_from(["time", "fill", "fill_all", "reject", "ack", "cancelled"]))
        if action == "time" or not open_ids:
            venue.advance(draw(st.integers(0, 3 * bound)))
            continue
        order_id = draw(st.sampled_from(open_ids))
        rest = venue.rest[order_id]
        match action:
            case "fill":
                base = draw(st.integers(1, rest // STEP)) * STEP
                venue.feed(venue._fill(order_id, base))
            case "fill_all":
                venue.feed(venue._fill(order_id, rest))
            case "reject":
                del venue.rest[order_id]
                venue.event(Rejected(order_id, venue.now))
            case "ack":
                venue.event(Acked(order_id, venue.now))
            case "cancelled":
                if order_id in venue.cancel_asked:
                    del venue.rest[order_id]
                    venue.event(Cancelled(order_id, venue.now))
    # the venue goes quiet: pending cancels are confirmed, time passes until the machine has nothing left to wait for
    for _ in range(50):
        for order_id in sorted(venue.rest):
            if order_id in venue.cancel_asked and order_id in venue.rest:
                del venue.rest[order_id]
                venue.event(Cancelled(order_id, venue.now))
        if venue.execution.finished is not None:
            break
        venue.advance(bound)
    return venue, bound


@settings(max_examples=400, deadline=None)
@given(scenario())
def test_never_naked_past_the_bound(case: tuple[Venue, int]) -> None:
    venue, bound = case
    if not venue.stuck:
        history = "\n".join(map(str, venue.log))
        assert venue.max_naked_ms <= bound, f"legs apart for {venue.max_naked_ms} ms > bound {bound}:\n{history}"


@settings(max_examples=300, deadline=None)
@given(scenario())
def test_the_machine_books_match_the_venue_and_a_finish_is_level(case: tuple[Venue, int]) -> None:
    venue, _ = case
    ex = venue.execution
    assert (ex.drift_size, ex.external_size) == (venue.positions["drift"], venue.positions["external"])
    if ex.finished is not None and ex.finished.outcome is not Outcome.STUCK:
        assert abs(ex.gap) <= STEP
        assert not ex.open_order_ids()
