"""Live incidents reach the operator's notification URL: a live bot on the fake Solana node is driven into a
transaction with an UNKNOWN outcome, a safety gate block and an open circuit breaker; each arrives once at a local
apprise JSON receiver with its numbers (the signature, the gate and its figures, the breaker's count). And
``botrunner run`` sends to the URLs of the fleet's settings file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from botrunner.config import BotMode
from botrunner.notify import Notifier
from tests.integration.test_live_actor import Started, live_actor
from tests.integration.test_live_commands import _settled, _until, band
from tests.integration.test_live_venue import FAST, funded_user, serve_chain
from tests.integration.test_notify_apprise import Receiver
from tests.support.fake_rpc import FakeRpc
from tests.support.runtime import short_dir, small_fleet, small_market

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    try:
        yield r
    finally:
        r.server.shutdown()


@contextmanager
def notified_bot(fake: FakeRpc, tmp_path: Path, receiver: Receiver) -> Iterator[Started]:
    with live_actor(fake, tmp_path, mode=BotMode.LIVE, config=band(FAST)) as bot:
        bot.wait_started()
        notifier = Notifier([receiver.url], daily_summary=False)
        notifier.start(bot.actor().setup.hub)
        try:
            yield bot
        finally:
            notifier.stop()


def _incidents(receiver: Receiver, n: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The posts other than the risk-state changes (the first decision's APPROVE is one), after ``n`` of them
    arrived or ``timeout``."""
    _until("the notifications", lambda: len(_only_incidents(receiver.posts)) >= n, timeout)
    return _only_incidents(receiver.posts)


def _only_incidents(posts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for p in posts if ": risk " not in p["title"]]


def _titles(posts: list[dict[str, Any]]) -> list[str]:
    return [p["title"] for p in posts]


def test_an_unknown_outcome_is_notified_with_its_signature(fake: FakeRpc, tmp_path: Path, receiver: Receiver) -> None:
    serve_chain(fake, user=funded_user())
    fake.never_confirm()  # FAST: 1 s of confirmation, 1 s of status queries, then UNKNOWN
    with notified_bot(fake, tmp_path, receiver) as bot:
        bot.tick()
        _until("the placement", lambda: len(fake.sent) == 1)
        _settled(bot)
        posts = _incidents(receiver, 1)
    assert _titles(posts) == ["live-band: transaction outcome UNKNOWN"]
    message = posts[0]["message"]
    assert fake.sent[0].signature in message
    assert "buy 0.100000000 @" in message and "nothing is re-sent" in message
    assert posts[0]["type"] == "failure"


def test_a_gate_block_is_notified_once_with_its_figures(fake: FakeRpc, tmp_path: Path, receiver: Receiver) -> None:
    serve_chain(fake, user=funded_user(), wallet_lamports=16_999_999)  # under the gas reserve
    with notified_bot(fake, tmp_path, receiver) as bot:
        for _ in range(3):  # the bot tries again each tick; the notifier's deduplication sends the first only
            bot.tick()
            _settled(bot)
        _incidents(receiver, 1)
        time.sleep(0.5)  # the later blocks had their chance to arrive
        posts = _incidents(receiver, 1)
    assert _titles(posts) == ["live-band: safety gate blocked a trade"]
    message = posts[0]["message"]
    assert "safety gate gas_reserve blocked 4 order(s) #1 buy 0.100000000 @ 149.250000" in message
    assert "wallet 0.016999999 SOL < gas reserve 0.017000000 SOL" in message
    assert fake.count("sendTransaction") == 0


def test_the_breaker_opening_is_notified(fake: FakeRpc, tmp_path: Path, receiver: Receiver) -> None:
    serve_chain(fake, user=funded_user())
    fake.land_with_error({"InstructionError": [2, {"Custom": 6010}]})
    with notified_bot(fake, tmp_path, receiver) as bot:
        for _ in range(FAST.breaker_failures + 1):
            bot.tick()
            _settled(bot)
        posts = _incidents(receiver, 1)
    assert _titles(posts) == ["live-band: circuit breaker open"]
    assert "after 3 consecutive transaction failures (threshold 3): no trade for 60 s" in posts[0]["message"]
    assert fake.count("sendTransaction") == FAST.breaker_failures


def test_botrunner_run_reads_the_fleet_files_urls_and_never_shows_them(receiver: Receiver) -> None:
    # fleet.yaml beside the bot directory, and nothing else, names the URL (with a token-like path) the notes go to;
    # neither the output nor the logs ever show it.
    work = short_dir()
    try:
        small_fleet(work / "bots", ("alpha",))
        small_market(work / "data", bars=48)
        url = receiver.url.replace("/hook", f"/hook/{SECRET_PATH}")
        (work / "fleet.yaml").write_text(f"notify:\n  urls: ['{url}']\n  rate_per_minute: 5\n")
        env = {k: v for k, v in os.environ.items() if k != "BOTRUNNER_NOTIFY_URLS"} | {"BOTRUNNER_LOG_LEVEL": "INFO"}
        done = subprocess.run(
            [sys.executable, "-m", "botrunner", "run", "--fleet", str(work / "bots"), "--run-dir", str(work / "run"),
             "--data", str(work / "data"), "--speed", "max", "--exit-at-end", "--no-ui", "--quiet"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        posts = receiver.wait_for(1)
        assert [p["title"] for p in posts][:1] == ["alpha: risk APPROVE"]
        shown = done.stdout + done.stderr + "".join(p.read_text() for p in (work / "run").rglob("*.log*"))
        assert SECRET_PATH not in shown
    finally:
        shutil.rmtree(work, ignore_errors=True)


SECRET_PATH = "s3cr3tT0kenAAHdqTcvCH1vGWJx"
