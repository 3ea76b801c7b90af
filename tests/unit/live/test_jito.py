"""Jito bundle submission against a scripted block engine (httpx's in-process ``MockTransport``: the real
``httpx.AsyncClient`` request path, no sockets), plus the pure reply classification and the tip instruction."""

from __future__ import annotations

import asyncio
import base64
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
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
from solders.system_program import TransferParams, decode_transfer, transfer
from solders.transaction import VersionedTransaction

from botrunner.config.live import JITO_MIN_TIP_LAMPORTS, JitoSettings, LiveSettings
from botrunner.live.jito import JITO_TIP_ACCOUNTS, TIP_TRANSFER_BYTES, AttemptKind, JitoSubmitter, classify_reply

BUNDLE_ID = "892b79ed49138bfb3aa5441f0df6e06ef34f9ee8f3976c15b323605bae0cf51d"
MEMO_PROGRAM = Pubkey.from_string("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr")
ENGINE_URL = "http://engine.test/api/v1/bundles"
PAYER = Keypair.from_seed(bytes(range(32)))

# A scripted reply: an HTTP (status, body), or the name of a transport failure the client raises.
Reply = tuple[int, bytes] | str


ACCEPT_BODY = json.dumps({"jsonrpc": "2.0", "result": BUNDLE_ID, "id": 1}).encode()


def accept() -> Reply:
    return 200, ACCEPT_BODY


def rate_limited() -> Reply:
    error = {"code": -32097, "message": "Rate limit exceeded"}
    return 429, json.dumps({"jsonrpc": "2.0", "error": error, "id": 1}).encode()


@dataclass
class Engine:
    """The block engine: answers from ``script`` in order (the last one repeats) and records every request."""

    script: list[Reply] = field(default_factory=lambda: [accept()])
    requests: list[httpx.Request] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.script[min(len(self.requests), len(self.script)) - 1]
        match reply:
            case "timeout":
                raise httpx.ReadTimeout("slow", request=request)
            case "refused":
                raise httpx.ConnectError("connection refused", request=request)
            case "dropped":
                raise httpx.RemoteProtocolError("server disconnected", request=request)
            case (int() as status, bytes() as body):
                return httpx.Response(status, content=body)
        raise AssertionError(f"bad script entry {reply!r}")

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handle))

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) for r in self.requests]


@dataclass
class SleepRecorder:
    delays: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def signed_tx(submitter: JitoSubmitter | None = None, extra: Sequence[Instruction] = ()) -> VersionedTransaction:
    instructions = [Instruction(MEMO_PROGRAM, b"drift orders stand-in", []), *extra]
    if submitter is not None:
        instructions.append(submitter.tip_instruction(PAYER.pubkey()))
    message = MessageV0.try_compile(PAYER.pubkey(), instructions, [], Hash.default())
    return VersionedTransaction(message, [PAYER])


def make(engine: Engine, *, attempts: int = 3, seed: int = 7, **kwargs: Any) -> tuple[JitoSubmitter, SleepRecorder]:
    sleep = SleepRecorder()
    jito = JitoSettings(enabled=True, block_engine_url=ENGINE_URL, tip_lamports=12_345, attempts=attempts)
    submitter = JitoSubmitter(jito, rng=random.Random(seed), sleep=sleep, client=engine.client(), **kwargs)
    return submitter, sleep


def submit(submitter: JitoSubmitter, tx: VersionedTransaction | None = None) -> bool:
    return asyncio.run(submitter.submit(tx if tx is not None else signed_tx(submitter)))


# --- submit ----------------------------------------------------------------------------------------------------------


def test_submit_when_engine_accepts_then_true_after_one_call() -> None:
    engine = Engine()
    submitter, sleep = make(engine)
    assert submit(submitter) is True
    assert len(engine.requests) == 1
    assert sleep.delays == []


def test_submit_when_rate_limited_twice_then_true_after_three_calls_with_backoff() -> None:
    engine = Engine([rate_limited(), rate_limited(), accept()])
    submitter, sleep = make(engine)
    assert submit(submitter) is True
    assert len(engine.requests) == 3
    assert sleep.delays == [1.0, 2.0]


def test_submit_when_engine_always_500_then_false_after_exactly_attempts_calls() -> None:
    engine = Engine([(500, b"internal error")])
    submitter, sleep = make(engine, attempts=4)
    assert submit(submitter) is False
    assert len(engine.requests) == 4
    assert sleep.delays == [1.0, 2.0, 4.0]


def test_submit_when_more_attempts_than_delays_then_the_last_delay_repeats() -> None:
    engine = Engine([(503, b"")])
    submitter, sleep = make(engine, attempts=6)
    assert submit(submitter) is False
    assert sleep.delays == [1.0, 2.0, 4.0, 4.0, 4.0]
    custom, custom_sleep = make(Engine([(503, b"")]), attempts=3, delays=(0.25,))
    assert submit(custom) is False
    assert custom_sleep.delays == [0.25, 0.25]


def test_submit_when_reply_is_malformed_json_then_counted_as_failure() -> None:
    engine = Engine([(200, b"{not json"), (200, b'{"jsonrpc":"2.0","id":1}'), accept()])
    submitter, _ = make(engine)
    assert submit(submitter) is True
    assert len(engine.requests) == 3  # neither unreadable reply counted as accepted


def test_submit_when_jsonrpc_error_then_retried_then_false() -> None:
    error = {"code": -32602, "message": "bundle contains an expired blockhash"}
    engine = Engine([(200, json.dumps({"jsonrpc": "2.0", "error": error, "id": 1}).encode())])
    submitter, _ = make(engine, attempts=2)
    assert submit(submitter) is False
    assert len(engine.requests) == 2


def test_submit_when_timeout_then_retried_and_each_request_bounded_by_timeout_s() -> None:
    engine = Engine(["timeout", accept()])
    submitter, sleep = make(engine, timeout_s=0.15)
    assert submit(submitter) is True
    assert len(engine.requests) == 2
    assert sleep.delays == [1.0]
    bound = {"connect": 0.15, "read": 0.15, "write": 0.15, "pool": 0.15}
    assert [r.extensions["timeout"] for r in engine.requests] == [bound, bound]


@pytest.mark.parametrize("failure", ["refused", "dropped", "timeout"])
def test_submit_when_transport_always_fails_then_false_after_attempts(failure: str) -> None:
    engine = Engine([failure])
    submitter, sleep = make(engine)
    assert submit(submitter) is False
    assert len(engine.requests) == 3
    assert sleep.delays == [1.0, 2.0]  # three attempts, two backoffs


def test_submit_when_bad_request_then_false_without_retrying() -> None:
    engine = Engine([(400, b'{"jsonrpc":"2.0","error":{"code":-32602,"message":"invalid tip"},"id":1}')])
    submitter, sleep = make(engine)
    assert submit(submitter) is False
    assert len(engine.requests) == 1
    assert sleep.delays == []


def test_submit_request_when_sent_then_jsonrpc_send_bundle_with_the_same_signed_tx() -> None:
    engine = Engine()
    submitter, _ = make(engine)
    tx = signed_tx(submitter)
    submit(submitter, tx)
    (request,) = engine.requests
    assert (request.method, str(request.url)) == ("POST", ENGINE_URL)
    body = json.loads(request.content)
    assert (body["jsonrpc"], body["id"], body["method"]) == ("2.0", 1, "sendBundle")
    [transactions, options] = body["params"]
    assert options == {"encoding": "base64"}
    [encoded] = transactions
    decoded = VersionedTransaction.from_bytes(base64.b64decode(encoded))
    assert decoded.signatures[0] == tx.signatures[0]
    assert bytes(decoded) == bytes(tx)
    assert decoded.verify_with_results() == [True]


def test_submit_logs_when_attempts_fail_then_signature_and_error_logged_never_the_tx() -> None:
    engine = Engine([(503, b""), accept()])
    submitter, _ = make(engine)
    tx = signed_tx(submitter)
    with structlog.testing.capture_logs() as logs:
        assert submit(submitter, tx) is True
    events = [entry["event"] for entry in logs]
    assert events == ["jito_bundle_attempt_failed", "jito_bundle_accepted"]
    assert logs[0]["error"] == "HTTP 503"
    assert logs[1]["bundle_id"] == BUNDLE_ID
    assert all(entry["signature"] == str(tx.signatures[0]) for entry in logs)
    raw = base64.b64encode(bytes(tx)).decode()
    assert all(raw not in repr(entry) for entry in logs)


# --- the HTTP client's lifetime --------------------------------------------------------------------------------------


def test_submitter_when_no_client_given_then_one_client_opened_lazily_reused_and_closed_by_aclose(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = Engine()
    real = httpx.AsyncClient
    created: list[httpx.AsyncClient] = []

    def factory(**kwargs: Any) -> httpx.AsyncClient:
        client = real(transport=httpx.MockTransport(engine.handle), **kwargs)
        created.append(client)
        return client

    monkeypatch.setattr(httpx, "AsyncClient", factory)  # what the submitter calls to open its client
    jito = JitoSettings(enabled=True, block_engine_url=ENGINE_URL)
    submitter = JitoSubmitter(jito, sleep=SleepRecorder())
    assert created == []  # nothing opened before the first submission

    async def run() -> list[bool]:
        results = [await submitter.submit(signed_tx(submitter)) for _ in range(3)]
        await submitter.aclose()
        await submitter.aclose()  # idempotent
        return results

    assert asyncio.run(run()) == [True, True, True]
    assert len(engine.requests) == 3
    assert len(created) == 1  # one client (one connection pool, one TLS handshake) for every submission
    assert created[0].is_closed


def test_submitter_when_client_injected_then_it_is_used_and_left_open_by_aclose() -> None:
    engine = Engine()

    async def run() -> tuple[bool, bool]:
        async with engine.client() as client:
            submitter = JitoSubmitter(JitoSettings(enabled=True, block_engine_url=ENGINE_URL), client=client)
            ok = await submitter.submit(signed_tx(submitter))
            await submitter.aclose()
            return ok, client.is_closed

    assert asyncio.run(run()) == (True, False)
    assert len(engine.requests) == 1


@pytest.mark.parametrize(("timeout_s", "delays"), [(0.0, (1.0,)), (1.0, (1.0, -0.5))])
def test_submitter_when_timeout_or_delays_impossible_then_value_error(
    timeout_s: float, delays: tuple[float, ...]
) -> None:
    with pytest.raises(ValueError, match="timeout_s > 0 and delays >= 0"):
        JitoSubmitter(JitoSettings(enabled=True), timeout_s=timeout_s, delays=delays)


# --- tip instruction -------------------------------------------------------------------------------------------------


def test_tip_instruction_when_built_then_system_transfer_of_tip_to_a_listed_account() -> None:
    submitter, _ = make(Engine())
    payer = Keypair.from_seed(bytes(32)).pubkey()
    ix = submitter.tip_instruction(payer)
    assert ix.program_id == SYSTEM_PROGRAM_ID
    params = decode_transfer(ix)
    assert params["from_pubkey"] == payer
    assert params["lamports"] == 12_345
    assert params["to_pubkey"] in JITO_TIP_ACCOUNTS


def test_tip_transfer_bytes_when_tip_appended_then_exactly_the_growth_and_an_upper_bound() -> None:
    submitter, _ = make(Engine())
    assert len(bytes(signed_tx(submitter))) - len(bytes(signed_tx())) == TIP_TRANSFER_BYTES == 81
    # With the System Program already in the transaction (a SOL deposit creates an account) the tip costs less.
    other = transfer(TransferParams(from_pubkey=PAYER.pubkey(), to_pubkey=Pubkey.new_unique(), lamports=1))
    growth = len(bytes(signed_tx(submitter, [other]))) - len(bytes(signed_tx(None, [other])))
    assert growth == TIP_TRANSFER_BYTES - 32


def test_tip_accounts_when_listed_then_eight_distinct_mainnet_accounts() -> None:
    assert len(set(JITO_TIP_ACCOUNTS)) == 8
    assert str(JITO_TIP_ACCOUNTS[0]) == "96gYZGLnJYVFmbjzopPSU6QiEV5fGqZNyN9nmNhvrZU5"


@given(seed=st.integers(min_value=0, max_value=2**32))
@settings(max_examples=50, deadline=None)
def test_tip_account_when_same_seed_then_same_sequence(seed: int) -> None:
    first, _ = make(Engine(), seed=seed)
    second, _ = make(Engine(), seed=seed)
    payer = Pubkey.default()
    picks = [decode_transfer(first.tip_instruction(payer))["to_pubkey"] for _ in range(5)]
    assert picks == [decode_transfer(second.tip_instruction(payer))["to_pubkey"] for _ in range(5)]


def test_tip_account_when_default_rng_then_reproducible_across_instances() -> None:
    jito = JitoSettings(enabled=True)
    assert [JitoSubmitter(jito).tip_account() for _ in range(3)] == [JitoSubmitter(jito).tip_account()] * 3
    picks = {JitoSubmitter(jito, rng=random.Random(s)).tip_account() for s in range(64)}
    assert len(picks) > 1  # the choice does spread over the accounts


# --- pure classification: properties ---------------------------------------------------------------------------------


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


RPC_ERROR = {"code": -32602, "message": "bundle contains an invalid transaction"}


@pytest.mark.parametrize(
    ("status", "body", "kind", "detail"),
    [
        (429, ACCEPT_BODY, AttemptKind.RETRYABLE, "HTTP 429"),  # rate limited: even a bundle id is not trusted
        (
            429,
            _json({"jsonrpc": "2.0", "error": {"message": "Rate limit exceeded"}}),
            AttemptKind.RETRYABLE,
            "HTTP 429: Rate limit exceeded",
        ),
        (500, b"", AttemptKind.RETRYABLE, "HTTP 500"),
        (503, b"<html>down</html>", AttemptKind.RETRYABLE, "HTTP 503"),
        (599, b"", AttemptKind.RETRYABLE, "HTTP 599"),
        (400, _json({"jsonrpc": "2.0", "error": RPC_ERROR}), AttemptKind.REJECTED, f"HTTP 400: {RPC_ERROR['message']}"),
        (404, b"not found", AttemptKind.REJECTED, "HTTP 404"),
        (201, ACCEPT_BODY, AttemptKind.REJECTED, "HTTP 201"),  # only a 200 carries an acceptance
        (301, b"", AttemptKind.REJECTED, "HTTP 301"),
        (200, b"", AttemptKind.RETRYABLE, "not JSON"),
        (200, b"\xff\xfe{", AttemptKind.RETRYABLE, "not JSON"),
        (200, b"[" * 100_000, AttemptKind.RETRYABLE, "not JSON"),  # nested past the parser's recursion limit
        (200, _json([BUNDLE_ID]), AttemptKind.RETRYABLE, "not a JSON object"),
        (200, _json(BUNDLE_ID), AttemptKind.RETRYABLE, "not a JSON object"),
        (200, _json({"jsonrpc": "2.0", "error": RPC_ERROR, "id": 1}), AttemptKind.RETRYABLE, "JSON-RPC error"),
        (200, _json({"result": BUNDLE_ID, "error": "x"}), AttemptKind.RETRYABLE, "JSON-RPC error"),  # error wins
        (200, _json({"jsonrpc": "2.0", "id": 1}), AttemptKind.RETRYABLE, "no bundle id"),
        (200, _json({"result": ""}), AttemptKind.RETRYABLE, "no bundle id"),
        (200, _json({"result": None}), AttemptKind.RETRYABLE, "no bundle id"),
        (200, _json({"result": 42}), AttemptKind.RETRYABLE, "no bundle id"),
        (200, _json({"result": [BUNDLE_ID]}), AttemptKind.RETRYABLE, "no bundle id"),
        (200, _json({"result": "x"}), AttemptKind.ACCEPTED, ""),
    ],
)
def test_classify_reply_when_example_reply_then_expected_kind(
    status: int, body: bytes, kind: AttemptKind, detail: str
) -> None:
    outcome = classify_reply(status, body)
    assert outcome.kind is kind and detail in outcome.detail


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["result", "error", "id"]), inner),
    max_leaves=8,
)


@given(
    status=st.integers(min_value=100, max_value=599),
    body=st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()),
)
@settings(max_examples=400)
def test_classify_reply_when_any_bytes_or_json_then_never_raises_and_accepts_only_a_bundle_id(
    status: int, body: bytes
) -> None:
    outcome = classify_reply(status, body)
    # the status alone decides every non-200: throttling and server errors are worth retrying, the rest is final
    if status != 200:
        retry = status == 429 or status >= 500
        assert outcome.kind is (AttemptKind.RETRYABLE if retry else AttemptKind.REJECTED)
    if outcome.kind is AttemptKind.ACCEPTED:  # never skip the RPC fallback without a bundle id in hand
        assert status == 200 and outcome.bundle_id and outcome.bundle_id == json.loads(body)["result"]
    else:
        assert outcome.bundle_id == "" and outcome.detail


def test_classify_reply_when_accepted_then_bundle_id_returned() -> None:
    # The property above reaches ACCEPTED only by chance; pin the one success shape explicitly.
    outcome = classify_reply(200, ACCEPT_BODY)
    assert (outcome.kind, outcome.bundle_id) == (AttemptKind.ACCEPTED, BUNDLE_ID)


@given(
    attempts=st.integers(min_value=1, max_value=6),
    replies=st.lists(st.sampled_from(["accept", "429", "500", "garbage", "timeout", "400"]), min_size=1, max_size=8),
)
@settings(max_examples=150, deadline=None)
def test_submit_when_any_reply_sequence_then_calls_bounded_and_stops_at_first_accept(
    attempts: int, replies: list[str]
) -> None:
    """The retry invariant: never more than ``attempts`` requests, no request after an acceptance or a 4xx
    rejection, True exactly when accepted, and the 1-2-4 s backoff (the last repeating) between attempts."""
    script: list[Reply] = []
    for kind in replies:
        match kind:
            case "accept":
                script.append(accept())
            case "timeout":
                script.append("timeout")
            case "garbage":
                script.append((200, b"<html>"))
            case _:
                script.append((int(kind), b""))
    engine = Engine(script)
    submitter, sleep = make(engine, attempts=attempts)
    ok = submit(submitter)
    seen = [replies[min(i, len(replies) - 1)] for i in range(attempts)]
    stop = next((i for i, kind in enumerate(seen) if kind in ("accept", "400")), attempts - 1)
    assert len(engine.requests) == stop + 1 <= attempts
    assert ok == (seen[stop] == "accept")
    assert sleep.delays == [1.0, 2.0, 4.0, 4.0, 4.0][:stop]


def test_settings_when_tip_below_jito_minimum_then_refused() -> None:
    LiveSettings(jito=JitoSettings(tip_lamports=JITO_MIN_TIP_LAMPORTS)).validate()
    with pytest.raises(ValueError, match=f"tip at least {JITO_MIN_TIP_LAMPORTS} lamports"):
        LiveSettings(jito=JitoSettings(tip_lamports=JITO_MIN_TIP_LAMPORTS - 1)).validate()
