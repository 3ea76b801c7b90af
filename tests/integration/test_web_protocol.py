"""The dashboard's WebSocket protocol without a browser, against a real runner: the token on every route, the
snapshot first, every command and error code, the id echo, the duplicate-id rule (never executed twice), no token
in any message, and /metrics scraped and parsed."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from botrunner.core.operator import ShowBot
from botrunner.runner import Runner, RunOptions
from botrunner.web.server import DashboardOptions
from tests.support.runtime import ask, short_dir, small_fleet, small_market

TOKEN = "test-token-" + "x" * 32


@pytest.fixture(scope="module")
def runner() -> Iterator[Runner]:
    work = short_dir()
    fleet = small_fleet(work / "fleet", ("alpha", "beta", "gamma"))
    r = Runner(
        RunOptions(
            fleet=fleet,
            run_dir=work / "run",
            speed="max",
            data_dir=small_market(work / "data"),
            ui=DashboardOptions(port=0, token=TOKEN),
        )
    )
    r.start()
    try:
        yield r
    finally:
        r.shutdown()


def _base(runner: Runner) -> str:
    assert runner.dashboard is not None
    return f"http://127.0.0.1:{runner.dashboard.port}"


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class Session:
    """One WebSocket client: sends commands, collects everything it is sent."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.seen: list[dict[str, Any]] = []

    async def next(self, kind: str, ident: object = None, timeout: float = 10.0) -> dict[str, Any]:
        async def wait() -> dict[str, Any]:
            while True:
                message = json.loads(await self.ws.receive_str())
                self.seen.append(message)
                if message["type"] == kind and (ident is None or message.get("id") == ident):
                    return message

        return await asyncio.wait_for(wait(), timeout)

    async def command(self, **fields: object) -> dict[str, Any]:
        """Send one command; its final COMMAND_RESULT (after an ``accepted`` one if it took long)."""
        await self.ws.send_str(json.dumps(fields))
        while True:
            reply = await self.next("COMMAND_RESULT", fields.get("id"))
            if reply["status"] == "done":
                return reply


async def _session(runner: Runner, body: Any) -> Any:
    import aiohttp

    async with aiohttp.ClientSession() as http, http.ws_connect(f"{_base(runner)}/ws?token={TOKEN}") as ws:
        return await body(Session(ws))


def test_every_route_refuses_a_request_without_the_token(runner: Runner) -> None:
    base = _base(runner)
    for path in ("/", "/static/dashboard.js", "/metrics", "/ws"):
        assert _get(base + path)[0] == 401, path
        assert _get(base + path + "?token=wrong")[0] == 401, path
    status, body = _get(f"{base}/?token={TOKEN}")
    assert status == 200 and b"dashboard.js" in body
    assert _get(f"{base}/static/uPlot.iife.min.js?token={TOKEN}")[0] == 200
    assert _get(f"{base}/static/../runner.py?token={TOKEN}")[0] in (401, 404)


def test_metrics_are_scraped_with_a_bearer_token_and_parse(runner: Runner) -> None:
    runner.drain()
    status, body = _get(f"{_base(runner)}/metrics", {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    equity = {s.labels["bot"]: s.value for s in families["botrunner_bot_equity_usd"].samples}
    assert set(equity) == {"alpha", "beta", "gamma"} and all(v > 0 for v in equity.values())
    for name in (
        "botrunner_bot_position_base",
        "botrunner_bot_risk_state",
        "botrunner_bot_orders_open",
        "botrunner_bot_fills",
        "botrunner_bot_restarts",
        "botrunner_process_rss_bytes",
        "botrunner_socket_clients",
        "botrunner_store_write_seconds",
        "botrunner_decision_latency_seconds",
        "botrunner_bot_step_errors",
    ):
        assert name in families, name
    stored = [s for s in families["botrunner_store_write_seconds"].samples if s.name.endswith("_count")]
    assert stored and stored[0].value > 0  # the writer committed the bots' steps
    decided = [s for s in families["botrunner_decision_latency_seconds"].samples if s.name.endswith("_count")]
    assert sum(s.value for s in decided) > 0
    assert _get(f"{_base(runner)}/metrics", {"Authorization": "Bearer nope"})[0] == 401


def test_a_client_gets_the_snapshot_first_then_the_stream(runner: Runner) -> None:
    async def body(s: Session) -> None:
        first = json.loads(await s.ws.receive_str())
        assert first["type"] == "SNAPSHOT"
        assert sorted(b["bot"] for b in first["data"]["bots"]) == ["alpha", "beta", "gamma"]
        await s.command(id="p-snap", type="PAUSE", bot="beta")
        status = await s.next("ENGINE_STATUS")
        while not (status["data"]["bot"] == "beta" and status["data"]["state"] == "paused"):
            status = await s.next("ENGINE_STATUS")
        assert (await s.command(id="r-snap", type="RESUME", bot="beta"))["ok"]

    asyncio.run(_session(runner, body))


def _error(reply: dict[str, Any]) -> str:
    assert reply["ok"] is False and reply["status"] == "done", reply
    return str(reply["error"]["code"])


def test_every_command_and_error_code(runner: Runner) -> None:
    async def body(s: Session) -> None:
        ok = await s.command(id="c1", type="PAUSE", bot="alpha")
        assert ok["ok"] and ok["id"] == "c1" and ok["result"] == {"name": "alpha", "state": "paused"}
        assert ask(runner, ShowBot(name="alpha"))["state"] == "paused"  # as ctl sees it
        assert (await s.command(id="c2", type="REDUCE_ONLY", bot="alpha"))["result"]["state"] == "reduce_only"
        assert (await s.command(id="c3", type="RESUME", bot="alpha"))["result"]["state"] == "running"
        assert (await s.command(id="c4", type="FLATTEN", bot="alpha"))["ok"]
        assert (await s.command(id="c5", type="RESUME", bot="alpha"))["ok"]
        closed = await s.command(id="c6", type="DRIFT_CLOSE_POSITION", bot="alpha")  # close: a flatten, target cleared
        assert closed["ok"] and closed["result"]["action"] == "close" and closed["result"]["target_base"] is None
        assert (await s.command(id="c7", type="RESUME", bot="alpha"))["ok"]
        assert _error(await s.command(id="c8", type="START_ENGINE", bot="alpha", mode="live")) == "mode_mismatch"
        assert _error(await s.command(id="c9", type="START_ENGINE", bot="nobody", mode="paper")) == "not_found"
        assert _error(await s.command(id="c10", type="START_ENGINE", bot="alpha", mode="monitor")) == "bad_args"
        assert (await s.command(id="c11", type="STOP_ENGINE", bot="gamma"))["result"]["state"] == "stopped"
        assert (await s.command(id="c12", type="START_ENGINE", bot="gamma", mode="paper"))["ok"]
        # capital: above $100 only with the page's confirm step; a paper bot moves no funds
        assert _error(await s.command(id="c13", type="DRIFT_DEPOSIT", bot="alpha", amount="500")) == (
            "confirmation_required"
        )
        assert _error(await s.command(id="c14", type="DRIFT_DEPOSIT", bot="alpha", amount="500", confirm=True)) == (
            "bad_request"
        )
        assert _error(await s.command(id="c15", type="DRIFT_WITHDRAW", bot="alpha", amount="50")) == "bad_request"
        assert _error(await s.command(id="c16", type="DRIFT_WITHDRAW", bot="alpha", amount="-5")) == "bad_args"
        assert _error(await s.command(id="c17", type="DRIFT_DEPOSIT", bot="alpha", amount="1", asset="btc")) == (
            "bad_args"
        )
        # opening a position: through the bot's step and its Risk Governor
        # (confirmed: what counts is the trade from the position the grid holds to the target, not the target)
        opened = await s.command(
            id="c18", type="DRIFT_OPEN_POSITION", bot="alpha", side="long", size="0.1", confirm=True
        )
        assert opened["ok"], opened
        assert opened["result"]["action"] == "open" and opened["result"]["target_base"] == "0.1"
        assert ask(runner, ShowBot(name="alpha"))["band"]["max"] == "0.100000000"  # the band its governor approved
        assert _error(await s.command(id="c19", type="DRIFT_OPEN_POSITION", bot="alpha", side="long", size="10")) == (
            "confirmation_required"  # 10 SOL at the mark is well above $100
        )
        refused = await s.command(
            id="c19b", type="DRIFT_OPEN_POSITION", bot="alpha", side="long", size="1000", confirm=True
        )
        assert _error(refused) == "refused" and "gate=risk_governor" in refused["error"]["message"]
        # (confirmed: without a side the page's check takes it for a two-leg open, whose spot leg alpha never posted)
        no_side = await s.command(id="c19c", type="DRIFT_OPEN_POSITION", bot="alpha", size="0.1", confirm=True)
        assert _error(no_side) == "bad_args"
        assert _error(await s.command(id="c19d", type="DRIFT_OPEN_POSITION", bot="alpha", side="long", size="0")) == (
            "bad_args"
        )
        assert (
            _error(
                # an unknown bot has no mark: the confirm step first, then the runner's not_found
                await s.command(
                    id="c19e", type="DRIFT_OPEN_POSITION", bot="nobody", side="long", size="0.1", confirm=True
                )
            )
            == "not_found"
        )
        assert (await s.command(id="c19f", type="DRIFT_CLOSE_POSITION", bot="alpha"))["result"]["target_base"] is None
        assert (await s.command(id="c19g", type="RESUME", bot="alpha"))["ok"]
        assert _error(await s.command(id="c20", type="CONFIRM", bot="alpha", token="abc")) == "bad_request"
        assert (await s.command(id="c21", type="RELOAD"))["result"]["unchanged"] == ["alpha", "beta", "gamma"]
        assert (await s.command(id=22, type="STATUS"))["id"] == 22  # an integer id is echoed as it came
        assert (await s.command(id="c23", type="GET_BOT", bot="beta"))["result"]["name"] == "beta"
        assert _error(await s.command(id="c24", type="PAUSE", bot="nobody")) in ("not_found", "conflict")
        assert _error(await s.command(id="c25", type="LAUNCH_ROCKET", bot="alpha")) == "unknown_command"
        assert _error(await s.command(id="c26", type="PAUSE")) == "bad_args"
        assert _error(await s.command(id="c27", type="PAUSE", bot="alpha", extra=1)) == "bad_args"
        # what carries no usable id is answered with id null
        for raw in ("{not json", "[1]", json.dumps({"type": "PAUSE", "bot": "alpha"}), json.dumps({"id": "x" * 65})):
            await s.ws.send_str(raw)
            reply = await s.next("COMMAND_RESULT", None)
            assert reply["id"] is None and reply["error"]["code"] in ("bad_json", "bad_request"), reply
        text = json.dumps(s.seen)
        assert TOKEN not in text

    asyncio.run(_session(runner, body))


def test_a_repeated_id_is_answered_from_the_first_result_and_never_executed_twice(runner: Runner) -> None:
    async def body(s: Session) -> None:
        first = await s.command(id="dup-1", type="PAUSE", bot="beta")
        again = await s.command(id="dup-1", type="RESUME", bot="beta")  # a different command under the same id
        assert again == first and first["result"]["state"] == "paused"
        assert ask(runner, ShowBot(name="beta"))["state"] == "paused"  # the RESUME never ran
        await s.command(id="dup-2", type="RESUME", bot="beta")

    asyncio.run(_session(runner, body))

    async def other_client(s: Session) -> None:  # across connections too (a page that reconnected and re-sent)
        assert (await s.command(id="dup-1", type="RESUME", bot="beta"))["result"]["state"] == "paused"
        assert ask(runner, ShowBot(name="beta"))["state"] == "running"  # as dup-2 left it

    asyncio.run(_session(runner, other_client))


def test_a_client_that_stops_reading_is_dropped_and_the_others_carry_on(runner: Runner) -> None:
    import aiohttp

    from botrunner.web.server import Broadcast

    dashboard, loop = runner.dashboard, runner.dashboard._loop if runner.dashboard else None
    assert dashboard is not None and loop is not None
    before = dashboard.dropped_clients
    pad = base64.b64encode(os.urandom(7_500)).decode()  # incompressible: the socket's buffers fill for real

    async def body(s: Session) -> None:
        async def read_everything() -> None:  # the first client keeps up
            while True:
                await s.ws.receive_str()

        reader = asyncio.get_running_loop().create_task(read_everything())
        async with aiohttp.ClientSession() as http, http.ws_connect(f"{_base(runner)}/ws?token={TOKEN}", compress=0):
            # this second client never reads: broadcasts pile up in its socket, then its queue, until it is dropped
            deadline = asyncio.get_running_loop().time() + 60
            while dashboard.dropped_clients == before and asyncio.get_running_loop().time() < deadline:
                for _ in range(64):
                    loop.call_soon_threadsafe(dashboard._fan_out, Broadcast("HEARTBEAT", {"pad": pad}))
                await asyncio.sleep(0.05)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        assert dashboard.dropped_clients == before + 1
        assert (await s.command(id="alive-1", type="STATUS"))["ok"]

    asyncio.run(_session(runner, body))


def test_no_dashboard_without_a_token_or_on_a_remote_host_without_the_flag(tmp_path: Path) -> None:
    from botrunner.runtime.hub import EventHub, StatusBoard
    from botrunner.web.server import DashboardError, DashboardServer

    def build(options: DashboardOptions) -> DashboardServer:
        return DashboardServer(
            options,
            dispatch=lambda c: None,
            board=StatusBoard(),
            hub=EventHub(),
            detail=lambda n: None,  # type: ignore[arg-type,return-value]  # never called
        )

    with pytest.raises(DashboardError, match="token"):
        build(DashboardOptions(token=""))
    with pytest.raises(DashboardError, match="--ui-allow-remote"):
        build(DashboardOptions(host="0.0.0.0", token=TOKEN))
    build(DashboardOptions(host="0.0.0.0", token=TOKEN, allow_remote=True))  # allowed: builds, not started
