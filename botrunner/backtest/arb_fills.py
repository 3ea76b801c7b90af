"""The two venues' order handling inside one pair execution of the funding-arbitrage backtest: a seeded model that
drives ``governors.leg_out.PairExecution`` millisecond by millisecond and books its fills on the two paper accounts.

Candles (5 minutes) cannot say what happens in the half second between two legs, so this part is a **model**, with
every parameter in ``ExecutionModel`` (defaults below, none measured) and one seeded ``random.Random`` for the
whole run: the same data, config and seed give the same executions, bit for bit.

- A limit order is marketable (at the leg's reference price, the bar's close): it fills as a taker at that price
  moved against it by the seed's slippage (2..5 bps by size vs depth, ``botrunner.paper.external``), after a
  latency drawn uniformly from the venue's range, unless the draw makes it miss (rests until cancelled), fill only
  part (half, rounded to the step; the rest rests), or be rejected.
- A market order (the leg-out hedge or unwind) fills at once at the cap slippage (5 bps) plus ``hedge_extra_bps``
  (the price moved while the leg was naked), or is rejected with ``market_reject_bps``.
- A cancel is confirmed after ``cancel_ms``; a fill due before the confirmation still happens (the race is real).
- A fill the external account's margin refuses is delivered as a reject.

The Drift leg is the repository's ``PaperAccount`` (Drift's own position bookkeeping and margin engine); the other
leg is ``botrunner.paper.external.ExternalAccount``.
"""

from __future__ import annotations

import heapq
import random

import msgspec

from botrunner.core.precision import BPS_PRECISION, PERCENTAGE_PRECISION, quote_value
from botrunner.core.side import Side
from botrunner.paper.account import PaperAccount
from botrunner.paper.external import (
    SLIPPAGE_CAP_PPM,
    ExternalAccount,
    ExternalRejection,
    taker_price,
    trade,
)
from botrunner.paper.fees import fill_fee
from botrunner.venue.port import Liquidity
from governors.leg_out import (
    Acked,
    ArbLeg,
    Cancelled,
    CancelOrder,
    Event,
    Filled,
    Finished,
    LegOut,
    OrderKind,
    Output,
    PairExecution,
    PlaceOrder,
    Rejected,
    Tick,
)


class ExecutionModel(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The execution model's parameters (module docstring); probabilities in bps of orders."""

    seed: int = 22
    drift_latency_ms: tuple[int, int] = (400, 1_200)  # a Solana transaction: 1..3 slots to land
    external_latency_ms: tuple[int, int] = (50, 300)
    drift_miss_bps: int = 500  # the Drift order fills nothing in its window
    drift_partial_bps: int = 1_000
    drift_reject_bps: int = 200
    external_miss_bps: int = 500  # the external order does not fill: a leg-out
    external_partial_bps: int = 500
    external_reject_bps: int = 100
    market_reject_bps: int = 100
    hedge_extra_bps: int = 5
    cancel_ms: int = 50


class LegFill(msgspec.Struct, frozen=True):
    ts_ms: int
    leg: ArbLeg
    side: Side
    base: int
    price: int
    reference: int
    fee: int
    kind: OrderKind
    slippage_quote: int  # cost of the price against the reference (>= 0 for the model's prices)


class ExecutionReport(msgspec.Struct, frozen=True):
    finished: Finished
    fills: tuple[LegFill, ...]
    leg_outs: tuple[LegOut, ...]
    orders: int


class _Venue:
    """What each venue does with the orders of one execution."""

    def __init__(
        self,
        *,
        model: ExecutionModel,
        rng: random.Random,
        drift: PaperAccount,
        external: ExternalAccount,
        drift_taker_ppm: int,
        slippage_ppm: int,
    ) -> None:
        self.model, self.rng, self.drift, self.external = model, rng, drift, external
        self.fills: list[LegFill] = []
        self.drift_taker_ppm, self.slippage_ppm = drift_taker_ppm, slippage_ppm
        self.queue: list[tuple[int, int, Event]] = []
        self.seq = 0
        self.rest: dict[int, int] = {}  # order id -> unfilled base still live at the venue
        self.commands: dict[int, PlaceOrder] = {}

    def push(self, at_ms: int, event: Event) -> None:
        self.seq += 1
        heapq.heappush(self.queue, (at_ms, self.seq, event))

    def _chance(self, bps: int) -> bool:
        return self.rng.randrange(BPS_PRECISION) < bps

    def place(self, command: PlaceOrder, now_ms: int, step: int) -> None:
        self.commands[command.order_id] = command
        self.rest[command.order_id] = command.base
        model = self.model
        if command.kind is OrderKind.MARKET:
            if self._chance(model.market_reject_bps):
                self.push(now_ms, Rejected(command.order_id, now_ms))
            else:
                self.push(now_ms, Filled(command.order_id, command.base, 0, now_ms))  # priced when booked
            return
        drift = command.leg is ArbLeg.DRIFT
        low, high = model.drift_latency_ms if drift else model.external_latency_ms
        at = now_ms + self.rng.randint(low, high)
        self.push(now_ms + (at - now_ms) // 2, Acked(command.order_id, now_ms))
        roll = self.rng.randrange(BPS_PRECISION)
        miss = model.drift_miss_bps if drift else model.external_miss_bps
        partial = model.drift_partial_bps if drift else model.external_partial_bps
        reject = model.drift_reject_bps if drift else model.external_reject_bps
        if roll < reject:
            self.push(at, Rejected(command.order_id, at))
        elif roll < reject + miss:
            pass  # rests unfilled until cancelled
        elif roll < reject + miss + partial and command.base // 2 >= step:
            self.push(at, Filled(command.order_id, command.base // 2 // step * step, 0, at))
        else:
            self.push(at, Filled(command.order_id, command.base, 0, at))

    def cancel(self, command: CancelOrder, now_ms: int) -> None:
        at = now_ms + self.model.cancel_ms
        self.push(at, Cancelled(command.order_id, at))


def execute(
    machine: PairExecution,
    *,
    start_ms: int,
    model: ExecutionModel,
    rng: random.Random,
    drift: PaperAccount,
    external: ExternalAccount,
    drift_taker_ppm: int,
    slippage_ppm: int,
) -> tuple[ExecutionReport, ExternalAccount]:
    """Run ``machine`` to its end against the model; book the fills on ``drift`` (mutated) and the external account
    (returned). A machine that has not finished after 10,000 events is a bug: ``RuntimeError``."""
    venue = _Venue(
        model=model,
        rng=rng,
        drift=drift,
        external=external,
        drift_taker_ppm=drift_taker_ppm,
        slippage_ppm=slippage_ppm,
    )
    leg_outs: list[LegOut] = []
    orders = 0
    step = machine.config.step_base

    def handle(outputs: list[Output], now_ms: int) -> None:
        nonlocal orders
        for out in outputs:
            match out:
                case PlaceOrder():
                    orders += 1
                    venue.place(out, now_ms, step)
                case CancelOrder():
                    venue.cancel(out, now_ms)
                case LegOut():
                    leg_outs.append(out)
                case Finished():
                    pass

    handle(machine.start(start_ms), start_ms)
    for _ in range(10_000):
        wake = machine.wake_at_ms()
        if not venue.queue and (wake is None or machine.finished is not None):
            break
        if venue.queue and (wake is None or venue.queue[0][0] <= wake):
            at, _, scheduled = heapq.heappop(venue.queue)
            event = _deliver(venue, scheduled)
            if event is not None:
                handle(machine.on_event(event), at)
        elif wake is not None:
            handle(machine.on_event(Tick(wake)), wake)
    else:
        raise RuntimeError("pair execution did not finish within 10,000 events")
    if machine.finished is None:
        raise RuntimeError("pair execution stopped with nothing left to wait for but did not finish")
    return ExecutionReport(machine.finished, tuple(venue.fills), tuple(leg_outs), orders), venue.external


def _deliver(venue: _Venue, event: Event) -> Event | None:
    """Turn a scheduled venue event into what the machine sees (None: nothing, the order is already dead), booking
    fills on the accounts."""
    if isinstance(event, Tick):
        return event
    rest = venue.rest.get(event.order_id)
    if rest is None:
        return None  # dead already (filled, rejected or cancel confirmed)
    match event:
        case Filled():
            base = min(event.base, rest)
            price = _book(venue, venue.commands[event.order_id], base, event.now_ms)
            if price is None:
                del venue.rest[event.order_id]
                return Rejected(event.order_id, event.now_ms)
            venue.rest[event.order_id] = rest - base
            if venue.rest[event.order_id] == 0:
                del venue.rest[event.order_id]
            return Filled(event.order_id, base, price, event.now_ms)
        case Rejected() | Cancelled():
            del venue.rest[event.order_id]
            return event
        case Acked():
            return event


def _book(venue: _Venue, command: PlaceOrder, base: int, now_ms: int) -> int | None:
    """Book one fill on its account; the price it filled at, or None when the external margin refused it."""
    if command.kind is OrderKind.MARKET:  # the naked leg's price moved: the cap slippage and the extra move
        slip = SLIPPAGE_CAP_PPM + venue.model.hedge_extra_bps * (PERCENTAGE_PRECISION // BPS_PRECISION)
    else:
        slip = venue.slippage_ppm
    price = taker_price(command.side, command.price, slip)
    if command.leg is ArbLeg.DRIFT:
        fee = fill_fee(quote_value(base, price), venue.drift_taker_ppm)
        venue.drift.apply_trade(base * command.side.sign, price, fee)
    else:
        after, result = trade(
            venue.external, ts=now_ms // 1000, side=command.side, base=base, price=price, liquidity=Liquidity.TAKER
        )
        if isinstance(result, ExternalRejection):
            return None
        venue.external = after
        fee = result.fee
    slippage = abs(quote_value(base, price - command.price))
    venue.fills.append(
        LegFill(now_ms, command.leg, command.side, base, price, command.price, fee, command.kind, slippage)
    )
    return price
