"""One bot's imperative shell around the pure pipeline, shared by backtests and the live/paper runtime.

A :class:`BotSession` owns a bot's :class:`~botrunner.bot.pipeline.BotState`, talks to one venue, and does the three
things every shell must do the same way:

* **route** venue events: each becomes a record (order lifecycle row, fill, funding payment) for the sink, and each
  order event drives the connector's order lifecycle. An order's rows carry their cause: the ``PlanReason`` of the
  command that placed it and the number of the decision that sent that command (``decision_seq``). An event the
  lifecycle refuses makes the connector adopt the venue's open orders (the venue is the truth); the events after
  it are still recorded;
* **decide** at a market update: number the decision, build the account view from the venue, run
  ``pipeline.decide``, send its commands to the venue at once and route what comes back;
* **reconcile** with the venue after a (re)start: adopt its open orders and restart the ramp-in clock.

The backtest loop calls it directly at full speed; the bot actor calls it from its mailbox. Nothing here reads a
clock: every time is the caller's market time.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, assert_never

import msgspec

from botrunner.bot.pipeline import (
    NO_OPERATOR,
    AccountView,
    BotDefinition,
    BotState,
    Decision,
    MarketUpdate,
    OperatorFlags,
    decide,
)
from botrunner.connector import ConnectorState, IllegalTransition, OrderEvent, OrderUpdate, apply_events, resync
from botrunner.connector.commands import CancelAndPlace, Command, PlaceOrders
from botrunner.connector.orders import WorkingOrder
from botrunner.core.policy import PostOnlyMode
from botrunner.core.records import FillRow, FundingRow, OrderRow
from botrunner.funding import ONE_DAY_S
from botrunner.margin.model import PerpPosition
from botrunner.margin.what_if import fill_quote_delta
from botrunner.venue.port import (
    BalanceChanged,
    CommandRejected,
    Fill,
    FundingPaid,
    Liquidated,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderRejected,
    PnlSettled,
    VenueCommand,
    VenueEvent,
)

_NO_CAUSE: tuple[str, int] = ("", 0)  # an order no command of ours placed (e.g. one placed outside the bot)


class RecordSink(Protocol):
    """Where a session's records go: a backtest's running figures and CSV rows, or the runtime's store batch."""

    def on_order(self, row: OrderRow) -> None: ...

    def on_fill(self, row: FillRow) -> None: ...

    def on_funding(self, row: FundingRow) -> None: ...


class RowBuffer:
    """A record sink that keeps the rows in lists: one step's rows in the bot actor, or a test's record."""

    __slots__ = ("fills", "funding", "orders")

    def __init__(self) -> None:
        self.orders: list[OrderRow] = []
        self.fills: list[FillRow] = []
        self.funding: list[FundingRow] = []

    def on_order(self, row: OrderRow) -> None:
        self.orders.append(row)

    def on_fill(self, row: FillRow) -> None:
        self.fills.append(row)

    def on_funding(self, row: FundingRow) -> None:
        self.funding.append(row)

    def __bool__(self) -> bool:
        return bool(self.orders or self.fills or self.funding)


class SessionVenue(Protocol):
    """What a session reads and drives on its venue (``PaperVenue`` now, the Drift venue later)."""

    @property
    def oracle(self) -> int: ...

    @property
    def position(self) -> PerpPosition: ...

    def submit(self, command: VenueCommand, now: int) -> tuple[VenueEvent, ...]: ...

    def open_orders(self) -> tuple[WorkingOrder, ...]: ...

    def equity(self) -> int: ...

    def margin_view(self) -> object: ...


class BotSession:
    """A bot's state, its venue and the bookkeeping between them. Not thread-safe: one owner (a loop or an actor)."""

    __slots__ = (
        "bot",
        "causes",
        "day",
        "day_start_equity",
        "decision_seq",
        "order_seq",
        "orders_placed",
        "placed",
        "resyncs",
        "sink",
        "state",
        "venue",
    )

    def __init__(
        self,
        bot: BotDefinition,
        venue: SessionVenue,
        state: BotState,
        sink: RecordSink,
        *,
        order_seq: int = 0,
        day: int = -1,
        day_start_equity: int = 0,
        decision_seq: int = 0,
    ) -> None:
        self.bot = bot
        self.venue = venue
        self.state = state
        self.sink = sink
        self.order_seq = order_seq  # a bot-wide order id: user_order_ids are recycled (1..255)
        self.decision_seq = decision_seq  # the number of the bot's last decision (restored, so numbers never repeat)
        # (PlanReason value, decision_seq) of each order sent and not yet accepted or rejected, by user_order_id. A
        # live venue may report the acceptance a tick later; an order never reported stays until its id is reused,
        # so this holds at most 255 entries.
        self.causes: dict[int, tuple[str, int]] = {}
        # The daily-loss limit's reference: the equity at the first decision of each UTC day (``day``: unix day
        # number of that decision; -1 before the first). Restored from a checkpoint so a restart keeps the day's.
        self.day = day
        self.day_start_equity = day_start_equity
        self.placed: dict[int, OrderRow] = {}  # the placed row of every order the venue holds, by user_order_id
        self.orders_placed = 0
        self.resyncs = 0

    # -------------------------------------------------------------- venue events -> records + connector

    def route(self, events: list[VenueEvent] | tuple[VenueEvent, ...]) -> None:
        """Record every event and feed the order events to the connector's lifecycle (see the module doc)."""
        connector: ConnectorState | None = self.state.connector
        if not events and connector is not None:
            return  # the common case on a price point: nothing happened
        # Every event is recorded first, then the order updates are applied in one pass (``apply_events`` is
        # ``apply_event`` folded over them): recording does not read the connector, so the order is immaterial.
        updates: list[OrderUpdate] = []
        for event in events:
            update = self._record(event)
            if update is not None:
                updates.append(update)
        if connector is not None:
            try:
                connector = apply_events(connector, updates)
            except IllegalTransition:
                connector = None
        if connector is None:
            connector = resync(self.state.connector, self.venue.open_orders())
            self.resyncs += 1
        self.state.connector = connector

    def _record(self, event: VenueEvent) -> OrderUpdate | None:  # noqa: PLR0911  <why: a flat exhaustive match, one return per event kind; hot path: every venue event>
        sink = self.sink
        match event:
            case OrderAccepted():
                self.order_seq += 1
                reason, decision_seq = self.causes.pop(event.user_order_id, _NO_CAUSE)
                row = OrderRow(
                    event.ts,
                    self.order_seq,
                    event.user_order_id,
                    "placed",
                    event.side.value,
                    event.price,
                    event.base,
                    event.post_only,
                    event.reduce_only,
                    reason,
                    decision_seq,
                )
                self.placed[event.user_order_id] = row
                self.orders_placed += 1
                sink.on_order(row)
                return OrderUpdate(event.user_order_id, OrderEvent.ACK)
            case OrderRejected():
                self.order_seq += 1
                # a refused cancel echoes no order (side None): the id's pending placement, if any, is still pending
                _, decision_seq = (
                    self.causes.pop(event.user_order_id, _NO_CAUSE) if event.side is not None else _NO_CAUSE
                )
                sink.on_order(
                    OrderRow(
                        event.ts,
                        self.order_seq,
                        event.user_order_id,
                        "rejected",
                        event.side.value if event.side is not None else "",
                        event.price,
                        event.base,
                        event.post_only,
                        event.reduce_only,
                        event.reason.value,
                        decision_seq,
                    )
                )
                return OrderUpdate(event.user_order_id, OrderEvent.REJECT)
            case OrderCancelled():
                self._closed(event.ts, event.user_order_id, "cancelled", event.reason.value)
                return OrderUpdate(event.user_order_id, OrderEvent.CANCEL)
            case OrderExpired():
                self._closed(event.ts, event.user_order_id, "expired", "max_ts")
                return OrderUpdate(event.user_order_id, OrderEvent.EXPIRE)
            case Fill():
                placed = self.placed.get(event.user_order_id)
                sink.on_fill(
                    FillRow(
                        event.ts,
                        placed.order_id if placed is not None else 0,
                        event.side.value,
                        event.price,
                        event.base,
                        event.quote,
                        event.fee,
                        event.liquidity.value,
                        event.reduce_only,
                    )
                )
                if event.complete:
                    self._closed(event.ts, event.user_order_id, "filled", "")
                    return OrderUpdate(event.user_order_id, OrderEvent.FILL, event.order_filled_base)
                return OrderUpdate(event.user_order_id, OrderEvent.PARTIAL_FILL, event.order_filled_base)
            case FundingPaid():
                sink.on_funding(FundingRow(event.ts, event.position_base, event.rate, event.payment))
                return None
            case Liquidated():
                if event.base:  # the transfer is a fill of the position at the oracle (order id 0)
                    side = "buy" if event.base > 0 else "sell"
                    quote = fill_quote_delta(event.base, event.price)
                    sink.on_fill(
                        FillRow(event.ts, 0, side, event.price, abs(event.base), quote, event.fee, "taker", True)
                    )
                return None
            case PnlSettled() | BalanceChanged() | CommandRejected():
                return None
            case _ as unreachable:
                assert_never(unreachable)

    def _closed(self, ts: int, uid: int, what: str, reason: str) -> None:
        """The row of an order leaving the book: its placed row with the event, time and reason (and the placed
        row's ``decision_seq``: the decision that placed it)."""
        placed = self.placed.pop(uid, None)
        if placed is not None:
            self.sink.on_order(msgspec.structs.replace(placed, ts=ts, event=what, reason=reason))

    # -------------------------------------------------------------- commands and decisions

    def submit(self, command: Command | VenueCommand, ts: int, decision_seq: int = 0) -> None:
        """Send one command to the venue at market time ``ts`` and route what happened. ``decision_seq``: the
        decision that sent it (0: none), which the placed rows of its orders carry with its ``PlanReason``."""
        if isinstance(command, PlaceOrders | CancelAndPlace):
            cause = (command.reason.value, decision_seq)
            causes = self.causes
            for order in command.orders:
                causes[order.user_order_id] = cause
        self.route(self.venue.submit(command, ts))

    def decide(self, update: MarketUpdate, equity: int, operator: OperatorFlags | None = None) -> Decision:
        """Run the bot's pipeline against the venue's account as it is now (``equity``: the venue's, as the caller
        read it), and perform its commands. The first decision of a UTC day makes its equity the day's start.
        The decision is numbered ``self.decision_seq`` (one more than the last)."""
        venue = self.venue
        self.decision_seq += 1
        if update.ts // ONE_DAY_S != self.day:
            self.day, self.day_start_equity = update.ts // ONE_DAY_S, equity
        account = AccountView(
            position_base=venue.position.base_asset_amount,
            equity=equity,
            day_start_equity=self.day_start_equity,
            projection=venue.margin_view(),
        )
        self.state, decision = decide(self.bot, self.state, update, account, operator or NO_OPERATOR)
        for command in decision.commands:
            self.submit(command, update.ts, self.decision_seq)
        return decision

    def reconcile(self, now: int, placed: dict[int, OrderRow] | None = None) -> tuple[WorkingOrder, ...]:
        """Adopt the venue's open orders after a (re)start at ``now``, and restart the ramp-in clock there.

        ``placed`` restores the placed rows of orders the venue still holds (so their later fill and cancel rows
        carry the right order id); orders without one get a fresh order id and an ``adopted`` row. Returns the
        adopted orders."""
        adopted = self.venue.open_orders()
        self.state.connector = resync(ConnectorState.initial(now), adopted)
        for order in adopted:
            row = (placed or {}).get(order.user_order_id)
            if row is None:
                self.order_seq += 1
                row = OrderRow(
                    now,
                    self.order_seq,
                    order.user_order_id,
                    "adopted",
                    order.side.value,
                    order.price,
                    order.base,
                    order.post_only is not PostOnlyMode.NONE,
                    order.reduce_only,
                    "restart",
                )
                self.sink.on_order(row)
            self.placed[order.user_order_id] = row
        return adopted


def ladder_prices(orders: Iterable[WorkingOrder]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(bid prices, ask prices) of a resting ladder, best first: what a margin snapshot row keeps of it."""
    orders = tuple(orders)
    bids = tuple(sorted((o.price for o in orders if o.side.sign > 0), reverse=True))
    asks = tuple(sorted(o.price for o in orders if o.side.sign < 0))
    return bids, asks
