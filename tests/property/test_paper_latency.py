"""Hypothesis properties of the paper venue seen through latency (``botrunner.paper.latency.LatentVenue``) over
random sequences of placements, cancels and price moves at random times, with 1..150 slots of latency.

Checked: no command acts before it lands (the venue performs each one no earlier than sent + N × 400 ms, in the
order sent); no order fills after the cancel that took it off the book landed; no report reaches the bot before
N × 400 ms after the venue produced it, and the bot receives the venue's events in the order the venue produced
them (a fill that beat a cancel is reported before the cancel's refusal)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from botrunner.config.paper import MAX_LATENCY_SLOTS, SLOT_MS
from botrunner.connector.commands import CancelOrders, PlaceOrders, PlanReason
from botrunner.connector.orders import OrderIntent
from botrunner.core.catalogue import load_catalogue
from botrunner.core.policy import PostOnlyMode
from botrunner.core.precision import PRICE_PRECISION, QUOTE_PRECISION
from botrunner.core.side import Side
from botrunner.paper.config import PaperConfig
from botrunner.paper.latency import LatentVenue
from botrunner.paper.venue import PaperVenue
from botrunner.venue.port import (
    CancelReason,
    Fill,
    OrderAccepted,
    OrderCancelled,
    OrderRejected,
    VenueCommand,
    VenueEvent,
)

SOL = load_catalogue().perp("SOL-PERP")
START = 1_750_000_000
PRICE = 150 * PRICE_PRECISION


class SpyVenue(PaperVenue):
    """A paper venue that remembers when each command was performed and everything it produced, in order."""

    def __init__(self) -> None:
        super().__init__(SOL, PaperConfig(), deposit_quote=100_000 * QUOTE_PRECISION, oracle_price=PRICE, now=START)
        self.performed: list[tuple[VenueCommand, int]] = []
        self.produced: list[VenueEvent] = []

    def submit(self, command: VenueCommand, now: int) -> tuple[VenueEvent, ...]:
        self.performed.append((command, now))
        events = super().submit(command, now)
        self.produced.extend(events)
        return events

    def on_price(
        self, ts: int, price: int, oracle: int, *, bar_ts: int | None = None, bar_volume: int | None = None
    ) -> list[VenueEvent]:
        events = super().on_price(ts, price, oracle, bar_ts=bar_ts, bar_volume=bar_volume)
        self.produced.extend(events)
        return events


place = st.tuples(st.just("place"), st.sampled_from([Side.BUY, Side.SELL]), st.integers(-40, 40))
cancel = st.tuples(st.just("cancel"), st.integers(0, 30))
move = st.tuples(st.just("move"), st.integers(-300, 300))
ops = st.lists(st.tuples(st.integers(0, 90), st.one_of(place, cancel, move)), min_size=1, max_size=60)


@settings(max_examples=150, deadline=None)
@given(slots=st.integers(1, MAX_LATENCY_SLOTS), script=ops)
def test_latency_when_random_commands_then_nothing_acts_early_and_no_fill_follows_a_landed_cancel(
    slots: int, script: list[tuple[int, tuple[object, ...]]]
) -> None:
    venue = SpyVenue()
    latent = LatentVenue(venue, slots)
    delay = slots * SLOT_MS
    sent: list[tuple[VenueCommand, int]] = []  # (command, sent ms)
    received: list[tuple[int, VenueEvent]] = []  # (arrival ms, event)
    now, price, uid = START, PRICE, 0

    def deliver(until_ms: int | None) -> None:
        while (due := latent.next_due(until_ms)) is not None:
            received.extend((due[0] * 1000, e) for e in due[1])

    for gap, op in script:
        now += gap
        deliver(now * 1000)
        match op:
            case ("place", side, offset):
                assert isinstance(side, Side) and isinstance(offset, int)
                uid = uid % 255 + 1
                order = OrderIntent(
                    user_order_id=uid,
                    side=side,
                    price=price + offset * 10 * SOL.tick_size,
                    base=SOL.min_order_size,
                    post_only=PostOnlyMode.MUST_POST_ONLY,
                    reduce_only=False,
                    max_ts=now + 3600,
                    placed_at=now,
                    anchor_price=price,
                )
                command: VenueCommand = PlaceOrders((order,), PlanReason.LADDER_EMPTY)
                sent.append((command, now * 1000))
                assert latent.submit(command, now) == ()  # nothing is answered at once
            case ("cancel", back):
                assert isinstance(back, int)
                target = (uid - back - 1) % 255 + 1
                command = CancelOrders((target,), PlanReason.VERDICT_PAUSE)
                sent.append((command, now * 1000))
                assert latent.submit(command, now) == ()
            case ("move", ticks):
                assert isinstance(ticks, int)
                price = max(SOL.tick_size * 100, price + ticks * SOL.tick_size)
                latent.defer(tuple(venue.on_price(now, price, price, bar_ts=now, bar_volume=10**15)), now)
            case _:
                raise AssertionError(op)
    deliver(None)

    # every command is performed once, in the order sent, and never before it lands
    assert [c for c, _ in venue.performed] == [c for c, _ in sent]
    for (_, at), (_, sent_ms) in zip(venue.performed, sent, strict=True):
        assert at * 1000 >= (sent_ms + delay) // 1000 * 1000
    # no order fills after the cancel that took it off the book landed (user order ids recycle: per placement)
    cancelled_at: dict[int, int] = {}
    for event in venue.produced:
        if isinstance(event, OrderAccepted):
            cancelled_at.pop(event.user_order_id, None)
        elif isinstance(event, OrderCancelled) and event.reason is CancelReason.REQUESTED:
            cancelled_at[event.user_order_id] = event.ts
        elif isinstance(event, Fill):
            assert event.user_order_id not in cancelled_at, "an order filled after its cancel landed"
    # every report arrives a full delay after the venue produced it, and in the venue's order
    assert [e for _, e in received] == venue.produced
    for arrival, event in received:
        assert arrival >= event.ts * 1000 + delay - 999  # the venue stamps whole seconds
    refused = [e for _, e in received if isinstance(e, OrderRejected) and e.side is None]
    for event in refused:  # a refused cancel: the order was gone before the cancel landed
        assert event.ts >= START
