"""The other venue of a cross-venue funding arbitrage, live through ccxt: one async adapter per exchange account.

Binance USD-M futures (ccxt ``binanceusdm``) is the venue built and tested here: its REST is plain HMAC-SHA256 over
the query string with an API key header, so a local fake (``tests/support/fake_exchange.py``) checks real
signatures on ccxt's real code path, and its error replies carry numeric codes whose meaning Binance documents
(which of them leave an order's fate unknown). Hyperliquid through ccxt is the next venue: its orders are EIP-712
typed-data signatures by an Ethereum wallet key (``walletAddress`` + ``privateKey``), which needs a fake that
verifies secp256k1 signatures; nothing here is Binance-only except ``_BINANCE_*`` tables and ``_BinanceUsdm``.

What it does: markets (tick, step, minimums in Drift's integer precisions), the funding rate normalised per hour
(parts per 1e12 of price, positive = longs pay: the repo's one convention, see docs/funding-arbitrage.md), the book
near the touch, IOC-limit and market orders (optionally reduce-only), order status, cancel, positions, balance.

The rules that protect capital:

* **One send per client order id.** ``place`` never retries; an order whose reply did not come (timeout, network
  error, HTTP 5xx, Binance's "execution status unknown" codes, a reply that is not Binance JSON) is ``UNKNOWN`` and
  is resolved by READING it (``resolve``) under the same client order id, never by sending it again. The adapter
  refuses to send a client id twice in its lifetime.
* **ABSENT only when it cannot appear any more.** Binance refuses a request whose ``timestamp`` is more than
  ``recvWindow`` old when it arrives, and one more than 1 s ahead of its clock; so an order still not found
  ``recvWindow + 1 s`` after it was signed will never be: ``ABSENT``. Earlier, "not found" stays ``UNKNOWN``.
  (Binance's docs also say a request that timed out inside its backend may still execute: reconcile positions
  before re-entering after an ABSENT.)
* **Keys only from the environment** (``<VENUE>_API_KEY`` / ``<VENUE>_API_SECRET``, e.g. ``BINANCE_USDM_API_KEY``),
  registered with the log scrubber the moment they are read (``botrunner.logsetup.register_secret``, as the Drift
  key and the RPC URL are); every error text is scrubbed too, and ccxt's own wire log (which prints request headers,
  the API key among them, at DEBUG) is routed to a logger that never emits DEBUG.
* Every call has a timeout (ccxt's and an ``asyncio`` one around it), and every error names the venue, the call and
  the symbol.

Amounts cross the boundary as integers in Drift's precisions (base 1e9, price 1e6, quote 1e6) and go out as exact
decimal strings; a size or price off the market's step or tick is refused (round first with ``ExternalMarket``'s
helpers: sizes down, bids down, asks up), never silently rounded by ccxt.
"""

from __future__ import annotations

import asyncio
import decimal
import enum
import itertools
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any, Final, TypeVar

import aiohttp
import ccxt.async_support as ccxt_async
import msgspec
import structlog

from botrunner.core.fixed import tdiv
from botrunner.core.precision import BASE_PRECISION, PRICE_PRECISION, QUOTE_PRECISION, decimal_text, to_fixed
from botrunner.core.side import Side
from botrunner.logsetup import MIN_SECRET_LEN, register_secret, scrub
from botrunner.marketdata.funding import FUNDING_FRACTION_PRECISION

_log = structlog.get_logger("botrunner.live.ccxt_venue")
_T = TypeVar("_T")

ONE_HOUR_MS: Final = 3_600_000
DEFAULT_TIMEOUT_S: Final = 5.0
DEFAULT_RECV_WINDOW_MS: Final = 5_000
LOAD_MARKETS_TIMEOUT_S: Final = 30.0
FUNDING_INFO_MAX_AGE_MS: Final = 10 * 60_000  # funding intervals re-read at most this old
# Binance refuses a request stamped more than this far ahead of its clock, which bounds how far ahead ours can be.
BINANCE_MAX_AHEAD_MS: Final = 1_000
BINANCE_DEFAULT_FUNDING_HOURS: Final = 8  # symbols not listed by /fapi/v1/fundingInfo settle every 8 h
# Binance codes that do NOT mean "refused": the request may have executed (their docs: "execution status unknown").
_BINANCE_UNKNOWN_CODES: Final = frozenset({-1000, -1001, -1006, -1007})
_BINANCE_NOT_FOUND: Final = -2013  # "Order does not exist."
_VENUE_ENV_PREFIX: Final = {"binanceusdm": "BINANCE_USDM"}

# ccxt logs every request's headers (the API key is one) on this logger at DEBUG; it must never render them.
_WIRE_LOG = logging.getLogger("botrunner.live.ccxt_wire")
_WIRE_LOG.setLevel(logging.INFO)
_SIGNATURE = re.compile(r"signature=[0-9a-fA-F]+")


class CcxtVenueError(RuntimeError):
    """A call to the external venue failed (a read, a cancel, bad data). The text names venue, call and symbol and
    is scrubbed of every registered secret."""


class CredentialsError(ValueError):
    """The venue's key variables are missing or malformed. The message names the variable, never its value."""


class OrderKind(enum.Enum):
    IOC_LIMIT = "ioc_limit"  # takes what is there up to the limit price, the rest expires at once
    MARKET = "market"


class OrderOutcome(enum.Enum):
    """What became of an order, as far as the venue has told us."""

    FILLED = "filled"  # done, all filled
    PARTIAL = "partial"  # done, part filled, the rest expired or was cancelled
    EXPIRED = "expired"  # done, nothing filled (an IOC that crossed nothing, or cancelled before any fill)
    REJECTED = "rejected"  # the venue refused it: nothing filled
    OPEN = "open"  # still working at the venue (a read found it NEW / PARTIALLY_FILLED)
    ABSENT = "absent"  # a read after the acceptance window found no such order: it was never placed
    UNKNOWN = "unknown"  # no definite answer: resolve by reading, never by sending again

    @property
    def final(self) -> bool:
        """No further fill can happen to this order."""
        match self:
            case OrderOutcome.FILLED | OrderOutcome.PARTIAL | OrderOutcome.EXPIRED | OrderOutcome.REJECTED:
                return True
            case OrderOutcome.ABSENT:
                return True
            case OrderOutcome.OPEN | OrderOutcome.UNKNOWN:
                return False


class ExternalMarket(msgspec.Struct, frozen=True):
    """One perp market of the venue, in Drift's precisions: ``tick`` price 1e6, ``step``/``min_base`` base 1e9,
    ``min_notional`` quote 1e6."""

    symbol: str  # ccxt's unified symbol, "SOL/USDT:USDT"
    venue_id: str  # the venue's own, "SOLUSDT"
    tick: int
    step: int
    min_base: int
    min_notional: int

    def round_base_down(self, base: int) -> int:
        """``base`` rounded down to the step (a size never grows by rounding)."""
        return base - base % self.step

    def round_price(self, price: int, side: Side) -> int:
        """``price`` on the tick: a buy's limit rounds down, a sell's up (never more aggressive than asked)."""
        below = price - price % self.tick
        if side is Side.BUY or below == price:
            return below
        return below + self.tick


class FundingQuote(msgspec.Struct, frozen=True):
    """The venue's current funding rate. Rates in parts per 1e12 of price (``FUNDING_FRACTION_PRECISION``),
    positive = longs pay shorts; ``rate_per_hour`` is the period's rate divided by its hours, truncated toward zero
    (exact for Binance's 8-decimal rates over 1, 4 or 8 h). Prices 1e6, rounded half-even."""

    symbol: str
    rate_per_interval: int
    interval_s: int
    rate_per_hour: int
    next_funding_ms: int
    mark_price: int
    index_price: int
    venue_ms: int  # the venue's timestamp of this reading


class BookLevel(msgspec.Struct, frozen=True):
    price: int  # 1e6
    base: int  # 1e9


class BookSnapshot(msgspec.Struct, frozen=True):
    """The book near the touch: bids best first (descending), asks best first (ascending)."""

    symbol: str
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]
    venue_ms: int  # the venue's transaction time of this book
    received_ms: int  # our clock when the reply arrived (freshness = received_ms - venue_ms, with clock skew)

    def levels_within(self, side: Side, bps: int) -> tuple[BookLevel, ...]:
        """The levels an order of ``side`` can take within ``bps`` of the touch (a buy takes asks)."""
        levels = self.asks if side is Side.BUY else self.bids
        if not levels:
            return ()
        touch = levels[0].price
        return tuple(lv for lv in levels if abs(lv.price - touch) * 10_000 <= touch * bps)

    def depth_within(self, side: Side, bps: int) -> int:
        """Base (1e9) available to an order of ``side`` within ``bps`` of the touch."""
        return sum(lv.base for lv in self.levels_within(side, bps))


class OrderRequest(msgspec.Struct, frozen=True):
    """One order to send. ``client_id`` is the caller's unique id: the key a lost reply is resolved by."""

    symbol: str
    side: Side
    base: int  # 1e9, > 0, on the market's step
    kind: OrderKind
    client_id: str
    limit_price: int | None = None  # 1e6, on the tick; required for IOC_LIMIT, refused for MARKET
    reduce_only: bool = False


class OrderReport(msgspec.Struct, frozen=True):
    """What the venue said about one order. ``filled_base`` 1e9; ``avg_price`` 1e6 (half-even), None without fills.
    ``sent_ms`` is our clock when the send call returned (the order was signed at or before it, after any wait in
    ccxt's rate limiter): the ABSENT window starts there."""

    outcome: OrderOutcome
    symbol: str
    client_id: str
    sent_ms: int
    venue_order_id: str | None = None
    filled_base: int = 0
    avg_price: int | None = None
    code: int | None = None  # the venue's error code when it gave one
    reason: str = ""


class Position(msgspec.Struct, frozen=True):
    symbol: str
    base: int  # signed 1e9: > 0 long
    entry_price: int  # 1e6
    mark_price: int  # 1e6
    liquidation_price: int | None  # 1e6; None when the venue reports none (0)
    unrealized_pnl: int  # quote 1e6


class Balance(msgspec.Struct, frozen=True):
    asset: str
    wallet: int  # quote 1e6
    available: int  # quote 1e6


class Credentials(msgspec.Struct, frozen=True):
    """An API key pair. ``repr`` never shows it (msgspec would)."""

    api_key: str
    secret: str

    def __repr__(self) -> str:
        return "Credentials([redacted])"


def credential_env(venue: str) -> tuple[str, str]:
    """The two environment variables holding ``venue``'s key pair: ``(<P>_API_KEY, <P>_API_SECRET)``."""
    prefix = _VENUE_ENV_PREFIX.get(venue)
    if prefix is None:
        raise CredentialsError(f"{venue}: not a venue this adapter supports (one of {sorted(_VENUE_ENV_PREFIX)})")
    return f"{prefix}_API_KEY", f"{prefix}_API_SECRET"


def load_credentials(venue: str, environ: Mapping[str, str]) -> Credentials:
    """The key pair from the environment, registered with the log scrubber before anything else can see it."""
    names = credential_env(venue)
    values: list[str] = []
    for name in names:
        value = environ.get(name, "")
        if value.strip() and len(value.strip()) >= MIN_SECRET_LEN:
            register_secret(value.strip())
            if value != value.strip():
                register_secret(value)
        if not value.strip():
            raise CredentialsError(f"{name}: not set; export the {venue} API key pair in {names[0]} and {names[1]}")
        if len(value.strip()) < MIN_SECRET_LEN or any(c.isspace() for c in value.strip()):
            raise CredentialsError(f"{name}: not an API key (too short, or contains whitespace)")
        values.append(value.strip())
    return Credentials(values[0], values[1])


class _VenueReply(ccxt_async.ExchangeError):  # type: ignore[misc]  # ccxt ships no type information
    """The venue answered with its own error code: ``code`` and ``msg`` exactly as sent."""

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(f"HTTP {status} code {code}: {msg}")
        self.status = status
        self.code = code
        self.msg = msg


class _BinanceUsdm(ccxt_async.binanceusdm):  # type: ignore[misc]  # ccxt ships no type information
    """ccxt's binanceusdm with two changes: a Binance error reply surfaces as ``_VenueReply`` with its numeric code
    (ccxt maps codes to exception classes by URL host, which a local fake does not match, and maps some
    "status unknown" codes to classes that read as definite), and a 200 that is not JSON is ``BadResponse``
    (ccxt would return the text, to be parsed as an order)."""

    def handle_errors(  # noqa: PLR0917  <why: ccxt's own hook, called positionally with these nine>
        self,
        code: int,
        reason: str,
        url: str,
        method: str,
        headers: Any,
        body: str,
        response: Any,
        request_headers: Any,
        request_body: Any,
    ) -> None:
        venue_code = _error_code(response.get("code")) if isinstance(response, dict) else None
        if venue_code is not None and venue_code < 0:
            raise _VenueReply(code, venue_code, str(response.get("msg", "")))
        if code == 200 and response is None:
            raise ccxt_async.BadResponse(f"{self.id} {method}: HTTP 200 whose body is not JSON")
        super().handle_errors(code, reason, url, method, headers, body, response, request_headers, request_body)


def _error_code(value: Any) -> int | None:
    """A Binance error ``code`` as an int. ccxt hands JSON numbers over as ints or, depending on its version and on
    whether orjson is installed (``quoteJsonNumbers``), as strings: both are accepted."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,9}", value):
        return int(value)
    return None


def _exchange_for(
    venue: str, credentials: Credentials | None, timeout_s: float, base_url: str | None, rate_limit: bool
) -> Any:
    if venue != "binanceusdm":
        raise CredentialsError(f"{venue}: not a venue this adapter supports (binanceusdm)")
    exchange = _BinanceUsdm(
        {
            "apiKey": credentials.api_key if credentials else "",
            "secret": credentials.secret if credentials else "",
            "timeout": int(timeout_s * 1000),
            # ccxt spaces calls by its cost table (Binance bans over-weight clients); the wait counts against the
            # call's timeout, and the request is signed after it: its ABSENT window starts when the call returns.
            "enableRateLimit": rate_limit,
            "options": {
                "recvWindow": DEFAULT_RECV_WINDOW_MS,
                "fetchCurrencies": False,  # a spot-wallet (sapi) call we do not need
                "adjustForTimeDifference": False,
            },
        }
    )
    exchange.logger = _WIRE_LOG
    if base_url is not None:
        # Every API family to the given host (a test's fake): nothing can leak to the real venue.
        root = base_url.rstrip("/")
        exchange.urls["api"] = {
            name: root + re.sub(r"^https://[^/]+", "", url) for name, url in exchange.urls["api"].items()
        }
    return exchange


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class CcxtVenue:
    """One account on one external venue. Build with :meth:`connect`; ``await close()`` when done."""

    def __init__(
        self,
        venue: str,
        exchange: Any,
        *,
        timeout_s: float,
        clock_ms: Callable[[], int],
    ) -> None:
        self.venue = venue
        self._exchange = exchange
        self._timeout_s = timeout_s
        self._clock_ms = clock_ms
        # The ABSENT rule must use the window the requests are actually signed with: read it from the exchange.
        self._recv_window_ms = int(exchange.options.get("recvWindow") or DEFAULT_RECV_WINDOW_MS)
        self._markets: dict[str, ExternalMarket] = {}
        self._funding_hours: dict[str, int] = {}
        self._funding_hours_ms: int | None = None  # when they were read (our clock)
        self._sent: set[str] = set()
        self._keyed = bool(getattr(exchange, "apiKey", ""))

    @classmethod
    def connect(
        cls,
        venue: str = "binanceusdm",
        *,
        environ: Mapping[str, str],
        timeout_s: float = DEFAULT_TIMEOUT_S,
        base_url: str | None = None,
        clock_ms: Callable[[], int] = _wall_ms,
        rate_limit: bool = True,
    ) -> CcxtVenue:
        """The adapter for ``venue`` with keys from ``environ`` (``credential_env``); no network yet."""
        if not timeout_s > 0:
            raise ValueError(f"{venue}: timeout_s must be > 0, got {timeout_s}")
        credentials = load_credentials(venue, environ)
        return cls(
            venue,
            _exchange_for(venue, credentials, timeout_s, base_url, rate_limit),
            timeout_s=timeout_s,
            clock_ms=clock_ms,
        )

    @classmethod
    def public(
        cls,
        venue: str = "binanceusdm",
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        base_url: str | None = None,
        clock_ms: Callable[[], int] = _wall_ms,
        rate_limit: bool = True,
    ) -> CcxtVenue:
        """A read-only adapter without keys: markets, funding and the book (a scan needs nothing more). Orders,
        positions and balance refuse with ``CcxtVenueError`` before anything is sent."""
        if not timeout_s > 0:
            raise ValueError(f"{venue}: timeout_s must be > 0, got {timeout_s}")
        credential_env(venue)  # refuses a venue this adapter does not support
        exchange = _exchange_for(venue, None, timeout_s, base_url, rate_limit)
        return cls(venue, exchange, timeout_s=timeout_s, clock_ms=clock_ms)

    async def close(self) -> None:
        await self._exchange.close()

    # --- plumbing -------------------------------------------------------------------------------------------------
    def _error(self, call: str, symbol: str, exc: BaseException | str) -> CcxtVenueError:
        return CcxtVenueError(f"{self.venue} {call} {symbol or '-'}: {_describe(exc)}")

    async def _call(
        self, call: str, symbol: str, make: Callable[[], Awaitable[_T]], timeout_s: float | None = None
    ) -> _T:
        """A read: the result, or ``CcxtVenueError`` naming venue, call and symbol (timeouts included)."""
        try:
            return await self._bounded(make(), timeout_s)
        except (TimeoutError, ccxt_async.BaseError) as exc:
            raise self._error(call, symbol, exc) from None

    async def _bounded(self, request: Awaitable[_T], timeout_s: float | None = None) -> _T:
        """Every request to ccxt goes through here: bounded by the call timeout, and run on a copy of the decimal
        context. ccxt's decimal_to_precision (every order and market call rounds through it) sets the CURRENT
        context to ROUND_HALF_UP and traps Underflow, for the whole thread; on a copy, the runner's own Decimal
        maths (and anything else on this loop's thread) keeps its context. The coroutine has not started yet: it
        runs in the task ``wait_for`` creates inside the copy."""
        with decimal.localcontext():
            return await asyncio.wait_for(request, timeout_s or self._timeout_s)

    def _private(self, call: str, symbol: str) -> None:
        if not self._keyed:
            raise self._error(call, symbol, "a public (read-only) connection has no API keys for this call")

    def market(self, symbol: str) -> ExternalMarket:
        """A loaded market; ``CcxtVenueError`` when ``load_markets`` did not find it."""
        found = self._markets.get(symbol)
        if found is None:
            raise self._error("market", symbol, f"not a loaded market (have {sorted(self._markets)[:6]}...)")
        return found

    # --- reads ----------------------------------------------------------------------------------------------------
    async def load_markets(self, symbols: tuple[str, ...]) -> dict[str, ExternalMarket]:
        """Load the venue's markets and convert ``symbols`` (ccxt unified, "SOL/USDT:USDT") to ``ExternalMarket``;
        also the funding intervals that differ from the venue default."""
        # Each HTTP request still has the call timeout (ccxt's); the whole call also parses every market of the
        # venue (hundreds on Binance), which takes longer than a request may.
        raw = await self._call(
            "load_markets",
            ",".join(symbols),
            self._exchange.load_markets,
            max(self._timeout_s, LOAD_MARKETS_TIMEOUT_S),
        )
        for symbol in symbols:
            found = raw.get(symbol)
            if found is None or not found.get("swap"):
                raise self._error("load_markets", symbol, "no such perpetual swap at this venue")
            self._markets[symbol] = self._convert_market(symbol, found)
        await self._load_funding_intervals()
        return dict(self._markets)

    async def _load_funding_intervals(self) -> None:
        """The symbols whose funding interval is not the default 8 h (Binance changes them in volatile markets, so
        ``funding`` reloads them when older than ``FUNDING_INFO_MAX_AGE_MS``)."""
        intervals = await self._call("funding_info", "-", self._exchange.fapiPublicGetFundingInfo)
        if not isinstance(intervals, list):
            raise self._error("funding_info", "-", f"expected a list, got {type(intervals).__name__}")
        hours_by_symbol: dict[str, int] = {}
        for row in intervals:
            try:
                hours = _int(row["fundingIntervalHours"], "fundingIntervalHours")  # an int, or a string (ccxt)
            except (KeyError, TypeError, ValueError):
                hours = 0
            if hours <= 0:
                raise self._error("funding_info", "-", f"a row without a positive fundingIntervalHours: {row!r:.120}")
            hours_by_symbol[str(row.get("symbol"))] = hours
        self._funding_hours = hours_by_symbol
        self._funding_hours_ms = self._clock_ms()

    def _convert_market(self, symbol: str, found: Mapping[str, Any]) -> ExternalMarket:
        info = found.get("info") or {}
        filters = {f.get("filterType"): f for f in info.get("filters", []) if isinstance(f, dict)}
        try:
            tick = _fixed(filters["PRICE_FILTER"]["tickSize"], PRICE_PRECISION, "tickSize")
            step = _fixed(filters["LOT_SIZE"]["stepSize"], BASE_PRECISION, "stepSize")
            min_base = _fixed(filters["LOT_SIZE"]["minQty"], BASE_PRECISION, "minQty")
            min_notional = _fixed(filters.get("MIN_NOTIONAL", {}).get("notional", "0"), QUOTE_PRECISION, "notional")
        except (KeyError, TypeError, ValueError) as exc:
            raise self._error("load_markets", symbol, f"unusable market filters: {exc}") from None
        if tick <= 0 or step <= 0:
            raise self._error("load_markets", symbol, "tick and step must be positive")
        return ExternalMarket(symbol, str(found.get("id")), tick, step, min_base, min_notional)

    async def funding(self, symbol: str) -> FundingQuote:
        """The current funding rate, normalised per hour (positive = longs pay), with mark and index prices."""
        market = self.market(symbol)
        read_ms = self._funding_hours_ms
        if read_ms is None or self._clock_ms() - read_ms > FUNDING_INFO_MAX_AGE_MS:
            await self._load_funding_intervals()
        reply = await self._call("funding", symbol, lambda: self._exchange.fetch_funding_rate(symbol))
        info = reply.get("info") if isinstance(reply, dict) else None
        try:
            if not isinstance(info, dict):
                raise ValueError("no premiumIndex in the reply")
            rate = _fixed(info["lastFundingRate"], FUNDING_FRACTION_PRECISION, "lastFundingRate")
            hours = self._funding_hours.get(market.venue_id, BINANCE_DEFAULT_FUNDING_HOURS)
            return FundingQuote(
                symbol=symbol,
                rate_per_interval=rate,
                interval_s=hours * 3600,
                rate_per_hour=tdiv(rate, hours),
                next_funding_ms=_int(info["nextFundingTime"], "nextFundingTime"),
                mark_price=_nearest(info["markPrice"], PRICE_PRECISION, "markPrice"),
                index_price=_nearest(info["indexPrice"], PRICE_PRECISION, "indexPrice"),
                venue_ms=_int(info["time"], "time"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise self._error("funding", symbol, f"bad premiumIndex: {exc}") from None

    async def book(self, symbol: str, limit: int = 20) -> BookSnapshot:
        """The top ``limit`` levels of each side (Binance accepts 5, 10, 20, 50, 100, 500, 1000)."""
        market = self.market(symbol)
        reply = await self._call(
            "book", symbol, lambda: self._exchange.fapiPublicGetDepth({"symbol": market.venue_id, "limit": limit})
        )
        received = self._clock_ms()
        try:
            if not isinstance(reply, dict):
                raise ValueError(f"expected an object, got {type(reply).__name__}")
            bids = tuple(_level(row, "bids") for row in reply["bids"])
            asks = tuple(_level(row, "asks") for row in reply["asks"])
            venue_ms = _int(reply["T"], "T")
        except (KeyError, TypeError, ValueError) as exc:
            raise self._error("book", symbol, f"bad depth: {exc}") from None
        if any(a.price <= b.price for a, b in itertools.pairwise(bids)) or any(
            b.price <= a.price for a, b in itertools.pairwise(asks)
        ):
            raise self._error("book", symbol, "levels out of order")
        if bids and asks and bids[0].price >= asks[0].price:
            raise self._error("book", symbol, f"crossed book: bid {bids[0].price} >= ask {asks[0].price} (1e6)")
        return BookSnapshot(symbol, bids, asks, venue_ms, received)

    async def positions(self) -> tuple[Position, ...]:
        """Every non-zero position of the account on the loaded markets' venue ids (by unified symbol)."""
        self._private("positions", "-")
        by_id = {m.venue_id: m.symbol for m in self._markets.values()}
        rows = await self._call("positions", "-", self._exchange.fapiPrivateV3GetPositionRisk)
        if not isinstance(rows, list):
            raise self._error("positions", "-", f"expected a list, got {type(rows).__name__}")
        out: list[Position] = []
        for row in rows:
            venue_id = str(row.get("symbol")) if isinstance(row, dict) else "?"
            try:
                base = _fixed(row["positionAmt"], BASE_PRECISION, "positionAmt")
                if base == 0:
                    continue
                liq = _nearest(row["liquidationPrice"], PRICE_PRECISION, "liquidationPrice")
                out.append(
                    Position(
                        symbol=by_id.get(venue_id, venue_id),
                        base=base,
                        entry_price=_nearest(row["entryPrice"], PRICE_PRECISION, "entryPrice"),
                        mark_price=_nearest(row["markPrice"], PRICE_PRECISION, "markPrice"),
                        liquidation_price=liq or None,
                        unrealized_pnl=_nearest(row["unRealizedProfit"], QUOTE_PRECISION, "unRealizedProfit"),
                    )
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise self._error("positions", venue_id, f"bad positionRisk row: {exc}") from None
        return tuple(out)

    async def balance(self, asset: str = "USDT") -> Balance:
        self._private("balance", asset)
        rows = await self._call("balance", asset, self._exchange.fapiPrivateV3GetBalance)
        if not isinstance(rows, list):
            raise self._error("balance", asset, f"expected a list, got {type(rows).__name__}")
        for row in rows:
            if isinstance(row, dict) and row.get("asset") == asset:
                try:
                    return Balance(
                        asset,
                        _truncate(row["balance"], QUOTE_PRECISION, "balance"),
                        _truncate(row["availableBalance"], QUOTE_PRECISION, "availableBalance"),
                    )
                except (KeyError, TypeError, ValueError) as exc:
                    raise self._error("balance", asset, f"bad balance row: {exc}") from None
        raise self._error("balance", asset, "no such asset in the account")

    # --- orders ---------------------------------------------------------------------------------------------------
    async def place(self, order: OrderRequest) -> OrderReport:
        """Send ``order`` once. Never raises for what the venue did: a refusal is REJECTED, a lost or garbled
        reply UNKNOWN (then ``resolve``). Raises ``CcxtVenueError`` only for a malformed request (nothing sent)."""
        market = self.market(order.symbol)
        self._private("place", order.symbol)
        self._check(order, market)
        self._sent.add(order.client_id)
        params: dict[str, Any] = {"newClientOrderId": order.client_id, "newOrderRespType": "RESULT"}
        if order.reduce_only:
            params["reduceOnly"] = True
        price: str | None = None
        if order.kind is OrderKind.IOC_LIMIT:
            params["timeInForce"] = "IOC"
            price = decimal_text(order.limit_price or 0, 6)
        amount = decimal_text(order.base, 9)
        side = "buy" if order.side is Side.BUY else "sell"
        kind = "limit" if order.kind is OrderKind.IOC_LIMIT else "market"
        _log.info(
            "ccxt_order_send",
            venue=self.venue,
            symbol=order.symbol,
            client_id=order.client_id,
            side=side,
            kind=kind,
            base=order.base,
            limit_price=order.limit_price,
            reduce_only=order.reduce_only,
        )
        try:
            reply = await self._bounded(self._exchange.create_order(order.symbol, kind, side, amount, price, params))
            report = self._report(order.symbol, order.client_id, self._clock_ms(), reply)
        except (TimeoutError, ccxt_async.BaseError, CcxtVenueError) as exc:
            code = exc.code if isinstance(exc, _VenueReply) else None
            outcome = send_failure_outcome(exc)
            # ccxt's rate limiter may hold the request before it signs it: the signature's timestamp (which starts
            # Binance's recvWindow) is somewhere up to now, so the ABSENT window starts now, not before the call
            signed_by = self._clock_ms()
            report = OrderReport(outcome, order.symbol, order.client_id, signed_by, code=code, reason=_describe(exc))
        _log.info(
            "ccxt_order_outcome",
            venue=self.venue,
            symbol=order.symbol,
            client_id=order.client_id,
            outcome=report.outcome.value,
            filled_base=report.filled_base,
            avg_price=report.avg_price,
            code=report.code,
            reason=report.reason,
        )
        return report

    def _check(self, order: OrderRequest, market: ExternalMarket) -> None:
        problem = ""
        if order.client_id in self._sent:
            problem = "client id already sent once: resolve it by reading, never send it again"
        elif not 0 < len(order.client_id) <= 36 or not re.fullmatch(r"[.A-Z:/a-z0-9_-]+", order.client_id):
            problem = "client id must be 1..36 of [.A-Z:/a-z0-9_-] (Binance's rule)"
        elif order.base <= 0 or order.base % market.step:
            problem = f"base {order.base} (1e9) must be > 0 and a multiple of the step {market.step}"
        elif order.base < market.min_base:
            problem = f"base {order.base} (1e9) is under the minimum {market.min_base}"
        elif order.kind is OrderKind.IOC_LIMIT and (order.limit_price is None or order.limit_price <= 0):
            problem = "an IOC limit order needs a positive limit price"
        elif order.kind is OrderKind.IOC_LIMIT and (order.limit_price or 0) % market.tick:
            problem = f"limit price {order.limit_price} (1e6) is off the tick {market.tick}"
        elif order.kind is OrderKind.MARKET and order.limit_price is not None:
            problem = "a market order takes no limit price"
        if problem:
            raise self._error("place", order.symbol, problem)

    async def order(self, symbol: str, client_id: str, sent_ms: int) -> OrderReport:
        """Read an order by its client id. Not found: UNKNOWN until ``recvWindow + 1 s`` after ``sent_ms`` (it may
        still arrive), ABSENT after (it cannot any more). A failed read is UNKNOWN, never an exception."""
        self.market(symbol)  # a symbol never loaded is the caller's bug: raise, do not read
        self._private("order", symbol)
        try:
            reply = await self._bounded(self._exchange.fetch_order(None, symbol, {"origClientOrderId": client_id}))
            return self._report(symbol, client_id, sent_ms, reply)
        except _VenueReply as exc:
            if exc.code != _BINANCE_NOT_FOUND:
                return OrderReport(
                    OrderOutcome.UNKNOWN, symbol, client_id, sent_ms, code=exc.code, reason=_describe(exc)
                )
            closes = sent_ms + self._recv_window_ms + BINANCE_MAX_AHEAD_MS
            if self._clock_ms() > closes:
                return OrderReport(OrderOutcome.ABSENT, symbol, client_id, sent_ms, code=exc.code, reason=exc.msg)
            reason = f"not found yet; it can still arrive until {closes} ms"
            return OrderReport(OrderOutcome.UNKNOWN, symbol, client_id, sent_ms, code=exc.code, reason=reason)
        except (TimeoutError, ccxt_async.BaseError, CcxtVenueError) as exc:
            return OrderReport(OrderOutcome.UNKNOWN, symbol, client_id, sent_ms, reason=_describe(exc))

    async def resolve(self, report: OrderReport) -> OrderReport:
        """An UNKNOWN or OPEN report brought up to date by reading (the order is never sent again)."""
        if report.outcome.final:
            return report
        return await self.order(report.symbol, report.client_id, report.sent_ms)

    async def cancel(self, symbol: str, client_id: str, sent_ms: int) -> OrderReport:
        """Cancel an open order, then report it as read afterwards (a cancel that raced a fill shows the fill)."""
        self.market(symbol)
        self._private("cancel", symbol)
        try:
            await self._bounded(self._exchange.cancel_order(None, symbol, {"origClientOrderId": client_id}))
        except _VenueReply as exc:
            _log.info("ccxt_cancel_refused", venue=self.venue, symbol=symbol, client_id=client_id, code=exc.code)
        except (TimeoutError, ccxt_async.BaseError) as exc:
            _log.warning(
                "ccxt_cancel_unknown", venue=self.venue, symbol=symbol, client_id=client_id, error=_describe(exc)
            )
        return await self.order(symbol, client_id, sent_ms)

    async def hedge(self, symbol: str, position_base: int, client_id: str) -> OrderReport:
        """Close ``position_base`` (signed 1e9, the filled leg) at market, reduce-only: the leg-out hedge. The
        size is rounded down to the step; a remainder under one step cannot be traded and stays."""
        market = self.market(symbol)
        base = market.round_base_down(abs(position_base))
        if base == 0:
            raise self._error("hedge", symbol, f"position {position_base} (1e9) is under one step {market.step}")
        side = Side.SELL if position_base > 0 else Side.BUY
        return await self.place(OrderRequest(symbol, side, base, OrderKind.MARKET, client_id, reduce_only=True))

    def _report(self, symbol: str, client_id: str, sent_ms: int, reply: Any) -> OrderReport:
        """An order reply (ccxt's unified order; its ``info`` is the venue's raw JSON) as an ``OrderReport``."""
        info = reply.get("info") if isinstance(reply, dict) else None
        if not isinstance(info, dict):
            raise self._error("order", symbol, f"not an order reply: {type(reply).__name__}")
        try:
            status = str(info["status"])
            filled = _fixed(info["executedQty"], BASE_PRECISION, "executedQty")
            ordered = _fixed(info["origQty"], BASE_PRECISION, "origQty")
            avg = _nearest(info.get("avgPrice", "0"), PRICE_PRECISION, "avgPrice")
            venue_id = str(info["orderId"])
            returned_id = str(info["clientOrderId"])
        except (KeyError, TypeError, ValueError) as exc:
            raise self._error("order", symbol, f"bad order reply: {exc}") from None
        if returned_id != client_id:
            raise self._error("order", symbol, f"reply is for client id {returned_id}, not {client_id}")
        outcome = _binance_outcome(status, filled)
        if outcome is None:
            raise self._error("order", symbol, f"unknown order status {status!r}")
        if not 0 <= filled <= ordered or (outcome is OrderOutcome.FILLED) != (0 < filled == ordered):
            raise self._error("order", symbol, f"inconsistent reply: {status} with {filled} of {ordered} filled (1e9)")
        return OrderReport(
            outcome, symbol, client_id, sent_ms, venue_id, filled, avg if filled else None, reason=status
        )


def send_failure_outcome(exc: BaseException) -> OrderOutcome:
    """What an order send that raised ``exc`` did: REJECTED only when the venue definitely refused it.

    Definite: a Binance error reply whose code is not one of its "execution status unknown" codes, or a ccxt
    ``ExchangeError`` raised before or without a transport failure (a local check, a 4xx). Everything else — the
    timeout, a network error, HTTP 5xx, garbage, a body cut off mid-way (ccxt wraps aiohttp's payload error in its
    definite ``ExchangeError``, so the cause decides), a reply we cannot read — is UNKNOWN."""
    if isinstance(exc, _VenueReply):
        return OrderOutcome.UNKNOWN if exc.code in _BINANCE_UNKNOWN_CODES else OrderOutcome.REJECTED
    if isinstance(exc, ccxt_async.ExchangeError) and not isinstance(exc.__cause__, aiohttp.ClientError):
        return OrderOutcome.REJECTED
    return OrderOutcome.UNKNOWN


def _binance_outcome(status: str, filled: int) -> OrderOutcome | None:
    match status:
        case "FILLED":
            return OrderOutcome.FILLED
        case "NEW" | "PARTIALLY_FILLED":
            return OrderOutcome.OPEN
        case "CANCELED" | "EXPIRED" | "EXPIRED_IN_MATCH":
            return OrderOutcome.PARTIAL if filled else OrderOutcome.EXPIRED
        case "REJECTED":
            return OrderOutcome.REJECTED
        case _:
            return None


def _describe(exc: BaseException | str) -> str:
    """An error as one scrubbed line: its class and message, request signatures cut, at most 300 characters."""
    if isinstance(exc, str):
        text = exc
    elif isinstance(exc, TimeoutError):
        text = "TimeoutError: no answer within the timeout"
    else:
        text = f"{type(exc).__name__.lstrip('_')}: {exc}"
    return scrub(_SIGNATURE.sub("signature=…", text))[:300]


def _decimal(text: Any, what: str) -> Decimal:
    if not isinstance(text, str | int):
        raise ValueError(f"{what}: {text!r:.40} is not a decimal string")
    try:
        value = Decimal(str(text))
    except InvalidOperation:
        raise ValueError(f"{what}: {text!r:.40} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{what}: {text!r:.40} is not finite")
    return value


def _fixed(text: Any, precision: int, what: str) -> int:
    """Exactly ``text * precision``; a finer value is an error (it would mean the market is not what we think)."""
    _decimal(text, what)
    return to_fixed(str(text), precision, what=what)


def _nearest(text: Any, precision: int, what: str) -> int:
    """``text * precision`` rounded half-even: for prices and PnL the venue quotes finer than Drift's units."""
    return int((_decimal(text, what) * precision).to_integral_value(rounding=ROUND_HALF_EVEN))


def _truncate(text: Any, precision: int, what: str) -> int:
    """``text * precision`` truncated toward zero: a balance is never rounded up into money we do not have."""
    return int(_decimal(text, what) * precision)


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{what}: {value!r:.40} is not an integer")
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{what}: {value!r:.40} is not an integer") from None


def _level(row: Any, what: str) -> BookLevel:
    if not isinstance(row, list | tuple) or len(row) < 2:
        raise ValueError(f"{what}: level {row!r:.40} is not [price, qty]")
    price = _fixed(row[0], PRICE_PRECISION, f"{what} price")
    base = _fixed(row[1], BASE_PRECISION, f"{what} qty")
    if price <= 0 or base <= 0:
        raise ValueError(f"{what}: level {row!r:.40} has a non-positive price or size")
    return BookLevel(price, base)
