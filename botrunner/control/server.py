"""The control socket server: JSON lines on a Unix socket, answered by a blocking dispatcher.

The server runs on the process's one event loop (``botrunner.runtime.live_loop``, which also hosts every live bot's
Drift venue and ticker; it holds a lease on it while it serves), so synchronous code (the supervisor) just calls
``start()`` and ``stop()``. Each request is decoded once into its typed command (``protocol.parse_request``) and
runs the blocking ``dispatch`` in a bounded worker pool; the reply is sent within ``reply_timeout_s`` whatever the
dispatcher does. A misbehaving client — garbage, an overlong line, silence, too many connections, a subscriber that
does not read — gets an error line and/or a disconnect, and nothing else notices.

An operator can always get through: when ``max_clients`` connections are open, a new one is not refused while an
older one merely waits (for a request line, or as a subscriber): the one that has waited longest is closed to make
room (told ``busy``). Only when every connection is in the middle of a request is a newcomer answered ``busy``, and
a request is answered within ``reply_timeout_s``. A subscriber that stops reading is dropped within
``subscriber_stall_s`` (the kernel says how much it has not read yet), before its backlog costs memory.
"""

from __future__ import annotations

import array
import asyncio
import concurrent.futures
import contextlib
import enum
import os
import queue
import socket
import stat
import sys
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import assert_never

import structlog

from botrunner.control import check_socket_path
from botrunner.control.protocol import (
    ControlError,
    ErrorCode,
    ErrorReply,
    Request,
    RequestId,
    error_line,
    event_line,
    ok_line,
    parse_request,
)
from botrunner.core.operator import ControlCommand, Subscribe
from botrunner.runtime.live_loop import LIVE_LOOP, LiveLoop

Dispatch = Callable[[ControlCommand], object]
"""``dispatch(command) -> result`` (any value msgspec encodes): blocking; may raise ``ControlError``. Runs in a
worker thread. It is never given a ``Subscribe``: the server streams those itself through ``SubscribeTo``."""

Send = Callable[[object], None]
"""Hands one event (any value msgspec encodes) to a subscriber: callable from any thread, never blocks, never
raises."""

Unsubscribe = Callable[[], None]

SubscribeTo = Callable[[Send, Subscribe], Unsubscribe]
"""``subscribe(send, command) -> unsubscribe``: registers a listener for the command's bots.

``unsubscribe`` is called on the server's event loop when the client goes away: it must not block."""

_log = structlog.get_logger("botrunner.control")

_READ_CHUNK = 65536
_CLOSE_GRACE_S = 1.0
_STOP_GRACE_S = 0.2
_CHECK_TIMEOUT_S = 1.0
# Listen backlog: a burst of hundreds of `ctl` clients queues in the kernel instead of being refused.
_BACKLOG = 1024
_MESSAGE_CHARS = 200
_STALL_POLLS = 5  # checks of a subscriber's unread bytes per stall period

# os.umask is process-wide: serialise our own changes of it (other threads' files created during the bind get
# at most owner-only permissions, never wider ones).
_UMASK_LOCK = threading.Lock()


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether the caller runs on ``loop``'s thread (inside one of its callbacks or tasks)."""
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


class ControlServerError(Exception):
    """The server cannot start: another runner listens at the path, the path is not a socket, bind failed."""


class _Stop(enum.Enum):
    """Why reading a request line ended without a line."""

    EOF = "eof"
    IDLE = "idle"
    TOO_LONG = "too_long"


class _Phase(enum.Enum):
    """What a connection is doing: whether it may be closed to make room for a new one, and in which order."""

    WAITING = "waiting"  # for a request line: evicted first, the longest waiting first
    STREAMING = "streaming"  # a subscriber: evicted when no connection waits
    ANSWERING = "answering"  # a request is being answered (within reply_timeout_s): never evicted


class _Client:
    """One connection's bookkeeping for the admission rule."""

    __slots__ = ("evicted", "phase", "since", "writer")

    def __init__(self, writer: asyncio.StreamWriter, now: float) -> None:
        self.writer = writer
        self.phase = _Phase.WAITING
        self.since = now  # when it entered its phase
        self.evicted = False

    def enter(self, phase: _Phase, now: float) -> None:
        self.phase = phase
        self.since = now


def _unread_bytes(sock: socket.socket) -> int | None:
    """What the peer of ``sock`` has not read yet of what we sent (Linux ``SIOCOUTQ``); None where unsupported."""
    if not sys.platform.startswith("linux"):
        return None
    import fcntl
    import termios

    buf = array.array("i", [0])
    try:
        fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, buf)  # TIOCOUTQ is SIOCOUTQ on Linux
    except OSError:
        return None
    return buf[0]


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text if len(text) <= _MESSAGE_CHARS else text[: _MESSAGE_CHARS - 3] + "..."


class _Subscription:
    """One subscriber's bounded queue of encoded event lines, fed from any thread, drained by the event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, capacity: int) -> None:
        self._loop = loop
        self._capacity = capacity
        self._lock = threading.Lock()
        self._lines: deque[bytes] = deque()
        self._closed = False
        self.wake = asyncio.Event()
        self.overflowed = asyncio.Event()

    def send(self, event: object) -> None:
        """Queue ``event``; on a full queue, drop the subscriber instead of waiting (the publisher never blocks)."""
        try:
            # Encoded here, once: the line is an immutable snapshot, whatever the publisher does with the value.
            line = event_line(event)
        except (TypeError, ValueError) as exc:
            _log.warning("control_event_not_serializable", error=_short(exc))
            return
        with self._lock:
            if self._closed:
                return
            if len(self._lines) >= self._capacity:
                self._closed = True
                self._lines.clear()
                signal = self.overflowed.set
            else:
                self._lines.append(line)
                if len(self._lines) > 1:
                    return  # the writer was already woken for the first line and takes them all
                signal = self.wake.set
        with contextlib.suppress(RuntimeError):  # the loop is closed: the server has stopped
            self._loop.call_soon_threadsafe(signal)

    def take(self) -> list[bytes]:
        """All queued lines, oldest first."""
        with self._lock:
            lines = list(self._lines)
            self._lines.clear()
            return lines

    def close(self) -> None:
        """Turn later sends into no-ops."""
        with self._lock:
            self._closed = True
            self._lines.clear()


_Job = tuple[concurrent.futures.Future[object], Callable[[], object]]


class _Workers:
    """A fixed pool of daemon threads for the blocking dispatcher.

    Not ``ThreadPoolExecutor``: its threads are joined at interpreter exit, so one hung dispatcher call would
    keep the whole process from exiting. A call cancelled while still queued never runs."""

    def __init__(self, count: int) -> None:
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._count = count
        for i in range(count):
            threading.Thread(target=self._work, name=f"control-dispatch-{i}", daemon=True).start()

    def submit(self, fn: Callable[[], object]) -> concurrent.futures.Future[object]:
        """Run ``fn()`` on a worker; its future."""
        future: concurrent.futures.Future[object] = concurrent.futures.Future()
        self._queue.put((future, fn))
        return future

    def shutdown(self) -> None:
        """Cancel the queued calls and let each worker end after its current call."""
        with contextlib.suppress(queue.Empty):
            while True:
                item = self._queue.get_nowait()
                if item is not None:
                    item[0].cancel()
        for _ in range(self._count):
            self._queue.put(None)

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            future, fn = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = fn()
            except Exception as exc:
                future.set_exception(exc)
            except BaseException as exc:  # SystemExit and the like must not reach the event loop
                future.set_exception(RuntimeError(f"the dispatcher raised {type(exc).__name__}"))
            else:
                future.set_result(result)


class ControlServer:
    """Serve the control protocol on ``socket_path`` with ``dispatch`` and ``subscribe``.

    ``max_line_bytes``: longest request line (without its newline); ``idle_timeout_s``: time a client has to
    send a complete request line once the server waits for one (and to read its reply); ``reply_timeout_s``: a
    request's answer is sent within this time, a ``timeout`` error when the dispatcher has not returned;
    ``max_clients``: connections open at once (beyond it the longest-waiting one is closed to make room, or the
    newcomer is told ``busy`` when every one is being answered); ``workers``: dispatcher threads;
    ``subscriber_queue``: events a subscriber may be behind before it is disconnected; ``subscriber_stall_s``: how
    long a subscriber may leave what it was sent unread before it is disconnected.
    """

    def __init__(
        self,
        socket_path: Path | str,
        dispatch: Dispatch,
        subscribe: SubscribeTo,
        *,
        max_line_bytes: int = 65536,
        idle_timeout_s: float = 30.0,
        reply_timeout_s: float = 5.0,
        max_clients: int = 256,
        workers: int = 8,
        subscriber_queue: int = 1024,
        subscriber_stall_s: float = 5.0,
        live_loop: LiveLoop | None = None,
    ) -> None:
        path = Path(socket_path)
        check_socket_path(path)
        if max_line_bytes < 1 or max_clients < 1 or workers < 1 or subscriber_queue < 1:
            raise ValueError("max_line_bytes, max_clients, workers and subscriber_queue must be positive")
        if idle_timeout_s <= 0 or reply_timeout_s <= 0 or subscriber_stall_s <= 0:
            raise ValueError("idle_timeout_s, reply_timeout_s and subscriber_stall_s must be positive")
        self._path = path
        self._dispatch = dispatch
        self._subscribe = subscribe
        self.max_line_bytes = max_line_bytes
        self.idle_timeout_s = idle_timeout_s
        self.reply_timeout_s = reply_timeout_s
        self.max_clients = max_clients
        self._workers = workers
        self._subscriber_queue = subscriber_queue
        self.subscriber_stall_s = subscriber_stall_s
        self._live = live_loop if live_loop is not None else LIVE_LOOP
        self._serving: concurrent.futures.Future[None] | None = None  # the server's task on the live loop
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._pool: _Workers | None = None
        self._inode: int | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._clients: dict[asyncio.Task[None], _Client] = {}  # admitted connections, evicted ones until they end
        self.evictions = 0  # connections closed to make room for a new one

    @property
    def socket_path(self) -> Path:
        """Where the server listens."""
        return self._path

    @property
    def client_count(self) -> int:
        """Connections being served now (those answered ``busy`` or evicted are not counted)."""
        return sum(not c.evicted for c in self._clients.values())

    def __enter__(self) -> ControlServer:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- lifecycle (caller's thread) ------------------------------------------------------------------------------

    def start(self) -> None:
        """Bind the socket (mode 0600), then serve from the live loop. Raises ``ControlServerError``."""
        if self._serving is not None:
            raise RuntimeError("the control server is already started")
        self._path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._remove_stale_socket()
        sock = self._bind()
        self._pool = _Workers(self._workers)
        ready = threading.Event()
        failure: list[BaseException] = []
        self._live.acquire()  # the loop runs while we serve, whether or not any live bot does

        async def serve() -> None:
            await self._run(sock, ready, failure)

        self._serving = self._live.spawn(serve, lambda _: None)
        ready.wait()
        if failure:
            with contextlib.suppress(Exception):
                self._serving.result()
            self._serving = None
            self._live.release()
            sock.close()
            self._pool.shutdown()
            self._pool = None
            self._unlink_own_socket()
            raise ControlServerError(f"cannot serve on {self._path}: {_short(failure[0])}") from failure[0]
        _log.info("control_listening", socket=str(self._path))

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop accepting, close every client, remove the socket file. Idempotent; not from the loop's thread.

        Replies not yet sent are dropped: to answer ``shutdown`` first, call this after ``dispatch`` returned
        (from the supervisor's own thread), not from inside ``dispatch``."""
        serving, loop, stopping = self._serving, self._loop, self._stopping
        if serving is None:
            return
        if loop is not None and loop.is_running() and _on_loop(loop):
            raise RuntimeError("ControlServer.stop() called from the server's own thread")
        if loop is not None and stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(stopping.set)
        with contextlib.suppress(Exception):  # a server that does not end in time is abandoned, as before
            serving.result(timeout_s)
        if self._pool is not None:
            # A dispatcher call still running is abandoned; queued ones never run.
            self._pool.shutdown()
            self._pool = None
        self._unlink_own_socket()
        self._serving = None
        self._live.release()
        _log.info("control_stopped", socket=str(self._path))

    def _remove_stale_socket(self) -> None:
        try:
            st = os.lstat(self._path)
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(st.st_mode):
            raise ControlServerError(f"{self._path} exists and is not a socket; not replacing it")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.settimeout(_CHECK_TIMEOUT_S)
        try:
            probe.connect(str(self._path))
        except (ConnectionRefusedError, FileNotFoundError):
            _log.info("control_stale_socket_removed", socket=str(self._path))
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._path)
            return
        except TimeoutError:
            # The backlog is full: something is alive there, only slow.
            raise ControlServerError(f"a runner is already listening at {self._path}") from None
        except OSError as exc:
            raise ControlServerError(f"cannot check the existing socket {self._path}: {exc}") from exc
        finally:
            probe.close()
        raise ControlServerError(f"a runner is already listening at {self._path}")

    def _bind(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with _UMASK_LOCK:
                # The socket file is born owner-only: no moment where another user could connect.
                previous = os.umask(0o077)
                try:
                    sock.bind(str(self._path))
                finally:
                    os.umask(previous)
            os.chmod(self._path, 0o600)
            self._inode = os.stat(self._path).st_ino
            sock.listen(_BACKLOG)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            raise ControlServerError(f"cannot listen on {self._path}: {exc}") from exc
        return sock

    def _unlink_own_socket(self) -> None:
        # Only the file we bound: a newer runner may have replaced a socket we no longer serve.
        try:
            if self._inode is not None and os.stat(self._path).st_ino == self._inode:
                os.unlink(self._path)
        except FileNotFoundError:
            pass
        self._inode = None

    # -- on the live loop -------------------------------------------------------------------------------

    async def _run(self, sock: socket.socket, ready: threading.Event, failure: list[BaseException]) -> None:
        try:
            await self._main(sock, ready)
        except BaseException as exc:  # a failure before ``ready`` is the caller's to raise
            if not ready.is_set():
                failure.append(exc)
                ready.set()
            else:
                _log.exception("control_server_crashed")

    async def _main(self, sock: socket.socket, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        server = await asyncio.start_unix_server(self._on_connect, sock=sock, limit=_READ_CHUNK, backlog=_BACKLOG)
        ready.set()
        try:
            await self._stopping.wait()
        finally:
            server.close()
            await self._close_all()

    async def _close_all(self) -> None:
        tasks = list(self._connections)
        for task in tasks:
            task.cancel()
        # Closing the transports too: on Python 3.11 wait_for can swallow a cancellation (gh-86296), and a
        # closed transport ends the handler's read with EOF whatever state the handler is in.
        for writer in list(self._writers):
            writer.close()
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=_STOP_GRACE_S * 2)
            for writer in list(self._writers):
                writer.transport.abort()
            if pending:
                await asyncio.wait(pending, timeout=_STOP_GRACE_S * 2)

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        self._writers.add(writer)
        try:
            client = self._admit(writer)
            if client is None:
                message = f"too many clients (limit {self.max_clients}), each being answered; try again shortly"
                writer.write(error_line(ErrorReply(None, ErrorCode.BUSY, message)))
                return
            self._clients[task] = client
            try:
                await self._serve(client, reader, writer)
            finally:
                del self._clients[task]
        except asyncio.CancelledError:
            pass  # the server is stopping
        except Exception:
            _log.exception("control_connection_failed")
        finally:
            self._connections.discard(task)
            try:
                await self._close(writer, _STOP_GRACE_S if self._is_stopping() else _CLOSE_GRACE_S)
            finally:
                self._writers.discard(writer)

    def _admit(self, writer: asyncio.StreamWriter) -> _Client | None:
        """A new connection's bookkeeping, after closing the longest-waiting connection if it takes its place;
        None when every connection is being answered (the newcomer is told ``busy``)."""
        now = asyncio.get_running_loop().time()
        open_clients = [c for c in self._clients.values() if not c.evicted]
        if len(open_clients) >= self.max_clients:
            victims = [c for c in open_clients if c.phase is _Phase.WAITING] or [
                c for c in open_clients if c.phase is _Phase.STREAMING
            ]
            if not victims:
                _log.warning("control_client_busy", clients=len(open_clients))
                return None
            victim = min(victims, key=lambda c: c.since)
            self._evict(victim, now)
        return _Client(writer, now)

    def _evict(self, client: _Client, now: float) -> None:
        """Close ``client`` to make room: say why, then close its transport (its reader sees the end and its
        handler finishes as for any client that left)."""
        client.evicted = True
        self.evictions += 1
        _log.info("control_client_evicted", phase=client.phase.value, waited_s=round(now - client.since, 3))
        message = (
            f"too many clients (limit {self.max_clients}): this {client.phase.value} connection was closed to make room"
        )
        if not client.writer.is_closing():
            client.writer.write(error_line(ErrorReply(None, ErrorCode.BUSY, message)))
            client.writer.close()

    def _is_stopping(self) -> bool:
        return self._stopping is not None and self._stopping.is_set()

    async def _serve(self, client: _Client, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        buf = bytearray()
        while not self._is_stopping() and not client.evicted:
            client.enter(_Phase.WAITING, loop.time())
            got = await self._read_line(reader, buf)
            if client.evicted:
                return
            match got:
                case bytes():
                    pass
                case _Stop.EOF:
                    return
                case _Stop.IDLE:
                    message = f"no complete request line within {self.idle_timeout_s:g} s; closing"
                    writer.write(error_line(ErrorReply(None, ErrorCode.TIMEOUT, message)))
                    return
                case _Stop.TOO_LONG:
                    _log.debug("control_line_too_long", limit=self.max_line_bytes)
                    message = f"request line longer than {self.max_line_bytes} bytes; closing"
                    writer.write(error_line(ErrorReply(None, ErrorCode.LINE_TOO_LONG, message)))
                    return
                case unreachable:
                    assert_never(unreachable)
            client.enter(_Phase.ANSWERING, loop.time())
            parsed = parse_request(got)
            if isinstance(parsed, ErrorReply):
                reply = error_line(parsed)
            elif isinstance(parsed.args, Subscribe):
                await self._serve_subscriber(client, parsed.id, parsed.args, reader, writer)
                return
            else:
                reply = await self._answer(parsed)
            if not await self._send(writer, reply):
                return

    async def _read_line(self, reader: asyncio.StreamReader, buf: bytearray) -> bytes | _Stop:
        """The next line (without its newline); the whole line must arrive within ``idle_timeout_s``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.idle_timeout_s
        scanned = 0
        while True:
            found = self._take_line(buf, scanned)
            if found is not None:
                return found
            scanned = len(buf)
            remaining = deadline - loop.time()
            if remaining <= 0:
                return _Stop.IDLE
            try:
                chunk = await asyncio.wait_for(reader.read(_READ_CHUNK), remaining)
            except TimeoutError:
                return _Stop.IDLE
            except OSError:
                return _Stop.EOF
            if not chunk:
                return _Stop.EOF  # a partial last line without its newline is not a request
            buf += chunk

    def _take_line(self, buf: bytearray, scanned: int) -> bytes | _Stop | None:
        """The first whole line in ``buf`` (taken out of it; the newline is searched from ``scanned`` on), TOO_LONG
        for a line over ``max_line_bytes``, or None to read more."""
        newline = buf.find(b"\n", scanned)
        if newline >= 0:
            if newline > self.max_line_bytes:
                return _Stop.TOO_LONG
            line = bytes(buf[:newline])
            del buf[: newline + 1]
            return line
        if len(buf) > self.max_line_bytes:
            return _Stop.TOO_LONG  # never buffer more than one line's worth plus one read
        return None

    async def _send(self, writer: asyncio.StreamWriter, line: bytes) -> bool:
        """Write ``line``; False when the client is gone or has not read it within ``idle_timeout_s``."""
        if writer.is_closing():
            return False
        writer.write(line)
        try:
            await asyncio.wait_for(writer.drain(), self.idle_timeout_s)
        except TimeoutError:
            _log.debug("control_client_not_reading")
            return False
        except OSError:
            return False
        return True

    async def _close(self, writer: asyncio.StreamWriter, grace_s: float) -> None:
        try:
            if not writer.is_closing():
                writer.close()
            await asyncio.wait_for(writer.wait_closed(), grace_s)
        except asyncio.CancelledError:
            writer.transport.abort()
            raise
        except Exception:
            # Unflushed output to a client that does not read: drop it rather than hold the connection.
            writer.transport.abort()

    def _submit(self, fn: Callable[[], object]) -> concurrent.futures.Future[object]:
        assert self._pool is not None
        return self._pool.submit(fn)

    async def _answer(self, request: Request) -> bytes:
        """The reply line to ``request``, within ``reply_timeout_s``."""
        command = request.args
        cmd = command.cmd
        future = self._submit(lambda: self._dispatch(command))
        try:
            result = await asyncio.wait_for(asyncio.wrap_future(future), self.reply_timeout_s)
        except TimeoutError:
            # Still queued: cancelled, it never runs. Already running: it may yet complete, and we say so.
            message = f"{cmd}: no answer within {self.reply_timeout_s:g} s (the command may still complete)"
            _log.warning("control_dispatch_timeout", cmd=cmd, timeout_s=self.reply_timeout_s)
            return self._error(request.id, ErrorCode.TIMEOUT, message)
        except ControlError as exc:
            return self._error(request.id, exc.code, exc.message)
        except Exception as exc:
            _log.exception("control_dispatch_failed", cmd=cmd)
            return self._error(request.id, ErrorCode.INTERNAL, f"{cmd}: internal error: {_short(exc)}")
        try:
            return ok_line(request.id, result)
        except (TypeError, ValueError) as exc:
            _log.error("control_result_not_serializable", cmd=cmd, error=_short(exc))
            return self._error(request.id, ErrorCode.INTERNAL, f"{cmd}: the result is not JSON-serializable")

    @staticmethod
    def _error(rid: RequestId | None, code: ErrorCode, message: str) -> bytes:
        return error_line(ErrorReply(rid, code, message))

    async def _serve_subscriber(
        self,
        client: _Client,
        rid: RequestId,
        command: Subscribe,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        """Register a listener, reply ok, then stream its events until the client goes, falls behind or stops
        reading."""
        sub = _Subscription(asyncio.get_running_loop(), self._subscriber_queue)
        future = self._submit(lambda: self._subscribe(sub.send, command))
        unsubscribe: Unsubscribe | None = None
        try:
            try:
                registered = await asyncio.wait_for(asyncio.wrap_future(future), self.reply_timeout_s)
            except TimeoutError:
                message = f"subscribe: no answer within {self.reply_timeout_s:g} s"
                await self._send(writer, self._error(rid, ErrorCode.TIMEOUT, message))
                return
            except ControlError as exc:
                await self._send(writer, self._error(rid, exc.code, exc.message))
                return
            except Exception as exc:
                _log.exception("control_subscribe_failed")
                message = f"subscribe: internal error: {_short(exc)}"
                await self._send(writer, self._error(rid, ErrorCode.INTERNAL, message))
                return
            assert callable(registered), registered  # SubscribeTo returns its unsubscribe
            unsubscribe = registered
            client.enter(_Phase.STREAMING, asyncio.get_running_loop().time())
            if await self._send(writer, ok_line(rid, {"bots": command.bots})):
                await self._stream(sub, reader, writer)
        finally:
            sub.close()
            if unsubscribe is not None:
                self._unsubscribe(unsubscribe)
            else:
                # A registration that completes after we gave up is undone as soon as it returns.
                future.cancel()
                future.add_done_callback(self._undo_late_subscription)

    @staticmethod
    def _unsubscribe(unsubscribe: Unsubscribe) -> None:
        try:
            unsubscribe()
        except Exception:
            _log.exception("control_unsubscribe_failed")

    @classmethod
    def _undo_late_subscription(cls, future: concurrent.futures.Future[object]) -> None:
        if not future.cancelled() and future.exception() is None:
            result = future.result()
            if callable(result):
                cls._unsubscribe(result)

    async def _stream(self, sub: _Subscription, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        pump = asyncio.create_task(self._pump(sub, writer))
        gone = asyncio.create_task(self._discard_until_eof(reader))
        overflow = asyncio.create_task(sub.overflowed.wait())
        stalled = asyncio.create_task(self._until_stalled(writer))
        tasks = (pump, gone, overflow, stalled)
        try:
            done, _pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if overflow in done:
            _log.warning("control_subscriber_overflow", queue=self._subscriber_queue)
            message = f"subscriber fell more than {self._subscriber_queue} events behind; disconnecting"
        elif stalled in done or (pump in done and not pump.cancelled() and isinstance(pump.exception(), TimeoutError)):
            _log.warning("control_subscriber_stalled", stall_s=self.subscriber_stall_s)
            message = f"subscriber read nothing of its events for {self.subscriber_stall_s:g} s; disconnecting"
        else:
            if pump in done and not pump.cancelled():
                failure = pump.exception()
                if failure is not None and not isinstance(failure, OSError):
                    _log.error("control_stream_failed", error=_short(failure))
            return
        if not writer.is_closing():
            writer.write(self._error(None, ErrorCode.OVERFLOW, message))

    async def _pump(self, sub: _Subscription, writer: asyncio.StreamWriter) -> None:
        while True:
            await sub.wake.wait()
            sub.wake.clear()
            for line in sub.take():
                writer.write(line)
            # A subscriber that reads nothing for this long is dropped (TimeoutError ends the stream). Not
            # wait_for: on Python 3.11 it can swallow the cancellation that ends the stream (gh-86296).
            async with asyncio.timeout(self.subscriber_stall_s):
                await writer.drain()

    async def _until_stalled(self, writer: asyncio.StreamWriter) -> None:
        """Return once the subscriber has left what it was sent unread, without reading any of it, for
        ``subscriber_stall_s``; never, where the kernel cannot tell (the pump's drain deadline still applies)."""
        sock = writer.get_extra_info("socket")
        loop = asyncio.get_running_loop()
        poll_s = self.subscriber_stall_s / _STALL_POLLS
        stuck_since: float | None = None
        last = 0
        while True:
            await asyncio.sleep(poll_s)
            unread = _unread_bytes(sock) if sock is not None else None
            if unread is None:
                await asyncio.Event().wait()  # cannot tell: wait to be cancelled
                return
            if unread == 0 or unread < last:
                stuck_since = None  # it read something since the last look
            elif stuck_since is None:
                stuck_since = loop.time()
            elif loop.time() - stuck_since >= self.subscriber_stall_s - poll_s:
                return
            last = unread

    @staticmethod
    async def _discard_until_eof(reader: asyncio.StreamReader) -> None:
        # A subscriber only listens; what it sends is read (to notice it leaving) and dropped.
        with contextlib.suppress(OSError):
            while await reader.read(_READ_CHUNK):
                pass
