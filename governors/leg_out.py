"""Leg-out protection for a two-venue trade: a pure state machine that works one pair execution (open or close).

A funding-arbitrage position is two perps on two venues: the Drift leg and the external leg, of opposite sides and
(ideally) equal size. Moving the pair from one size to another is never atomic, so for a moment one leg can be
ahead of the other: a naked position. This machine keeps that moment short and bounded:

1. The **harder leg first**: the Drift leg (it settles on chain, slots and priority fees make it the slow and
   uncertain one) gets a limit order towards the target size; it is cancelled if it has not completed within
   ``first_leg_window_ms`` (a few Solana slots: nothing is naked while it waits, so this is not the bound).
2. The **external leg follows** whatever the Drift leg has actually filled (partial fills included): each time the
   Drift leg's size moves, a limit order on the external venue brings the external size back level with it.
3. If the two sizes differ by one order step or more (fills come in whole steps: any gap at all) for ``bound_ms``
   (measured from the moment they first differed), the machine **hedges at market**: it cancels the external
   limits and sends a market order on the external venue for the whole gap, and records a ``LegOut`` (which leg
   was ahead, since when, the hedge price and its cost against the planned price). If that market order is
   rejected, the machine **unwinds** the leg that is ahead with a market order on its own venue. If both remedies
   are rejected ``max_market_rejects`` times in a row, it gives up with ``Outcome.STUCK``: a human must look (the
   caller stops the bot; nothing more is automatic).

Inputs are venue events (``Acked``, ``Filled``, ``Rejected``, ``Cancelled``) and ``Tick`` (time passing); outputs are
commands (``PlaceOrder``, ``CancelOrder``) and records (``LegOut``, ``Finished``). ``wake_at_ms`` says when the
machine next needs a ``Tick`` even if nothing happens (its timers), so a driver never sleeps through a deadline.

Sizes are unsigned base amounts (1e9) of each leg's position; the legs' sides are fixed for the position's life
(``drift_side``: the Drift leg's position side, the external leg holds the opposite). An open moves both sizes up
from their current values to ``target``; a close moves them down to 0: the same machine, the direction follows
from ``target`` versus the current size.

Purity: no clock (every event carries ``now_ms``), no I/O; the same events give the same commands.
Idempotent close: ``ExitGuard`` holds at most one execution per position; asking to close while one runs returns
nothing (a close in flight is never doubled, Hummingbot's #7043).
"""

from __future__ import annotations

import enum
from typing import assert_never

import msgspec

from botrunner.core.invalid import InvalidField
from botrunner.core.precision import quote_value
from botrunner.core.side import Side

DEFAULT_BOUND_MS = 500  # the spread-arbitrage design's bound: one leg never waits for the other longer than this
DEFAULT_FIRST_LEG_WINDOW_MS = 2_000  # 5 Solana slots of 400 ms: a transaction that has not landed by then is stale
DEFAULT_MAX_MARKET_REJECTS = 4  # market orders refused in a row before the machine stops and asks for a human


class ArbLeg(enum.Enum):
    DRIFT = "drift"  # the harder leg: placed first
    EXTERNAL = "external"  # the other venue's perp: follows the Drift leg


class OrderKind(enum.Enum):
    LIMIT = "limit"  # at ``price``; may rest, fill partly, be cancelled
    MARKET = "market"  # the hedge or the unwind: fills at once or is rejected


class Outcome(enum.Enum):
    COMPLETED = "completed"  # both legs reached the target (less than one step away), no market hedge needed
    HEDGED = "hedged"  # the legs are level, but only thanks to a market hedge (a LegOut was recorded)
    PARTIAL = "partial"  # the Drift leg stopped short of the target (timeout or reject); the legs are level there
    ABANDONED = "abandoned"  # nothing moved: the Drift leg filled nothing before its bound or was rejected
    UNWOUND = "unwound"  # the external hedge was refused, the Drift leg was brought back level at market
    STUCK = "stuck"  # every market remedy was refused: the legs may be naked, a human must act


FAILED_OUTCOMES = frozenset({Outcome.ABANDONED, Outcome.UNWOUND, Outcome.STUCK, Outcome.HEDGED})
"""The outcomes the circuit breaker counts as execution failures (an unwound or market-hedged leg included)."""


class LegOutConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    bound_ms: int = DEFAULT_BOUND_MS  # longest a leg may be ahead of the other
    first_leg_window_ms: int = DEFAULT_FIRST_LEG_WINDOW_MS  # the Drift order's own fill window
    step_base: int = 10_000_000  # one order step of the coarser venue (1e9): a gap under this is "level"
    max_market_rejects: int = DEFAULT_MAX_MARKET_REJECTS

    def validate(self) -> None:
        if self.bound_ms <= 0:
            raise InvalidField("LegOutConfig", "bound_ms", "must be > 0")
        if self.first_leg_window_ms <= 0:
            raise InvalidField("LegOutConfig", "first_leg_window_ms", "must be > 0")
        if self.step_base <= 0:
            raise InvalidField("LegOutConfig", "step_base", "must be > 0")
        if self.max_market_rejects < 1:
            raise InvalidField("LegOutConfig", "max_market_rejects", "must be >= 1")


# --- events ------------------------------------------------------------------------------------------------------
class Tick(msgspec.Struct, frozen=True):
    now_ms: int


class Acked(msgspec.Struct, frozen=True):
    order_id: int
    now_ms: int


class Filled(msgspec.Struct, frozen=True):
    order_id: int
    base: int  # this fill's amount (1e9, > 0); partial fills arrive as several
    price: int  # 1e6
    now_ms: int


class Rejected(msgspec.Struct, frozen=True):
    order_id: int  # the whole unfilled rest of the order is dead
    now_ms: int


class Cancelled(msgspec.Struct, frozen=True):
    order_id: int  # confirmed: the unfilled rest is dead
    now_ms: int


Event = Tick | Acked | Filled | Rejected | Cancelled


# --- commands and records ----------------------------------------------------------------------------------------
class PlaceOrder(msgspec.Struct, frozen=True):
    order_id: int
    leg: ArbLeg
    side: Side
    base: int
    kind: OrderKind
    price: int  # limit price (1e6); for a market order the reference price it is judged against
    reduce_only: bool


class CancelOrder(msgspec.Struct, frozen=True):
    order_id: int
    leg: ArbLeg


class LegOut(msgspec.Struct, frozen=True):
    """One market remedy: the leg that was ahead, since when, and what the market order cost against the plan."""

    ahead: ArbLeg  # the leg whose fills made the gap
    hedged_on: ArbLeg  # EXTERNAL (the hedge) or the ahead leg itself (the unwind)
    naked_since_ms: int
    at_ms: int  # when the market order filled
    base: int
    hedge_price: int  # 1e6: the market fill's average price
    reference_price: int  # 1e6: the price the plan had for that leg
    loss_quote: int  # 1e6, positive = cost: (hedge - reference) x base, signed by the order's side


class Finished(msgspec.Struct, frozen=True):
    outcome: Outcome
    drift_size: int
    external_size: int
    at_ms: int


Output = PlaceOrder | CancelOrder | LegOut | Finished


class _Order(msgspec.Struct):
    """An order this machine sent, until it is dead (filled, rejected or cancelled)."""

    command: PlaceOrder
    filled: int = 0

    cancel_sent: bool = False


class PairExecution:
    """One open or close of a two-leg position. Mutable, owned by one bot step (see ``strategies.base``)."""

    def __init__(
        self,
        config: LegOutConfig,
        *,
        drift_side: Side,
        drift_size: int,
        external_size: int,
        target: int,
        drift_price: int,
        external_price: int,
        first_order_id: int,
    ) -> None:
        """``drift_price`` / ``external_price`` (1e6) are the limit prices for each leg (and the references a
        market remedy is judged against); order ids are ``first_order_id``, +1, ... in the order sent."""
        if target < 0 or drift_size < 0 or external_size < 0:
            raise ValueError(f"sizes must be >= 0, got target={target} drift={drift_size} external={external_size}")
        self.config = config
        self.drift_side = drift_side
        self.drift_size = drift_size
        self.external_size = external_size
        self.target = target
        self.prices = {ArbLeg.DRIFT: drift_price, ArbLeg.EXTERNAL: external_price}
        self.next_order_id = first_order_id
        self.naked_since_ms: int | None = None
        self.finished: Finished | None = None
        self._start_drift_size = drift_size
        self._orders: dict[int, _Order] = {}
        self._drift_deadline: int | None = None
        self._market_rejects = 0
        self._hedged = False
        self._unwound = False
        self._drift_stopped_short = False
        self._remedy_naked_since = 0  # when the gap the current market remedy closes opened
        self._remedy_ahead = ArbLeg.DRIFT  # and which leg was ahead

    # --- public -------------------------------------------------------------------------------------------------
    def start(self, now_ms: int) -> list[Output]:
        """Send the Drift leg's order (or finish at once if there is nothing to do)."""
        out: list[Output] = []
        change = self.target - self.drift_size
        if change != 0:
            self._drift_deadline = now_ms + self.config.first_leg_window_ms
            out.append(self._place(ArbLeg.DRIFT, change, OrderKind.LIMIT))
        self._settle(now_ms, out)
        return out

    def on_event(self, event: Event) -> list[Output]:
        """Apply one venue event or tick; returns the commands and records it causes (possibly none). A fill for an
        order this machine does not know (or beyond its size) is the driver's bug: ``ValueError``."""
        out: list[Output] = []
        if self.finished is not None and not isinstance(event, Filled):
            return out
        match event:
            case Tick() | Acked():
                pass  # time passing is handled by _settle; an ack changes nothing the machine decides on
            case Filled():
                order = self._apply_fill(event)
                if order.command.kind is OrderKind.MARKET:
                    self._market_rejects = 0
                    out.append(self._leg_out(order.command, event))
            case Rejected():
                if event.order_id in self._orders:  # unknown: a late duplicate, nothing of ours is affected
                    self._on_dead(self._orders.pop(event.order_id), rejected=True)
            case Cancelled():
                if event.order_id in self._orders:
                    self._on_dead(self._orders.pop(event.order_id), rejected=False)
            case _ as unreachable:
                assert_never(unreachable)
        self._settle(event.now_ms, out)
        return out

    @property
    def gap(self) -> int:
        """Drift size minus external size (base 1e9): > 0 the Drift leg is ahead, < 0 the external one."""
        return self.drift_size - self.external_size

    def wake_at_ms(self) -> int | None:
        """The next moment this machine must be ticked even if no event arrives (None: no timer is running)."""
        if self.finished is not None:
            return None
        naked = None if self.naked_since_ms is None else self.naked_since_ms + self.config.bound_ms
        times = [t for t in (self._drift_deadline, naked) if t is not None]
        return min(times) if times else None

    def open_order_ids(self) -> tuple[int, ...]:
        return tuple(sorted(self._orders))

    # --- internals ----------------------------------------------------------------------------------------------
    def _position_side(self, leg: ArbLeg) -> Side:
        return self.drift_side if leg is ArbLeg.DRIFT else self.drift_side.opposite

    def _place(self, leg: ArbLeg, size_change: int, kind: OrderKind) -> PlaceOrder:
        """An order that changes ``leg``'s size by ``size_change`` (signed: + grows the position)."""
        side = self._position_side(leg) if size_change > 0 else self._position_side(leg).opposite
        command = PlaceOrder(
            order_id=self.next_order_id,
            leg=leg,
            side=side,
            base=abs(size_change),
            kind=kind,
            price=self.prices[leg],
            reduce_only=size_change < 0,
        )
        self.next_order_id += 1
        self._orders[command.order_id] = _Order(command)
        return command

    def _apply_fill(self, event: Filled) -> _Order:
        order = self._orders.get(event.order_id)
        if order is None:
            raise ValueError(f"fill for order {event.order_id}, which is not open in this execution")
        rest = order.command.base - order.filled
        if not 0 < event.base <= rest:
            raise ValueError(f"order {event.order_id}: fill of {event.base} base, its unfilled rest is {rest}")
        order.filled += event.base
        leg = order.command.leg
        change = event.base if order.command.side is self._position_side(leg) else -event.base
        if leg is ArbLeg.DRIFT:
            self.drift_size += change
        else:
            self.external_size += change
        if order.filled == order.command.base:
            del self._orders[event.order_id]
            if leg is ArbLeg.DRIFT and order.command.kind is OrderKind.LIMIT:
                self._drift_deadline = None
        if self.finished is not None:  # a fill raced the end (cannot happen with confirmed cancels): level again
            self.finished = None
        return order

    def _on_dead(self, order: _Order, *, rejected: bool) -> None:
        """An order's unfilled rest is gone (rejected or cancelled)."""
        match order.command.kind:
            case OrderKind.LIMIT:
                if order.command.leg is ArbLeg.DRIFT:
                    self._drift_deadline = None
                    self._drift_stopped_short = True
                # an external limit: the follow logic re-places whatever is still missing
            case OrderKind.MARKET:
                if rejected:
                    self._market_rejects += 1
            case _ as unreachable:
                assert_never(unreachable)

    def _leg_out(self, command: PlaceOrder, fill: Filled) -> LegOut:
        # a buy above the reference (or a sell below it) costs money
        loss = quote_value(fill.base, fill.price - command.price) * command.side.sign
        return LegOut(
            ahead=self._remedy_ahead,
            hedged_on=command.leg,
            naked_since_ms=self._remedy_naked_since,
            at_ms=fill.now_ms,
            base=fill.base,
            hedge_price=fill.price,
            reference_price=command.price,
            loss_quote=loss,
        )

    def _live(self, leg: ArbLeg, kind: OrderKind) -> list[_Order]:
        """``leg``'s open orders of ``kind`` that have not been asked to cancel."""
        return [
            o for o in self._orders.values() if o.command.leg is leg and o.command.kind is kind and not o.cancel_sent
        ]

    def _cancel(self, leg: ArbLeg, out: list[Output]) -> None:
        for order in self._live(leg, OrderKind.LIMIT):
            order.cancel_sent = True
            out.append(CancelOrder(order.command.order_id, leg))

    def _settle(self, now_ms: int, out: list[Output]) -> None:
        """Decide what to send now: the Drift leg's window, the naked clock, the external follow, the end."""
        if self._drift_deadline is not None and now_ms >= self._drift_deadline:
            self._drift_deadline = None
            self._cancel(ArbLeg.DRIFT, out)
        gap = self.gap
        if abs(gap) < self.config.step_base:
            self.naked_since_ms = None
        elif self.naked_since_ms is None:
            self.naked_since_ms = now_ms
        if any(o.command.kind is OrderKind.MARKET for o in self._orders.values()):
            return  # a remedy is in flight: its fill or reject arrives at once
        if self.naked_since_ms is not None and now_ms >= self.naked_since_ms + self.config.bound_ms:
            self._remedy(gap, now_ms, out)
            return
        self._follow(gap, out)
        if not self._orders and abs(self.gap) < self.config.step_base:
            self._finish(self._outcome(), now_ms, out)

    def _remedy(self, gap: int, now_ms: int, out: list[Output]) -> None:
        """The legs have been apart for the whole bound: hedge the external leg at market, or (after it was
        refused) unwind the leg that is ahead; alternate; stop when refused too often."""
        if self._market_rejects >= self.config.max_market_rejects:
            self._finish(Outcome.STUCK, now_ms, out)
            return
        self._cancel(ArbLeg.EXTERNAL, out)
        self._remedy_naked_since = self.naked_since_ms if self.naked_since_ms is not None else now_ms
        self._remedy_ahead = ArbLeg.DRIFT if gap > 0 else ArbLeg.EXTERNAL
        if self._market_rejects % 2 == 0:
            self._hedged = True
            out.append(self._place(ArbLeg.EXTERNAL, gap, OrderKind.MARKET))
        else:
            self._unwound = True
            self._cancel(ArbLeg.DRIFT, out)
            out.append(self._place(ArbLeg.DRIFT, -gap, OrderKind.MARKET))

    def _follow(self, gap: int, out: list[Output]) -> None:
        """Keep live external limit orders that, if filled, bring the external leg level with the Drift leg."""
        pending = 0
        for order in self._live(ArbLeg.EXTERNAL, OrderKind.LIMIT):
            rest = order.command.base - order.filled
            pending += -rest if order.command.reduce_only else rest
        if pending != 0 and (gap == 0 or (pending > 0) != (gap > 0) or abs(pending) > abs(gap)):
            self._cancel(ArbLeg.EXTERNAL, out)  # they would overshoot: stop them, place the right amount below
            pending = 0
        missing = gap - pending
        if abs(missing) >= self.config.step_base:
            out.append(self._place(ArbLeg.EXTERNAL, missing, OrderKind.LIMIT))

    def _outcome(self) -> Outcome:
        if self._unwound:
            return Outcome.UNWOUND
        if self._hedged:
            return Outcome.HEDGED
        if abs(self.drift_size - self.target) < self.config.step_base:
            return Outcome.COMPLETED
        if self._drift_stopped_short and self.drift_size == self._start_drift_size:
            return Outcome.ABANDONED
        return Outcome.PARTIAL

    def _finish(self, outcome: Outcome, now_ms: int, out: list[Output]) -> None:
        self.finished = Finished(outcome, self.drift_size, self.external_size, now_ms)
        out.append(self.finished)


class ExitGuard:
    """At most one execution per position: asking to close while a close (or the open) is still in flight is a
    no-op, so a close is never doubled however often an exit rule fires (Hummingbot #7043)."""

    def __init__(self) -> None:
        self.current: PairExecution | None = None

    @property
    def busy(self) -> bool:
        return self.current is not None and self.current.finished is None

    def begin(self, execution: PairExecution, now_ms: int) -> list[Output]:
        """Start ``execution`` unless one is in flight (then nothing is sent and the new one is dropped)."""
        if self.busy:
            return []
        self.current = execution
        return execution.start(now_ms)
