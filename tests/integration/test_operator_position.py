"""``ctl open`` / ``ctl close`` against a real paper fleet through the control socket: a perp bot's open becomes the
band its Risk Governor approved, a refusal names the gate and its numbers and changes nothing, bad sizes and unknown
bots are structured errors, a delta-neutral bot's open is one two-leg decision through the engine's gates, close
flattens, the target survives a restart, and every command is audited."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from actors.bot_actor import decode_checkpoint
from botrunner.cli import main as cli_main
from botrunner.control.client import ClientError, ControlClient
from botrunner.core.operator import ClosePosition, ControlCommand, OpenPosition, PositionSide, ShowBot
from botrunner.runner import Runner, RunOptions
from botrunner.store import Store
from tests.support.runtime import short_dir, small_fleet, small_market

ROOT = Path(__file__).resolve().parents[2]


def _fleet(work: Path) -> Path:
    fleet = small_fleet(work / "fleet", ("alpha",))
    text = (ROOT / "config" / "bots" / "sol-delta-neutral.yaml").read_text()
    text = text.replace("name: sol-delta-neutral", "name: hedged").replace("subaccount_id: 4", "subaccount_id: 9")
    (fleet / "hedged.yaml").write_text(text)
    return fleet


def _start(work: Path) -> Runner:
    runner = Runner(
        RunOptions(fleet=work / "fleet", run_dir=work / "run", speed="max", data_dir=work / "data", exit_at_end=True)
    )
    runner.start()
    runner.wait(every_s=0.05)  # the replay runs to its end: the bots wait at their last price
    return runner


@pytest.fixture(scope="module")
def work() -> Iterator[Path]:
    path = short_dir()
    small_market(path / "data")
    _fleet(path)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def runner(work: Path) -> Iterator[Runner]:
    r = _start(work)
    try:
        yield r
    finally:
        r.shutdown()


def _call(runner: Runner, command: ControlCommand) -> Any:
    with ControlClient(runner.socket_path) as client:
        return json.loads(bytes(client.call_raw(command)))


def _error(runner: Runner, command: ControlCommand) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught, ControlClient(runner.socket_path) as client:
        client.call_raw(command)
    return caught.value.code, caught.value.message


def _raw_error(runner: Runner, args: dict[str, object]) -> tuple[str, str]:
    """A request as a client could send it, bypassing the client's own typing (a bad size must be refused by the
    server too)."""
    import socket

    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(runner.socket_path))
        sock.sendall(msgspec.json.encode({"id": 1, "cmd": "open", "args": args}) + b"\n")
        line = sock.makefile("rb").readline()
    reply = json.loads(line)
    assert reply["ok"] is False, reply
    return reply["error"]["code"], reply["error"]["message"]


def test_a_perp_open_becomes_the_band_its_governor_approved_and_close_flattens(runner: Runner) -> None:
    opened = _call(runner, OpenPosition(name="alpha", size="0.5", side=PositionSide.LONG))
    assert opened["name"] == "alpha" and opened["action"] == "open"
    assert opened["state"] == "running" and opened["target_base"] == "0.5"
    band = _call(runner, ShowBot(name="alpha"))["band"]
    assert (band["min"], band["max"]) == ("0.500000000", "0.500000000")
    closed = _call(runner, ClosePosition(name="alpha"))
    assert closed["action"] == "close" and closed["target_base"] is None
    assert closed["state"] in ("flattening", "paused")


def test_an_open_the_risk_governor_would_not_approve_is_refused_with_the_gate_and_its_numbers(runner: Runner) -> None:
    before = _call(runner, ShowBot(name="alpha"))
    code, message = _error(runner, OpenPosition(name="alpha", size="1000", side=PositionSide.LONG))
    assert code == "refused"
    assert "gate=risk_governor" in message and "leverage_cap" in message and "target_base=1000" in message
    assert message.endswith("nothing done")
    after = _call(runner, ShowBot(name="alpha"))
    assert (after["state"], after["band"], after["orders"]) == (before["state"], before["band"], before["orders"])


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ({"name": "alpha", "size": "0", "side": "long"}, "size must be a positive number"),
        ({"name": "alpha", "size": "-1", "side": "long"}, "size must be a positive number"),
        ({"name": "alpha", "size": "abc", "side": "long"}, "size must be a decimal number"),
        ({"name": "alpha", "size": 5, "side": "long"}, "Expected `str`"),
        ({"name": "alpha", "size": "0.0001", "side": "long"}, "not a multiple of the order step"),
        ({"name": "alpha", "size": "1e400", "side": "long"}, "out of range"),
        ({"name": "alpha", "size": "1"}, "needs a side"),
        ({"name": "hedged", "size": "1", "side": "short"}, "takes no side"),
        ({"name": "alpha", "size": "1", "side": "up"}, "Invalid enum value"),
    ],
)
def test_a_bad_size_or_side_is_bad_args_naming_the_field(runner: Runner, args: dict[str, object], says: str) -> None:
    code, message = _raw_error(runner, args)
    assert code == "bad_args" and says in message, message
    assert "$.args" in message


def test_an_unknown_bot_is_not_found(runner: Runner) -> None:
    assert _error(runner, OpenPosition(name="ghost", size="1", side=PositionSide.LONG))[0] == "not_found"
    assert _error(runner, ClosePosition(name="ghost"))[0] == "not_found"


def test_a_delta_neutral_open_resizes_both_legs_as_one_decision_refuses_whole_and_close_flattens(
    runner: Runner,
) -> None:
    # the replay's carry engine entered its configured 40 SOL hedge; the operator resizes it to 5, both legs at once
    assert _call(runner, ShowBot(name="hedged"))["position"] == "-40.000000000"
    opened = _call(runner, OpenPosition(name="hedged", size="5"))
    assert opened["target_base"] == "5" and opened["commands"] == ["PlaceLegs"]
    detail = _call(runner, ShowBot(name="hedged"))
    assert detail["position"] == "-5.000000000" and detail["legs"]["spot_sol"].startswith("5.000")
    # beyond the USDC the spot leg can buy: refused whole, with its numbers (never cut to what fits)
    code, message = _error(runner, OpenPosition(name="hedged", size="500"))
    assert code == "refused" and "gate=usdc_balance" in message and "affordable_base=" in message
    assert _call(runner, ShowBot(name="hedged"))["position"] == "-5.000000000"  # nothing traded
    closed = _call(runner, ClosePosition(name="hedged"))
    assert closed["commands"] == ["PlaceLegs"] and closed["target_base"] is None
    detail = _call(runner, ShowBot(name="hedged"))
    assert detail["position"] == "0.000000000" and float(detail["legs"]["spot_sol"]) < 0.01  # interest dust only


def test_ctl_prints_the_outcome_and_a_refusal_is_one_line_exit_1(
    runner: Runner, capsys: pytest.CaptureFixture[str]
) -> None:
    socket_path = str(runner.socket_path)
    assert cli_main(["ctl", "--socket", socket_path, "open", "alpha", "0.3", "short"]) == 0
    out = capsys.readouterr().out
    assert "alpha open: running" in out and "target_base" in out and "-0.3" in out
    assert cli_main(["ctl", "--socket", socket_path, "open", "alpha", "900", "long"]) == 1
    err = capsys.readouterr().err
    assert (
        err.startswith("botrunner ctl: error: refused: open alpha: refused by risk_governor") and err.count("\n") == 1
    )
    assert cli_main(["ctl", "--socket", socket_path, "close", "alpha"]) == 0
    assert "alpha close:" in capsys.readouterr().out


def test_the_target_survives_a_restart_and_every_command_is_audited(work: Path, runner: Runner) -> None:
    _call(runner, OpenPosition(name="alpha", size="0.2", side=PositionSide.SHORT))
    runner.shutdown()
    restarted = _start(work)
    try:
        band = _call(restarted, ShowBot(name="alpha"))["band"]
    finally:
        restarted.shutdown()
    with Store.open(work / "run" / "botrunner.db", readonly=True) as store:
        saved = store.load_checkpoint("alpha")
        audited = [(row.cmd, row.outcome.split(":")[0]) for row in store.audit_rows() if row.actor == "ctl"]
    assert saved is not None and saved.venue_state is not None
    assert decode_checkpoint(saved.venue_state, "alpha").flags.target_base == -200_000_000
    assert band is None or (band["min"], band["max"]) == ("-0.200000000", "-0.200000000")
    assert ("open", "ok") in audited and ("close", "ok") in audited
    assert ("open", "refused") in audited and ("open", "error") in audited  # a gate's refusal; an unknown bot


def test_an_open_when_the_store_cannot_record_it_is_refused_and_nothing_trades() -> None:
    # the store writer failed (a full disk): the fleet is stopping, and a trade now would leave no record to recover
    # from, so an operator's open is refused like the bots' own steps are skipped (``BotShell._store_down``)
    from botrunner.store import StoreWriteError

    path = short_dir()
    try:
        small_market(path / "data")
        _fleet(path)
        r = _start(path)
        try:
            before = _call(r, ShowBot(name="hedged"))["position"]
            assert r.writer is not None
            r.writer._failed = StoreWriteError("test: the store cannot be written")  # the failure a full disk leaves
            code, message = _error(r, OpenPosition(name="hedged", size="5"))
            assert code == "refused" and "gate=store_down" in message, (code, message)
            assert _call(r, ShowBot(name="hedged"))["position"] == before  # nothing traded
        finally:
            if r.writer is not None:
                r.writer._failed = None  # let the shutdown write its last records
            r.shutdown()
    finally:
        shutil.rmtree(path, ignore_errors=True)
