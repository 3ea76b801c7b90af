"""The real runner as a user runs it: start ``botrunner run`` in a subprocess, drive it over its control socket
(including garbage), kill it with SIGKILL mid-run, restart it, and check that nothing was lost or duplicated."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actors.bot_actor import decode_checkpoint
from botrunner.config import load_bot
from botrunner.control.client import ClientError, ControlClient
from botrunner.core.operator import ShowBot, Status
from botrunner.paper.config import PaperConfig
from botrunner.paper.persist import restore
from botrunner.runtime.snapshots import BotSnapshot, StatusSnapshot
from botrunner.store import Store
from tests.support.runtime import short_dir, small_fleet, small_market

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def work() -> Iterator[Path]:
    path = short_dir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _runner(work: Path, *extra: str) -> subprocess.Popen[bytes]:
    out = (work / "runner.out").open("ab")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "botrunner",
            "run",
            "--fleet",
            str(work / "fleet"),
            "--run-dir",
            str(work / "run"),
            "--data",
            str(work / "data"),
            "--quiet",
            *extra,
        ],
        cwd=ROOT,
        stdout=out,
        stderr=subprocess.STDOUT,
        env={**os.environ, "BOTRUNNER_LOG_LEVEL": "INFO"},
    )


def _wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _raw(path: Path, payload: bytes, *, read: bool = True) -> list[dict[str, Any]]:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(str(path))
        s.sendall(payload)
        if not read:
            return []
        data = b""
        while data.count(b"\n") < payload.count(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return [json.loads(line) for line in data.splitlines()]


def _books(db: Path, bots: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Check every bot's rows against its own venue checkpoint; return what the caller compares across runs."""
    out: dict[str, dict[str, Any]] = {}
    with Store.open(db, readonly=True) as store:
        assert store.integrity_check() == "ok"
        for name in bots:
            saved = store.load_checkpoint(name)
            assert saved is not None and saved.venue_state is not None
            envelope = decode_checkpoint(saved.venue_state, name)
            venue = restore(
                bytes(envelope.venue), load_bot(db.parents[1] / "fleet" / f"{name}.yaml").market_spec, PaperConfig()
            )
            fills = store.fills(name)
            orders = store.orders(name)
            funding = store.funding(name)
            # Nothing missing: the venue's own ledger is exactly what the rows add up to.
            assert saved.fill_seq == len(fills)
            assert venue.ledger.maker_fills + venue.ledger.taker_fills == sum(1 for f in fills if f.order_id != 0)
            assert sum(f.fee for f in fills if f.order_id != 0) == venue.ledger.fees - venue.ledger.liquidation_fees
            assert sum(f.payment for f in funding) == venue.ledger.funding
            # Nothing duplicated: an order id is placed once and closed at most once; a live uid is never reused.
            live: dict[int, int] = {}
            placed_ids: set[int] = set()
            for row in orders:
                if row.event in ("placed", "adopted"):
                    assert row.order_id not in placed_ids, f"{name}: order {row.order_id} placed twice"
                    assert row.user_order_id not in live, f"{name}: uid {row.user_order_id} placed while open"
                    placed_ids.add(row.order_id)
                    live[row.user_order_id] = row.order_id
                elif row.event != "rejected":
                    assert live.pop(row.user_order_id, None) == row.order_id, f"{name}: {row} closes no open order"
            assert set(live) == {o.uid for o in venue.orders.values()}, f"{name}: store and venue disagree"
            # Every placed order points at the recorded decision that placed it, across restarts too (a restart
            # that renumbered its decisions would have had its decision rows refused as duplicates).
            decided = {d.decision_seq for d in store.decisions(name)}
            assert all(r.decision_seq in decided for r in orders if r.event == "placed"), f"{name}: uncaused order"
            out[name] = {"fills": len(fills), "cursor": saved.cursor, "open": sorted(live), "orders": len(orders)}
    return out


def _status_once_started(client: ControlClient) -> StatusSnapshot:
    """The fleet's status once its bots have started: the socket is bound before the bots start, and meanwhile
    requests are told "conflict"."""
    deadline = time.monotonic() + 30
    while True:
        try:
            status = client.call(Status(), StatusSnapshot)
            return status
        except ClientError as exc:
            assert exc.code == "conflict" and "still starting" in str(exc), exc
            assert time.monotonic() < deadline, "the bots never finished starting"
            time.sleep(0.05)


def _check_garbage_and_misuse_are_answered(sock: Path) -> None:
    """Garbage and misuse: each gets an error, the connection or the runner carries on."""
    replies = _raw(
        sock,
        b"\xff\xfenot json\n"
        b'{"id": 1, "cmd": "launch-missiles"}\n'
        b'{"id": 2, "cmd": "pause", "args": {"name": 5}}\n'
        b'{"id": 3, "cmd": "bot", "args": {"name": "nobody"}}\n'
        b"[1, 2]\n"
        b'{"id": 4, "cmd": "status"}\n',
    )
    assert [r.get("error", {}).get("code") for r in replies] == [
        "bad_json",
        "unknown_command",
        "bad_args",
        "not_found",
        "bad_request",
        None,
    ]
    assert replies[-1]["ok"] is True
    too_long = _raw(sock, b'{"id": 5, "cmd": "status", "args": {"x": "' + b"a" * 70_000 + b'"}}\n')
    assert too_long[0]["error"]["code"] == "line_too_long"
    results: list[Any] = []
    threads = [
        threading.Thread(target=lambda: results.append(ControlClient(sock).call(Status(), StatusSnapshot)))
        for _ in range(50)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(results) == 50


def _check_a_second_runner_refuses_and_touches_nothing(
    work: Path, first: subprocess.Popen[bytes], client: ControlClient
) -> None:
    """A second runner on the same run directory refuses at once and touches nothing: no reconcile, no rows, no
    cancel of the first runner's orders, no restart of its bots."""
    db = work / "run" / "botrunner.db"
    with Store.open(db, readonly=True) as store:
        audits_before = len(store.audit_rows())
    second = _runner(work, "--speed", "max")
    assert second.wait(60) == 2
    assert f"in use by another runner (pid {first.pid}:" in (work / "runner.out").read_text()
    with Store.open(db, readonly=True) as store:
        assert len(store.audit_rows()) == audits_before
    status = client.call(Status(), StatusSnapshot)
    assert [b.restarts for b in status.bots] == [0, 0], status


def test_runner_answers_garbage_survives_sigkill_and_resumes_without_loss_or_duplicates(work: Path) -> None:
    small_market(work / "data")
    small_fleet(work / "fleet", ("alpha", "beta"))
    db = work / "run" / "botrunner.db"
    sock = work / "run" / "control.sock"
    proc = _runner(work, "--speed", "4000")
    try:
        _wait_for(sock.exists, 30, "the control socket")
        client = ControlClient(sock)
        status = _status_once_started(client)
        assert [b.name for b in status.bots] == ["alpha", "beta"]

        idle = socket.socket(socket.AF_UNIX)
        idle.connect(str(sock))  # connects and says nothing, for the whole test
        _check_garbage_and_misuse_are_answered(sock)

        # The operator CLI pauses beta, with more idle connections open than the socket serves at once (the runner's
        # limit is 256): the longest-waiting ones make room. The pause outlives the crash below.
        crowd = [socket.socket(socket.AF_UNIX) for _ in range(300)]
        for conn in crowd:
            conn.connect(str(sock))
        ctl = subprocess.run(
            [sys.executable, "-m", "botrunner", "ctl", "--run-dir", str(work / "run"), "pause", "beta"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert ctl.returncode == 0, ctl.stderr
        for conn in crowd:
            conn.close()
        assert client.call(ShowBot(name="beta"), BotSnapshot).orders == ()

        _check_a_second_runner_refuses_and_touches_nothing(work, proc, client)

        def alpha_filled() -> bool:
            with Store.open(db, readonly=True) as store:
                return len(store.fills("alpha")) >= 5

        _wait_for(alpha_filled, 60, "alpha's first fills")
        assert proc.poll() is None
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        idle.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)

    before = _books(db, ("alpha", "beta"))
    restarted = _runner(work, "--speed", "max", "--exit-at-end")
    assert restarted.wait(180) == 0, (work / "runner.out").read_text()[-3000:]
    after = _books(db, ("alpha", "beta"))

    with Store.open(db, readonly=True) as store:
        reconciles = [r for r in store.audit_rows() if r.cmd == "reconcile"]
        audits = [r for r in store.audit_rows() if r.actor == "ctl"]
    for name in ("alpha", "beta"):
        adoption = [json.loads(r.args_json) for r in reconciles if r.actor == f"bot:{name}"][-1]
        assert adoption["resumed"] is True
        assert sorted(adoption["adopted_orders"]) == before[name]["open"]  # the crash's resting orders, adopted
        assert after[name]["cursor"] > before[name]["cursor"]
    assert after["alpha"]["fills"] > before["alpha"]["fills"]  # alpha traded on after the restart
    assert after["beta"]["fills"] == before["beta"]["fills"]  # beta stayed paused through the crash
    assert [a.cmd for a in audits] == ["pause"]
    assert "Traceback" not in (work / "runner.out").read_text()
