"""``botrunner ctl``: against a real control server with a fake runner that answers with the runtime's own views of a
real paper bot — tables, --json, errors and exit codes."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from enum import Enum
from pathlib import Path
from typing import Any

import msgspec
import pytest
import structlog
from structlog.testing import capture_logs

import botrunner.cli
from botrunner.bot.driver import BotDriver, RowBuffer
from botrunner.bot.lifecycle import BotRunState, apply_command, run_state
from botrunner.bot.pipeline import BotDefinition, OperatorFlags
from botrunner.cli import main
from botrunner.cli.ctl import (
    _RISK_STATE_STYLES,
    _RUN_STATE_STYLES,
    _SIDE_STYLES,
    _STATUS_COLUMNS,
    fee_row,
    format_event,
    format_raw_event,
)
from botrunner.config import load_bot
from botrunner.connector import PlaceOrders
from botrunner.connector.commands import PlanReason
from botrunner.control import RUN_DIR_ENV
from botrunner.control.protocol import ControlError, ErrorCode
from botrunner.control.server import ControlServer
from botrunner.core.operator import (
    ControlCommand,
    Flatten,
    Pause,
    ReduceOnly,
    Reload,
    Resume,
    ShowBot,
    Shutdown,
    Start,
    Status,
    Stop,
    Subscribe,
)
from botrunner.core.side import Side
from botrunner.core.verdict import RiskAction
from botrunner.paper.config import PaperConfig
from botrunner.paper.venue import PaperVenue
from botrunner.runtime.decisions import DecisionRecorder, announce_rows
from botrunner.runtime.hub import EventHub
from botrunner.runtime.pacer import parse_speed
from botrunner.runtime.paper_bot import PaperBot
from botrunner.runtime.snapshots import (
    BotEvent,
    BotSnapshot,
    BotState,
    BotSummary,
    FillEvent,
    FleetInfo,
    FundingEvent,
    Message,
    ReloadResult,
    Result,
    StatusRow,
    StatusSnapshot,
    SupervisionView,
)
from botrunner.runtime.views import absent_bot, bot_detail, bot_summary, iso, status_row, with_supervision
from tests.support.runtime import post_only_bid

ROOT = Path(__file__).resolve().parents[2]
REGISTERED_COMMANDS = botrunner.cli.COMMAND_MODULES  # read at import, before ``_only_ctl`` replaces it
MARKET_TS = 1_758_340_800  # 2025-09-20T04:00:00Z
PRICE = 150_000_000


def _real_views() -> tuple[BotSummary, BotSnapshot, list[BotEvent]]:
    """``(summary row, detail, events)`` as the runtime's own view functions and hub produce them, for a real paper
    bot: it bought 1 SOL, then the operator asked reduce-only and the Risk Governor's answer replaced its bid by
    reduce-only asks. A change of shape or vocabulary in ``botrunner.runtime.views`` reaches these tests."""
    config = load_bot(ROOT / "config" / "bots" / "sol-neutral-grid.yaml")
    venue = PaperVenue(
        config.market_spec, PaperConfig(), deposit_quote=config.capital_quote, oracle_price=PRICE, now=MARKET_TS
    )
    definition = BotDefinition.from_config(config)
    sink = RowBuffer()
    session = BotDriver(definition, venue, definition.initial_state(started_at=MARKET_TS), sink)
    paper = PaperBot(session, venue)
    session.perform(
        PlaceOrders((post_only_bid(17, 149_000_000, placed_at=MARKET_TS),), PlanReason.LADDER_EMPTY), MARKET_TS
    )
    ts = MARKET_TS + 60
    session.report(venue.on_price(ts, 148_500_000, 148_500_000, bar_ts=MARKET_TS, bar_volume=10**12), ts)  # fills
    command = ReduceOnly(name=config.name)
    flags = apply_command(OperatorFlags(), command)
    hub = EventHub()
    events: list[BotEvent] = []
    hub.subscribe(events.append)
    with capture_logs():
        log = structlog.get_logger()
        recorder = DecisionRecorder(config.name, log, hub)
        announce_rows(config.name, log, hub, sink)
        decision = paper.command(command).decision
        assert decision is not None and session.state.flags == flags
        recorder.record(decision, session.state.decision_seq)
    state = run_state(flags)
    summary = bot_summary(config, state, paper, recorder.state, ts)
    detail = bot_detail(
        config, state=state, paper=paper, risk_state=recorder.state, reasons=list(recorder.reasons), decision=decision
    )
    return summary, detail, events


SUMMARY, DETAIL, EVENTS = _real_views()
FAILED_BOT = "btc-bullish-infinity"
SLOT = SupervisionView(supervision="running", restarts=0, flagged=False, last_error=None, alive=True)
ROW = status_row(SUMMARY, SLOT)


STATUS = StatusSnapshot(
    fleet=FleetInfo(
        bots=2,
        running=1,
        paused=0,
        failed=1,
        started_at=iso(MARKET_TS - 3600) or "",
        market_time=ROW.market_time,
        speed=str(parse_speed("600")),
        replay_finished=False,
    ),
    bots=(
        ROW,
        # failed before its first step: the board holds only what the supervisor posted
        status_row(
            BotSummary(name=FAILED_BOT),
            SupervisionView(supervision="failed", restarts=3, flagged=True, alive=False),
        ),
    ),
)
BOT = with_supervision(DETAIL, SLOT)  # as ``Runner`` answers ``bot NAME``


def _json(value: object) -> Any:
    """A struct as the JSON value the socket carries."""
    return msgspec.json.decode(msgspec.json.encode(value))


class FakeRunner:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.sends: list[Callable[[object], None]] = []
        self.bots_filter: list[tuple[str, ...] | None] = []
        self.bot_result: BotSnapshot | None = None

    def dispatch(self, command: ControlCommand) -> Result:  # noqa: PLR0911  <why: one flat match over the commands>
        args = msgspec.to_builtins(command)
        del args["cmd"]
        self.calls.append((command.cmd, args))
        if getattr(command, "name", None) == "ghost":
            raise ControlError(ErrorCode.NOT_FOUND, "no bot named 'ghost'")
        match command:
            case Status():
                return STATUS
            case ShowBot(name=name):
                return self.bot_result if self.bot_result is not None else msgspec.structs.replace(BOT, name=name)
            case Reload():  # as the supervisor answers
                return ReloadResult(changed=(), added=(), removed=(), unchanged=("sol-neutral-grid",))
            case Shutdown():
                return Message(message="shutting down")
            case Stop(name=name):
                return BotState(name=name, state=BotRunState.STOPPED.value)
            case Start(name=name):
                return BotState(name=name, state=BotRunState.RUNNING.value)
            case Pause() | Resume() | ReduceOnly() | Flatten():  # as the bot actor answers it
                return BotState(name=command.name, state=run_state(apply_command(OperatorFlags(), command)).value)
            case _:
                raise ControlError(ErrorCode.BAD_REQUEST, f"not faked: {command.cmd}")

    def subscribe(self, send: Callable[[object], None], command: Subscribe) -> Callable[[], None]:
        self.sends.append(send)
        self.bots_filter.append(command.bots)
        return lambda: None


def test_ctl_is_a_registered_sub_command() -> None:
    # the real registration, not the tuple ``_only_ctl`` has just put in its place
    assert "botrunner.cli.ctl" in REGISTERED_COMMANDS


@pytest.mark.parametrize(
    ("styles", "states"), [(_RUN_STATE_STYLES, BotRunState), (_RISK_STATE_STYLES, RiskAction), (_SIDE_STYLES, Side)]
)
def test_every_state_the_runtime_reports_has_a_style(styles: Mapping[str, str], states: type[Enum]) -> None:
    assert {s.value for s in states} == set(styles)
    assert all(styles.values())


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


def _row(out: str, name: str) -> list[str]:
    """The cells of the table row naming ``name``."""
    line = next(line for line in out.splitlines() if line.startswith(f"│ {name} "))
    return [cell.strip() for cell in line.strip().strip("│").split("│")]


def test_status_prints_the_fleet_line_and_a_row_per_bot(
    server: ControlServer, run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _ctl(capsys, "--run-dir", str(run_dir), "status")
    assert code == 0
    assert "2 bots · 1 running · 0 paused · 1 failed · started 2025-09-20T03:00:00Z" in out
    assert "market time 2025-09-20T04:01:00Z" in out and "speed 600.0x" in out and "replay_finished no" in out
    sol = _row(out, "sol-neutral-grid")
    # the run state and the Risk Governor's action, spelled as the runtime spells them
    assert sol[:5] == ["sol-neutral-grid", "SOL-PERP", "paper", "reduce_only", "REDUCE_ONLY"]
    numbers = [str(getattr(ROW, k)) for k in ("position", "mark", "equity", "pnl", "open_orders", "fills")]
    assert sol[5:] == [*numbers, "0", ""]
    assert ROW.position == "1.000000000" and ROW.mark == "148.500000"  # units, not Drift's integers
    # what a bot that failed before its first step has not got renders as "-"
    assert _row(out, FAILED_BOT) == [FAILED_BOT, *["-"] * 2, "failed", *["-"] * 7, "3", "FLAGGED"]


def test_status_shows_every_field_of_the_runtimes_rows() -> None:
    shown = {key for _header, key, _justify in _STATUS_COLUMNS}
    # the fleet line shows the market time; the risk cell the Risk Governor's reasons; a two-leg bot's legs have a
    # line of their own under the table
    assert set(StatusRow.__struct_fields__) - shown == {"market_time", "risk_reasons", "legs"}


def test_json_prints_the_raw_result(server: ControlServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _ctl(capsys, "--socket", str(server.socket_path), "--json", "status")
    assert code == 0
    assert json.loads(out) == _json(STATUS)
    code, out, _ = _ctl(capsys, "--socket", str(server.socket_path), "--json", "bot", "sol")
    assert json.loads(out) == {**_json(BOT), "name": "sol"}


def test_json_speaks_exact_decimal_strings_for_every_amount(
    server: ControlServer, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = _ctl(capsys, "--socket", str(server.socket_path), "--json", "bot", "sol")
    detail = json.loads(out)
    amounts = [detail[k] for k in ("position", "entry", "mark", "oracle", "leverage", "equity")]
    amounts += [v for v in detail["pnl"].values() if v is not None] + list(detail["band"].values())
    amounts += [o[k] for o in detail["orders"] for k in ("price", "base", "filled")]
    assert amounts and all(isinstance(a, str) and re.fullmatch(r"-?\d+\.\d+", a) for a in amounts), amounts
    assert detail["pnl"]["fees_paid"] == DETAIL.pnl.fees_paid and "fees" not in detail["pnl"]


def test_bot_prints_every_section(server: ControlServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _ctl(capsys, "--socket", str(server.socket_path), "bot", "sol-neutral-grid")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "bot sol-neutral-grid (paper) reduce_only"
    assert lines[1] == "risk REDUCE_ONLY  operator"  # an operator decided, and ctl says so
    pnl, band, grid = DETAIL.pnl, DETAIL.band, DETAIL.grid
    assert pnl is not None and band is not None and grid is not None and DETAIL.orders is not None
    assert pnl.fees_paid is not None
    for label, value in [
        ("subaccount", DETAIL.subaccount),
        ("entry", DETAIL.entry),
        ("oracle", DETAIL.oracle),
        ("leverage", DETAIL.leverage),
        ("liq. price", "-"),  # no liquidation price at this leverage: the view says None
        ("health", str(DETAIL.health)),
        ("rebates earned", "+" + pnl.fees_paid.removeprefix("-")),  # the maker fill earned a rebate: an income
        ("unsettled", pnl.unsettled),
        ("total", pnl.total),
        ("preferred", band.preferred),
        ("bias", grid["bias"]),
        ("size_per_level", grid["size_per_level"]),
        ("equity", DETAIL.equity),
        ("supervision", "running"),
    ]:
        assert value is not None
        assert any(label in line and value in line for line in lines), (label, value)
    assert "open orders (2)" in out
    for order in DETAIL.orders:
        row = _row(out, str(order.uid))
        cells = [order.price, order.base, order.filled, order.max_ts]
        assert row == [str(order.uid), "sell", *cells[:3], "must_post_only", "yes", cells[3]]


def test_bot_with_missing_keys_still_renders(
    server: ControlServer, runner: FakeRunner, capsys: pytest.CaptureFixture[str]
) -> None:
    # a bot that is not running: the runner has only its last status row (``absent_bot``)
    runner.bot_result = absent_bot(None, "x", SupervisionView(supervision="stopped"))
    code, out, _ = _ctl(capsys, "--socket", str(server.socket_path), "bot", "x")
    assert code == 0
    assert "bot x (-) stopped" in out
    assert any("oracle" in line and "-" in line for line in out.splitlines())
    assert "open orders" not in out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["pause", "sol"], "sol: paused"),
        (["resume", "sol"], "sol: running"),
        (["reduce-only", "sol"], "sol: reduce_only"),
        (["flatten", "sol"], "sol: flattening"),
        (["stop", "sol"], "sol: stopped"),
        (["start", "sol"], "sol: running"),
        (["reload"], 'changed    []\nadded      []\nremoved    []\nunchanged  ["sol-neutral-grid"]'),
        (["shutdown"], "message  shutting down"),
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
    assert (code, [line.rstrip() for line in out.strip().splitlines()]) == (0, expected.splitlines())
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
    assert code == 0 and json.loads(out) == _json(STATUS)


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
        (["transfer", "b", "1", "usdc", "x"], "transfer: TO_SUBACCOUNT: Expected `int`, got `str`"),
        (["deposit", "b", "-1", "usdc"], "deposit: amount must be a positive number, got '-1'"),
        (["deposit", "b", "1", "btc"], "deposit: ASSET: Invalid enum value 'btc'"),
    ],
)
def test_a_wrong_number_or_type_of_values_is_a_usage_error_naming_it(
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


def _publish_then_stop(server: ControlServer, runner: FakeRunner, events: list[object]) -> threading.Thread:
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


def test_subscribe_prints_one_line_per_event_in_units_until_the_stream_ends(
    server: ControlServer, runner: FakeRunner, capsys: pytest.CaptureFixture[str]
) -> None:
    thread = _publish_then_stop(server, runner, list(EVENTS))  # a fill and a risk change, as the hub publishes them
    code, out, err = _ctl(capsys, "--socket", str(server.socket_path), "subscribe", "sol", "eth")
    thread.join()
    assert code == 0
    assert runner.bots_filter == [("sol", "eth")]
    assert out.splitlines() == [
        "2025-09-20T04:01:00Z sol-neutral-grid fill #1 buy 1.000000000 @ 149.000000 quote -149.000000 "
        "rebate 0.003725 maker",
        "2025-09-20T04:01:00Z sol-neutral-grid risk REDUCE_ONLY (operator)",
    ]
    assert "closed the event stream" in err


def test_subscribe_json_prints_each_event_as_a_json_line_with_exact_decimals(
    server: ControlServer, runner: FakeRunner, capsys: pytest.CaptureFixture[str]
) -> None:
    thread = _publish_then_stop(server, runner, list(EVENTS))
    code, out, _ = _ctl(capsys, "--socket", str(server.socket_path), "--json", "subscribe")
    thread.join()
    assert code == 0 and runner.bots_filter == [None]
    fill, risk = (json.loads(line) for line in out.splitlines())
    assert fill == {
        "kind": "fill",
        "bot": "sol-neutral-grid",
        "time": "2025-09-20T04:01:00Z",
        "order_id": 1,
        "side": "buy",
        "price": "149.000000",
        "base": "1.000000000",
        "quote": "-149.000000",
        "fees_paid": "-0.003725",  # a maker rebate: negative, as the report counts fees (+ a cost)
        "liquidity": "maker",
        "reduce_only": False,
    }
    assert risk == _json(EVENTS[1])


def test_a_paid_fee_and_funding_read_as_what_they_cost() -> None:
    fill = FillEvent(
        bot="b",
        time="t",
        order_id=3,
        side="sell",
        price="202.775600",
        base="0.400000000",
        quote="81.110240",
        fees_paid="2.027756",
        liquidity="taker",
        reduce_only=True,
    )
    assert (
        format_event(fill)
        == "t b fill #3 sell 0.400000000 @ 202.775600 quote 81.110240 fee 2.027756 paid taker reduce-only"
    )
    paid = FundingEvent(bot="b", time="t", position="1.000000000", rate="0.001000000", payment="-0.001000")
    assert format_event(paid) == "t b funding paid 0.001000 on 1.000000000 at rate 0.001000000"


def test_an_event_this_ctl_does_not_know_still_prints_its_fields() -> None:
    assert format_raw_event(msgspec.Raw(b'{"bot": "b", "kind": "novel", "x": 1}')) == "bot=b kind=novel x=1"


def test_bot_renders_a_liquidation_price_and_its_distance(
    server: ControlServer, runner: FakeRunner, capsys: pytest.CaptureFixture[str]
) -> None:
    runner.bot_result = msgspec.structs.replace(BOT, liq_price="17.030000", liq_distance_pct="92.64")
    code, out, _ = _ctl(capsys, "--socket", str(server.socket_path), "bot", "sol-neutral-grid")
    assert code == 0
    # the value in the cell right after its label (the panels print two label/value columns side by side)
    assert re.search(r"liq\. price\s+17\.030000\s", out), out
    assert re.search(r"liq\. distance %\s+92\.64\s", out), out


@pytest.mark.parametrize(
    ("supervision", "shown"),
    # starting: until its actor reports it has reconciled and caught up (runtime.supervision)
    [("running", "paused"), ("starting", "starting"), ("stopped", "stopped"), ("restarting", "restarting")],
)
def test_a_status_row_shows_the_bots_state_only_while_the_supervisor_runs_it(supervision: str, shown: str) -> None:
    slot = SupervisionView(supervision=supervision, restarts=2, flagged=True)
    row = status_row(BotSummary(name="b", state="paused"), slot)
    assert (row.name, row.state, row.restarts, row.flagged) == ("b", shown, 2, True)


@pytest.mark.parametrize(
    ("net", "label", "shown", "style"),
    [
        ("4.000000", "fees paid", "-4.000000", "red"),  # paid: a cost, shown as what it takes off equity
        ("-1.463960", "rebates earned", "+1.463960", "green"),  # a net rebate: an income, never "- -1.46"
        ("0.000000", "fees paid", "0.000000", ""),
        (None, "fees", "-", ""),
    ],
)
def test_fees_show_as_a_cost_or_an_income_by_their_effect_on_equity(
    net: str | None, label: str, shown: str, style: str
) -> None:
    name, text = fee_row(net)
    assert (name, text.plain, str(text.style)) == (label, shown, style)
