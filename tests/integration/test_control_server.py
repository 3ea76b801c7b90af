"""Control server on a real Unix socket, with a fake dispatcher: replies, errors, timeouts and hostile clients."""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import socket
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
from structlog.testing import capture_logs

from botrunner.control import SocketPathError
from botrunner.control.client import ClientError, ConnectionFailed, ControlClient
from botrunner.control.protocol import ControlError, ErrorCode
from botrunner.control.server import ControlServer, ControlServerError
from botrunner.core.operator import BotName, ControlCommand, Pause, Resume, ShowBot, Status, Stop, Subscribe

IDLE_S = 0.4
REPLY_S = 0.5
MARGIN_S = 0.5  # scheduling slack on a loaded test machine


class FakeRunner:
    """A dispatcher and event source standing in for the supervisor."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.release = threading.Event()  # lets a "hang" call finish
        self.lock = threading.Lock()
        self.listeners: list[tuple[Callable[[object], None], tuple[BotName, ...] | None]] = []
        self.unsubscribed = 0

    def dispatch(self, command: ControlCommand) -> Any:
        cmd = command.cmd
        args = msgspec.to_builtins(command)
        del args["cmd"]
        with self.lock:
            self.calls.append((cmd, args))
        name = args.get("name")
        if name == "ghost":
            raise ControlError(ErrorCode.NOT_FOUND, "no bot named 'ghost'")
        if name == "boom":
            raise RuntimeError("kaboom")
        if name == "hang":
            self.release.wait(10)
            return {"name": name, "state": "late"}
        if name == "opaque":
            return object()
        if cmd == "status":
            return {"fleet": {"bots": 1}, "bots": [{"name": "sol", "equity": Decimal("100.25")}]}
        return {"name": name, "state": cmd}

    def subscribe(self, send: Callable[[object], None], command: Subscribe) -> Callable[[], None]:
        entry = (send, command.bots)
        with self.lock:
            self.listeners.append(entry)

        def unsubscribe() -> None:
            with self.lock:
                self.listeners.remove(entry)
                self.unsubscribed += 1

        return unsubscribe

    def publish(self, event: Mapping[str, Any]) -> None:
        with self.lock:
            sends = [send for send, _ in self.listeners]
        for send in sends:
            send(event)

    def wait_listeners(self, count: int, timeout_s: float = 3.0) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.listeners) != count:
            assert time.monotonic() < deadline, f"{len(self.listeners)} listeners, expected {count}"
            time.sleep(0.005)


@pytest.fixture
def short_dir() -> Iterator[Path]:
    # pytest's tmp_path can exceed the 107-byte limit of a Unix socket path.
    path = Path(tempfile.mkdtemp(prefix="ctl", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def runner() -> Iterator[FakeRunner]:
    fake = FakeRunner()
    yield fake
    fake.release.set()


def _server(path: Path, fake: FakeRunner, **kw: Any) -> ControlServer:
    options: dict[str, Any] = {"idle_timeout_s": IDLE_S, "reply_timeout_s": REPLY_S}
    options.update(kw)
    return ControlServer(path, fake.dispatch, fake.subscribe, **options)


@pytest.fixture
def served(short_dir: Path, runner: FakeRunner) -> Iterator[ControlServer]:
    server = _server(short_dir / "control.sock", runner)
    server.start()
    yield server
    server.stop()


class Raw:
    """A raw client socket, read line by line."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(5)
        self.sock.connect(str(path))
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def line(self, timeout_s: float = 3.0) -> dict[str, Any] | None:
        """The next JSON line; None at EOF."""
        self.sock.settimeout(timeout_s)
        while b"\n" not in self.buf:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                return None
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        decoded: dict[str, Any] = json.loads(line)
        return decoded

    def call(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.send(json.dumps(body).encode() + b"\n")
        reply = self.line()
        assert reply is not None
        return reply

    def closed(self, timeout_s: float = 3.0) -> bool:
        """Whether the server closes the connection (after any lines still unread) within ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.line(max(0.01, deadline - time.monotonic())) is None:
                return True
        return False

    def close(self) -> None:
        self.sock.close()


def _status(raw: Raw, rid: Any = 1) -> dict[str, Any]:
    return raw.call({"id": rid, "cmd": "status"})


def _error_code(reply: Mapping[str, Any] | None) -> str:
    assert reply is not None and reply["ok"] is False, reply
    code: str = reply["error"]["code"]
    return code


def _call(client: ControlClient, command: ControlCommand) -> Any:
    """The command's result as the JSON value the fake runner answered."""
    return msgspec.json.decode(client.call_raw(command))


def _fleet_bots(path: Path) -> Any:
    with ControlClient(path) as client:
        return _call(client, Status())["fleet"]["bots"]


# -- the socket file ---------------------------------------------------------------------------------------------


def test_socket_file_is_owner_only_0600(served: ControlServer) -> None:
    mode = os.stat(served.socket_path).st_mode
    assert stat.S_ISSOCK(mode)
    assert stat.S_IMODE(mode) == 0o600


def test_start_leaves_the_process_umask_as_it_was(short_dir: Path, runner: FakeRunner) -> None:
    before = os.umask(0o022)
    try:
        with _server(short_dir / "c.sock", runner):
            now = os.umask(0o022)
        assert now == 0o022
    finally:
        os.umask(before)


def test_stop_removes_the_socket_and_closes_clients(short_dir: Path, runner: FakeRunner) -> None:
    path = short_dir / "control.sock"
    server = _server(path, runner, idle_timeout_s=30)
    server.start()
    raw = Raw(path)
    assert _status(raw)["ok"] is True
    server.stop()
    assert not path.exists()
    assert raw.closed(timeout_s=2)
    with pytest.raises(ConnectionFailed, match=f"no runner is listening at {path}"):
        _call(ControlClient(path), Status())
    server.stop()  # idempotent


def test_a_stale_socket_file_is_replaced(short_dir: Path, runner: FakeRunner) -> None:
    path = short_dir / "control.sock"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))
    dead.close()  # the file stays, nobody listens: what a kill -9 leaves behind
    with _server(path, runner) as server:
        assert _call(ControlClient(path), Status())["fleet"] == {"bots": 1}
        assert server.socket_path == path


def test_a_second_server_refuses_to_start_while_the_first_answers(served: ControlServer, runner: FakeRunner) -> None:
    second = _server(served.socket_path, runner)
    with pytest.raises(ControlServerError, match="already listening"):
        second.start()
    assert _call(ControlClient(served.socket_path), Pause(name="sol")) == {"name": "sol", "state": "pause"}


def test_a_regular_file_at_the_socket_path_is_not_replaced(short_dir: Path, runner: FakeRunner) -> None:
    path = short_dir / "control.sock"
    path.write_text("precious")
    with pytest.raises(ControlServerError, match="not a socket"):
        _server(path, runner).start()
    assert path.read_text() == "precious"


def test_a_socket_path_over_the_limit_is_refused_naming_it(runner: FakeRunner) -> None:
    path = Path("/tmp") / ("d" * 100) / "control.sock"
    with pytest.raises(SocketPathError, match=str(path)):
        _server(path, runner)


# -- replies -----------------------------------------------------------------------------------------------------


def test_requests_are_answered_with_their_id_and_decimals_as_strings(served: ControlServer, runner: FakeRunner) -> None:
    raw = Raw(served.socket_path)
    assert _status(raw, "abc") == {
        "id": "abc",
        "ok": True,
        "result": {"fleet": {"bots": 1}, "bots": [{"name": "sol", "equity": "100.25"}]},
    }
    assert raw.call({"id": 2, "cmd": "flatten", "args": {"name": "sol"}}) == {
        "id": 2,
        "ok": True,
        "result": {"name": "sol", "state": "flatten"},
    }
    assert runner.calls == [("status", {}), ("flatten", {"name": "sol"})]


def test_a_control_error_becomes_its_error_reply(served: ControlServer) -> None:
    raw = Raw(served.socket_path)
    reply = raw.call({"id": 5, "cmd": "bot", "args": {"name": "ghost"}})
    assert reply == {"id": 5, "ok": False, "error": {"code": "not_found", "message": "no bot named 'ghost'"}}
    assert _status(raw)["ok"] is True


def test_a_dispatcher_crash_is_an_internal_error_logged_and_the_server_keeps_serving(served: ControlServer) -> None:
    raw = Raw(served.socket_path)
    with capture_logs() as logs:
        reply = raw.call({"id": 6, "cmd": "start", "args": {"name": "boom"}})
    assert _error_code(reply) == "internal"
    assert "kaboom" in reply["error"]["message"] and len(reply["error"]["message"]) < 300
    assert any(entry["event"] == "control_dispatch_failed" and entry["cmd"] == "start" for entry in logs)
    assert _status(raw)["ok"] is True
    assert _fleet_bots(served.socket_path) == 1


def test_a_result_that_cannot_be_encoded_is_an_internal_error(served: ControlServer) -> None:
    raw = Raw(served.socket_path)
    assert _error_code(raw.call({"id": 1, "cmd": "bot", "args": {"name": "opaque"}})) == "internal"
    assert _status(raw)["ok"] is True


def test_a_hung_dispatcher_gets_a_timeout_reply_in_time_and_serving_goes_on(served: ControlServer) -> None:
    raw = Raw(served.socket_path)
    started = time.monotonic()
    reply = raw.call({"id": 1, "cmd": "stop", "args": {"name": "hang"}})
    elapsed = time.monotonic() - started
    assert _error_code(reply) == "timeout" and reply["id"] == 1
    assert "may still complete" in reply["error"]["message"]
    assert REPLY_S - 0.05 <= elapsed <= REPLY_S + MARGIN_S
    assert _status(raw, 2) == {
        "id": 2,
        "ok": True,
        "result": {"fleet": {"bots": 1}, "bots": [{"name": "sol", "equity": "100.25"}]},
    }


def test_with_every_worker_hung_requests_still_get_a_timeout_reply_in_time(short_dir: Path, runner: FakeRunner) -> None:
    with _server(short_dir / "c.sock", runner, workers=2) as server:
        hung = [Raw(server.socket_path) for _ in range(3)]
        for raw in hung:
            raw.send(b'{"id": 1, "cmd": "stop", "args": {"name": "hang"}}\n')
        started = time.monotonic()
        replies = [raw.line() for raw in hung]
        assert [_error_code(r) for r in replies] == ["timeout"] * 3
        assert time.monotonic() - started <= REPLY_S + MARGIN_S
        runner.release.set()
        assert _fleet_bots(server.socket_path) == 1
        # The request that timed out while queued never ran: only the two that held a worker did.
        assert [c for c in runner.calls if c[0] == "stop"] == [("stop", {"name": "hang"})] * 2


def test_pipelined_requests_are_answered_in_order(served: ControlServer) -> None:
    raw = Raw(served.socket_path)
    raw.send(
        b'{"id": 1, "cmd": "pause", "args": {"name": "a"}}\n'
        b"garbage\n"
        b'{"id": 3, "cmd": "bot", "args": {"name": "ghost"}}\n'
        b'{"id": 4, "cmd": "resume", "args": {"name": "a"}}\n'
    )
    replies = [raw.line() for _ in range(4)]
    assert [r["id"] if r else "EOF" for r in replies] == [1, None, 3, 4]
    assert [r["ok"] if r else "EOF" for r in replies] == [True, False, False, True]


# -- hostile input -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "garbage",
    [b"{not json", b"\xff\xfe\xfd\x00\x01", bytes(range(256)).replace(b"\n", b""), b'{"id": 1, "cmd": "\xc3\x28"}'],
    ids=["malformed", "binary", "all-bytes", "invalid-utf8"],
)
def test_malformed_or_binary_input_is_bad_json_and_the_connection_stays_usable(
    served: ControlServer, garbage: bytes
) -> None:
    raw = Raw(served.socket_path)
    raw.send(garbage + b"\n")
    assert _error_code(raw.line()) == "bad_json"
    assert _status(raw, 7)["id"] == 7


def test_bad_requests_get_their_codes(served: ControlServer) -> None:
    raw = Raw(served.socket_path)
    assert _error_code(raw.call({"id": 1, "cmd": "launch-missiles"})) == "unknown_command"
    assert _error_code(raw.call({"id": 2, "cmd": "pause", "args": {"name": 3}})) == "bad_args"
    assert _error_code(raw.call({"cmd": "status"})) == "bad_request"
    assert _status(raw)["ok"] is True


def test_a_line_of_exactly_the_limit_is_served(short_dir: Path, runner: FakeRunner) -> None:
    with _server(short_dir / "c.sock", runner, max_line_bytes=1024) as server:
        body = b'{"id": 1, "cmd": "status"}'
        raw = Raw(server.socket_path)
        raw.send(body + b" " * (1024 - len(body)) + b"\n")
        reply = raw.line()
        assert reply is not None and (reply["id"], reply["ok"]) == (1, True)


def test_an_overlong_line_gets_line_too_long_and_only_that_client_is_disconnected(
    short_dir: Path, runner: FakeRunner
) -> None:
    with _server(short_dir / "c.sock", runner, max_line_bytes=1024, idle_timeout_s=5) as server:
        bystander = Raw(server.socket_path)
        raw = Raw(server.socket_path)
        raw.send(b'{"id": 1, "cmd": "status", "pad": "' + b"x" * 1100 + b'"}\n')
        assert _error_code(raw.line()) == "line_too_long"
        assert raw.closed()
        assert _status(bystander)["ok"] is True


def test_an_endless_line_is_cut_off_without_reading_it_all(short_dir: Path, runner: FakeRunner) -> None:
    with _server(short_dir / "c.sock", runner, idle_timeout_s=5) as server:
        raw = Raw(server.socket_path)
        sent = 0
        with contextlib.suppress(BrokenPipeError, ConnectionResetError, TimeoutError):
            raw.sock.settimeout(2)
            while sent < 64 * 1024 * 1024:
                raw.sock.sendall(b"a" * 65536)
                sent += 65536
        # The server stopped reading long before 64 MiB: it said why and hung up.
        assert sent < 64 * 1024 * 1024
        assert _error_code(raw.line()) == "line_too_long"
        assert raw.closed()
        assert _fleet_bots(server.socket_path) == 1


def test_a_silent_client_is_disconnected_after_the_idle_timeout(served: ControlServer) -> None:
    raw = Raw(served.socket_path)
    started = time.monotonic()
    reply = raw.line(timeout_s=IDLE_S + 2)
    assert _error_code(reply) == "timeout"
    assert raw.closed()
    assert IDLE_S - 0.05 <= time.monotonic() - started <= IDLE_S + MARGIN_S


def test_a_partial_line_that_stalls_is_disconnected_after_the_idle_timeout(served: ControlServer) -> None:
    raw = Raw(served.socket_path)
    assert _status(raw)["ok"] is True  # the idle clock restarts after each answer
    raw.send(b'{"id": 2, "cmd": "sta')
    started = time.monotonic()
    assert _error_code(raw.line(timeout_s=IDLE_S + 2)) == "timeout"
    assert raw.closed()
    assert time.monotonic() - started <= IDLE_S + MARGIN_S


def test_a_line_trickled_a_byte_at_a_time_must_still_complete_within_the_idle_timeout(
    served: ControlServer,
) -> None:
    raw = Raw(served.socket_path)
    started = time.monotonic()
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        for byte in b'{"id": 1, "cmd": "status"}':  # 26 bytes over ~1.3 s: slower than the 0.4 s line deadline
            raw.send(bytes([byte]))
            time.sleep(0.05)
            if time.monotonic() - started > IDLE_S + MARGIN_S:
                break
    assert _error_code(raw.line()) == "timeout"
    assert raw.closed()


def test_when_full_of_waiting_clients_a_new_one_is_served_and_the_longest_waiting_is_closed(
    short_dir: Path, runner: FakeRunner
) -> None:
    with _server(short_dir / "c.sock", runner, max_clients=3, idle_timeout_s=5) as server:
        held = [Raw(server.socket_path) for _ in range(3)]
        for raw in held:
            assert _status(raw)["ok"] is True
        with ControlClient(server.socket_path) as operator:
            assert _call(operator, Pause(name="sol")) == {"name": "sol", "state": "pause"}
        oldest = held[0].line()
        assert _error_code(oldest) == "busy" and "closed to make room" in oldest["error"]["message"]
        assert held[0].closed()
        assert _status(held[2], 2)["ok"] is True  # the others are left alone
        assert server.evictions == 1


def test_when_every_client_is_being_answered_a_new_one_gets_busy(short_dir: Path, runner: FakeRunner) -> None:
    with _server(short_dir / "c.sock", runner, max_clients=2, idle_timeout_s=5, reply_timeout_s=1) as server:
        hung = [Raw(server.socket_path) for _ in range(2)]
        for raw in hung:
            raw.send(b'{"id": 1, "cmd": "stop", "args": {"name": "hang"}}\n')
        deadline = time.monotonic() + 2
        while len(runner.calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        extra = Raw(server.socket_path)
        assert _error_code(extra.line()) == "busy"
        assert extra.closed()
        assert [_error_code(raw.line()) for raw in hung] == ["timeout", "timeout"]  # answered within the reply time
        runner.release.set()
        assert _fleet_bots(server.socket_path) == 1  # a waiting connection again: room is made


def _crowd(path: Path, count: int) -> list[Raw]:
    return [Raw(path) for _ in range(count)]


def test_300_idle_clients_with_a_small_limit_make_room_for_the_newest(short_dir: Path, runner: FakeRunner) -> None:
    with _server(short_dir / "c.sock", runner, max_clients=20, idle_timeout_s=10) as server:
        crowd = _crowd(server.socket_path, 300)
        # every connection accepted (and the 280 oldest evicted) before anyone asks: otherwise a client's request
        # can arrive while it is still among the newest 20 and be answered before later arrivals evict it, which
        # is right but makes the outcome depend on the thread schedule (seen on CPython 3.12)
        deadline = time.monotonic() + 10
        while server.evictions < 280 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.evictions == 280
        for raw in crowd:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                raw.send(b'{"id": 1, "cmd": "status"}\n')
        outcomes = []
        for raw in crowd:
            reply = raw.line()
            assert reply is not None
            outcomes.append("ok" if reply["ok"] else _error_code(reply))
        assert outcomes == ["busy"] * 280 + ["ok"] * 20  # the longest waiting made room, in order
        for raw in crowd:
            raw.close()
        deadline = time.monotonic() + 3
        while server.client_count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.client_count == 0
        assert _fleet_bots(server.socket_path) == 1


def test_with_more_idle_connections_than_the_limit_an_operator_still_pauses_at_once(
    short_dir: Path, runner: FakeRunner
) -> None:
    with _server(short_dir / "c.sock", runner, idle_timeout_s=30) as server:  # the runner's limit: 256
        idle = _crowd(server.socket_path, 300)
        deadline = time.monotonic() + 5
        while server.client_count < server.max_clients and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.client_count == server.max_clients
        started = time.monotonic()
        with ControlClient(server.socket_path) as operator:
            assert _call(operator, Pause(name="sol")) == {"name": "sol", "state": "pause"}
        assert time.monotonic() - started < 1.0
        for raw in idle:
            raw.close()


def test_subscribers_holding_every_slot_do_not_lock_an_operator_out(short_dir: Path, runner: FakeRunner) -> None:
    with _server(short_dir / "c.sock", runner, max_clients=4, idle_timeout_s=5) as server:
        subscribers = _crowd(server.socket_path, 4)
        for raw in subscribers:
            assert raw.call({"id": 1, "cmd": "subscribe"})["ok"] is True
        runner.wait_listeners(4)
        with ControlClient(server.socket_path) as operator:
            assert _call(operator, Pause(name="sol")) == {"name": "sol", "state": "pause"}
        assert _error_code(subscribers[0].line()) == "busy" and subscribers[0].closed()
        deadline = time.monotonic() + 2
        while runner.unsubscribed < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert runner.unsubscribed == 1
        runner.publish({"bot": "sol", "n": 1})
        assert subscribers[3].line() == {"event": {"bot": "sol", "n": 1}}


def test_300_concurrent_clients_are_all_answered_in_time(short_dir: Path, runner: FakeRunner) -> None:
    with _server(short_dir / "c.sock", runner, max_clients=1000, idle_timeout_s=10) as server:
        crowd = _crowd(server.socket_path, 300)
        started = time.monotonic()
        for i, raw in enumerate(crowd):
            raw.send(json.dumps({"id": i, "cmd": "pause", "args": {"name": f"bot{i}"}}).encode() + b"\n")
        replies = [raw.line() for raw in crowd]
        elapsed = time.monotonic() - started
        assert [r["result"]["name"] if r else None for r in replies] == [f"bot{i}" for i in range(300)]
        assert [r["id"] if r else None for r in replies] == list(range(300))
        assert elapsed < REPLY_S + MARGIN_S
        assert server.client_count == 300
        for raw in crowd:
            raw.close()


def test_many_clients_sending_garbage_do_not_disturb_a_well_behaved_one(short_dir: Path, runner: FakeRunner) -> None:
    with _server(short_dir / "c.sock", runner, max_clients=400, idle_timeout_s=5, max_line_bytes=4096) as server:
        good = ControlClient(server.socket_path)
        crowd = _crowd(server.socket_path, 200)
        for i, raw in enumerate(crowd):
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                raw.send([b"\xff\x00junk\n", b"x" * 5000, b'{"id": 1, "cmd": 7}\n', b"{"][i % 4])
        assert _call(good, Status())["fleet"]["bots"] == 1
        codes = {_error_code(raw.line()) for raw in crowd[:3]}
        assert codes == {"bad_json", "line_too_long", "bad_request"}
        assert _call(good, Resume(name="sol")) == {"name": "sol", "state": "resume"}
        for raw in crowd:
            raw.close()
        good.close()


def test_random_byte_streams_never_break_the_server(short_dir: Path, runner: FakeRunner) -> None:
    rng = random.Random(20251001)
    with _server(short_dir / "c.sock", runner, max_line_bytes=2048, idle_timeout_s=5) as server:
        for _ in range(40):
            raw = Raw(server.socket_path)
            payload = bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 6000)))
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                raw.send(payload + b"\n")
            # Every reply is a well-formed error line; the connection ends or stays usable, nothing else.
            while (reply := raw.line(timeout_s=1)) is not None:
                assert reply["ok"] is False and reply["error"]["code"] in {"bad_json", "bad_request", "line_too_long"}
                if not raw.buf:
                    break
            raw.close()
        assert _fleet_bots(server.socket_path) == 1


# -- the client --------------------------------------------------------------------------------------------------


def test_the_client_reuses_its_connection_and_numbers_its_requests(served: ControlServer) -> None:
    client = ControlClient(served.socket_path)
    assert _call(client, Pause(name="a")) == {"name": "a", "state": "pause"}
    first = client._conn
    assert _call(client, Resume(name="a")) == {"name": "a", "state": "resume"}
    assert client._conn is first and served.client_count == 1
    with pytest.raises(ClientError) as refused:
        client.call_raw(ShowBot(name="ghost"))
    assert (refused.value.code, refused.value.message) == ("not_found", "no bot named 'ghost'")
    client.close()


def test_a_client_timeout_is_connection_failed_and_the_next_call_ignores_the_late_reply(
    short_dir: Path, runner: FakeRunner
) -> None:
    with _server(short_dir / "c.sock", runner, reply_timeout_s=3) as server:
        client = ControlClient(server.socket_path, timeout_s=0.3)
        with pytest.raises(ConnectionFailed, match="no answer"):
            client.call_raw(Stop(name="hang"))
        runner.release.set()
        assert _call(client, Pause(name="b")) == {"name": "b", "state": "pause"}


# -- subscribe ---------------------------------------------------------------------------------------------------


def test_subscribe_replies_ok_then_streams_events_until_the_client_leaves(
    served: ControlServer, runner: FakeRunner
) -> None:
    raw = Raw(served.socket_path)
    assert raw.call({"id": "s", "cmd": "subscribe", "args": {"bots": ["sol"]}}) == {
        "id": "s",
        "ok": True,
        "result": {"bots": ["sol"]},
    }
    assert runner.listeners[0][1] == ("sol",)
    runner.publish({"bot": "sol", "type": "fill", "price": Decimal("101.5")})
    runner.publish({"bot": "sol", "type": "risk", "state": "reduce_only"})
    assert raw.line() == {"event": {"bot": "sol", "type": "fill", "price": "101.5"}}
    assert raw.line() == {"event": {"bot": "sol", "type": "risk", "state": "reduce_only"}}
    time.sleep(IDLE_S + 0.2)  # a subscriber is not an idle client
    runner.publish({"n": 3})
    assert raw.line() == {"event": {"n": 3}}
    raw.close()
    deadline = time.monotonic() + 2
    while runner.unsubscribed == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert runner.unsubscribed == 1 and runner.listeners == []
    runner.publish({"n": 4})  # nobody left: nothing breaks


def test_client_events_iterator_yields_events_and_ends_when_the_server_stops(
    short_dir: Path, runner: FakeRunner
) -> None:
    server = _server(short_dir / "c.sock", runner)
    server.start()
    try:
        events = ControlClient(server.socket_path).events(Subscribe(bots=("a", "b")))
        got: list[dict[str, Any]] = []

        def consume() -> None:
            got.extend(msgspec.json.decode(raw) for raw in events)

        consumer = threading.Thread(target=consume)
        consumer.start()
        runner.wait_listeners(1)
        runner.publish({"i": 1})
        runner.publish({"i": 2})
        deadline = time.monotonic() + 2
        while len(got) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        server.stop()
    consumer.join(3)
    assert not consumer.is_alive()
    assert got == [{"i": 1}, {"i": 2}]
    assert runner.unsubscribed == 1


def test_a_subscriber_that_does_not_read_is_dropped_and_never_blocks_the_publisher(
    short_dir: Path, runner: FakeRunner
) -> None:
    with _server(short_dir / "c.sock", runner, subscriber_queue=16) as server:
        slow = Raw(server.socket_path)
        assert slow.call({"id": 1, "cmd": "subscribe"})["ok"] is True
        runner.wait_listeners(1)
        event = {"bot": "sol", "blob": "x" * 4096}
        started = time.monotonic()
        slowest = 0.0
        with capture_logs() as logs:
            for _ in range(5000):  # 20 MB: far beyond any socket buffer
                t0 = time.monotonic()
                runner.publish(event)
                slowest = max(slowest, time.monotonic() - t0)
            total = time.monotonic() - started
            deadline = time.monotonic() + 3
            while runner.unsubscribed < 1 and time.monotonic() < deadline:
                time.sleep(0.01)
        assert slowest < 0.2 and total < 3.0  # a blocked publisher would wait seconds
        assert runner.unsubscribed == 1
        assert any(entry["event"] == "control_subscriber_overflow" for entry in logs)
        # The slow one reads what was buffered, then the reason, then the end.
        lines: list[dict[str, Any]] = []
        while (line := slow.line()) is not None:
            lines.append(line)
        assert lines and _error_code(lines[-1]) == "overflow"
        assert all("event" in line for line in lines[:-1])
        assert _fleet_bots(server.socket_path) == 1


def test_a_subscriber_dropped_for_overflow_raises_client_error(short_dir: Path, runner: FakeRunner) -> None:
    with _server(short_dir / "c.sock", runner, subscriber_queue=4) as server:
        events = ControlClient(server.socket_path).events()
        dropped = threading.Event()
        received: list[Any] = []
        failure: list[BaseException] = []

        def consume() -> None:
            try:
                for item in events:
                    received.append(msgspec.json.decode(item))
                    dropped.wait(10)  # stalls after the first event until the server has dropped it
            except ClientError as exc:
                failure.append(exc)

        consumer = threading.Thread(target=consume)
        consumer.start()
        runner.wait_listeners(1)
        for i in range(200_000):
            runner.publish({"i": i, "pad": "y" * 512})
            if runner.unsubscribed:
                break
        assert runner.unsubscribed == 1
        dropped.set()
        consumer.join(5)
        assert not consumer.is_alive()
        assert failure and isinstance(failure[0], ClientError) and failure[0].code == "overflow"
        # What it did receive is the stream's head, in order, without gaps.
        assert [e["i"] for e in received] == list(range(len(received)))


def test_a_subscribe_the_runner_refuses_is_an_error_reply(short_dir: Path, runner: FakeRunner) -> None:
    def refuse(_send: Any, command: Subscribe) -> Callable[[], None]:
        raise ControlError(ErrorCode.NOT_FOUND, f"no bots {command.bots}")

    with ControlServer(short_dir / "c.sock", runner.dispatch, refuse, idle_timeout_s=IDLE_S) as server:
        with pytest.raises(ClientError, match="not_found"):
            next(ControlClient(server.socket_path).events(Subscribe(bots=("nope",))))
        assert _fleet_bots(server.socket_path) == 1


def _publish_until_unsubscribed(runner: FakeRunner, every_s: float, limit_s: float) -> float:
    """Publish an event every ``every_s`` until a listener is dropped; seconds it took (``limit_s`` at most)."""
    started = time.monotonic()
    n = 0
    while runner.unsubscribed == 0 and time.monotonic() - started < limit_s:
        runner.publish({"bot": "sol", "kind": "fill", "n": n, "pad": "p" * 250})
        n += 1
        time.sleep(every_s)
    return time.monotonic() - started


def test_a_subscriber_that_stops_reading_is_dropped_within_the_stall_time(short_dir: Path, runner: FakeRunner) -> None:
    with _server(short_dir / "c.sock", runner, idle_timeout_s=30) as server:  # the runner's 5 s stall
        silent = Raw(server.socket_path)
        assert silent.call({"id": 1, "cmd": "subscribe"})["ok"] is True
        runner.wait_listeners(1)
        with capture_logs() as logs:
            took = _publish_until_unsubscribed(runner, every_s=0.05, limit_s=30)  # 20 events a second
        assert runner.unsubscribed == 1, f"still subscribed after {took:.1f} s"
        assert took <= server.subscriber_stall_s + 1.5, took
        assert any(entry["event"] == "control_subscriber_stalled" for entry in logs)
        lines: list[dict[str, Any]] = []
        while (line := silent.line()) is not None:
            lines.append(line)
        assert _error_code(lines[-1]) == "overflow" and "read nothing" in lines[-1]["error"]["message"]
        assert all("event" in line for line in lines[:-1])


def test_a_subscriber_that_reads_slowly_but_steadily_is_kept(short_dir: Path, runner: FakeRunner) -> None:
    with _server(short_dir / "c.sock", runner, subscriber_stall_s=0.5) as server:
        reader = Raw(server.socket_path)
        assert reader.call({"id": 1, "cmd": "subscribe"})["ok"] is True
        runner.wait_listeners(1)
        got: list[dict[str, Any]] = []
        done = threading.Event()

        def consume() -> None:
            while not done.is_set():
                with contextlib.suppress(TimeoutError):
                    line = reader.line(timeout_s=0.2)
                    if line is None or "event" not in line:
                        return
                    got.append(line)
                    time.sleep(0.02)  # slower than the server could write, faster than the events come

        consumer = threading.Thread(target=consume)
        consumer.start()
        took = _publish_until_unsubscribed(runner, every_s=0.03, limit_s=4 * server.subscriber_stall_s)
        done.set()
        consumer.join(5)
        reader.close()
        assert runner.unsubscribed == 0, f"dropped after {took:.1f} s"
        assert len(got) > 30


def test_a_request_id_longer_than_the_bound_is_refused_and_not_echoed(served: ControlServer) -> None:
    raw = Raw(served.socket_path)
    reply = raw.call({"id": "i" * 100_00, "cmd": "pause", "args": {"name": "sol"}})
    assert _error_code(reply) == "bad_request" and reply["id"] is None
    assert "i" * 100 not in json.dumps(reply)
    assert _status(raw, "i" * 64)["id"] == "i" * 64


def test_a_reused_connection_the_server_closed_meanwhile_is_replaced_transparently(
    short_dir: Path, runner: FakeRunner
) -> None:
    with _server(short_dir / "c.sock", runner, max_clients=2, idle_timeout_s=5) as server:
        client = ControlClient(server.socket_path)
        assert _call(client, Pause(name="a"))["state"] == "pause"
        crowd = _crowd(server.socket_path, 2)  # two newer connections: the client's idle one makes room
        deadline = time.monotonic() + 2
        while server.evictions < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.evictions >= 1
        assert _call(client, Resume(name="a"))["state"] == "resume"
        client.close()
        for raw in crowd:
            raw.close()
