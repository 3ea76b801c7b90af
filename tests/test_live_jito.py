"""Jito bundle submission against a real local HTTP server standing in for the block engine."""

from __future__ import annotations

import asyncio
import base64
import json
import random
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st
from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.system_program import ID as SYSTEM_PROGRAM_ID
from solders.system_program import decode_transfer
from solders.transaction import VersionedTransaction

from botrunner.live.jito import (
    JITO_TIP_ACCOUNTS,
    AttemptKind,
    JitoError,
    JitoSubmitter,
    backoff_delays,
    classify_reply,
    jito_submitter,
    parse_bundle_status,
)
from botrunner.live.settings import JitoSettings

BUNDLE_ID = "892b79ed49138bfb3aa5441f0df6e06ef34f9ee8f3976c15b323605bae0cf51d"
MEMO_PROGRAM = Pubkey.from_string("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr")


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    delay_s: float = 0.0


def accept() -> Reply:
    return Reply(200, json.dumps({"jsonrpc": "2.0", "result": BUNDLE_ID, "id": 1}).encode())


def rate_limited() -> Reply:
    error = {"code": -32097, "message": "Rate limit exceeded"}
    return Reply(429, json.dumps({"jsonrpc": "2.0", "error": error, "id": 1}).encode())


@dataclass
class BlockEngine:
    """Replies from ``script`` in order (the last one repeats) and records every request body."""

    script: list[Reply]
    requests: list[bytes] = field(default_factory=list)
    url: str = ""

    def next_reply(self, body: bytes) -> Reply:
        self.requests.append(body)
        index = min(len(self.requests), len(self.script)) - 1
        return self.script[index]


@pytest.fixture
def engine() -> Iterator[BlockEngine]:
    state = BlockEngine(script=[accept()])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            reply = state.next_reply(body)
            if reply.delay_s:
                time.sleep(reply.delay_s)
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
            except OSError:  # the client timed out and hung up
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/api/v1/bundles"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class SleepRecorder:
    delays: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def signed_tx(submitter: JitoSubmitter | None = None) -> VersionedTransaction:
    payer = Keypair.from_seed(bytes(range(32)))
    instructions = [Instruction(MEMO_PROGRAM, b"drift orders stand-in", [])]
    if submitter is not None:
        instructions.append(submitter.tip_instruction(payer.pubkey()))
    message = MessageV0.try_compile(payer.pubkey(), instructions, [], Hash.default())
    return VersionedTransaction(message, [payer])


def make(url: str, *, attempts: int = 3, timeout_s: float = 2.0, seed: int = 7) -> tuple[JitoSubmitter, SleepRecorder]:
    sleep = SleepRecorder()
    jito = JitoSettings(enabled=True, block_engine_url=url, tip_lamports=12_345, attempts=attempts)
    return JitoSubmitter(jito, rng=random.Random(seed), sleep=sleep, timeout_s=timeout_s), sleep


# --- submit against the local block engine ---------------------------------------------------------------------------


def test_submit_when_engine_accepts_then_true_after_one_call(engine: BlockEngine) -> None:
    submitter, sleep = make(engine.url)
    assert asyncio.run(submitter.submit(signed_tx(submitter))) is True
    assert len(engine.requests) == 1
    assert sleep.delays == []


def test_submit_when_rate_limited_twice_then_true_after_three_calls_with_backoff(engine: BlockEngine) -> None:
    engine.script = [rate_limited(), rate_limited(), accept()]
    submitter, sleep = make(engine.url)
    assert asyncio.run(submitter.submit(signed_tx(submitter))) is True
    assert len(engine.requests) == 3
    assert sleep.delays == [1.0, 2.0]


def test_submit_when_engine_always_500_then_false_after_exactly_attempts_calls(engine: BlockEngine) -> None:
    engine.script = [Reply(500, b"internal error")]
    submitter, sleep = make(engine.url, attempts=4)
    assert asyncio.run(submitter.submit(signed_tx(submitter))) is False
    assert len(engine.requests) == 4
    assert sleep.delays == [1.0, 2.0, 4.0]


def test_submit_when_reply_is_malformed_json_then_counted_as_failure(engine: BlockEngine) -> None:
    engine.script = [Reply(200, b"{not json"), Reply(200, b'{"jsonrpc":"2.0","id":1}'), accept()]
    submitter, _ = make(engine.url)
    assert asyncio.run(submitter.submit(signed_tx(submitter))) is True
    assert len(engine.requests) == 3  # neither unreadable reply counted as accepted


def test_submit_when_jsonrpc_error_then_retried_then_false(engine: BlockEngine) -> None:
    error = {"code": -32602, "message": "bundle contains an expired blockhash"}
    engine.script = [Reply(200, json.dumps({"jsonrpc": "2.0", "error": error, "id": 1}).encode())]
    submitter, _ = make(engine.url, attempts=2)
    assert asyncio.run(submitter.submit(signed_tx(submitter))) is False
    assert len(engine.requests) == 2


def test_submit_when_engine_too_slow_then_timeout_is_failure(engine: BlockEngine) -> None:
    engine.script = [Reply(200, accept().body, delay_s=0.6)]
    submitter, _ = make(engine.url, attempts=2, timeout_s=0.15)
    started = time.monotonic()
    assert asyncio.run(submitter.submit(signed_tx(submitter))) is False
    assert len(engine.requests) == 2
    assert time.monotonic() - started < 1.0  # the client gave up; it did not wait for the slow replies


def test_submit_when_timeout_then_accept_then_true(engine: BlockEngine) -> None:
    engine.script = [Reply(200, accept().body, delay_s=0.6), accept()]
    submitter, _ = make(engine.url, timeout_s=0.15)
    assert asyncio.run(submitter.submit(signed_tx(submitter))) is True
    assert len(engine.requests) == 2


def test_submit_when_connection_refused_then_false_after_attempts() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    submitter, sleep = make(f"http://127.0.0.1:{port}/api/v1/bundles")
    assert asyncio.run(submitter.submit(signed_tx(submitter))) is False
    assert sleep.delays == [1.0, 2.0]  # three attempts, two backoffs


def test_submit_when_bad_request_then_false_without_retrying(engine: BlockEngine) -> None:
    engine.script = [Reply(400, b'{"jsonrpc":"2.0","error":{"code":-32602,"message":"invalid tip"},"id":1}')]
    submitter, sleep = make(engine.url)
    assert asyncio.run(submitter.submit(signed_tx(submitter))) is False
    assert len(engine.requests) == 1
    assert sleep.delays == []


def test_submit_request_when_sent_then_jsonrpc_send_bundle_with_the_same_signed_tx(engine: BlockEngine) -> None:
    submitter, _ = make(engine.url)
    tx = signed_tx(submitter)
    asyncio.run(submitter.submit(tx))
    request = json.loads(engine.requests[0])
    assert request["jsonrpc"] == "2.0"
    assert request["id"] == 1
    assert request["method"] == "sendBundle"
    [transactions, options] = request["params"]
    assert options == {"encoding": "base64"}
    [encoded] = transactions
    decoded = VersionedTransaction.from_bytes(base64.b64decode(encoded))
    assert decoded.signatures[0] == tx.signatures[0]
    assert bytes(decoded) == bytes(tx)
    assert decoded.verify_with_results() == [True]


def test_submit_logs_when_attempts_fail_then_signature_and_error_logged_never_the_tx(engine: BlockEngine) -> None:
    engine.script = [Reply(503, b""), accept()]
    submitter, _ = make(engine.url)
    tx = signed_tx(submitter)
    with structlog.testing.capture_logs() as logs:
        assert asyncio.run(submitter.submit(tx)) is True
    events = [entry["event"] for entry in logs]
    assert events == ["jito_bundle_attempt_failed", "jito_bundle_accepted"]
    assert logs[0]["error"] == "HTTP 503"
    assert logs[1]["bundle_id"] == BUNDLE_ID
    assert all(entry["signature"] == str(tx.signatures[0]) for entry in logs)
    raw = base64.b64encode(bytes(tx)).decode()
    assert all(raw not in repr(entry) for entry in logs)


def test_submit_when_client_injected_then_it_is_used_and_left_open(engine: BlockEngine) -> None:
    async def run() -> tuple[bool, bool]:
        async with httpx.AsyncClient() as client:
            jito = JitoSettings(enabled=True, block_engine_url=engine.url)
            submitter = JitoSubmitter(jito, client=client)
            ok = await submitter.submit(signed_tx(submitter))
            return ok, client.is_closed

    assert asyncio.run(run()) == (True, False)


# --- bundle status ---------------------------------------------------------------------------------------------------


def test_bundle_status_when_landed_then_slot_and_confirmation(engine: BlockEngine) -> None:
    status = {
        "bundle_id": BUNDLE_ID,
        "transactions": ["3bC2M9fiACSjkTXZDgeNAuQ4ScTsdKGwR42ytFdhUvikqTmBheUxfsR1fDVsM5ADCMMspuwGkdm1uKbU246x5aE3"],
        "slot": 242804011,
        "confirmation_status": "finalized",
        "err": {"Ok": None},
    }
    reply = {"jsonrpc": "2.0", "result": {"context": {"slot": 242806119}, "value": [status]}, "id": 1}
    engine.script = [Reply(200, json.dumps(reply).encode())]
    submitter, _ = make(engine.url)
    found = asyncio.run(submitter.bundle_status(BUNDLE_ID))
    assert found is not None
    assert (found.slot, found.confirmation_status, found.err) == (242804011, "finalized", {"Ok": None})
    request = json.loads(engine.requests[0])
    assert (request["method"], request["params"]) == ("getBundleStatuses", [[BUNDLE_ID]])


def test_bundle_status_when_unknown_then_none() -> None:
    empty = b'{"jsonrpc":"2.0","result":{"context":{"slot":1},"value":[]},"id":1}'
    assert parse_bundle_status(empty, BUNDLE_ID) is None
    assert parse_bundle_status(b'{"jsonrpc":"2.0","result":null,"id":1}', BUNDLE_ID) is None


def test_bundle_status_when_engine_errors_then_jito_error(engine: BlockEngine) -> None:
    engine.script = [Reply(500, b"")]
    submitter, _ = make(engine.url)
    with pytest.raises(JitoError, match="HTTP 500"):
        asyncio.run(submitter.bundle_status(BUNDLE_ID))
    with pytest.raises(JitoError):
        parse_bundle_status(b"[", BUNDLE_ID)


# --- tip instruction -------------------------------------------------------------------------------------------------


def test_tip_instruction_when_built_then_system_transfer_of_tip_to_a_listed_account() -> None:
    submitter, _ = make("http://127.0.0.1:1/")
    payer = Keypair.from_seed(bytes(32)).pubkey()
    ix = submitter.tip_instruction(payer)
    assert ix.program_id == SYSTEM_PROGRAM_ID
    params = decode_transfer(ix)
    assert params["from_pubkey"] == payer
    assert params["lamports"] == 12_345
    assert params["to_pubkey"] in JITO_TIP_ACCOUNTS


def test_tip_accounts_when_listed_then_eight_distinct_mainnet_accounts() -> None:
    assert len(set(JITO_TIP_ACCOUNTS)) == 8
    assert str(JITO_TIP_ACCOUNTS[0]) == "96gYZGLnJYVFmbjzopPSU6QiEV5fGqZNyN9nmNhvrZU5"


@given(seed=st.integers(min_value=0, max_value=2**32))
@settings(max_examples=50, deadline=None)
def test_tip_account_when_same_seed_then_same_sequence(seed: int) -> None:
    first, _ = make("http://127.0.0.1:1/", seed=seed)
    second, _ = make("http://127.0.0.1:1/", seed=seed)
    payer = Pubkey.default()
    picks = [decode_transfer(first.tip_instruction(payer))["to_pubkey"] for _ in range(5)]
    assert picks == [decode_transfer(second.tip_instruction(payer))["to_pubkey"] for _ in range(5)]


def test_tip_account_when_default_rng_then_reproducible_across_instances() -> None:
    jito = JitoSettings(enabled=True)
    assert [JitoSubmitter(jito).tip_account() for _ in range(3)] == [JitoSubmitter(jito).tip_account()] * 3
    picks = {JitoSubmitter(jito, rng=random.Random(s)).tip_account() for s in range(64)}
    assert len(picks) > 1  # the choice does spread over the accounts


# --- construction ----------------------------------------------------------------------------------------------------


def test_jito_submitter_when_disabled_then_none() -> None:
    assert jito_submitter(JitoSettings()) is None
    assert isinstance(jito_submitter(JitoSettings(enabled=True)), JitoSubmitter)


@pytest.mark.parametrize(
    ("jito", "message"),
    [(JitoSettings(attempts=0), "attempts"), (JitoSettings(tip_lamports=999), "tip_lamports")],
)
def test_jito_submitter_when_settings_impossible_then_value_error(jito: JitoSettings, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        JitoSubmitter(jito)


# --- pure classification: properties ---------------------------------------------------------------------------------


@given(status=st.integers(min_value=100, max_value=599), body=st.binary(max_size=300))
@settings(max_examples=300)
def test_classify_reply_when_any_bytes_then_never_raises_and_accepts_only_a_bundle_id(status: int, body: bytes) -> None:
    outcome = classify_reply(status, body)
    if outcome.kind is AttemptKind.ACCEPTED:
        reply = json.loads(body)
        assert status == 200
        assert outcome.bundle_id == reply["result"] != ""
        assert "error" not in reply


@given(
    status=st.integers(min_value=100, max_value=599),
    reply=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["result", "error", "id"]), inner),
        max_leaves=8,
    ),
)
@settings(max_examples=300)
def test_classify_reply_when_any_json_then_accepted_iff_200_with_string_result(status: int, reply: Any) -> None:
    outcome = classify_reply(status, json.dumps(reply).encode())
    accepted = (
        status == 200
        and isinstance(reply, dict)
        and "error" not in reply
        and isinstance(reply.get("result"), str)
        and reply["result"] != ""
    )
    assert (outcome.kind is AttemptKind.ACCEPTED) == accepted
    retryable = status == 429 or status >= 500 or (status == 200 and not accepted)
    assert (outcome.kind is AttemptKind.RETRYABLE) == retryable


@given(
    attempts=st.integers(min_value=1, max_value=6),
    replies=st.lists(st.sampled_from(["accept", "429", "500", "garbage", "timeout", "400"]), min_size=1, max_size=8),
)
@settings(max_examples=150, deadline=None)
def test_submit_when_any_reply_sequence_then_calls_bounded_and_stops_at_first_accept(
    attempts: int, replies: list[str]
) -> None:
    """The retry invariant, driven through httpx's in-process transport so it runs fast: never more than
    ``attempts`` requests, no request after an acceptance or a 4xx rejection, and True exactly when accepted."""
    calls: list[int] = []

    def handle(request: httpx.Request) -> httpx.Response:
        kind = replies[min(len(calls), len(replies) - 1)]
        calls.append(1)
        match kind:
            case "accept":
                return httpx.Response(200, content=accept().body)
            case "timeout":
                raise httpx.ReadTimeout("slow", request=request)
            case "garbage":
                return httpx.Response(200, content=b"<html>")
            case _:
                return httpx.Response(int(kind), content=b"")

    async def run() -> tuple[bool, list[float]]:
        sleep = SleepRecorder()
        async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as client:
            jito = JitoSettings(enabled=True, block_engine_url="http://engine.test/api/v1/bundles", attempts=attempts)
            submitter = JitoSubmitter(jito, sleep=sleep, client=client)
            return await submitter.submit(signed_tx()), sleep.delays

    ok, delays = asyncio.run(run())
    seen = [replies[min(i, len(replies) - 1)] for i in range(attempts)]
    stop = next((i for i, kind in enumerate(seen) if kind in ("accept", "400")), attempts - 1)
    assert len(calls) == stop + 1 <= attempts
    assert ok == (seen[stop] == "accept")
    assert delays == backoff_delays(attempts, 1.0)[:stop]
