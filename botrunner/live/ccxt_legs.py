"""The external leg of a two-venue execution (``governors.leg_out``), performed through the ccxt venue.

``governors.leg_out.PairExecution`` is pure: it emits ``PlaceOrder`` / ``CancelOrder`` commands for both legs and
takes venue events back. This module performs the EXTERNAL leg's commands on a :class:`CcxtVenue` and turns what the
venue said into those events:

=====================  =====================================================================================
adapter outcome        events for the machine
=====================  =====================================================================================
FILLED                 ``Filled`` (the whole size sent, at the average price); ``Cancelled`` too when the size was
                       rounded down to the step (the unsent rest is dead)
PARTIAL                ``Filled`` for what filled, then ``Cancelled`` (the IOC / market rest is dead)
EXPIRED (a limit)      ``Cancelled``, but only when the machine cancels it (below)
EXPIRED (a market)     ``Rejected`` (the venue could not execute the hedge: counts towards the machine's limit)
REJECTED, ABSENT       ``Rejected`` (the venue refused it, or it never reached the venue)
UNKNOWN, OPEN          nothing yet: the order stays pending and is READ again (``poll``), never re-sent
=====================  =====================================================================================

A machine LIMIT becomes an IOC limit (takes what is there at the limit, the rest expires at once: an external
follow order never rests, so the machine's bound is never spent waiting on a resting order); a MARKET (the hedge)
stays a market order, reduce-only when the command is. Sizes are rounded down to the market's step and limit prices
to the tick in the safe direction; a size under one step is refused locally (``Rejected``) — the machine's
``step_base`` should be at least this market's step so it never asks for one.

An IOC limit that found nothing is reported dead only when the machine cancels it. Reported at once, the machine's
follow logic would place it again at once, a loop of orders against the venue for the whole bound; held, the order
looks like a limit still working, and the bound's market hedge (whose first step cancels it) decides. A partial
fill's rest is reported at once (the machine must know the size); the order it then places for the rest is held
the same way if it finds nothing.

Client order ids are ``<prefix>-<order id>``: deterministic, so a restart that replays the machine finds its orders.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import assert_never

import structlog

from botrunner.live.ccxt_venue import CcxtVenue, CcxtVenueError, OrderKind, OrderOutcome, OrderReport, OrderRequest
from governors.leg_out import ArbLeg, Cancelled, CancelOrder, Event, Filled, PlaceOrder, Rejected
from governors.leg_out import OrderKind as LegOrderKind

_log = structlog.get_logger("botrunner.live.ccxt_legs")


class ExternalLeg:
    """Performs one ``PairExecution``'s EXTERNAL commands on ``venue`` for ``symbol``."""

    def __init__(
        self,
        venue: CcxtVenue,
        symbol: str,
        *,
        client_prefix: str,
        clock_ms: Callable[[], int],
        resolve_attempts: int = 3,
        resolve_pause_s: float = 0.05,
    ) -> None:
        self._venue = venue
        self._symbol = symbol
        self._prefix = client_prefix
        self._clock_ms = clock_ms
        self._attempts = resolve_attempts
        self._pause_s = resolve_pause_s
        self._pending: dict[int, tuple[OrderReport, bool]] = {}  # machine id -> last report (UNKNOWN / OPEN), limit?
        self._held: set[int] = set()  # machine ids of IOC limits that found nothing, reported when cancelled
        # machine ids sent smaller than asked (rounded down to the step): the unsent rest is dead once it fills
        self._rounded: set[int] = set()

    @property
    def pending(self) -> tuple[int, ...]:
        """Machine order ids whose fate is not known yet (keep calling ``poll``)."""
        return tuple(sorted(self._pending))

    def client_id(self, order_id: int) -> str:
        return f"{self._prefix}-{order_id}"

    async def perform(self, command: PlaceOrder | CancelOrder) -> list[Event]:
        """Perform one EXTERNAL command; the events it produced (none while the outcome is unknown)."""
        if command.leg is not ArbLeg.EXTERNAL:
            raise ValueError(f"ExternalLeg performs the external leg only, got a {command.leg.value} command")
        if isinstance(command, CancelOrder):
            if command.order_id in self._held:
                self._held.discard(command.order_id)
                return [Cancelled(command.order_id, self._clock_ms())]
            pending = self._pending.pop(command.order_id, None)
            if pending is None:
                return []  # already reported dead (filled, rejected): the machine ignores a cancel of it
            report, limit = pending
            report = await self._venue.cancel(self._symbol, report.client_id, report.sent_ms)
            return await self._settle(command.order_id, report, limit=limit)
        market = self._venue.market(self._symbol)
        base = market.round_base_down(command.base)
        if base == 0:
            _log.warning("external_leg_under_step", order_id=command.order_id, base=command.base, step=market.step)
            return [Rejected(command.order_id, self._clock_ms())]
        price: int | None
        match command.kind:
            case LegOrderKind.LIMIT:
                kind, price = OrderKind.IOC_LIMIT, market.round_price(command.price, command.side)
            case LegOrderKind.MARKET:
                kind, price = OrderKind.MARKET, None
            case _ as unreachable:
                assert_never(unreachable)
        if base < command.base:
            self._rounded.add(command.order_id)
        request = OrderRequest(
            self._symbol, command.side, base, kind, self.client_id(command.order_id), price, command.reduce_only
        )
        try:
            report = await self._venue.place(request)
        except CcxtVenueError as exc:  # refused before sending (a malformed request): nothing went out
            _log.warning("external_leg_refused_locally", order_id=command.order_id, error=str(exc))
            return [Rejected(command.order_id, self._clock_ms())]
        return await self._settle(command.order_id, report, limit=kind is OrderKind.IOC_LIMIT)

    async def poll(self) -> list[Event]:
        """Read every pending order again; the events of those whose fate is now known."""
        events: list[Event] = []
        for order_id, (report, limit) in sorted(self._pending.items()):
            del self._pending[order_id]
            events += await self._settle(order_id, await self._venue.resolve(report), limit=limit)
        return events

    async def _settle(self, order_id: int, report: OrderReport, *, limit: bool) -> list[Event]:
        for _ in range(self._attempts):
            if report.outcome.final:
                break
            await asyncio.sleep(self._pause_s)
            report = await self._venue.resolve(report)
        now = self._clock_ms()
        match report.outcome:
            case OrderOutcome.FILLED:
                filled: list[Event] = [Filled(order_id, report.filled_base, report.avg_price or 0, now)]
                if order_id in self._rounded:  # the rest below one step was never sent: it is dead
                    self._rounded.discard(order_id)
                    filled.append(Cancelled(order_id, now))
                return filled
            case OrderOutcome.PARTIAL:
                return [Filled(order_id, report.filled_base, report.avg_price or 0, now), Cancelled(order_id, now)]
            case OrderOutcome.EXPIRED if limit:
                self._held.add(order_id)
                return []
            case OrderOutcome.EXPIRED:
                return [Rejected(order_id, now)]
            case OrderOutcome.REJECTED | OrderOutcome.ABSENT:
                return [Rejected(order_id, now)]
            case OrderOutcome.UNKNOWN | OrderOutcome.OPEN:
                self._pending[order_id] = (report, limit)
                _log.warning("external_leg_pending", order_id=order_id, outcome=report.outcome.value)
                return []
            case _ as unreachable:
                assert_never(unreachable)
