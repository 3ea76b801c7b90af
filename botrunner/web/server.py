"""The dashboard ``botrunner run`` serves itself: the page, its static assets, the WebSocket and ``/metrics``, on
aiohttp in one thread with its own event loop (the fleet's actors never wait for it).

Every request — page, asset, WebSocket, metrics — must carry the access token (``?token=`` or
``Authorization: Bearer``), compared in constant time; without it the answer is 401 and nothing else. Commands go
to the runner's one ``dispatch`` (in a small thread pool: it may wait up to 4 s for a busy actor), broadcasts come
from the status board (polled every ``POLL_S``: a dictionary read) and the event hub. Each client has a bounded
queue: a client that falls ``QUEUE_LIMIT`` messages behind, or whose socket does not take a message within
``SEND_TIMEOUT_S``, is dropped (close code 1008) so it never slows the fleet or the other clients.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hmac
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final

import msgspec
import structlog
from aiohttp import WSMsgType, web

from botrunner.core.operator import ControlCommand
from botrunner.logsetup import scrub
from botrunner.runtime.hub import EventHub, StatusBoard
from botrunner.runtime.snapshots import BotEvent, BotSnapshot, FundingEvent, Result
from botrunner.web.fleet import FleetView
from botrunner.web.protocol import (
    ACCEPT_AFTER_S,
    MAX_MESSAGE_BYTES,
    Broadcast,
    CommandFailed,
    CommandId,
    CommandResult,
    ParseError,
    WsError,
    encode,
    failure,
    needs_confirmation,
    parse_command,
    to_command,
)

POLL_S: Final = 0.05  # the status board is read this often: a change is broadcast well within 500 ms
HEARTBEAT_S: Final = 2.0
QUEUE_LIMIT: Final = 1024  # messages a client may be behind before it is dropped
SEND_TIMEOUT_S: Final = 5.0
DEDUP_IDS: Final = 10_000  # command ids remembered (their first answer is replayed to a repeat)
STATIC_FILES: Final = {
    "dashboard.js": "application/javascript",
    "dashboard.css": "text/css",
    "uPlot.iife.min.js": "application/javascript",
    "uPlot.min.css": "text/css",
}
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:;"
    " base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

Dispatch = Callable[[ControlCommand], Result]


class DashboardError(Exception):
    """The dashboard cannot start (a bad host/port/token combination, a port in use); the message says which."""


@dataclass(frozen=True)
class DashboardOptions:
    host: str = "127.0.0.1"
    port: int = 8765  # 0: any free port (tests)
    token: str = ""  # required
    allow_remote: bool = False


def is_loopback(host: str) -> bool:
    return host in ("127.0.0.1", "::1", "localhost") or host.startswith("127.")


class _Client:
    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize=QUEUE_LIMIT)
        self.dropped = False


class DashboardServer:
    """See the module's docstring. ``start`` returns once the port is bound (or raises ``DashboardError``)."""

    def __init__(
        self,
        options: DashboardOptions,
        *,
        dispatch: Dispatch,
        board: StatusBoard,
        hub: EventHub,
        detail: Callable[[str], BotSnapshot | None],
        metrics_text: Callable[[], bytes] | None = None,
    ) -> None:
        if not options.token:
            raise DashboardError("the dashboard needs an access token")
        if not is_loopback(options.host) and not options.allow_remote:
            raise DashboardError(
                f"--ui-host {options.host} is not a loopback address: pass --ui-allow-remote and set "
                "BOTRUNNER_UI_TOKEN to a token of at least 32 characters (and put TLS in front of it)"
            )
        self.options = options
        self._dispatch = dispatch
        self._hub = hub
        self._metrics_text = metrics_text
        self.fleet = FleetView(board, detail)
        self._log = structlog.get_logger("dashboard")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="dashboard-cmd")
        self._clients: set[_Client] = set()
        self._results: collections.OrderedDict[CommandId, asyncio.Future[CommandResult]] = collections.OrderedDict()
        self._unsubscribe: Callable[[], None] | None = None
        self._stopping = False
        self._broadcaster: asyncio.Task[None] | None = None
        self.port = options.port
        self.dropped_clients = 0

    # -------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        host = f"[{self.options.host}]" if ":" in self.options.host else self.options.host
        return f"http://{host}:{self.port}/?token={self.options.token}"

    @property
    def client_count(self) -> int:
        return len(self._clients)

    def start(self) -> None:
        ready = threading.Event()
        error: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._serve())
            except BaseException as exc:  # reported to start()'s caller
                error.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._close())
            loop.close()

        self._thread = threading.Thread(target=run, name="dashboard", daemon=True)
        self._thread.start()
        ready.wait(30)
        if error:
            exc = error[0]
            raise DashboardError(
                f"the dashboard cannot listen on {self.options.host}:{self.options.port}: "
                f"{getattr(exc, 'strerror', None) or exc}"
            ) from exc
        self._unsubscribe = self._hub.subscribe(self._on_event)

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            self._stopping = True
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def _serve(self) -> None:
        app = web.Application(middlewares=[self._auth], client_max_size=MAX_MESSAGE_BYTES)
        app.router.add_get("/", self._index)
        app.router.add_get("/static/{name}", self._static)
        app.router.add_get("/ws", self._ws)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.options.host, self.options.port, reuse_address=True)
        await site.start()
        # aiohttp exposes the bound port (asked for port 0) only through the site's server
        sockets = getattr(site._server, "sockets", None)
        if sockets:
            self.port = sockets[0].getsockname()[1]
        self._broadcaster = asyncio.get_running_loop().create_task(self._broadcast_loop())

    async def _close(self) -> None:
        if self._broadcaster is not None:
            self._broadcaster.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._broadcaster
        for client in list(self._clients):
            with contextlib.suppress(Exception):
                await client.ws.close(code=1001, message=b"server shutting down")
        if self._runner is not None:
            await self._runner.cleanup()

    # -------------------------------------------------------------- HTTP

    def _authorised(self, request: web.Request) -> bool:
        given = request.query.get("token", "")
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            given = header[len("Bearer ") :]
        return hmac.compare_digest(given.encode(), self.options.token.encode())

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if not self._authorised(request):
            return web.Response(status=401, text="401: a valid token is required (?token= or Authorization: Bearer)")
        response: web.StreamResponse = await handler(request)
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("Referrer-Policy", "no-referrer")  # the token is in the URL
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    async def _index(self, _request: web.Request) -> web.Response:
        html = _asset("dashboard.html").decode().replace("__TOKEN__", _url_quote(self.options.token))
        return web.Response(text=html, content_type="text/html", headers={"Content-Security-Policy": _CSP})

    async def _static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        kind = STATIC_FILES.get(name)
        if kind is None:
            raise web.HTTPNotFound()
        return web.Response(body=_asset(name), content_type=kind)

    async def _metrics(self, _request: web.Request) -> web.Response:
        if self._metrics_text is None:
            raise web.HTTPNotFound()
        body = await asyncio.get_running_loop().run_in_executor(self._pool, self._metrics_text)
        return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})

    # -------------------------------------------------------------- WebSocket

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        # no per-message deflate: each client would compress every broadcast again, for messages of a few hundred bytes
        ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=MAX_MESSAGE_BYTES, compress=False)
        await ws.prepare(request)
        client = _Client(ws)
        # the snapshot first, then the stream: queued in the same loop turn as the client joins, so nothing between
        client.queue.put_nowait(_text(Broadcast("SNAPSHOT", self.fleet.snapshot())))
        self._clients.add(client)
        sender = asyncio.get_running_loop().create_task(self._send_loop(client))
        try:
            async for message in ws:
                if message.type is WSMsgType.TEXT:
                    asyncio.get_running_loop().create_task(self._command(client, message.data))
                elif message.type is WSMsgType.BINARY:
                    self._reply(client, failure(None, WsError.BAD_JSON.value, "commands are JSON text messages"))
                elif message.type is WSMsgType.ERROR:
                    break
        finally:
            self._clients.discard(client)
            sender.cancel()
        return ws

    async def _send_loop(self, client: _Client) -> None:
        try:
            while True:
                text = await client.queue.get()
                await asyncio.wait_for(client.ws.send_str(text), SEND_TIMEOUT_S)
        except (TimeoutError, ConnectionError, RuntimeError):
            await self._drop(client, "too slow: it did not take a message within 5 s")

    def _put(self, client: _Client, text: str) -> None:
        if client.dropped:
            return
        try:
            client.queue.put_nowait(text)
        except asyncio.QueueFull:
            asyncio.get_running_loop().create_task(self._drop(client, f"too slow: {QUEUE_LIMIT} messages behind"))

    async def _drop(self, client: _Client, why: str) -> None:
        if client.dropped:
            return
        client.dropped = True
        self.dropped_clients += 1
        self._clients.discard(client)
        self._log.warning("dashboard_client_dropped", why=why)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.ws.close(code=1008, message=why.encode()[:120]), 1.0)

    def _reply(self, client: _Client, result: CommandResult) -> None:
        self._put(client, _text(result))

    async def _command(self, client: _Client, raw: str) -> None:
        try:
            ident, envelope = parse_command(raw)
        except ParseError as exc:
            self._reply(client, failure(exc.ident, exc.code, exc.message))
            return
        if ident is None:  # parse_command gives an id or raises; this keeps the type checker in step
            return
        first = self._results.get(ident)
        if first is None:
            first = asyncio.get_running_loop().create_future()
            self._results[ident] = first
            while len(self._results) > DEDUP_IDS:
                self._results.popitem(last=False)
            asyncio.get_running_loop().create_task(self._execute(ident, envelope, first))
        # a repeated id is answered from the first result (never executed twice), waiting for it if it runs still
        try:
            result = await asyncio.wait_for(asyncio.shield(first), ACCEPT_AFTER_S)
        except TimeoutError:
            self._reply(client, CommandResult(id=ident, ok=True, status="accepted"))
            result = await first
        self._reply(client, result)

    async def _execute(self, ident: CommandId, envelope: Any, done: asyncio.Future[CommandResult]) -> None:
        try:
            if needs_confirmation(envelope, self.fleet.usd_price, self.fleet.held):
                raise CommandFailed(
                    WsError.CONFIRMATION_REQUIRED.value,
                    f'{envelope.__struct_config__.tag}: above $100 it needs the page\'s confirm step ("confirm": true)',
                )
            try:
                command = to_command(envelope)
            except (ValueError, msgspec.ValidationError) as exc:
                raise CommandFailed(WsError.BAD_ARGS.value, str(exc)) from None
            answer = await asyncio.get_running_loop().run_in_executor(self._pool, self._dispatch, command)
            result = CommandResult(id=ident, ok=True, status="done", result=msgspec.to_builtins(answer))
        except CommandFailed as exc:
            result = failure(ident, exc.code, scrub(exc.message))
        except Exception as exc:  # a bug: answered, logged, the server keeps serving
            self._log.exception("dashboard_command_failed", id=str(ident))
            result = failure(ident, WsError.INTERNAL.value, f"internal error: {type(exc).__name__}")
        done.set_result(result)
        if result.ok:
            self.fleet.touch()  # re-read the details soon: the command may have changed them

    # -------------------------------------------------------------- broadcasts

    def _on_event(self, event: BotEvent) -> None:
        """Hub listener (a bot's thread): hand the event to the loop and return at once."""
        loop = self._loop
        if loop is not None and not self._stopping:
            loop.call_soon_threadsafe(self._event_in_loop, event)

    def _event_in_loop(self, event: BotEvent) -> None:
        self.fleet.record_event(event)
        self._fan_out(Broadcast("BOT_EVENT", msgspec.to_builtins(event)))
        if isinstance(event, FundingEvent):
            self._fan_out(Broadcast("FUNDING_UPDATE", self.fleet.funding_update(event)))

    def _fan_out(self, message: Broadcast) -> None:
        text = _text(message)
        for client in list(self._clients):
            self._put(client, text)

    async def _broadcast_loop(self) -> None:
        loop = asyncio.get_running_loop()
        refreshing: set[str] = set()
        beat = 0.0
        while True:
            await asyncio.sleep(POLL_S)
            now = time.monotonic()
            if now - beat >= HEARTBEAT_S:  # lets a page tell a quiet fleet from a dead connection
                beat = now
                self._fan_out(Broadcast("HEARTBEAT", {"time": time.time()}))
            try:
                for status in self.fleet.changed():
                    self._fan_out(Broadcast("ENGINE_STATUS", status))
                for name in self.fleet.details_due(time.monotonic()):
                    if name not in refreshing:
                        refreshing.add(name)
                        future = loop.run_in_executor(self._pool, self.fleet.fetch_detail, name)
                        future.add_done_callback(_discarder(refreshing, name))
            except Exception:  # one bad row must not end the broadcasts
                self._log.exception("dashboard_broadcast_failed")


def _discarder(names: set[str], name: str) -> Callable[[object], None]:
    return lambda _future: names.discard(name)


def _asset(name: str) -> bytes:
    return resources.files("botrunner.web_static").joinpath(name).read_bytes()


def _url_quote(token: str) -> str:
    from urllib.parse import quote

    return quote(token, safe="")


def _text(message: CommandResult | Broadcast) -> str:
    return scrub(encode(message))  # no key, RPC URL secret or token ever in a message
