"""The driver every shell holds around the bot's one step: the backtest loop, the paper bot actor and the live bot
actor each own one, and differ only in where inputs come from and where commands go.

``feed(input)`` runs ``step`` against the venue's account as it is now and performs the effects in order: the
records go to the sink, a resync reads the venue's open orders and feeds them back, and each command goes to the
venue at once, its events fed back as a ``VenueReport`` (so a decision's acks, rejects and fills are recorded and
reach the connector before the next input). Not thread-safe: one owner (a loop or an actor). Nothing here reads a
clock: every time is the input's.

The seam for a venue whose reports come later (the live venue made non-blocking, a paper venue with latency):
``submit`` would return nothing at once and the shell would ``feed`` the ``VenueReport`` when it arrives; the step
already treats an order as pending until its acknowledgement.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Protocol, assert_never

from botrunner.bot.legs import legs_step
from botrunner.bot.pipeline import BotDefinition, BotState
from botrunner.bot.step import NOTHING, BotInput, Effects, Reconcile, VenueReport, step
from botrunner.bot.validity import DecisionMode
from botrunner.connector.orders import WorkingOrder
from botrunner.core.records import FillRow, FundingRow, InterestRow, LegsRow, OrderRow, SettleRow, SpotFillRow
from botrunner.venue.port import Venue, VenueAccount, VenueCommand, VenueEvent

StepFunction = Callable[[BotDefinition, BotState, BotInput, VenueAccount], tuple[BotState, Effects]]


def step_for(bot: BotDefinition) -> StepFunction:
    """The step a bot runs: the perp step, or the two-leg path for a two-leg bot (``botrunner.bot.legs``)."""
    return step if bot.legs is None else legs_step


class RecordSink(Protocol):
    """Where a bot's records go: a backtest's running figures and CSV rows, or the runtime's store batch."""

    def on_order(self, row: OrderRow) -> None: ...

    def on_fill(self, row: FillRow) -> None: ...

    def on_funding(self, row: FundingRow) -> None: ...

    def on_settle(self, row: SettleRow) -> None: ...

    def on_spot_fill(self, row: SpotFillRow) -> None: ...

    def on_interest(self, row: InterestRow) -> None: ...

    def on_legs(self, row: LegsRow) -> None: ...


class RowBuffer:
    """A record sink that keeps the rows in lists: one step's rows in the bot actor, or a test's record."""

    __slots__ = ("fills", "funding", "interest", "legs", "orders", "settlements", "spot_fills")

    def __init__(self) -> None:
        self.orders: list[OrderRow] = []
        self.fills: list[FillRow] = []
        self.funding: list[FundingRow] = []
        self.settlements: list[SettleRow] = []
        self.spot_fills: list[SpotFillRow] = []
        self.interest: list[InterestRow] = []
        self.legs: list[LegsRow] = []

    def on_order(self, row: OrderRow) -> None:
        self.orders.append(row)

    def on_fill(self, row: FillRow) -> None:
        self.fills.append(row)

    def on_funding(self, row: FundingRow) -> None:
        self.funding.append(row)

    def on_settle(self, row: SettleRow) -> None:
        self.settlements.append(row)

    def on_spot_fill(self, row: SpotFillRow) -> None:
        self.spot_fills.append(row)

    def on_interest(self, row: InterestRow) -> None:
        self.interest.append(row)

    def on_legs(self, row: LegsRow) -> None:
        self.legs.append(row)

    def __bool__(self) -> bool:
        return bool(
            self.orders
            or self.fills
            or self.funding
            or self.settlements
            or self.spot_fills
            or self.interest
            or self.legs
        )


class BotDriver:
    """A bot's definition, its one state, its venue and its record sink (see the module doc)."""

    __slots__ = ("bot", "sink", "state", "step", "venue")

    def __init__(
        self,
        bot: BotDefinition,
        venue: Venue,
        state: BotState,
        sink: RecordSink,
        *,
        decisions: DecisionMode | None = None,
    ) -> None:
        """``decisions``: override when the bot decides in full (``botrunner.bot.validity.DecisionMode``; e.g.
        ``CHECK`` proves every reused decision against a full one)."""
        self.bot = bot if decisions is None else bot.with_decisions(decisions)
        self.step = step_for(self.bot)  # chosen once: the grid's step never tests for a second leg
        self.venue = venue
        self.state = state
        self.sink = sink

    def feed(self, item: BotInput) -> Effects:
        """Step once on ``item`` and perform what the step asked for; returns the step's effects."""
        self.state, effects = self.step(self.bot, self.state, item, self.venue)
        if effects is not NOTHING:
            self._perform(effects, item.ts)
        return effects

    def report(self, events: Sequence[VenueEvent], ts: int) -> None:
        """Feed what the venue reported at ``ts`` (nothing to do when it reported nothing)."""
        if events:
            self.feed(VenueReport(ts, tuple(events)))

    def perform(self, command: VenueCommand, ts: int) -> None:
        """Send one command the shell decided on (a shutdown's cancel-all) and feed back what happened."""
        self.report(self.venue.submit(command, ts), ts)

    def reconcile(self, now: int, known: Iterable[OrderRow] = ()) -> tuple[WorkingOrder, ...]:
        """Adopt the venue's open orders after a (re)start at ``now`` (``known``: the store's placed rows of
        orders not yet closed). Returns the adopted orders."""
        adopted = self.venue.open_orders()
        self.feed(Reconcile(ts=now, open_orders=adopted, known=tuple(known)))
        return adopted

    def _perform(self, effects: Effects, ts: int) -> None:
        sink = self.sink
        for row in effects.records:
            # most frequent first: this runs for every order row of a backtest (hot path)
            if isinstance(row, OrderRow):
                sink.on_order(row)
            elif isinstance(row, FillRow):
                sink.on_fill(row)
            elif isinstance(row, FundingRow):
                sink.on_funding(row)
            elif isinstance(row, SettleRow):
                sink.on_settle(row)
            elif isinstance(row, LegsRow):
                sink.on_legs(row)
            elif isinstance(row, SpotFillRow):
                sink.on_spot_fill(row)
            elif isinstance(row, InterestRow):
                sink.on_interest(row)
            else:
                assert_never(row)
        if effects.resync:
            self.feed(VenueReport(ts, (), self.venue.open_orders()))
        venue = self.venue
        for command in effects.commands:
            events = venue.submit(command, ts)
            if events:
                self.feed(VenueReport(ts, events))


def ladder_prices(orders: Iterable[WorkingOrder]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(bid prices, ask prices) of a resting ladder, best first: what a margin snapshot row keeps of it."""
    orders = tuple(orders)
    bids = tuple(sorted((o.price for o in orders if o.side.sign > 0), reverse=True))
    asks = tuple(sorted(o.price for o in orders if o.side.sign < 0))
    return bids, asks
