"""``botrunner run`` with a live bot, as a user runs it: a subprocess, a fake Solana node on 127.0.0.1, the control
socket. Bad keys and an unreachable RPC are one line and a non-zero exit; a working run trades through the node,
answers ``ctl``, moves funds on request, shuts down cleanly, and no log line or reply ever holds the key.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from solders.keypair import Keypair

from tests.integration.test_live_venue import KP, funded_user, serve_chain
from tests.support.fake_rpc import FakeRpc
from tests.support.runtime import short_dir

ROOT = Path(__file__).resolve().parents[2]
SECRET_FORMS = (str(KP), json.dumps(list(bytes(KP))), json.dumps(list(bytes(KP)), separators=(",", ":")))

BOT = """\
name: live-band
mode: live
account:
  authority: {authority}
  subaccount_id: 1
market: SOL-PERP
capital_usdc: 1000
strategy:
  kind: band
  band: {{min_base: -0.5, max_base: 0.5}}
execution:
  grid_levels: 2
  step_bps: 50
  base_size_per_level: 0.1
  post_only: must_post_only
  ramp_in: {{duration_s: 0, initial_fraction_bps: 10000}}
live:
  rpc_url: {url}
  refresh_s: 1
  confirm_timeout_s: 1
  status_timeout_s: 1
"""


@pytest.fixture
def work() -> Iterator[Path]:
    path = short_dir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _fleet(work: Path, url: str, authority: str | None = None) -> Path:
    fleet = work / "fleet"
    fleet.mkdir(parents=True, exist_ok=True)
    (fleet / "live-band.yaml").write_text(BOT.format(authority=authority or KP.pubkey(), url=url))
    return fleet


def _env(key: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DRIFT_PRIVATE_KEY"}
    if key is not None:
        env["DRIFT_PRIVATE_KEY"] = key
    return env


def _run_cmd(work: Path, run_dir: str = "run") -> list[str]:
    return [sys.executable, "-m", "botrunner", "run", "--fleet", str(work / "fleet"), "--run-dir", str(work / run_dir)]


def _run_once(work: Path, key: str | None, run_dir: str = "run") -> subprocess.CompletedProcess[str]:
    cmd = _run_cmd(work, run_dir)
    return subprocess.run(cmd, cwd=ROOT, env=_env(key), capture_output=True, text=True, timeout=60, check=False)


def _ctl(work: Path, *args: str) -> Any:
    cmd = [sys.executable, "-m", "botrunner", "ctl", "--run-dir", str(work / "run"), "--json", *args]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), done.stdout + done.stderr


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (None, "DRIFT_PRIVATE_KEY: not set"),
        ("not-a-key", "DRIFT_PRIVATE_KEY: not a keypair file path"),
        ("[1,2,3]", "a keypair has 64 bytes"),
        ("/nonexistent/id.json", "no such file"),
        (str(Keypair()), "is not the public key of DRIFT_PRIVATE_KEY"),
    ],
)
def test_run_when_key_missing_or_malformed_then_one_line_and_nonzero_exit(
    work: Path, fake: FakeRpc, key: str | None, expected: str
) -> None:
    serve_chain(fake, user=funded_user())
    _fleet(work, fake.url)
    done = _run_once(work, key)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    if key is not None and len(key) > 20:
        assert key not in done.stderr + done.stdout
    assert fake.count("sendTransaction") == 0


def test_run_when_rpc_unreachable_then_one_line_and_nonzero_exit(work: Path) -> None:
    _fleet(work, "http://127.0.0.1:9")  # discard port: connection refused
    done = _run_once(work, str(KP))
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "RPC http://127.0.0.1:9 unreachable" in lines[0], done.stderr
    assert "Traceback" not in done.stderr + done.stdout


@pytest.mark.slow  # ~6.6 s alone: a live bot trades through the fake node in a real subprocess
def test_run_live_bot_trades_through_the_node_and_never_leaks_the_key(work: Path, fake: FakeRpc) -> None:
    serve_chain(fake, user=funded_user())
    _fleet(work, fake.url)
    out = (work / "runner.out").open("w")
    proc = subprocess.Popen(
        [*_run_cmd(work), "--quiet"], cwd=ROOT, env=_env(str(KP)), stdout=out, stderr=subprocess.STDOUT
    )
    replies: list[str] = []
    try:
        deadline = time.monotonic() + 30
        while not (work / "run" / "control.sock").exists() or fake.count("sendTransaction") < 1:
            assert proc.poll() is None, (work / "runner.out").read_text()
            assert time.monotonic() < deadline, "the live bot never sent its first transaction"
            time.sleep(0.1)
        status, text = _ctl(work, "status")
        replies.append(text)
        row = status["bots"][0]
        assert (row["name"], row["mode"], row["state"], row["equity"]) == (
            "live-band",
            "live",
            "running",
            "1000.000000",
        )
        # The same live subaccount from another run directory: refused in one line, before anything is made there.
        second = _run_once(work, str(KP), run_dir="run2")
        assert second.returncode == 2
        assert f"subaccount {KP.pubkey()}/1 is traded by another runner (pid {proc.pid}:" in second.stderr
        assert len(second.stderr.strip().splitlines()) == 1, second.stderr
        assert not (work / "run2" / "botrunner.db").exists()
        detail, text = _ctl(work, "bot", "live-band")
        replies.append(text)
        assert detail["health"] == 100 and detail["trading"] in ("ok", "link resync_required")
        assert fake.url.split("//")[1] not in text  # an RPC URL can carry an API key: never in a reply
        withdrawn, text = _ctl(work, "withdraw", "live-band", "5", "usdc")
        replies.append(text)
        # validated, simulated, sent and confirmed (the bot keeps re-placing its ladder meanwhile: the fake node
        # does not run the program, so its orders never appear)
        assert withdrawn["amount"] == "5.000000" and withdrawn["asset"] == "usdc"  # exact decimals, as typed
        assert [e for e in withdrawn["events"] if e["event"] == "BalanceChanged"] == [
            {
                "event": "BalanceChanged",
                "time": withdrawn["events"][-1]["time"],
                "asset": "usdc",
                "amount": "-5.000000",
                "reason": None,
                "detail": None,
            }
        ]
        refused, text = _ctl(work, "withdraw", "live-band", "5000", "usdc")
        replies.append(text)
        assert refused["events"][0]["reason"] == "insufficient_balance"
        confirmed, text = _ctl(work, "confirm", "live-band", "abcdef012345")
        replies.append(text)
        assert confirmed["valid_s"] == 300
        _, text = _ctl(work, "shutdown")
        replies.append(text)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        out.close()
    everything = "\n".join(replies) + (work / "runner.out").read_text()
    for log in (work / "run" / "logs").glob("*"):
        everything += log.read_text()
    assert '"tx.done"' in everything  # the logs do describe the trading
    for form in SECRET_FORMS:
        assert form not in everything


def _monitor(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "botrunner", "monitor", *args]
    env = {k: v for k, v in os.environ.items() if k != "BOTRUNNER_RPC_URL"}
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)


def test_monitor_once_reads_any_subaccount_without_a_key(fake: FakeRpc) -> None:
    serve_chain(fake, user=funded_user())
    done = _monitor(str(KP.pubkey()), "--subaccount", "1", "--rpc", fake.url, "--once", "--json")
    assert done.returncode == 0, done.stderr
    reading = json.loads(done.stdout.strip().splitlines()[-1])
    assert (reading["health"], reading["total_collateral"], reading["alert"]) == (100, "1000.000000", "ok")
    assert reading["oracle"] == "150.000000" and reading["liq_price"] is None and reading["liq_distance_pct"] is None
    assert reading["equity"] == "1000.000000"
    assert fake.count("sendTransaction") == 0 and fake.count("simulateTransaction") == 0


def test_monitor_reading_carries_ctl_bots_liquidation_distance(fake: FakeRpc) -> None:
    from decimal import Decimal

    from tests.unit.live.test_account import raw_user

    serve_chain(fake, user=raw_user(base=4 * 10**9, entry_price=140_000_000, usdc=100_000_000))
    done = _monitor(str(KP.pubkey()), "--subaccount", "1", "--rpc", fake.url, "--once", "--json")
    assert done.returncode in (0, 3), done.stderr
    reading = json.loads(done.stdout.strip().splitlines()[-1])
    assert (reading["position"], reading["entry"], reading["mark"]) == ("4.000000000", "140.000000", "150.000000")
    oracle, liq = Decimal(reading["oracle"]), Decimal(reading["liq_price"])
    assert liq < oracle  # a long with little collateral: liquidated by a fall
    # the distance is the one of the printed price, in percent of the oracle, floored to 0.01 % like ctl bot's
    assert (
        Decimal(reading["liq_distance_pct"])
        == ((oracle - liq) / oracle * 10_000).to_integral_value("ROUND_FLOOR") / 100
    )
    assert Decimal(reading["equity"]) > 0
    text = _monitor(str(KP.pubkey()), "--subaccount", "1", "--rpc", fake.url, "--once")
    line = " ".join(text.stdout.split())  # rich may wrap the line
    assert f"equity {reading['equity']}" in line and f"({reading['liq_distance_pct']} % away)" in line, text.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("not-a-pubkey", "--rpc", "http://127.0.0.1:9"), "is not a base58 Solana public key"),
        ((str(KP.pubkey()), "--rpc", "http://127.0.0.1:9"), "RPC http://127.0.0.1:9 unreachable"),
        ((str(KP.pubkey()),), "no --rpc and BOTRUNNER_RPC_URL is not set"),
        ((str(KP.pubkey()), "--market", "DOGE-PERP", "--rpc", "http://127.0.0.1:9"), "--market"),
    ],
)
def test_monitor_when_bad_input_then_one_line_error(args: tuple[str, ...], expected: str) -> None:
    done = _monitor(*args, "--once")
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], done.stderr
    assert "Traceback" not in done.stderr
