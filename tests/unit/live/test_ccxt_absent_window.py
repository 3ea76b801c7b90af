"""The ccxt venue's ABSENT rule when ccxt's rate limiter held the order before signing it: Binance accepts a request
until ``recvWindow`` after the timestamp it was SIGNED with, so an order is ABSENT only once that window has closed,
however long the limiter made it wait (``botrunner.live.ccxt_venue``)."""

from __future__ import annotations

import asyncio
from typing import Any

import ccxt.async_support as ccxt_async

from botrunner.core.side import Side
from botrunner.live.ccxt_venue import (
    CcxtVenue,
    ExternalMarket,
    OrderKind,
    OrderOutcome,
    OrderRequest,
    _VenueReply,
)

SYMBOL = "SOL/USDT:USDT"
RECV_WINDOW_MS = 5_000
THROTTLE_MS = 3_000  # the limiter's wait before ccxt signs the request (shorter than the call's 5 s timeout)


class _Clock:
    def __init__(self) -> None:
        self.now = 1_750_000_000_000

    def __call__(self) -> int:
        return self.now


class _ThrottledExchange:
    """ccxt's order path as it runs: throttle (time passes), sign (the timestamp Binance checks), send; the reply
    is lost. A later read does not find the order (it is still on its way)."""

    apiKey = "a-key-for-the-test-only"

    def __init__(self, clock: _Clock) -> None:
        self.options = {"recvWindow": RECV_WINDOW_MS}
        self.clock = clock
        self.signed_ms: int | None = None

    async def create_order(self, *_: Any) -> Any:
        self.clock.now += THROTTLE_MS
        self.signed_ms = self.clock.now
        raise ccxt_async.RequestTimeout("binanceusdm POST /fapi/v1/order: timed out")

    async def fetch_order(self, *_: Any) -> Any:
        raise _VenueReply(400, -2013, "Order does not exist.")


def test_an_order_held_by_the_rate_limiter_is_not_absent_while_binance_could_still_accept_it() -> None:
    clock = _Clock()
    exchange = _ThrottledExchange(clock)
    venue = CcxtVenue("binanceusdm", exchange, timeout_s=5.0, clock_ms=clock)
    venue._markets[SYMBOL] = ExternalMarket(SYMBOL, "SOLUSDT", 10_000, 10_000_000, 10_000_000, 0)

    async def scenario() -> OrderOutcome:
        report = await venue.place(OrderRequest(SYMBOL, Side.SELL, 1_000_000_000, OrderKind.MARKET, "leg-7"))
        assert report.outcome is OrderOutcome.UNKNOWN
        assert exchange.signed_ms is not None
        clock.now = exchange.signed_ms + RECV_WINDOW_MS - 1  # Binance still accepts a request signed then
        return (await venue.resolve(report)).outcome

    assert asyncio.run(scenario()) is OrderOutcome.UNKNOWN
