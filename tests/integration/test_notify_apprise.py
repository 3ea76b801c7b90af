"""Notifications through apprise's JSON webhook target to a local HTTP receiver on 127.0.0.1: the events that
deserve one arrive, identical ones are sent once, the rate limit holds, secrets are scrubbed, and a failing
notifier neither raises nor blocks the publisher."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from botrunner.logsetup import register_secret
from botrunner.notify import RATE_PER_MINUTE, Note, Notifier, note_for, urls_from_env
from botrunner.runtime.hub import EventHub, StatusBoard
from botrunner.runtime.snapshots import Alert, Failed, FillEvent, FundingEvent, RiskStateChanged, Started


class Receiver:
    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.status = 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.posts.append(json.loads(body))
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait_for(self, n: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.posts) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.posts


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    try:
        yield r
    finally:
        r.server.shutdown()


def test_hub_events_reach_the_webhook_once_each(receiver: Receiver) -> None:
    hub = EventHub()
    notifier = Notifier([receiver.url], board=StatusBoard(), daily_summary=False)
    notifier.start(hub)
    try:
        hub.publish(RiskStateChanged(bot="sol", time="2025-09-21T00:00:00Z", state="REDUCE_ONLY", reasons=("health",)))
        hub.publish(RiskStateChanged(bot="sol", time="2025-09-21T00:00:05Z", state="REDUCE_ONLY", reasons=("health",)))
        hub.publish(Failed(bot="sol", error="boom", generation=1))
        hub.publish(Started(bot="sol", generation=2, state="running"))
        hub.publish(Alert(bot="sol", level="critical", message="health 12 %, liquidation price 101.5"))
        hub.publish(
            FillEvent(
                bot="sol",
                time="t",
                order_id=0,
                side="sell",
                price="100",
                base="1",
                quote="100",
                fees_paid="0",
                liquidity="taker",
                reduce_only=True,
            )
        )
        hub.publish(FundingEvent(bot="sol", time="t", position="1", rate="0.01", payment="-0.01"))  # no note
        posts = receiver.wait_for(5)
        time.sleep(0.3)
    finally:
        notifier.stop()
    titles = [p["title"] for p in receiver.posts]
    assert titles == ["sol: risk REDUCE_ONLY", "sol: failed", "sol: restarted", "sol: critical", "sol: LIQUIDATION"]
    assert "liquidation price 101.5" in posts[3]["message"]
    assert posts[0]["type"] == "warning" and posts[1]["type"] == "failure"


def test_health_levels_and_a_flagged_bot(receiver: Receiver) -> None:
    board = StatusBoard()
    notifier = Notifier([receiver.url], board=board, daily_summary=False)
    notifier.start(EventHub())
    try:
        notifier.on_health("eth", 80, None)  # ok: nothing
        notifier.on_health("eth", 45, "3000")
        notifier.on_health("eth", 15, "3900.5")
        board.update("eth", restarts=5, flagged=True)
        receiver.wait_for(3)
    finally:
        notifier.stop()
    by_title = {p["title"]: p["message"] for p in receiver.posts}  # the board is watched beside the queue
    assert set(by_title) == {"eth: health warning", "eth: health critical", "eth: flagged"}
    assert "health 45 % (warning" in by_title["eth: health warning"]
    assert "liquidation price 3900.5" in by_title["eth: health critical"]


def test_rate_limit_dedup_and_scrubbing() -> None:
    sent: list[Note] = []
    now = [1_000.0]
    notifier = Notifier([], send=lambda note: sent.append(note) or True, clock=lambda: now[0], daily_summary=False)
    secret = "SeCrEt-RPC-key-0123456789abcdef"
    register_secret(secret)
    for i in range(RATE_PER_MINUTE + 5):
        notifier._deliver(Note("t", f"n{i} {secret}", "info", f"k{i}"))
    notifier._deliver(Note("t", "again", "info", "k0"))  # a duplicate key within the dedup window
    assert len(sent) == RATE_PER_MINUTE
    assert all(secret not in note.body for note in sent)
    now[0] += 61
    notifier._deliver(Note("t", "later", "info", "later"))
    assert "5 more notifications were suppressed" in sent[-1].body


def test_a_failing_notifier_never_blocks_or_raises(receiver: Receiver) -> None:
    receiver.status = 500
    hub = EventHub()
    slow = threading.Event()

    def send(_note: Note) -> bool:
        slow.wait(5)  # a notifier that hangs
        raise RuntimeError("webhook down")

    notifier = Notifier([], send=send, daily_summary=False)
    notifier.start(hub)
    try:
        started = time.perf_counter()
        for i in range(2_000):  # far more than the queue holds
            hub.publish(Failed(bot="sol", error=f"e{i}", generation=i))
        assert time.perf_counter() - started < 1.0
        assert hub.listeners == 1  # the notifier was not dropped as a broken listener
    finally:
        slow.set()
        notifier.stop()
    # a 500 from the webhook is a failed delivery, not an exception
    real = Notifier([receiver.url], daily_summary=False)
    real._deliver(Note("t", "b", "info", "k"))
    assert real.failed == 1 and real.sent == 0


def test_urls_from_the_environment() -> None:
    assert urls_from_env({"BOTRUNNER_NOTIFY_URLS": "json://a/b, tgram://x/y"}) == ["json://a/b", "tgram://x/y"]
    assert urls_from_env({}) == []
    assert note_for(FundingEvent(bot="b", time="t", position="0", rate="0", payment="0")) is None
