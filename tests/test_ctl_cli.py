"""``botrunner ctl``: against a real control server with a fake runner — tables, --json, errors and exit codes."""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

import botrunner.cli
from botrunner.cli import main
from botrunner.cli.ctl import format_event
from botrunner.control import RUN_DIR_ENV
from botrunner.control.protocol import ControlError, ErrorCode
from botrunner.control.server import ControlServer

STATUS: dict[str, Any] = {
    "fleet": {
        "bots": 2,
        "running": 1,
        "paused": 1,
        "failed": 0,
        "started_at": "2025-10-01T00:00:00Z",
        "market_time": "2025-09-20T04:00:00Z",
        "speed": "600",
    },
    "bots": [
        {
            "name": "sol-neutral-grid",
            "market": "SOL-PERP",
            "mode": "paper",
            "state": "running",
            "risk_state": "normal",
            "position": "12.5",
            "mark": "231.4021",
            "equity": "10234.56",
            "pnl": "-65.44",
            "open_orders": 14,
            "restarts": 0,
            "flagged": False,
        },
        {
            "name": "btc-bullish-infinity",
            "market": "BTC-PERP",
            "mode": "paper",
            "state": "paused",
            "risk_state": None,
            "flagged": True,
        },
    ],
}

BOT: dict[str, Any] = {
    "name": "sol-neutral-grid",
    "mode": "paper",
    "state": "running",
    "market": "SOL-PERP",
    "subaccount": 3,
    "position": "12.5",
    "entry": "228.1",
    "mark": "231.4021",
    "oracle": "231.39",
    "leverage": "0.28",
    "liq_price": "17.03",
    "liq_distance_pct": "92.64",
    "health": "97",
    "pnl": {
        "unrealized": "41.25",
        "realized": "-100.0",
        "funding": "-1.2",
        "fees": "5.49",
        "settled": "0",
        "unsettled": "41.25",
        "total": "-65.44",
    },
    "risk": {"state": "reduce_only", "reasons": ["leverage 5.1 > 5", "drawdown 8 %"]},
    "band": {"min": "-20", "max": "20", "preferred": "12.5"},
    "grid": {"lower": "180", "upper": "260", "levels": "24", "bias": "neutral"},
    "orders": [
        {
            "uid": 17,
            "side": "long",
            "price": "229.95",
            "base": "0.8",
            "filled": "0",
            "post_only": True,
            "reduce_only": False,
            "max_ts": 1758340800,
        }
    ],
}


class FakeRunner:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.sends: list[Callable[[Mapping[str, Any]], None]] = []
        self.bots_filter: list[list[str] | None] = []
        self.bot_result: dict[str, Any] | None = None

    def dispatch(self, cmd: str, args: dict[str, Any]) -> Any:
        self.calls.append((cmd, args))
        name = args.get("name")
        if name == "ghost":
            raise ControlError(ErrorCode.NOT_FOUND, "no bot named 'ghost'")
        match cmd:
            case "status":
                return STATUS
            case "bot":
                return self.bot_result if self.bot_result is not None else {**BOT, "name": name}
            case "reload":
                return "reloaded 1 bot: sol-neutral-grid"
            case "shutdown":
                return None
            case _:
                return {"name": name, "state": "paused" if cmd == "pause" else cmd}

    def subscribe(self, send: Callable[[Mapping[str, Any]], None], bots: list[str] | None) -> Callable[[], None]:
        self.sends.append(send)
        self.bots_filter.append(bots)
        return lambda: None


def test_ctl_is_a_registered_sub_command() -> None:
    assert "botrunner.cli.ctl" in botrunner.cli.COMMAND_MODULES


@pytest.fixture(autouse=True)
def _only_ctl(monkeypatch: pytest.MonkeyPatch) -> None:
    # main() builds every sub-command's parser; these tests need only ctl's, whatever state the others are in.
    monkeypatch.setattr(botrunner.cli, "COMMAND_MODULES", ("botrunner.cli.ctl",))


@pytest.fixture(autouse=True)
def _server_logs_kept_off_stdout() -> Iterator[None]:
    # Unconfigured structlog prints to stdout, which these tests read as the CLI's output.
    with capture_logs():
        yield


@pytest.fixture
def run_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="ctl", dir="/tmp"))  # short: Unix socket paths are limited
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def runner() -> FakeRunner:
    return FakeRunner()


@pytest.fixture
def server(run_dir: Path, runner: FakeRunner) -> Iterator[ControlServer]:
    srv = ControlServer(run_dir / "control.sock", runner.dispatch, runner.subscribe, idle_timeout_s=2)
    srv.start()
    yield srv
    srv.stop()


def _ctl(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["ctl", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_status_prints_the_fleet_line_and_a_row_per_bot(
    server: ControlServer, run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _ctl(capsys, "--run-dir", str(run_dir), "status")
    assert code == 0
    assert "2 bots · 1 running · 1 paused · 0 failed" in out
    assert "market time 2025-09-20T04:00:00Z" in out and "speed 600x" in out
    sol = next(line for line in out.splitlines() if "sol-neutral-grid" in line)
    for cell in ("SOL-PERP", "paper", "running", "normal", "12.5", "231.4021", "10234.56", "-65.44", "14"):
        assert cell in sol
    btc = next(line for line in out.splitlines() if "btc-bullish-infinity" in line)
    assert "FLAGGED" in btc and "paused" in btc
    assert btc.count(" - ") >= 3  # the missing keys render as "-"


def test_json_prints_the_raw_result(server: ControlServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _ctl(capsys, "--socket", str(server.socket_path), "--json", "status")
    assert code == 0
    assert json.loads(out) == STATUS
    code, out, _ = _ctl(capsys, "--socket", str(server.socket_path), "--json", "bot", "sol")
    assert json.loads(out) == {**BOT, "name": "sol"}


def test_bot_prints_every_section(server: ControlServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _ctl(capsys, "--socket", str(server.socket_path), "bot", "sol-neutral-grid")
    assert code == 0
    assert "bot sol-neutral-grid (paper) running" in out
    for label, value in [
        ("entry", "228.1"),
        ("oracle", "231.39"),
        ("liq. price", "17.03"),
        ("liq. distance %", "92.64"),
        ("health", "97"),
        ("funding", "-1.2"),
        ("total", "-65.44"),
        ("risk reduce_only", "leverage 5.1 > 5; drawdown 8 %"),
        ("preferred", "12.5"),
        ("bias", "neutral"),
        ("levels", "24"),
    ]:
        assert any(label in line and value in line for line in out.splitlines()), (label, value)
    order = next(line for line in out.splitlines() if "229.95" in line)
    assert all(cell in order for cell in ("17", "long", "0.8", "yes", "no", "1758340800"))


def test_bot_with_missing_keys_still_renders(
    server: ControlServer, runner: FakeRunner, capsys: pytest.CaptureFixture[str]
) -> None:
    runner.bot_result = {"name": "x", "state": "stopped", "novel": 1}
    code, out, _ = _ctl(capsys, "--socket", str(server.socket_path), "bot", "x")
    assert code == 0
    assert "bot x (-) stopped" in out
    assert any("oracle" in line and "-" in line for line in out.splitlines())
    assert any("novel" in line and "1" in line for line in out.splitlines())


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["pause", "sol"], "sol: paused"),
        (["resume", "sol"], "sol: resume"),
        (["reduce-only", "sol"], "sol: reduce-only"),
        (["flatten", "sol"], "sol: flatten"),
        (["stop", "sol"], "sol: stop"),
        (["start", "sol"], "sol: start"),
        (["reload"], "reloaded 1 bot: sol-neutral-grid"),
        (["shutdown"], "ok"),
    ],
)
def test_actions_print_their_outcome_and_send_the_right_request(
    server: ControlServer,
    runner: FakeRunner,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    expected: str,
) -> None:
    code, out, _ = _ctl(capsys, "--socket", str(server.socket_path), *argv)
    assert (code, out.strip()) == (0, expected)
    assert runner.calls == [(argv[0], {"name": argv[1]} if len(argv) > 1 else {})]


def test_a_server_error_is_one_line_on_stderr_and_exit_1(
    server: ControlServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _ctl(capsys, "--socket", str(server.socket_path), "pause", "ghost")
    assert code == 1 and out == ""
    assert err == "botrunner ctl: error: not_found: no bot named 'ghost'\n"


def test_no_runner_is_exit_2_with_a_hint(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _ctl(capsys, "--run-dir", str(run_dir), "status")
    assert code == 2 and out == ""
    assert err == (
        f"botrunner ctl: error: no runner is listening at {run_dir / 'control.sock'} (is `botrunner run` running?)\n"
    )


def test_the_run_dir_comes_from_the_environment(
    server: ControlServer, run_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(RUN_DIR_ENV, str(run_dir))
    code, out, _ = _ctl(capsys, "--json", "status")
    assert code == 0 and json.loads(out) == STATUS


def test_a_too_long_socket_path_is_exit_2_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    long_dir = "/tmp/" + "r" * 110
    code, _, err = _ctl(capsys, "--run-dir", long_dir, "status")
    assert code == 2
    assert f"{long_dir}/control.sock" in err and "107" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["pause"], "pause takes NAME, got 0 value(s)"),
        (["bot", "a", "b"], "bot takes NAME, got 2 value(s)"),
        (["status", "sol"], "status takes no NAME, got sol"),
    ],
)
def test_a_wrong_number_of_names_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = _ctl(capsys, "--socket", "/tmp/none.sock", *argv)
    assert (code, err) == (2, f"botrunner ctl: error: {message}\n")


def test_an_unknown_command_is_rejected_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["ctl", "explode"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'explode'" in capsys.readouterr().err


def test_run_dir_and_socket_are_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["ctl", "--run-dir", "/tmp", "--socket", "/tmp/x.sock", "status"])
    assert "not allowed with" in capsys.readouterr().err


def _publish_then_stop(server: ControlServer, runner: FakeRunner, events: list[dict[str, Any]]) -> threading.Thread:
    def go() -> None:
        deadline = time.monotonic() + 5
        while not runner.sends and time.monotonic() < deadline:
            time.sleep(0.01)
        for event in events:
            runner.sends[0](event)
        time.sleep(0.2)
        server.stop()

    thread = threading.Thread(target=go)
    thread.start()
    return thread


def test_subscribe_prints_one_line_per_event_until_the_stream_ends(
    server: ControlServer, runner: FakeRunner, capsys: pytest.CaptureFixture[str]
) -> None:
    events: list[dict[str, Any]] = [
        {"ts": "2025-09-20T04:00:00Z", "bot": "sol", "type": "fill", "side": "long", "price": "229.95"},
        {"bot": "sol", "type": "risk", "state": "reduce_only", "reasons": ["leverage"]},
    ]
    thread = _publish_then_stop(server, runner, events)
    code, out, err = _ctl(capsys, "--socket", str(server.socket_path), "subscribe", "sol", "eth")
    thread.join()
    assert code == 0
    assert runner.bots_filter == [["sol", "eth"]]
    assert out.splitlines() == [
        "2025-09-20T04:00:00Z sol fill side=long price=229.95",
        'sol risk state=reduce_only reasons=["leverage"]',
    ]
    assert "closed the event stream" in err


def test_subscribe_json_prints_each_event_as_a_json_line(
    server: ControlServer, runner: FakeRunner, capsys: pytest.CaptureFixture[str]
) -> None:
    events = [{"bot": "sol", "n": 1}, {"bot": "btc", "n": 2}]
    thread = _publish_then_stop(server, runner, events)
    code, out, _ = _ctl(capsys, "--socket", str(server.socket_path), "--json", "subscribe")
    thread.join()
    assert code == 0 and runner.bots_filter == [None]
    assert [json.loads(line) for line in out.splitlines()] == events


def test_format_event_puts_time_bot_and_type_first() -> None:
    assert format_event({"price": "1", "type": "fill", "bot": "b", "ts": "t"}) == "t b fill price=1"
    assert format_event({}) == ""
