"""A fake Binance USD-M futures REST server on 127.0.0.1, for tests that drive ccxt's real code path.

ccxt's ``binanceusdm`` is pointed at it by rewriting the exchange's ``urls['api']`` (``CcxtVenue.connect(...,
base_url=fake.url)``), so the requests are built, signed, sent over aiohttp and decoded by ccxt itself. The fake
speaks the endpoints the adapter uses, checks what Binance checks (the ``X-MBX-APIKEY`` header, the HMAC-SHA256
signature of the query or form body, the timestamp inside ``recvWindow``) with Binance's error codes, and can be
scripted::

    async with FakeBinance() as fake:
        fake.set_book("SOLUSDT", bids=[("150.00", "40")], asks=[("150.10", "35")])
        fake.script_order(Partial("0.4"))          # the next POST /order fills 0.4 and expires the rest
        fake.script_order(Reject(-2019, "Margin is insufficient."))
        fake.script_order(Hang(3.0, place=True))   # the order is placed, the reply comes after the client gave up
        fake.inject("/fapi/v1/depth", Garbage("<html>502</html>"))

``orders_received`` lists every POST /order in arrival order: a test asserts nothing was sent twice.
Unknown paths answer 404 and are recorded in ``unknown_paths`` (a test fails if ccxt wandered somewhere new).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import urllib.parse
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiohttp import web

# Built at run time: no key-shaped literal in the repository. The fake checks signatures made with these.
TEST_API_KEY = "fake-key-" + "k" * 24
TEST_API_SECRET = "fake-secret-" + "s" * 24
MAX_AHEAD_MS = 1000  # Binance refuses a timestamp more than 1 s ahead of its clock


@dataclass(frozen=True)
class Fill:
    """Fill the whole order at ``price`` (default: the limit price, or the best opposite level for a market)."""

    price: str | None = None


@dataclass(frozen=True)
class Partial:
    """Fill ``qty`` and expire the rest (an IOC that found too little liquidity)."""

    qty: str
    price: str | None = None


@dataclass(frozen=True)
class NoFill:
    """Expire the whole order unfilled (an IOC limit that crossed nothing)."""


@dataclass(frozen=True)
class Reject:
    """Refuse the order with a Binance error code, HTTP 400 (e.g. -2019 "Margin is insufficient.")."""

    code: int
    msg: str
    status: int = 400


@dataclass(frozen=True)
class Hang:
    """Answer only after ``delay_s``; with ``place`` the order is filled (as ``then``) before the wait, so a read
    finds it; without, the request is swallowed and nothing is placed."""

    delay_s: float
    place: bool = True
    then: Fill | Partial = Fill()


@dataclass(frozen=True)
class Ack:
    """Accept the order with status NEW (no result yet); it fills as ``then`` and a read shows the fill. With
    ``then=None`` it stays NEW, unfilled, until cancelled (a resting order)."""

    then: Fill | Partial | None = Fill()


@dataclass(frozen=True)
class Garbage:
    """Answer with ``body`` (not Binance JSON) and HTTP ``status``."""

    body: str
    status: int = 200


@dataclass(frozen=True)
class Cut:
    """Place (and fill) the order, then break the reply: ``truncated`` sends headers and half a body before closing
    the connection; otherwise the connection is closed with no response at all."""

    truncated: bool = False


OrderScript = Fill | Partial | NoFill | Reject | Hang | Ack | Garbage | Cut


@dataclass(frozen=True)
class SymbolSpec:
    symbol: str
    base: str
    tick: str
    step: str
    min_qty: str
    min_notional: str


DEFAULT_SYMBOLS = (
    SymbolSpec("SOLUSDT", "SOL", "0.0100", "0.01", "0.01", "5"),
    SymbolSpec("BTCUSDT", "BTC", "0.10", "0.001", "0.001", "100"),
    SymbolSpec("ETHUSDT", "ETH", "0.01", "0.001", "0.001", "20"),
)


@dataclass
class _Position:
    amount: Decimal = Decimal(0)
    entry: Decimal = Decimal(0)


@dataclass
class FakeBinance:
    """The server and its scripted state (see the module docstring)."""

    symbols: tuple[SymbolSpec, ...] = DEFAULT_SYMBOLS
    api_key: str = TEST_API_KEY
    api_secret: str = TEST_API_SECRET
    wallet: Decimal = Decimal("10000")
    orders_received: list[dict[str, str]] = field(default_factory=list)
    unknown_paths: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    url: str = ""
    _books: dict[str, tuple[list[tuple[str, str]], list[tuple[str, str]]]] = field(default_factory=dict)
    _funding: dict[str, dict[str, Any]] = field(default_factory=dict)
    _funding_hours: dict[str, int] = field(default_factory=dict)
    _order_script: deque[OrderScript] = field(default_factory=deque)
    _faults: dict[str, deque[Garbage | Hang]] = field(default_factory=dict)
    _orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    _positions: dict[str, _Position] = field(default_factory=dict)
    _next_id: int = 1000
    _runner: web.AppRunner | None = None

    # --- scripting ------------------------------------------------------------------------------------------------
    def set_book(self, symbol: str, *, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> None:
        self._books[symbol] = (bids, asks)

    def set_funding(
        self, symbol: str, *, rate: str, mark: str, index: str, next_ms: int, interval_hours: int | None = None
    ) -> None:
        """``premiumIndex`` for ``symbol``; ``interval_hours`` lists it in ``fundingInfo`` (an adjusted interval)."""
        self._funding[symbol] = {"lastFundingRate": rate, "markPrice": mark, "indexPrice": index, "next": next_ms}
        if interval_hours is not None:
            self._funding_hours[symbol] = interval_hours

    def script_order(self, *scripts: OrderScript) -> None:
        """What the next POST /order calls do, in order (unscripted: ``Fill()``)."""
        self._order_script.extend(scripts)

    def inject(self, path: str, fault: Garbage | Hang, times: int = 1) -> None:
        """The next ``times`` requests to ``path`` (e.g. ``/fapi/v1/depth``) get ``fault`` instead of an answer."""
        self._faults.setdefault(path, deque()).extend([fault] * times)

    def position(self, symbol: str) -> Decimal:
        return self._positions.get(symbol, _Position()).amount

    # --- lifecycle ------------------------------------------------------------------------------------------------
    async def __aenter__(self) -> FakeBinance:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # --- HTTP -----------------------------------------------------------------------------------------------------
    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        self.requests.append(f"{request.method} {path}")
        faults = self._faults.get(path)
        if faults:
            fault = faults.popleft()
            if isinstance(fault, Hang):
                await asyncio.sleep(fault.delay_s)
            else:
                return web.Response(text=fault.body, status=fault.status, content_type="text/html")
        routes = {
            ("GET", "/fapi/v1/exchangeInfo"): self._exchange_info,
            ("GET", "/fapi/v1/fundingInfo"): self._funding_info,
            ("GET", "/fapi/v1/premiumIndex"): self._premium_index,
            ("GET", "/fapi/v1/depth"): self._depth,
            ("POST", "/fapi/v1/order"): self._new_order,
            ("GET", "/fapi/v1/order"): self._query_order,
            ("DELETE", "/fapi/v1/order"): self._cancel_order,
            ("GET", "/fapi/v3/positionRisk"): self._position_risk,
            ("GET", "/fapi/v3/balance"): self._balance,
        }
        handler = routes.get((request.method, path))
        if handler is None:
            self.unknown_paths.append(f"{request.method} {path}")
            return _error(404, -1, f"fake: no route {request.method} {path}")
        return await handler(request)

    async def _signed(self, request: web.Request) -> dict[str, str] | web.Response:
        """The request's parameters when key, signature and timestamp are good; else Binance's error reply."""
        if request.headers.get("X-MBX-APIKEY") != self.api_key:
            return _error(401, -2015, "Invalid API-key, IP, or permissions for action.")
        raw = (await request.text()) if request.method == "POST" else request.query_string
        payload, sep, signature = raw.rpartition("&signature=")
        if not sep:
            return _error(400, -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
        expected = hmac.new(self.api_secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            return _error(400, -1022, "Signature for this request is not valid.")
        params = dict(urllib.parse.parse_qsl(payload, keep_blank_values=True))
        now = _now_ms()
        stamp = int(params.get("timestamp", "0"))
        window = int(params.get("recvWindow", "5000"))
        if stamp > now + MAX_AHEAD_MS or now - stamp > window:
            return _error(400, -1021, "Timestamp for this request is outside of the recvWindow.")
        return params

    async def _exchange_info(self, _request: web.Request) -> web.Response:
        return web.json_response(
            {"timezone": "UTC", "serverTime": _now_ms(), "symbols": [_symbol(s) for s in self.symbols]}
        )

    async def _funding_info(self, _request: web.Request) -> web.Response:
        rows = [
            {
                "symbol": s,
                "adjustedFundingRateCap": "0.03",
                "adjustedFundingRateFloor": "-0.03",
                "fundingIntervalHours": h,
            }
            for s, h in self._funding_hours.items()
        ]
        return web.json_response(rows)

    async def _premium_index(self, request: web.Request) -> web.Response:
        symbol = request.query.get("symbol", "")
        f = self._funding.get(symbol)
        if f is None:
            return _error(400, -1121, "Invalid symbol.")
        return web.json_response(
            {
                "symbol": symbol,
                "markPrice": f["markPrice"],
                "indexPrice": f["indexPrice"],
                "estimatedSettlePrice": f["indexPrice"],
                "lastFundingRate": f["lastFundingRate"],
                "interestRate": "0.00010000",
                "nextFundingTime": f["next"],
                "time": _now_ms(),
            }
        )

    async def _depth(self, request: web.Request) -> web.Response:
        symbol = request.query.get("symbol", "")
        if symbol not in self._books:
            return _error(400, -1121, "Invalid symbol.")
        limit = int(request.query.get("limit", "500"))
        bids, asks = self._books[symbol]
        now = _now_ms()
        return web.json_response(
            {
                "lastUpdateId": now,
                "E": now,
                "T": now,
                "bids": [list(b) for b in bids[:limit]],
                "asks": [list(a) for a in asks[:limit]],
            }
        )

    async def _new_order(self, request: web.Request) -> web.StreamResponse:  # noqa: PLR0911  <why: one flat match over the scripts>
        params = await self._signed(request)
        if isinstance(params, web.Response):
            return params
        self.orders_received.append(params)
        script = self._order_script.popleft() if self._order_script else Fill()
        match script:
            case Reject(code=code, msg=msg, status=status):
                return _error(status, code, msg)
            case Garbage(body=body, status=status):
                self._record(params, Fill())  # the worst case: the order went through and the reply is garbage
                return web.Response(text=body, status=status, content_type="text/html")
            case Hang(delay_s=delay, place=place, then=then):
                if place:
                    self._record(params, then)
                await asyncio.sleep(delay)
                return _error(503, -1007, "Timeout waiting for response from backend server.")
            case Cut(truncated=truncated):
                order = self._record(params, Fill())
                return await _cut(request, json.dumps(order).encode(), truncated)
            case Ack(then=then):
                if then is None:  # a resting order: NEW until cancelled
                    order = self._record(params, NoFill())
                    order["status"] = "NEW"
                    return web.json_response(order)
                order = self._record(params, then)
                return web.json_response(
                    {**order, "status": "NEW", "executedQty": "0", "cumQuote": "0", "avgPrice": "0"}
                )
            case Fill() | Partial() | NoFill():
                return web.json_response(self._record(params, script))

    def _record(self, params: dict[str, str], script: Fill | Partial | NoFill) -> dict[str, Any]:
        symbol = params["symbol"]
        qty = Decimal(params["quantity"])
        side = params["side"]
        if isinstance(script, NoFill):
            filled, price = Decimal(0), Decimal(0)
        else:
            filled = qty if isinstance(script, Fill) else Decimal(script.qty)
            price = Decimal(script.price) if script.price else self._fill_price(params)
        self._next_id += 1
        order = {
            "orderId": self._next_id,
            "symbol": symbol,
            "status": "FILLED" if filled == qty else "EXPIRED",
            "clientOrderId": params.get("newClientOrderId", f"auto{self._next_id}"),
            "price": params.get("price", "0"),
            "avgPrice": str(price) if filled else "0",
            "origQty": params["quantity"],
            "executedQty": str(filled),
            "cumQuote": str(filled * price),
            "timeInForce": params.get("timeInForce", "GTC"),
            "type": params["type"],
            "reduceOnly": params.get("reduceOnly") == "true",
            "closePosition": False,
            "side": side,
            "positionSide": "BOTH",
            "stopPrice": "0",
            "workingType": "CONTRACT_PRICE",
            "priceProtect": False,
            "origType": params["type"],
            "updateTime": _now_ms(),
        }
        self._orders[self._next_id] = order
        if filled:
            self._apply_fill(symbol, filled if side == "BUY" else -filled, price)
        return order

    def _fill_price(self, params: dict[str, str]) -> Decimal:
        if "price" in params:
            return Decimal(params["price"])
        bids, asks = self._books.get(params["symbol"], ([("100", "1000")], [("100", "1000")]))
        return Decimal((asks if params["side"] == "BUY" else bids)[0][0])

    def _apply_fill(self, symbol: str, signed_qty: Decimal, price: Decimal) -> None:
        pos = self._positions.setdefault(symbol, _Position())
        new = pos.amount + signed_qty
        if pos.amount == 0 or (pos.amount > 0) == (signed_qty > 0):
            pos.entry = (pos.entry * abs(pos.amount) + price * abs(signed_qty)) / abs(new)
        else:  # reducing: realise PnL on the closed part, the entry stays
            closed = min(abs(signed_qty), abs(pos.amount))
            self.wallet += closed * (price - pos.entry) * (1 if pos.amount > 0 else -1)
            if new != 0 and (new > 0) != (pos.amount > 0):
                pos.entry = price
        pos.amount = new
        if new == 0:
            pos.entry = Decimal(0)

    def _find(self, params: dict[str, str]) -> dict[str, Any] | None:
        if "orderId" in params:
            return self._orders.get(int(params["orderId"]))
        cid = params.get("origClientOrderId")
        return next(
            (o for o in self._orders.values() if o["clientOrderId"] == cid and o["symbol"] == params.get("symbol")),
            None,
        )

    async def _query_order(self, request: web.Request) -> web.Response:
        params = await self._signed(request)
        if isinstance(params, web.Response):
            return params
        order = self._find(params)
        if order is None:
            return _error(400, -2013, "Order does not exist.")
        return web.json_response(order)

    async def _cancel_order(self, request: web.Request) -> web.Response:
        params = await self._signed(request)
        if isinstance(params, web.Response):
            return params
        order = self._find(params)
        if order is None:
            return _error(400, -2011, "Unknown order sent.")
        if order["status"] in ("NEW", "PARTIALLY_FILLED"):
            order["status"] = "CANCELED"
        else:
            return _error(400, -2011, "Unknown order sent.")
        return web.json_response(order)

    async def _position_risk(self, request: web.Request) -> web.Response:
        params = await self._signed(request)
        if isinstance(params, web.Response):
            return params
        rows = []
        for symbol, pos in self._positions.items():
            if pos.amount == 0:
                continue
            mark = Decimal(self._funding.get(symbol, {}).get("markPrice", str(pos.entry)))
            rows.append(
                {
                    "symbol": symbol,
                    "positionSide": "BOTH",
                    "positionAmt": str(pos.amount),
                    "entryPrice": str(pos.entry),
                    "breakEvenPrice": str(pos.entry),
                    "markPrice": str(mark),
                    "unRealizedProfit": str((mark - pos.entry) * pos.amount),
                    "liquidationPrice": "0",
                    "isolatedMargin": "0",
                    "notional": str(mark * pos.amount),
                    "marginAsset": "USDT",
                    "isolatedWallet": "0",
                    "initialMargin": str(abs(mark * pos.amount) / 10),
                    "maintMargin": str(abs(mark * pos.amount) / 200),
                    "positionInitialMargin": str(abs(mark * pos.amount) / 10),
                    "openOrderInitialMargin": "0",
                    "adl": 1,
                    "bidNotional": "0",
                    "askNotional": "0",
                    "updateTime": _now_ms(),
                }
            )
        return web.json_response(rows)

    async def _balance(self, request: web.Request) -> web.Response:
        params = await self._signed(request)
        if isinstance(params, web.Response):
            return params
        wallet = str(self.wallet)
        return web.json_response(
            [
                {
                    "accountAlias": "fake",
                    "asset": "USDT",
                    "balance": wallet,
                    "crossWalletBalance": wallet,
                    "crossUnPnl": "0",
                    "availableBalance": wallet,
                    "maxWithdrawAmount": wallet,
                    "marginAvailable": True,
                    "updateTime": _now_ms(),
                }
            ]
        )


async def _cut(request: web.Request, body: bytes, truncated: bool) -> web.StreamResponse:
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    response.content_length = len(body)
    transport = request.transport
    if truncated:
        await response.prepare(request)
        await response.write(body[: len(body) // 2])
    if transport is not None:
        transport.close()
    return response


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _error(status: int, code: int, msg: str) -> web.Response:
    return web.Response(text=json.dumps({"code": code, "msg": msg}), status=status, content_type="application/json")


def _symbol(s: SymbolSpec) -> dict[str, Any]:
    """One ``exchangeInfo`` symbol, with the fields ccxt's ``parse_market`` reads."""
    return {
        "symbol": s.symbol,
        "pair": s.symbol,
        "contractType": "PERPETUAL",
        "deliveryDate": 4133404800000,
        "onboardDate": 1569398400000,
        "status": "TRADING",
        "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000",
        "baseAsset": s.base,
        "quoteAsset": "USDT",
        "marginAsset": "USDT",
        "pricePrecision": 4,
        "quantityPrecision": 3,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": [],
        "settlePlan": 0,
        "triggerProtect": "0.0500",
        "liquidationFee": "0.012500",
        "marketTakeBound": "0.05",
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": s.tick, "maxPrice": "1000000", "tickSize": s.tick},
            {"filterType": "LOT_SIZE", "stepSize": s.step, "minQty": s.min_qty, "maxQty": "1000000"},
            {"filterType": "MARKET_LOT_SIZE", "stepSize": s.step, "minQty": s.min_qty, "maxQty": "100000"},
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MIN_NOTIONAL", "notional": s.min_notional},
            {
                "filterType": "PERCENT_PRICE",
                "multiplierUp": "1.0500",
                "multiplierDown": "0.9500",
                "multiplierDecimal": "4",
            },
        ],
        "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET"],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
    }
