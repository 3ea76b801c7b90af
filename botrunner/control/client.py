"""A blocking client of the control socket (what ``botrunner ctl`` uses).

``ControlClient(path).call(Pause(name="sol-grid"), BotState)`` sends the typed command and returns its result
decoded as the given type, or raises: ``ClientError`` when the runner answered with an error (its code and
message), ``ConnectionFailed`` when there was no usable answer (no runner listening, timeout, connection closed, a
reply that is not the protocol's or not of the expected type).
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import TypeVar

import msgspec

from botrunner.control import SocketPathError, check_socket_path
from botrunner.control.protocol import (
    Event,
    ProtocolError,
    Reply,
    RequestId,
    parse_server_line,
    request_line,
)
from botrunner.core.operator import ControlCommand, Subscribe

T = TypeVar("T")

_READ_CHUNK = 65536
# A status of a large fleet is big, but a reply that never ends is a broken server: stop somewhere.
_MAX_REPLY_BYTES = 64 * 1024 * 1024
_BACKLOG_RETRY_S = 0.01


class ClientError(Exception):
    """The runner answered with an error reply."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class ConnectionFailed(Exception):
    """No usable answer from the runner: nothing listening, a timeout, a closed connection, a malformed reply."""


class _Lines:
    """A connected socket read line by line, each line within a deadline."""

    def __init__(self, sock: socket.socket, path: Path) -> None:
        self.sock = sock
        self.path = path
        self._buf = bytearray()

    def send(self, data: bytes, deadline: float | None) -> None:
        try:
            self.sock.settimeout(_remaining(deadline, self.path))
            self.sock.sendall(data)
        except TimeoutError:
            raise ConnectionFailed(f"timed out sending to {self.path}") from None
        except (BrokenPipeError, ConnectionResetError):
            # The server hung up first (e.g. busy): what it said before closing is still there to read.
            pass
        except OSError as exc:
            raise ConnectionFailed(f"lost the connection to {self.path}: {exc}") from exc

    def read(self, deadline: float | None) -> bytes | None:
        """The next line without its newline; None when the runner closed the connection."""
        scanned = 0
        while True:
            newline = self._buf.find(b"\n", scanned)
            if newline >= 0:
                line = bytes(self._buf[:newline])
                del self._buf[: newline + 1]
                return line
            if len(self._buf) > _MAX_REPLY_BYTES:
                raise ConnectionFailed(f"a line from {self.path} is longer than {_MAX_REPLY_BYTES} bytes")
            scanned = len(self._buf)
            try:
                self.sock.settimeout(_remaining(deadline, self.path))
                chunk = self.sock.recv(_READ_CHUNK)
            except TimeoutError:
                raise ConnectionFailed(f"no answer from {self.path} in time") from None
            except OSError as exc:
                raise ConnectionFailed(f"lost the connection to {self.path}: {exc}") from exc
            if not chunk:
                return None
            self._buf += chunk

    def close(self) -> None:
        self.sock.close()

    def ended_by_server(self) -> bool:
        """Whether the server has already spoken or hung up on this idle connection (it closes one that waited
        too long or that makes room for a newer client, with one line saying so): such a connection is not
        reused."""
        if self._buf:
            return True
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return True  # closed here already
        return bool(readable)  # a line or the end of the stream is waiting: the server has finished with it


def _remaining(deadline: float | None, path: Path) -> float | None:
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise ConnectionFailed(f"no answer from {path} in time")
    return left


def _parse(line: bytes, path: Path) -> Reply | Event:
    try:
        return parse_server_line(line)
    except ProtocolError as exc:
        raise ConnectionFailed(f"unexpected line from {path}: {exc}") from exc


class ControlClient:
    """A connection to the runner's control socket, opened on first use and reused by later calls.

    ``timeout_s`` bounds each call (connect, send, reply). It is larger than the server's 5 s reply timeout so
    that a slow command gets the server's own ``timeout`` answer rather than a client-side one."""

    def __init__(self, socket_path: Path | str, timeout_s: float = 10.0) -> None:
        self.socket_path = Path(socket_path)
        self.timeout_s = timeout_s
        self._conn: _Lines | None = None
        self._next_id = 1

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _exc: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (a later call opens a new one)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def call(self, command: ControlCommand, result: type[T]) -> T:
        """Send ``command``; its result, decoded as ``result`` (``msgspec.Raw`` keeps the JSON as it came). Raises
        ``ClientError`` or ``ConnectionFailed``."""
        raw = self.call_raw(command)
        try:
            return msgspec.json.decode(raw, type=result)
        except msgspec.DecodeError as exc:
            raise ConnectionFailed(f"unexpected answer to {command.cmd} from {self.socket_path}: {exc}") from exc

    def call_raw(self, command: ControlCommand) -> msgspec.Raw:
        """Send ``command``; its result as the JSON the runner sent. Raises ``ClientError`` or ``ConnectionFailed``."""
        deadline = time.monotonic() + self.timeout_s
        if self._conn is not None and self._conn.ended_by_server():
            self.close()  # a reused connection the server closed meanwhile: a new one for this call
        if self._conn is None:
            self._conn = self._connect(deadline)
        conn = self._conn
        rid = self._take_id()
        try:
            conn.send(request_line(rid, command), deadline)
            return self._await_reply(conn, rid, deadline)
        except ConnectionFailed:
            self.close()
            raise
        except ClientError as exc:
            if exc.code in ("busy", "line_too_long", "timeout") and self._conn is conn:
                self.close()  # the server may have closed this connection after that answer
            raise

    def events(self, command: Subscribe | None = None) -> Iterator[msgspec.Raw]:
        """Subscribe (``command``: to its bots only; None: all) on a connection of its own; yield each event's JSON
        object until the runner closes the stream. Raises ``ClientError`` when refused or dropped (``overflow``)."""
        deadline = time.monotonic() + self.timeout_s
        conn = self._connect(deadline)
        try:
            rid = self._take_id()
            conn.send(request_line(rid, command or Subscribe()), deadline)
            self._await_reply(conn, rid, deadline)
            while True:
                line = conn.read(None)
                if line is None:
                    return
                message = _parse(line, self.socket_path)
                if isinstance(message, Event):
                    yield message.data
                elif not message.ok:
                    raise ClientError(message.code, message.message)
        finally:
            conn.close()

    def _take_id(self) -> RequestId:
        rid = self._next_id
        self._next_id += 1
        return rid

    def _await_reply(self, conn: _Lines, rid: RequestId, deadline: float) -> msgspec.Raw:
        while True:
            line = conn.read(deadline)
            if line is None:
                raise ConnectionFailed(f"the runner at {self.socket_path} closed the connection without answering")
            message = _parse(line, self.socket_path)
            if isinstance(message, Event):
                continue
            if message.id is None and not message.ok:
                raise ClientError(message.code, message.message)  # e.g. busy: the server's own word, not a reply
            if message.id != rid:
                continue  # the late answer to an earlier call that timed out here
            if not message.ok:
                raise ClientError(message.code, message.message)
            return message.result

    def _connect(self, deadline: float) -> _Lines:
        path = self.socket_path
        try:
            check_socket_path(path)
        except SocketPathError as exc:
            raise ConnectionFailed(str(exc)) from exc
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            while True:
                sock.settimeout(_remaining(deadline, path))
                try:
                    sock.connect(str(path))
                    break
                except BlockingIOError:
                    # The listen backlog is full (a burst of clients): Unix sockets refuse at once, so wait a bit.
                    time.sleep(_BACKLOG_RETRY_S)
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
            raise ConnectionFailed(f"no runner is listening at {path} (is `botrunner run` running?)") from None
        except PermissionError:
            sock.close()
            raise ConnectionFailed(f"permission denied on {path} (the control socket is owner-only)") from None
        except TimeoutError:
            sock.close()
            raise ConnectionFailed(f"timed out connecting to {path}") from None
        except OSError as exc:
            sock.close()
            raise ConnectionFailed(f"cannot connect to {path}: {exc}") from exc
        except BaseException:
            sock.close()
            raise
        return _Lines(sock, path)
