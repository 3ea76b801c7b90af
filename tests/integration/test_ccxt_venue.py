"""The ccxt venue adapter on ccxt's real code path (request building, HMAC signing, aiohttp, decoding), against the
fake Binance USD-M server of ``tests/support/fake_exchange.py`` on 127.0.0.1."""

from __future__ import annotations

import asyncio
import decimal
import io
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import msgspec
import pytest
import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botrunner.core.precision import BASE_PRECISION
from botrunner.core.side import Side
from botrunner.live.ccxt_legs import ExternalLeg
from botrunner.live.ccxt_venue import (
    CcxtVenue,
    CcxtVenueError,
    CredentialsError,
    OrderKind,
    OrderOutcome,
    OrderReport,
    OrderRequest,
    load_credentials,
)
from botrunner.logsetup import configure
from botrunner.marketdata.venue_data import Coin, Venue
from botrunner.scan.live_ccxt import CcxtSnapshotSource
from botrunner.scan.rank import rank
from governors.leg_out import (
    ArbLeg,
    Cancelled,
    CancelOrder,
    Filled,
    LegOut,
    LegOutConfig,
    Outcome,
    Output,
    PairExecution,
    PlaceOrder,
    Tick,
)
from governors.leg_out import OrderKind as LegOrderKind
from tests.support.fake_exchange import (
    TEST_API_KEY,
    TEST_API_SECRET,
    Ack,
    Cut,
    FakeBinance,
    Fill,
    Garbage,
    Hang,
    NoFill,
    Partial,
    Reject,
)

SOL = "SOL/USDT:USDT"
BTC = "BTC/USDT:USDT"
ENV = {"BINANCE_USDM_API_KEY": TEST_API_KEY, "BINANCE_USDM_API_SECRET": TEST_API_SECRET}
ONE_SOL = BASE_PRECISION
NEXT_FUNDING_MS = 1_765_152_000_000


class Clock:
    """Our side's wall clock in ms, moved by the test (the fake keeps real time for its recvWindow check)."""

    def __init__(self) -> None:
        self.ms = 1_765_000_000_000

    def __call__(self) -> int:
        return self.ms


@asynccontextmanager
async def session(
    timeout_s: float = 1.0, env: dict[str, str] | None = None, clock: Clock | None = None
) -> AsyncIterator[tuple[FakeBinance, CcxtVenue]]:
    async with FakeBinance() as fake:
        fake.set_book("SOLUSDT", bids=[("150.00", "40"), ("149.90", "10")], asks=[("150.10", "35"), ("150.30", "5")])
        fake.set_funding("SOLUSDT", rate="0.00010000", mark="150.05123456", index="150.01", next_ms=NEXT_FUNDING_MS)
        fake.set_funding("BTCUSDT", rate="-0.00002345", mark="100000.1", index="100000", next_ms=NEXT_FUNDING_MS)
        venue = CcxtVenue.connect(environ=env or ENV, base_url=fake.url, timeout_s=timeout_s, clock_ms=clock or Clock())
        try:
            if env is None:
                await venue.load_markets((SOL, BTC))
            yield fake, venue
        finally:
            await venue.close()
        assert fake.unknown_paths == []  # ccxt never wandered to an endpoint the fake does not model


def run(body: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(body())


def buy_sol(client_id: str, base: int = ONE_SOL, price: int = 150_100_000) -> OrderRequest:
    return OrderRequest(SOL, Side.BUY, base, OrderKind.IOC_LIMIT, client_id, limit_price=price)


def test_markets_funding_and_book_are_in_drift_precisions() -> None:
    async def body() -> None:
        async with session() as (fake, venue):
            fake.set_funding("BTCUSDT", rate="-0.00002345", mark="100000.1", index="100000", next_ms=NEXT_FUNDING_MS)
            market = venue.market(SOL)
            assert (market.venue_id, market.tick, market.step) == ("SOLUSDT", 10_000, 10_000_000)
            assert market.min_notional == 5_000_000
            funding = await venue.funding(SOL)
            # 0.01 % per 8 h = 1e8 parts per 1e12 per 8 h = 1.25e7 per hour; positive = longs pay
            assert (funding.rate_per_interval, funding.interval_s, funding.rate_per_hour) == (
                100_000_000,
                28_800,
                12_500_000,
            )
            assert funding.mark_price == 150_051_235  # 150.05123456 rounded half-even to 1e-6
            assert funding.next_funding_ms == NEXT_FUNDING_MS
            btc = await venue.funding(BTC)
            assert btc.rate_per_interval == -23_450_000
            assert btc.rate_per_hour == -2_931_250  # -23_450_000 / 8 exactly
            book = await venue.book(SOL)
            assert book.bids[0].price == 150_000_000 and book.asks[0].base == 35 * ONE_SOL
            assert book.depth_within(Side.BUY, 10) == 35 * ONE_SOL  # 150.30 is 13 bps away: outside
            assert book.depth_within(Side.BUY, 15) == 40 * ONE_SOL
            assert book.depth_within(Side.SELL, 10) == 50 * ONE_SOL

    run(body)


def test_an_adjusted_funding_interval_is_read_from_funding_info_and_re_read_when_old() -> None:
    async def body() -> None:
        clock = Clock()
        async with FakeBinance() as fake:
            fake.set_funding(
                "SOLUSDT", rate="0.00004000", mark="150", index="150", next_ms=NEXT_FUNDING_MS, interval_hours=4
            )
            venue = CcxtVenue.connect(environ=ENV, base_url=fake.url, timeout_s=1.0, clock_ms=clock)
            try:
                await venue.load_markets((SOL,))
                four_hourly = await venue.funding(SOL)
                fake.set_funding("SOLUSDT", rate="0.00004000", mark="150", index="150", next_ms=0, interval_hours=1)
                clock.ms += 9 * 60_000
                cached = await venue.funding(SOL)  # Binance moved it to hourly, but our reading is 9 min old
                clock.ms += 2 * 60_000
                hourly = await venue.funding(SOL)
            finally:
                await venue.close()
        assert (four_hourly.interval_s, four_hourly.rate_per_hour) == (4 * 3600, 10_000_000)  # 0.004 % / 4 h
        assert cached.interval_s == 4 * 3600
        assert (hourly.interval_s, hourly.rate_per_hour) == (3600, 40_000_000)
        assert fake.requests.count("GET /fapi/v1/fundingInfo") == 2

    run(body)


def test_an_ioc_limit_order_fills_and_the_position_shows_it() -> None:
    async def body() -> None:
        async with session() as (fake, venue):
            report = await venue.place(buy_sol("arb-1-ext"))
            assert report.outcome is OrderOutcome.FILLED
            assert (report.filled_base, report.avg_price) == (ONE_SOL, 150_100_000)
            sent = fake.orders_received[0]
            assert (sent["type"], sent["timeInForce"], sent["quantity"], sent["price"]) == (
                "LIMIT",
                "IOC",
                "1",
                "150.1",
            )
            (position,) = await venue.positions()
            assert (position.symbol, position.base, position.entry_price) == (SOL, ONE_SOL, 150_100_000)
            balance = await venue.balance()
            assert balance.wallet == 10_000 * 10**6

    run(body)


def test_ccxt_calls_leave_the_callers_decimal_context_as_it_was() -> None:
    """ccxt's decimal_to_precision sets the current context to ROUND_HALF_UP and traps Underflow: run through the
    adapter, an order, a read, a cancel and the markets leave the caller's context untouched (without the
    adapter's private copies, 0.125 rounds to 0.13 in every Decimal quantize on this thread afterwards)."""

    async def body() -> None:
        before = decimal.getcontext().copy()
        async with session() as (_fake, venue):
            report = await venue.place(buy_sol("arb-ctx-1"))
            await venue.order(SOL, report.client_id, report.sent_ms)
            await venue.cancel(SOL, report.client_id, report.sent_ms)
        after = decimal.getcontext()
        assert (after.rounding, after.prec, after.traps[decimal.Underflow]) == (
            before.rounding,
            before.prec,
            before.traps[decimal.Underflow],
        )
        assert decimal.Decimal("0.125").quantize(decimal.Decimal("0.01")) == decimal.Decimal("0.12")

    run(body)


def test_a_partial_fill_reports_what_filled_and_the_rest_is_gone() -> None:
    async def body() -> None:
        async with session() as (fake, venue):
            fake.script_order(Partial("0.4"))
            report = await venue.place(buy_sol("arb-2-ext"))
            assert report.outcome is OrderOutcome.PARTIAL and report.outcome.final
            assert report.filled_base == 400_000_000
            fake.script_order(NoFill())
            nothing = await venue.place(buy_sol("arb-3-ext"))
            assert (nothing.outcome, nothing.filled_base, nothing.avg_price) == (OrderOutcome.EXPIRED, 0, None)
            assert fake.position("SOLUSDT") == Decimal("0.4")

    run(body)


def test_a_margin_reject_is_rejected_with_the_venues_code_and_nothing_filled() -> None:
    async def body() -> None:
        async with session() as (fake, venue):
            fake.script_order(Reject(-2019, "Margin is insufficient."))
            report = await venue.place(buy_sol("arb-4-ext"))
            assert (report.outcome, report.code, report.filled_base) == (OrderOutcome.REJECTED, -2019, 0)
            assert "Margin is insufficient" in report.reason
            assert fake.position("SOLUSDT") == 0

    run(body)


def test_a_timeout_is_unknown_and_a_read_resolves_it_without_a_second_send() -> None:
    async def body() -> None:
        async with session(timeout_s=0.3) as (fake, venue):
            fake.script_order(Hang(1.0, place=True))
            report = await venue.place(buy_sol("arb-5-ext"))
            assert report.outcome is OrderOutcome.UNKNOWN
            assert "Timeout" in report.reason
            resolved = await venue.resolve(report)
            assert (resolved.outcome, resolved.filled_base) == (OrderOutcome.FILLED, ONE_SOL)
            assert len(fake.orders_received) == 1  # resolved by reading, never sent again
            with pytest.raises(CcxtVenueError, match="binanceusdm place SOL/USDT:USDT: client id already sent"):
                await venue.place(buy_sol("arb-5-ext"))
            assert len(fake.orders_received) == 1

    run(body)


def test_a_swallowed_order_stays_unknown_until_the_acceptance_window_closes_then_absent() -> None:
    async def body() -> None:
        clock = Clock()
        async with session(timeout_s=0.3, clock=clock) as (fake, venue):
            fake.script_order(Hang(1.0, place=False))
            report = await venue.place(buy_sol("arb-6-ext"))
            assert report.outcome is OrderOutcome.UNKNOWN
            clock.ms += 5_000  # recvWindow (5 s) passed but not the 1 s Binance allows a client's clock ahead
            early = await venue.resolve(report)
            assert early.outcome is OrderOutcome.UNKNOWN and early.code == -2013
            clock.ms += 1_001
            late = await venue.resolve(report)
            assert (late.outcome, late.filled_base) == (OrderOutcome.ABSENT, 0)
            assert len(fake.orders_received) == 1

    run(body)


def test_binance_execution_status_unknown_code_is_unknown_not_rejected() -> None:
    async def body() -> None:
        async with session(timeout_s=2.0) as (fake, venue):
            fake.script_order(Hang(0.05, place=True, then=Partial("0.3")))  # answers -1007 in time
            report = await venue.place(buy_sol("arb-7-ext"))
            assert (report.outcome, report.code) == (OrderOutcome.UNKNOWN, -1007)
            resolved = await venue.resolve(report)
            assert (resolved.outcome, resolved.filled_base) == (OrderOutcome.PARTIAL, 300_000_000)

    run(body)


def test_an_acknowledged_order_is_open_until_a_read_shows_its_fill() -> None:
    async def body() -> None:
        async with session() as (fake, venue):
            fake.script_order(Ack())
            report = await venue.place(buy_sol("arb-8-ext"))
            assert report.outcome is OrderOutcome.OPEN and not report.outcome.final
            resolved = await venue.resolve(report)
            assert resolved.outcome is OrderOutcome.FILLED
            assert await venue.resolve(resolved) is resolved  # a final report is not read again
            assert fake.requests.count("GET /fapi/v1/order") == 1

    run(body)


def test_the_leg_out_hedge_closes_the_filled_leg_at_market_reduce_only() -> None:
    async def body() -> None:
        async with session() as (fake, venue):
            leg = await venue.place(buy_sol("arb-9-ext", base=2 * ONE_SOL))
            assert leg.outcome is OrderOutcome.FILLED
            # the other leg (Drift) did not fill within the bound: close this one at market
            hedge = await venue.hedge(SOL, leg.filled_base, "arb-9-hedge")
            assert (hedge.outcome, hedge.filled_base, hedge.avg_price) == (
                OrderOutcome.FILLED,
                2 * ONE_SOL,
                150_000_000,
            )
            sent = fake.orders_received[-1]
            assert (sent["type"], sent["side"], sent["reduceOnly"], sent["quantity"]) == ("MARKET", "SELL", "true", "2")
            assert "price" not in sent
            assert await venue.positions() == ()
            with pytest.raises(CcxtVenueError, match=r"hedge SOL/USDT:USDT: position 9000000 .* under one step"):
                await venue.hedge(SOL, 9_000_000, "arb-9-dust")

    run(body)


def test_garbage_from_the_server_is_unknown_for_an_order_and_a_named_error_for_a_read() -> None:
    async def body() -> None:
        async with session() as (fake, venue):
            fake.script_order(Garbage("<html>bad gateway</html>", status=200))
            report = await venue.place(buy_sol("arb-10-ext"))
            assert report.outcome is OrderOutcome.UNKNOWN and "BadResponse" in report.reason
            assert (await venue.resolve(report)).outcome is OrderOutcome.FILLED  # it did go through
            fake.script_order(Garbage("<html>502 Bad Gateway</html>", status=502))
            assert (await venue.place(buy_sol("arb-11-ext"))).outcome is OrderOutcome.UNKNOWN
            fake.inject("/fapi/v1/depth", Garbage("{not json"))
            with pytest.raises(CcxtVenueError, match=r"^binanceusdm book SOL/USDT:USDT: BadResponse"):
                await venue.book(SOL)
            fake.set_book("SOLUSDT", bids=[("150.00", "abc")], asks=[])
            with pytest.raises(CcxtVenueError, match=r"^binanceusdm book SOL/USDT:USDT: bad depth: bids qty"):
                await venue.book(SOL)
            fake.set_book("SOLUSDT", bids=[("150.20", "1")], asks=[("150.10", "1")])
            with pytest.raises(CcxtVenueError, match="crossed book"):
                await venue.book(SOL)
            fake.set_funding("SOLUSDT", rate="NaN", mark="150", index="150", next_ms=NEXT_FUNDING_MS)
            with pytest.raises(CcxtVenueError, match="funding SOL/USDT:USDT: bad premiumIndex: lastFundingRate"):
                await venue.funding(SOL)

    run(body)


@pytest.mark.parametrize("truncated", [False, True], ids=["closed-without-reply", "body-cut-mid-way"])
def test_a_connection_broken_after_the_order_went_through_is_unknown_then_read(truncated: bool) -> None:
    async def body() -> None:
        async with session() as (fake, venue):
            fake.script_order(Cut(truncated=truncated))
            report = await venue.place(buy_sol("arb-15-ext"))
            assert report.outcome is OrderOutcome.UNKNOWN, report
            resolved = await venue.resolve(report)
            assert (resolved.outcome, resolved.filled_base) == (OrderOutcome.FILLED, ONE_SOL)
            assert len(fake.orders_received) == 1

    run(body)


def test_a_read_that_times_out_names_venue_call_and_symbol() -> None:
    async def body() -> None:
        async with session(timeout_s=0.2) as (fake, venue):
            fake.inject("/fapi/v1/premiumIndex", Hang(0.6))
            with pytest.raises(
                CcxtVenueError, match=r"^binanceusdm funding SOL/USDT:USDT: (RequestTimeout|TimeoutError)"
            ):
                await venue.funding(SOL)

    run(body)


def test_an_order_off_the_step_or_tick_is_refused_before_anything_is_sent() -> None:
    async def body() -> None:
        async with session() as (fake, venue):
            market = venue.market(SOL)
            for bad, why in [
                (buy_sol("a1", base=ONE_SOL + 1), "multiple of the step"),
                (buy_sol("a2", price=150_100_001), "off the tick"),
                (buy_sol("a3", base=1_000_000), "multiple of the step"),
                (OrderRequest(SOL, Side.SELL, ONE_SOL, OrderKind.MARKET, "a4", limit_price=1), "takes no limit"),
                (buy_sol("bad id with spaces"), "client id must be"),
            ]:
                with pytest.raises(CcxtVenueError, match=why):
                    await venue.place(bad)
            assert fake.orders_received == []
            assert market.round_base_down(ONE_SOL + 9_999_999) == ONE_SOL
            assert market.round_price(150_100_001, Side.BUY) == 150_100_000
            assert market.round_price(150_100_001, Side.SELL) == 150_110_000

    run(body)


def test_a_wrong_secret_is_refused_by_the_venue_signature_check() -> None:
    async def body() -> None:
        env = {**ENV, "BINANCE_USDM_API_SECRET": "not-the-" + "secret" * 4}
        async with session(env=env) as (fake, venue):
            await venue.load_markets((SOL,))  # public: no signature
            report = await venue.place(buy_sol("arb-12-ext"))
            assert (report.outcome, report.code) == (OrderOutcome.REJECTED, -1022)
            with pytest.raises(CcxtVenueError, match=r"balance USDT: .*-1022"):
                await venue.balance()
            assert fake.position("SOLUSDT") == 0

    run(body)


def test_keys_come_only_from_the_environment_and_errors_name_the_variable_not_the_value() -> None:
    with pytest.raises(CredentialsError, match=r"^BINANCE_USDM_API_KEY: not set"):
        load_credentials("binanceusdm", {})
    short = "abc12"
    with pytest.raises(CredentialsError, match=r"^BINANCE_USDM_API_SECRET: not an API key") as caught:
        load_credentials("binanceusdm", {"BINANCE_USDM_API_KEY": TEST_API_KEY, "BINANCE_USDM_API_SECRET": short})
    assert short not in str(caught.value)
    with pytest.raises(CredentialsError, match="not a venue this adapter supports"):
        load_credentials("kraken", ENV)
    credentials = load_credentials("binanceusdm", ENV)
    assert TEST_API_SECRET not in repr(credentials) and TEST_API_KEY not in repr(credentials)


def test_the_secret_and_key_never_appear_in_logs_reports_or_exceptions(caplog: pytest.LogCaptureFixture) -> None:
    out = io.StringIO()
    configure(out, level=logging.DEBUG)
    caplog.set_level(logging.DEBUG)  # every stdlib logger too, ccxt's wire log included
    seen: list[str] = []

    async def body() -> None:
        async with session(timeout_s=0.3) as (fake, venue):
            fake.script_order(Fill(), Reject(-2019, "Margin is insufficient."), Hang(1.0), Garbage("<html>x</html>"))
            for n in range(4):
                report = await venue.place(buy_sol(f"arb-13-{n}"))
                seen.append(repr(report))
                structlog.get_logger().info("report", report=report, venue=venue.__dict__)
            fake.inject("/fapi/v3/balance", Garbage("oops", status=500))
            with pytest.raises(CcxtVenueError) as caught:
                await venue.balance()
            seen.append(str(caught.value))
            structlog.get_logger().exception("boom", exc_info=caught.value)
            exchange = venue._exchange  # a careless line that prints the pair: the registered values are scrubbed
            structlog.get_logger().info("careless", detail=f"{exchange.apiKey} {exchange.secret}")

    try:
        run(body)
        text = out.getvalue() + caplog.text + "\n".join(seen)
        assert "arb-13-3" in text and "ccxt_order_outcome" in text and "careless" in text  # logs were captured
        assert TEST_API_SECRET not in text
        assert TEST_API_KEY not in text
    finally:
        structlog.reset_defaults()


@pytest.mark.slow  # ~15 s: fifteen fake sessions, some waiting out a hang
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.sampled_from(
            [
                Fill(),
                Partial("0.5"),
                NoFill(),
                Reject(-2019, "Margin is insufficient."),
                Hang(0.3),
                Hang(0.3, place=False),
                Ack(),
                Garbage("x"),
            ]
        ),
        min_size=1,
        max_size=4,
    )
)
def test_every_order_is_sent_exactly_once_whatever_the_venue_answers(scripts: list[object]) -> None:
    """For any sequence of venue behaviours, placing then resolving each order sends each client id once, and a
    final report's fill matches the venue's position."""

    async def body() -> None:
        clock = Clock()
        async with session(timeout_s=0.15, clock=clock) as (fake, venue):
            fake.script_order(*scripts)  # type: ignore[arg-type]
            reports: list[OrderReport] = []
            for n in range(len(scripts)):
                report = await venue.place(buy_sol(f"p-{n}"))
                clock.ms += 10_000  # past the acceptance window: every read is definite
                for _ in range(3):
                    report = await venue.resolve(report)
                reports.append(report)
            ids = [o["newClientOrderId"] for o in fake.orders_received]
            # never twice (an order the client timed out on while ccxt's rate limiter held it was never sent)
            assert len(ids) == len(set(ids)) and set(ids) <= {f"p-{n}" for n in range(len(scripts))}
            assert {r.client_id for r in reports if r.outcome is not OrderOutcome.ABSENT} <= set(ids)
            assert all(r.outcome.final for r in reports)
            filled = sum(r.filled_base for r in reports)
            assert fake.position("SOLUSDT") * BASE_PRECISION == filled
            assert all(r.avg_price is None or r.avg_price == 150_100_000 for r in reports)

    run(body)


def test_json_logs_of_an_order_are_parseable() -> None:
    out = io.StringIO()
    configure(out, level=logging.INFO)

    async def body() -> None:
        async with session() as (_fake, venue):
            await venue.place(buy_sol("arb-14-ext"))

    try:
        run(body)
        events = [json.loads(line)["event"] for line in out.getvalue().splitlines()]
        assert events == ["ccxt_order_send", "ccxt_order_outcome"]
    finally:
        structlog.reset_defaults()


def test_an_order_the_rate_limiter_holds_past_the_timeout_is_never_sent_late() -> None:
    """ccxt's limiter spaces order calls (cost × 50 ms for Binance); an order still waiting when the call's timeout
    fires is UNKNOWN, and must not go out afterwards: the report would say ABSENT while the order fills."""

    async def body() -> None:
        clock = Clock()
        async with session(timeout_s=0.15, clock=clock) as (fake, venue):
            reports = [await venue.place(buy_sol(f"rl-{n}")) for n in range(4)]
            await asyncio.sleep(0.8)  # anything still queued in the limiter would have gone out by now
            clock.ms += 10_000
            resolved = []
            for placed in reports:
                report = placed
                for _ in range(10):  # a read can itself wait in the limiter past the timeout: read again
                    report = await venue.resolve(report)
                    if report.outcome.final:
                        break
                    await asyncio.sleep(0.2)
                resolved.append(report)
            received = {o["newClientOrderId"] for o in fake.orders_received}
            for report in resolved:
                assert report.outcome in {OrderOutcome.FILLED, OrderOutcome.ABSENT}
                assert (report.client_id in received) == (report.outcome is OrderOutcome.FILLED)

    run(body)


def test_the_live_scan_source_fills_quotes_through_ccxt_and_makes_depth_and_freshness_checkable() -> None:
    """botrunner.scan's SnapshotSource through the public (keyless) adapter against the fake: real book tops,
    near-touch depth and venue time, per-hour funding; Drift (no ccxt) and a bad rate are unavailable, not ranked."""

    async def body() -> None:
        async with FakeBinance() as fake:
            fake.set_book(
                "SOLUSDT", bids=[("150.00", "40"), ("149.90", "10")], asks=[("150.10", "35"), ("150.30", "5")]
            )
            fake.set_book("BTCUSDT", bids=[("100000.0", "2")], asks=[("100000.1", "3")])
            fake.set_funding("SOLUSDT", rate="0.00010000", mark="150.05", index="150.01", next_ms=NEXT_FUNDING_MS)
            fake.set_funding("BTCUSDT", rate="0.00002000", mark="100000", index="100000", next_ms=NEXT_FUNDING_MS)
            fake.set_funding("ETHUSDT", rate="0.50000000", mark="3000", index="3000", next_ms=NEXT_FUNDING_MS)
            fake.set_book("ETHUSDT", bids=[("3000.00", "1")], asks=[("3000.01", "1")])
            adapter = CcxtVenue.public(base_url=fake.url, timeout_s=2.0)
            try:
                await adapter.load_markets((SOL, BTC, "ETH/USDT:USDT"))
                with pytest.raises(CcxtVenueError, match="no API keys"):
                    await adapter.place(buy_sol("public-1"))
                source = CcxtSnapshotSource({Venue.BINANCE: adapter}, clock_ms=lambda: time.time_ns() // 1_000_000)
                snap = await source.snapshot((Venue.DRIFT, Venue.BINANCE), (Coin.SOL, Coin.BTC, Coin.ETH))
            finally:
                await adapter.close()
        assert fake.orders_received == []
        quotes = {q.coin: q for q in snap.quotes}
        assert set(quotes) == {Coin.SOL, Coin.BTC}
        sol = quotes[Coin.SOL]
        assert (sol.bid, sol.ask, sol.funding_rate_per_hour, sol.funding_period_s) == (
            150_000_000,
            150_100_000,
            12_500_000,
            8 * 3600,
        )
        # within 10 bp of the touch: 150.00 x 40 and 149.90 x 10 (6.7 bp) on the bid; 150.10 x 35 only on the ask
        assert (sol.bid_depth, sol.ask_depth) == (6000 * 10**6 + 1499 * 10**6, 5253_500_000)
        assert sol.next_funding_ts == NEXT_FUNDING_MS // 1000
        assert sol.quote_ts_ms is not None and 0 <= snap.taken_ms - sol.quote_ts_ms < 5_000
        why = {(u.venue, u.coin): u.reason for u in snap.unavailable}
        assert "no live source" in why[(Venue.DRIFT, Coin.SOL)]
        assert "implausible funding" in why[(Venue.BINANCE, Coin.ETH)]
        # ranked next to another venue's quote, the hard constraints a history cannot check are checked live
        drift = msgspec.structs.replace(sol, venue=Venue.DRIFT, funding_rate_per_hour=0, quote_ts_ms=snap.taken_ms)
        report = rank(msgspec.structs.replace(snap, quotes=(*snap.quotes, drift)), size=1000 * 10**6)
        (top,) = [o for o in report.opportunities if o.coin is Coin.SOL]
        assert (top.long_venue, top.short_venue) == (Venue.DRIFT, Venue.BINANCE)
        statuses = {c.constraint.value: c.status.value for c in top.score.checks}
        assert statuses["depth"] == "passed"
        assert statuses["freshness"] in {"passed", "failed"}  # checked (under 200 ms unless the machine stalls)

    run(body)


# --- governors.leg_out's external leg through the adapter (botrunner.live.ccxt_legs) ------------------------------
DRIFT_PRICE = 150_050_000
EXTERNAL_PRICE = 150_000_000


async def pump(machine: PairExecution, leg: ExternalLeg, outputs: list[Output], clock: Clock) -> list[Output]:
    """Perform the machine's commands until none is left: the EXTERNAL leg through the adapter and the fake, the
    Drift leg's cancels confirmed at once (its fills are the test's to give); returns every output seen."""
    seen: list[Output] = []
    work = list(outputs)
    while work:
        item = work.pop(0)
        seen.append(item)
        match item:
            case PlaceOrder(leg=ArbLeg.EXTERNAL) | CancelOrder(leg=ArbLeg.EXTERNAL):
                for event in await leg.perform(item):
                    work += machine.on_event(event)
            case CancelOrder(leg=ArbLeg.DRIFT):
                work += machine.on_event(Cancelled(item.order_id, clock.ms))
            case _:
                pass
    return seen


def open_one_sol() -> PairExecution:
    return PairExecution(
        LegOutConfig(bound_ms=500, step_base=10_000_000),
        drift_side=Side.BUY,
        drift_size=0,
        external_size=0,
        target=ONE_SOL,
        drift_price=DRIFT_PRICE,
        external_price=EXTERNAL_PRICE,
        first_order_id=1,
    )


async def drift_fills_then_bound_passes(
    fake: FakeBinance, venue: CcxtVenue, clock: Clock
) -> tuple[PairExecution, ExternalLeg, list[Output]]:
    """Open 1 SOL: the Drift leg (long) fills, the external follow (IOC sell) finds nothing, the bound passes."""
    machine = open_one_sol()
    leg = ExternalLeg(venue, SOL, client_prefix="pair7", clock_ms=clock, resolve_pause_s=0.01)
    seen = await pump(machine, leg, machine.start(clock.ms), clock)
    (drift_order,) = [o for o in seen if isinstance(o, PlaceOrder)]
    assert drift_order.leg is ArbLeg.DRIFT
    clock.ms += 100
    fake.script_order(NoFill())
    seen += await pump(
        machine, leg, machine.on_event(Filled(drift_order.order_id, ONE_SOL, DRIFT_PRICE, clock.ms)), clock
    )
    assert machine.finished is None and machine.gap == ONE_SOL  # naked: long on Drift, nothing on the venue yet
    assert len(fake.orders_received) == 1  # one IOC follow, not a loop of them
    clock.ms += 500
    return machine, leg, seen


def test_leg_out_hedge_runs_through_ccxt_and_is_recorded() -> None:
    async def body() -> None:
        clock = Clock()
        async with session(clock=clock) as (fake, venue):
            machine, leg, seen = await drift_fills_then_bound_passes(fake, venue, clock)
            seen += await pump(machine, leg, machine.on_event(Tick(clock.ms)), clock)
            sent = fake.orders_received
            assert [(o["type"], o["side"], o.get("reduceOnly")) for o in sent] == [
                ("LIMIT", "SELL", None),
                ("MARKET", "SELL", None),
            ]
            assert [o["newClientOrderId"] for o in sent] == ["pair7-2", "pair7-3"]
            (legout,) = [o for o in seen if isinstance(o, LegOut)]
            assert (legout.ahead, legout.hedged_on, legout.base, legout.hedge_price) == (
                ArbLeg.DRIFT,
                ArbLeg.EXTERNAL,
                ONE_SOL,
                150_000_000,
            )
            assert legout.naked_since_ms == 1_765_000_000_100
            assert machine.finished is not None and machine.finished.outcome is Outcome.HEDGED
            assert fake.position("SOLUSDT") == -1  # the venue's short now matches the Drift long
            assert leg.pending == ()

    run(body)


def test_a_hedge_whose_reply_is_lost_is_read_not_sent_again() -> None:
    async def body() -> None:
        clock = Clock()
        async with session(timeout_s=0.3, clock=clock) as (fake, venue):
            machine, leg, seen = await drift_fills_then_bound_passes(fake, venue, clock)
            fake.script_order(Hang(1.0, place=True))
            seen += await pump(machine, leg, machine.on_event(Tick(clock.ms)), clock)
            assert len(fake.orders_received) == 2  # the IOC follow and ONE market hedge
            assert machine.finished is not None and machine.finished.outcome is Outcome.HEDGED
            (legout,) = [o for o in seen if isinstance(o, LegOut)]
            assert legout.base == ONE_SOL
            assert fake.position("SOLUSDT") == -1

    run(body)


def test_a_refused_hedge_makes_the_machine_unwind_the_drift_leg() -> None:
    async def body() -> None:
        clock = Clock()
        async with session(clock=clock) as (fake, venue):
            machine, leg, seen = await drift_fills_then_bound_passes(fake, venue, clock)
            fake.script_order(Reject(-2019, "Margin is insufficient."))
            seen += await pump(machine, leg, machine.on_event(Tick(clock.ms)), clock)
            unwind = [o for o in seen if isinstance(o, PlaceOrder) and o.leg is ArbLeg.DRIFT][-1]
            assert (unwind.kind, unwind.side, unwind.reduce_only, unwind.base) == (
                LegOrderKind.MARKET,
                Side.SELL,
                True,
                ONE_SOL,
            )
            clock.ms += 50
            seen += await pump(
                machine, leg, machine.on_event(Filled(unwind.order_id, ONE_SOL, 149_900_000, clock.ms)), clock
            )
            assert machine.finished is not None and machine.finished.outcome is Outcome.UNWOUND
            assert fake.position("SOLUSDT") == 0 and len(fake.orders_received) == 2

    run(body)


def test_the_adapter_reads_json_numbers_handed_over_as_strings() -> None:
    """ccxt parses JSON numbers as strings when it quotes them (``quoteJsonNumbers``: ccxt 4.5.64 without orjson,
    which a joint install with driftpy resolves to) and as ints otherwise (4.5.90): codes, intervals, ids and times
    must read the same either way."""

    async def body() -> None:
        clock = Clock()
        async with FakeBinance() as fake:
            fake.set_funding(
                "SOLUSDT", rate="0.00004000", mark="150", index="150", next_ms=NEXT_FUNDING_MS, interval_hours=4
            )
            fake.set_book("SOLUSDT", bids=[("150.00", "40")], asks=[("150.10", "35")])
            venue = CcxtVenue.connect(environ=ENV, base_url=fake.url, timeout_s=0.3, clock_ms=clock)
            venue._exchange.on_json_response = lambda text: json.loads(text, parse_float=str, parse_int=str)
            try:
                await venue.load_markets((SOL,))
                assert (await venue.funding(SOL)).rate_per_hour == 10_000_000
                assert (await venue.book(SOL)).venue_ms > 0
                fake.script_order(Reject(-2019, "Margin is insufficient."), Hang(0.05), Hang(1.0, place=False), Fill())
                rejected = await venue.place(buy_sol("s-1"))
                assert (rejected.outcome, rejected.code) == (OrderOutcome.REJECTED, -2019)
                unknown = await venue.place(buy_sol("s-2"))
                assert (unknown.outcome, unknown.code) == (OrderOutcome.UNKNOWN, -1007)
                assert (await venue.resolve(unknown)).outcome is OrderOutcome.FILLED
                swallowed = await venue.place(buy_sol("s-3"))
                clock.ms += 6_001
                assert (await venue.resolve(swallowed)).outcome is OrderOutcome.ABSENT
                filled = await venue.place(buy_sol("s-4"))
                assert (filled.outcome, filled.venue_order_id) == (OrderOutcome.FILLED, "1002")
                assert [p.base for p in await venue.positions()] == [2 * ONE_SOL]
            finally:
                await venue.close()

    run(body)


def test_cancel_reports_the_order_as_read_afterwards() -> None:
    async def body() -> None:
        async with session() as (fake, venue):
            fake.script_order(Ack(then=None), Ack())
            resting = await venue.place(buy_sol("c-1"))
            assert resting.outcome is OrderOutcome.OPEN
            cancelled = await venue.cancel(SOL, "c-1", resting.sent_ms)
            assert (cancelled.outcome, cancelled.filled_base) == (OrderOutcome.EXPIRED, 0)
            raced = await venue.place(buy_sol("c-2"))  # acknowledged, but it filled before the cancel arrived
            after = await venue.cancel(SOL, "c-2", raced.sent_ms)
            assert (after.outcome, after.filled_base) == (OrderOutcome.FILLED, ONE_SOL)
            assert fake.requests.count("DELETE /fapi/v1/order") == 2
            assert len(fake.orders_received) == 2

    run(body)


def test_a_swallowed_hedge_stays_pending_until_read_absent_then_the_machine_unwinds() -> None:
    async def body() -> None:
        clock = Clock()
        async with session(timeout_s=0.3, clock=clock) as (fake, venue):
            machine, leg, seen = await drift_fills_then_bound_passes(fake, venue, clock)
            fake.script_order(Hang(1.0, place=False))
            seen += await pump(machine, leg, machine.on_event(Tick(clock.ms)), clock)
            hedge = [o for o in seen if isinstance(o, PlaceOrder) and o.kind is LegOrderKind.MARKET][-1]
            assert leg.pending == (hedge.order_id,)  # no answer and not found yet: no event, nothing re-sent
            assert machine.finished is None and machine.on_event(Tick(clock.ms + 100)) == []  # the machine waits
            clock.ms += 6_001  # recvWindow + 1 s after it was signed: it can no longer arrive
            for event in await leg.poll():
                seen += await pump(machine, leg, machine.on_event(event), clock)
            assert not leg.pending
            unwind = [o for o in seen if isinstance(o, PlaceOrder) and o.leg is ArbLeg.DRIFT][-1]
            assert (unwind.kind, unwind.side, unwind.reduce_only) == (LegOrderKind.MARKET, Side.SELL, True)
            assert len(fake.orders_received) == 2 and fake.position("SOLUSDT") == 0

    run(body)
