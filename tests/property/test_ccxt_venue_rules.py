"""The ccxt venue's capital rules as properties: rounding never makes an order bigger or more aggressive; a send
that failed is REJECTED only when the venue definitely refused it; a venue status never reports a fill that did not
happen."""

from __future__ import annotations

import aiohttp
import ccxt.async_support as ccxt_async
from hypothesis import given, settings
from hypothesis import strategies as st

from botrunner.core.side import Side
from botrunner.live.ccxt_venue import (
    _BINANCE_UNKNOWN_CODES,
    ExternalMarket,
    OrderOutcome,
    _binance_outcome,
    _VenueReply,
    send_failure_outcome,
)

markets = st.builds(
    ExternalMarket,
    symbol=st.just("SOL/USDT:USDT"),
    venue_id=st.just("SOLUSDT"),
    tick=st.sampled_from([1, 10, 100, 1_000, 10_000, 100_000]),
    step=st.sampled_from([1_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000]),
    min_base=st.just(0),
    min_notional=st.just(0),
)


@settings(max_examples=500, deadline=None)
@given(
    markets,
    st.integers(min_value=0, max_value=10**15),
    st.integers(min_value=1, max_value=10**12),
    st.sampled_from(Side),
)
def test_rounding_never_grows_a_size_nor_makes_a_price_more_aggressive(
    market: ExternalMarket, base: int, price: int, side: Side
) -> None:
    rounded = market.round_base_down(base)
    assert 0 <= base - rounded < market.step and rounded % market.step == 0
    on_tick = market.round_price(price, side)
    assert on_tick % market.tick == 0 and abs(on_tick - price) < market.tick
    if side is Side.BUY:
        assert on_tick <= price  # a buy never pays more than asked
    else:
        assert on_tick >= price  # a sell never accepts less


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=-9999, max_value=-1), st.sampled_from([400, 401, 403, 418, 429, 500, 503]))
def test_a_venue_error_reply_is_rejected_only_when_its_code_is_definite(code: int, status: int) -> None:
    outcome = send_failure_outcome(_VenueReply(status, code, "msg"))
    assert outcome is (OrderOutcome.UNKNOWN if code in _BINANCE_UNKNOWN_CODES else OrderOutcome.REJECTED)


def test_transport_failures_are_never_rejected() -> None:
    cut = ccxt_async.ExchangeError("binanceusdm POST /fapi/v1/order")
    cut.__cause__ = aiohttp.ClientPayloadError("Response payload is not completed")
    for exc in (
        TimeoutError(),
        ccxt_async.RequestTimeout("t"),
        ccxt_async.ExchangeNotAvailable("503"),
        ccxt_async.BadResponse("not JSON"),
        ccxt_async.DDoSProtection("429"),
        cut,
    ):
        assert send_failure_outcome(exc) is OrderOutcome.UNKNOWN, exc
    assert send_failure_outcome(ccxt_async.InsufficientFunds("-2019")) is OrderOutcome.REJECTED


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["NEW", "PARTIALLY_FILLED", "FILLED", "CANCELED", "EXPIRED", "EXPIRED_IN_MATCH", "REJECTED"]),
    st.integers(min_value=0, max_value=10**12),
)
def test_a_status_never_claims_a_fill_that_did_not_happen(status: str, filled: int) -> None:
    outcome = _binance_outcome(status, filled)
    assert outcome is not None
    if outcome is OrderOutcome.PARTIAL:
        assert filled > 0
    if filled > 0 and status != "REJECTED":
        assert outcome in {OrderOutcome.FILLED, OrderOutcome.PARTIAL, OrderOutcome.OPEN}
    assert outcome.final is (status not in {"NEW", "PARTIALLY_FILLED"})
