"""The transaction pipeline against a fake Solana node (a real HTTP server driven through the real AsyncClient).

Every test ends by asserting that no signature reached sendTransaction twice (also checked in the fixture's
teardown). Windows are shrunk (confirmation 1 s + status 1 s, polls every 20 ms); retry sleeps are recorded at their
requested length and actually sleep at most 20 ms.
"""

from __future__ import annotations

import base64
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any, cast

import anyio
import httpx
import pytest
import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from solana.exceptions import SolanaRpcException
from solana.rpc.async_api import AsyncClient
from solana.rpc.core import RPCException
from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.rpc.errors import InvalidParamsMessage, NodeUnhealthy, NodeUnhealthyMessage
from solders.rpc.requests import GetSlot
from solders.rpc.responses import (
    GetBlockHeightResp,
    GetLatestBlockhashResp,
    GetSignatureStatusesResp,
    RpcBlockhash,
    RpcResponseContext,
    RpcSimulateTransactionResult,
    SendTransactionResp,
    SimulateTransactionResp,
)
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction
from solders.transaction_status import TransactionConfirmationStatus, TransactionErrorFieldless, TransactionStatus
from structlog.testing import LogCapture

from botrunner.config.live import LiveSettings
from botrunner.core.precision import MAX_TRANSACTION_BYTES
from botrunner.live.instructions import transaction_size
from botrunner.live.jito import TIP_TRANSFER_BYTES
from botrunner.live.retry import Link, LinkState
from botrunner.live.transactions import (
    EXPIRY_CHECK_AFTER_S,
    RpcFailure,
    TxOutcome,
    TxPipeline,
    TxResult,
    classify_rpc_error,
    record_outcome,
)
from tests.support.fake_rpc import COMPUTE_BUDGET_PROGRAM, FakeRpc, Fault

PAYER = Keypair.from_seed(bytes([7] * 32))
DEST = Keypair.from_seed(bytes([8] * 32)).pubkey()
TIP_ACCOUNT = Keypair.from_seed(bytes([9] * 32)).pubkey()
FILLER_PROGRAM = Keypair.from_seed(bytes([10] * 32)).pubkey()
SYSTEM_PROGRAM = "11111111111111111111111111111111"
POLL_S = 0.02
FAST = LiveSettings(confirm_timeout_s=1, status_timeout_s=1, rpc_timeout_s=1, rpc_retry_delays_s=(1, 2, 4))
ON_CHAIN_ERR = {"InstructionError": [2, {"Custom": 6010}]}


class Sleeps:
    """The injected sleep: records what was asked, sleeps at most one poll interval."""

    def __init__(self) -> None:
        self.requested: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.requested.append(seconds)
        await anyio.sleep(min(seconds, POLL_S))

    @property
    def retries(self) -> list[float]:
        """The backoff sleeps (poll sleeps are never longer than a poll interval)."""
        return [s for s in self.requested if s > POLL_S]


@dataclass
class Run:
    result: TxResult
    sleeps: Sleeps
    logs: list[MutableMapping[str, Any]]

    def events(self, level: str) -> list[MutableMapping[str, Any]]:
        return [e for e in self.logs if e["log_level"] == level]


@dataclass
class FakeBundles:
    """A bundle submitter that answers ``accept``; ``land`` puts the bundle on the fake chain regardless."""

    fake: FakeRpc
    accept: bool
    land: bool = False
    submitted: list[VersionedTransaction] = field(default_factory=list)

    def tip_instruction(self, payer: Pubkey) -> Instruction:
        return transfer(TransferParams(from_pubkey=payer, to_pubkey=TIP_ACCOUNT, lamports=10_000))

    async def submit(self, tx: VersionedTransaction) -> bool:
        self.submitted.append(tx)
        if self.land:
            self.fake.land_external(bytes(tx))
        return self.accept


def capturing_logger(capture: LogCapture) -> Any:
    """A structlog logger whose every event lands in ``capture.entries`` (with its ``log_level``)."""
    return structlog.wrap_logger(structlog.ReturnLogger(), processors=[capture], wrapper_class=structlog.BoundLogger)


def transfer_ix(lamports: int = 1_000, to: Pubkey = DEST) -> Instruction:
    return transfer(TransferParams(from_pubkey=PAYER.pubkey(), to_pubkey=to, lamports=lamports))


def execute(
    fake: FakeRpc,
    *,
    cfg: LiveSettings = FAST,
    client_timeout: float = 5.0,
    instructions: list[Instruction] | None = None,
    **kwargs: Any,
) -> Run:
    sleeps = Sleeps()
    capture = LogCapture()
    log = capturing_logger(capture)

    async def main() -> TxResult:
        async with AsyncClient(fake.url, timeout=client_timeout) as client:
            pipeline = TxPipeline(client, PAYER, cfg, log=log, sleep=sleeps, poll_interval_s=POLL_S, **kwargs)
            return await pipeline.execute(instructions or [transfer_ix()], what="test")

    result = anyio.run(main)
    return Run(result, sleeps, capture.entries)


def params_of(fake: FakeRpc, method: str) -> list[list[Any]]:
    return [c.params for c in fake.calls if c.method == method]


def assert_sent_once(fake: FakeRpc, result: TxResult) -> None:
    fake.assert_no_double_send()
    assert [tx.signature for tx in fake.sent] == [result.signature]
    assert result.sends == 1


# -- the happy path ------------------------------------------------------------------------------------------------


def test_execute_when_node_healthy_then_confirmed_once_with_capped_compute_budget(fake: FakeRpc) -> None:
    run = execute(fake, priority_fee=lambda: 5_000_000)  # above the 1_000_000 cap

    r = run.result
    assert (r.outcome, r.what, r.error, r.slot, r.units_consumed) == (TxOutcome.CONFIRMED, "test", "", 1_000, 1_500)
    assert_sent_once(fake, r)
    tx = fake.sent[0]
    assert tx.compute_unit_limit == FAST.compute_unit_limit == 300_000
    assert tx.compute_unit_price == r.priority_fee == FAST.max_priority_fee_micro_lamports
    assert [ix.program_id for ix in tx.instructions] == [COMPUTE_BUDGET_PROGRAM, COMPUTE_BUDGET_PROGRAM, SYSTEM_PROGRAM]
    assert tx.instructions[2].accounts == (str(PAYER.pubkey()), str(DEST))
    assert tx.blockhash == fake.blockhash
    assert fake.methods()[:3] == ["getLatestBlockhash", "simulateTransaction", "sendTransaction"]
    assert set(fake.methods()[3:]) <= {"getSignatureStatuses", "getBlockHeight"}
    assert params_of(fake, "getLatestBlockhash")[0][0]["commitment"] == "confirmed"
    sim = params_of(fake, "simulateTransaction")[0][1]
    assert (sim["sigVerify"], sim["replaceRecentBlockhash"], sim["commitment"]) == (False, False, "confirmed")
    send = params_of(fake, "sendTransaction")[0][1]
    assert (send["skipPreflight"], send["maxRetries"]) == (True, 0)
    assert base64.b64decode(params_of(fake, "sendTransaction")[0][0]) == tx.raw


def test_execute_when_no_fee_estimate_then_price_zero(fake: FakeRpc) -> None:
    run = execute(fake)
    assert run.result.outcome is TxOutcome.CONFIRMED
    assert fake.sent[0].compute_unit_price == run.result.priority_fee == 0
    assert_sent_once(fake, run.result)


@pytest.mark.parametrize(("expiry_check_after_s", "height_reads"), [(EXPIRY_CHECK_AFTER_S, 0), (0.0, 4)])
def test_execute_when_confirms_after_polls_then_block_height_read_only_once_expiry_is_possible(
    fake: FakeRpc, expiry_check_after_s: float, height_reads: int
) -> None:
    fake.confirm_after(4)
    run = execute(fake, expiry_check_after_s=expiry_check_after_s)
    assert run.result.outcome is TxOutcome.CONFIRMED
    assert fake.count("getSignatureStatuses") == 5
    # A young blockhash cannot have expired: one RPC call per poll. Once it may have, a height read after every
    # "not found yet".
    assert fake.count("getBlockHeight") == height_reads
    assert_sent_once(fake, run.result)


# -- rejections before sending -------------------------------------------------------------------------------------


def test_execute_when_simulation_fails_then_rejected_with_logs_and_nothing_sent(fake: FakeRpc) -> None:
    logs = ["Program dRiftyHA39MWEi3m9aunc5MzRF1JYuBsbn6VPcn33UH invoke [1]", "Program log: Error: 6010"]
    fake.fail_simulation(ON_CHAIN_ERR, logs, units=42_000)
    run = execute(fake)

    r = run.result
    assert (r.outcome, r.sends, r.logs, r.units_consumed) == (TxOutcome.SIMULATION_FAILED, 0, tuple(logs), 42_000)
    assert '"Custom":6010' in r.error
    assert fake.count("simulateTransaction") == 1  # not retried
    assert fake.count("sendTransaction") == 0
    warning = run.events("warning")[-1]
    assert (warning["outcome"], warning["logs"], warning["units_consumed"]) == ("simulation_failed", logs, 42_000)
    fake.assert_no_double_send()


def test_execute_when_dry_run_then_simulated_and_nothing_sent(fake: FakeRpc) -> None:
    run = execute(fake, cfg=LiveSettings(dry_run=True))
    r = run.result
    assert (r.outcome, r.sends, r.units_consumed) == (TxOutcome.DRY_RUN, 0, 1_500)
    assert r.signature is not None
    assert fake.methods() == ["getLatestBlockhash", "simulateTransaction"]
    fake.assert_no_double_send()


def test_execute_when_transaction_too_large_then_rejected_before_simulation(fake: FakeRpc) -> None:
    many = [transfer_ix(1, Keypair.from_seed(bytes([i] * 32)).pubkey()) for i in range(10, 50)]
    run = execute(fake, instructions=many)
    assert run.result.outcome is TxOutcome.SIMULATION_FAILED
    assert "over 1232" in run.result.error
    assert fake.methods() == ["getLatestBlockhash"]
    fake.assert_no_double_send()


def _filling(budget: int) -> list[Instruction]:
    """One instruction (to a program not otherwise in the transaction) whose ``transaction_size`` is ``budget``."""
    for n in range(budget):
        ixs = [Instruction(FILLER_PROGRAM, bytes(n), [])]
        if transaction_size(PAYER.pubkey(), ixs) == budget:
            return ixs
    raise AssertionError(f"no filler of exactly {budget} bytes")


@pytest.mark.parametrize("jito", [False, True])
def test_execute_when_instructions_fill_the_budget_then_the_signed_tx_is_exactly_the_limit(
    fake: FakeRpc, jito: bool
) -> None:
    bundles = FakeBundles(fake, accept=False) if jito else None
    pipeline = TxPipeline(cast(AsyncClient, None), PAYER, FAST, bundles=bundles)
    assert pipeline.instruction_budget == (MAX_TRANSACTION_BYTES - TIP_TRANSFER_BYTES if jito else 1232)
    run = execute(fake, instructions=_filling(pipeline.instruction_budget), bundles=bundles)
    assert run.result.outcome is TxOutcome.CONFIRMED
    assert len(fake.sent[0].raw) == MAX_TRANSACTION_BYTES  # the tip reserve is exact: not a byte to spare or short
    assert_sent_once(fake, run.result)


# -- outcomes after sending ----------------------------------------------------------------------------------------


def test_execute_when_landed_with_err_then_failed_on_chain(fake: FakeRpc) -> None:
    fake.land_with_error(ON_CHAIN_ERR)
    run = execute(fake)
    r = run.result
    assert (r.outcome, r.slot) == (TxOutcome.FAILED_ON_CHAIN, 1_000)
    assert '"Custom":6010' in r.error
    assert_sent_once(fake, r)


def test_execute_when_confirmation_never_arrives_then_unknown_after_status_window(fake: FakeRpc) -> None:
    fake.never_confirm()
    run = execute(fake)

    r = run.result
    assert r.outcome is TxOutcome.UNKNOWN
    assert r.elapsed_s >= FAST.confirm_timeout_s + FAST.status_timeout_s
    histories = [p[1]["searchTransactionHistory"] for p in params_of(fake, "getSignatureStatuses")]
    assert histories[0] is False
    assert histories[-1] is True  # the status window searches the ledger
    assert fake.count("getLatestBlockhash") == 1  # never rebuilt
    # ONE record of the outcome, an alert saying what to do (the venue does not log it again)
    [alert] = [e for e in run.logs if e["log_level"] in ("error", "warning")]
    assert (alert["event"], alert["outcome"], alert["alert"]) == ("tx.done", "unknown", True)
    assert alert["action"] == "resync the account before trading; never re-sent"
    assert_sent_once(fake, r)


def test_execute_when_visible_only_in_history_then_confirmed_during_status_window(fake: FakeRpc) -> None:
    fake.confirm_after(0, history_only=True)  # aged out of the status cache
    run = execute(fake)
    assert run.result.outcome is TxOutcome.CONFIRMED
    assert FAST.confirm_timeout_s <= run.result.elapsed_s < FAST.confirm_timeout_s + FAST.status_timeout_s
    assert_sent_once(fake, run.result)


def test_execute_when_blockhash_expires_unseen_then_expired(fake: FakeRpc) -> None:
    fake.expire_blockhash()  # the fake's height jumps at once: let the pipeline look for expiry from the start
    run = execute(fake, expiry_check_after_s=0.0)
    r = run.result
    assert r.outcome is TxOutcome.EXPIRED
    assert f"last valid {fake.last_valid_block_height}" in r.error
    assert r.elapsed_s < FAST.confirm_timeout_s  # known as soon as the height passes, no need to wait
    assert fake.methods()[-1] == "getSignatureStatuses"  # the final check comes after reading the height
    assert params_of(fake, "getSignatureStatuses")[-1][1]["searchTransactionHistory"] is True
    assert_sent_once(fake, r)


# -- transient RPC failures on reads --------------------------------------------------------------------------------


def test_execute_when_blockhash_429_three_times_then_retried_on_one_two_four_schedule(fake: FakeRpc) -> None:
    fake.inject("getLatestBlockhash", Fault.http(429), times=3)
    run = execute(fake)
    assert run.result.outcome is TxOutcome.CONFIRMED
    assert run.sleeps.retries == [1.0, 2.0, 4.0]
    assert fake.count("getLatestBlockhash") == 4
    assert_sent_once(fake, run.result)


def test_execute_when_blockhash_always_429_then_send_failed_after_backoff_and_nothing_sent(fake: FakeRpc) -> None:
    fake.inject("getLatestBlockhash", Fault.http(429), times=None)
    run = execute(fake)
    r = run.result
    assert (r.outcome, r.sends, r.signature) == (TxOutcome.SEND_FAILED, 0, None)
    assert "HTTP 429" in r.error
    assert run.sleeps.retries == [1.0, 2.0, 4.0]
    assert fake.count("getLatestBlockhash") == 4
    assert fake.count("sendTransaction") == 0
    fake.assert_no_double_send()


def test_execute_when_simulate_503_once_then_retried_and_confirmed(fake: FakeRpc) -> None:
    fake.inject("simulateTransaction", Fault.http(503))
    run = execute(fake)
    assert run.result.outcome is TxOutcome.CONFIRMED
    assert run.sleeps.retries == [1.0]
    assert fake.count("simulateTransaction") == 2
    assert_sent_once(fake, run.result)


def test_execute_when_simulate_always_500_then_send_failed_and_nothing_sent(fake: FakeRpc) -> None:
    fake.inject("simulateTransaction", Fault.http(500), times=None)
    run = execute(fake)
    assert (run.result.outcome, run.result.sends) == (TxOutcome.SEND_FAILED, 0)
    assert fake.count("sendTransaction") == 0
    fake.assert_no_double_send()


def test_execute_when_blockhash_gets_rpc_error_then_send_failed_without_retry(fake: FakeRpc) -> None:
    fake.inject("getLatestBlockhash", Fault.rpc_error(-32602, "Invalid params"))
    run = execute(fake)
    assert (run.result.outcome, run.result.sends) == (TxOutcome.SEND_FAILED, 0)
    assert run.sleeps.retries == []
    assert fake.count("getLatestBlockhash") == 1
    fake.assert_no_double_send()


def test_execute_when_blockhash_read_times_out_then_retried(fake: FakeRpc) -> None:
    fake.inject("getLatestBlockhash", Fault.hang(3.0))
    run = execute(fake, client_timeout=0.3)
    assert run.result.outcome is TxOutcome.CONFIRMED
    assert run.sleeps.retries == [1.0]
    assert_sent_once(fake, run.result)


def test_execute_when_status_connection_dropped_then_keeps_polling_and_confirms(fake: FakeRpc) -> None:
    fake.inject("getSignatureStatuses", Fault.drop(), times=2)
    run = execute(fake)
    assert run.result.outcome is TxOutcome.CONFIRMED
    assert fake.count("getSignatureStatuses") == 3
    assert_sent_once(fake, run.result)


# -- failures of the send itself: never resend ---------------------------------------------------------------------


def test_execute_when_send_times_out_but_landed_then_no_resend_and_confirmed(fake: FakeRpc) -> None:
    fake.inject("sendTransaction", Fault.hang(4.0, land=True))  # longer than rpc_timeout_s (1 s)
    run = execute(fake)  # the client's own timeout (5 s) is longer: the pipeline's per-call deadline fires
    assert run.result.outcome is TxOutcome.CONFIRMED
    assert 1.0 <= run.result.elapsed_s < 3.0
    assert fake.count("sendTransaction") == 1
    assert_sent_once(fake, run.result)


def test_execute_when_send_times_out_and_never_seen_then_unknown_without_resend(fake: FakeRpc) -> None:
    fake.inject("sendTransaction", Fault.hang(3.0, land=False))
    run = execute(fake, client_timeout=0.3)
    assert run.result.outcome is TxOutcome.UNKNOWN
    assert fake.count("sendTransaction") == 1
    assert fake.count("getLatestBlockhash") == 1
    assert_sent_once(fake, run.result)


def test_execute_when_send_connection_dropped_then_no_resend_and_confirmed(fake: FakeRpc) -> None:
    fake.inject("sendTransaction", Fault.drop(land=True))
    run = execute(fake)
    assert run.result.outcome is TxOutcome.CONFIRMED
    assert fake.count("sendTransaction") == 1
    assert_sent_once(fake, run.result)


def test_execute_when_send_gets_500_then_treated_as_maybe_sent_and_confirmed(fake: FakeRpc) -> None:
    fake.inject("sendTransaction", Fault.http(500, land=True))
    run = execute(fake)
    assert run.result.outcome is TxOutcome.CONFIRMED
    assert_sent_once(fake, run.result)


def test_execute_when_send_gets_rpc_error_then_send_failed_without_polling(fake: FakeRpc) -> None:
    fake.inject("sendTransaction", Fault.rpc_error())
    run = execute(fake)
    r = run.result
    assert r.outcome is TxOutcome.SEND_FAILED
    assert "TransactionSignatureVerificationFailure" in r.error
    assert fake.count("getSignatureStatuses") == 0
    assert_sent_once(fake, r)


def test_execute_when_send_rate_limited_then_send_failed_and_not_retried(fake: FakeRpc) -> None:
    fake.inject("sendTransaction", Fault.http(429), times=None)
    run = execute(fake)
    assert run.result.outcome is TxOutcome.SEND_FAILED
    assert run.sleeps.retries == []
    assert_sent_once(fake, run.result)


# -- Jito bundles ---------------------------------------------------------------------------------------------------


def test_execute_when_bundle_refused_then_same_transaction_sent_once_by_rpc(fake: FakeRpc) -> None:
    bundles = FakeBundles(fake, accept=False)
    run = execute(fake, bundles=bundles)
    r = run.result
    assert r.outcome is TxOutcome.CONFIRMED
    assert len(bundles.submitted) == 1
    assert str(bundles.submitted[0].signatures[0]) == r.signature == fake.sent[0].signature
    assert fake.sent[0].raw == bytes(bundles.submitted[0])
    tip = fake.sent[0].instructions[-1]
    assert (tip.program_id, tip.accounts) == (SYSTEM_PROGRAM, (str(PAYER.pubkey()), str(TIP_ACCOUNT)))
    assert_sent_once(fake, r)


def test_execute_when_bundle_accepted_then_no_rpc_send_and_confirmed(fake: FakeRpc) -> None:
    bundles = FakeBundles(fake, accept=True, land=True)
    run = execute(fake, bundles=bundles)
    assert (run.result.outcome, run.result.sends) == (TxOutcome.CONFIRMED, 0)
    assert fake.count("sendTransaction") == 0
    fake.assert_no_double_send()


def test_execute_when_bundle_reported_failed_but_landed_and_send_refused_then_confirmed(fake: FakeRpc) -> None:
    bundles = FakeBundles(fake, accept=False, land=True)
    fake.inject("sendTransaction", Fault.rpc_error())
    run = execute(fake, bundles=bundles)
    assert run.result.outcome is TxOutcome.CONFIRMED  # the refusal proves nothing once a bundle went out
    assert_sent_once(fake, run.result)


# -- pure pieces ----------------------------------------------------------------------------------------------------


def _result(outcome: TxOutcome) -> TxResult:
    return TxResult(outcome=outcome, what="t")


def test_record_outcome_when_unknown_then_resync_required_and_failure_counted() -> None:
    link = Link.from_settings(LiveSettings())
    after = record_outcome(link, _result(TxOutcome.UNKNOWN), 10.0)
    assert (after.state, after.unknown_tx, after.breaker.failures) == (LinkState.RESYNC_REQUIRED, True, 1)
    assert not after.can_trade(10.0)


@pytest.mark.parametrize(
    ("outcome", "failures"),
    [
        (TxOutcome.CONFIRMED, 0),
        (TxOutcome.FAILED_ON_CHAIN, 2),
        (TxOutcome.SIMULATION_FAILED, 2),
        (TxOutcome.SEND_FAILED, 2),
        (TxOutcome.EXPIRED, 2),
        (TxOutcome.DRY_RUN, 1),
    ],
)
def test_record_outcome_when_outcome_then_breaker_counts_failures(outcome: TxOutcome, failures: int) -> None:
    link = Link.from_settings(LiveSettings()).tx_failed(0.0)
    after = record_outcome(link, _result(outcome), 1.0)
    assert after.breaker.failures == failures
    assert after.state is LinkState.CONNECTED


def _http_error(status: int) -> SolanaRpcException:
    request = httpx.Request("POST", "http://node")
    return _wrapped(httpx.HTTPStatusError("x", request=request, response=httpx.Response(status, request=request)))


def _no_call(_: Any) -> Any:
    return None


def _wrapped(cause: Exception) -> SolanaRpcException:
    exc = SolanaRpcException(cause, _no_call, None, GetSlot())
    exc.__cause__ = cause
    return exc


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (TimeoutError(), RpcFailure.UNCERTAIN),
        (_http_error(429), RpcFailure.REFUSED),
        (_http_error(503), RpcFailure.UNCERTAIN),
        (_http_error(400), RpcFailure.REJECTED),
        (_wrapped(httpx.ConnectError("refused")), RpcFailure.REFUSED),
        (_wrapped(httpx.ReadTimeout("slow")), RpcFailure.UNCERTAIN),
        (_wrapped(httpx.RemoteProtocolError("dropped")), RpcFailure.UNCERTAIN),
        (RPCException(InvalidParamsMessage("bad")), RpcFailure.REJECTED),
        (RPCException(NodeUnhealthyMessage("Node is unhealthy", NodeUnhealthy(3))), RpcFailure.REFUSED),
        (ValueError("a bug"), None),
    ],
)
def test_classify_when_exception_then_expected_failure_kind(exc: BaseException, kind: RpcFailure | None) -> None:
    assert classify_rpc_error(exc) is kind


# -- property: whatever fails, one send at most and every verdict true to the chain --------------------------------

FAILURES = ["ok", "timeout", "429", "503", "drop", "connect", "rpc_error"]
SLOT_S = 0.4  # virtual seconds per block
PRODUCTION = LiveSettings()


def _raise(kind: str) -> None:
    match kind:
        case "ok":
            return
        case "timeout":
            raise _wrapped(httpx.ReadTimeout("slow"))
        case "429":
            raise _http_error(429)
        case "503":
            raise _http_error(503)
        case "drop":
            raise _wrapped(httpx.RemoteProtocolError("dropped"))
        case "connect":
            raise _wrapped(httpx.ConnectError("refused"))
        case _:
            raise RPCException(InvalidParamsMessage("bad"))


@dataclass
class ScriptedChain:
    """An in-process stand-in for AsyncClient on a virtual clock: scripted failures per method, a chain whose block
    height advances with time, and a transaction that lands (or not) according to what the send did."""

    plan: dict[str, list[str]]
    land_if_uncertain: bool
    land_delay_s: float
    land_err: bool
    outage_until: float = 0.0  # statuses and block heights time out until then
    now: float = 0.0
    sends: int = 0
    landed_at: float | None = None
    last_valid: int = 0
    ctx: RpcResponseContext = field(default_factory=lambda: RpcResponseContext(1))

    def height(self) -> int:
        return 1_000 + int(self.now / SLOT_S)

    def _next(self, method: str) -> None:
        self.now += 0.05  # every call takes time: the chain moves between two reads
        script = self.plan.get(method) or []
        _raise(script.pop(0) if script else "ok")

    async def get_latest_blockhash(self, commitment: Any = None) -> GetLatestBlockhashResp:
        self._next("getLatestBlockhash")
        self.last_valid = self.height() + 150
        return GetLatestBlockhashResp(RpcBlockhash(Hash.new_unique(), self.last_valid), self.ctx)

    async def simulate_transaction(self, tx: Any, sig_verify: bool = False, commitment: Any = None) -> Any:
        self._next("simulateTransaction")
        result = RpcSimulateTransactionResult(err=None, logs=[], accounts=None, units_consumed=10, return_data=None)
        return SimulateTransactionResp(result, self.ctx)  # type: ignore[call-arg]  # the stub omits context

    async def send_raw_transaction(self, raw: bytes, opts: Any = None) -> SendTransactionResp:
        self.now += 0.05
        self.sends += 1
        script = self.plan.get("sendTransaction") or []
        kind = script.pop(0) if script else "ok"
        lands = kind == "ok" or (kind in ("timeout", "503", "drop") and self.land_if_uncertain)
        # A transaction can only land while its blockhash is valid.
        if lands and 1_000 + int((self.now + self.land_delay_s) / SLOT_S) <= self.last_valid:
            self.landed_at = self.now + self.land_delay_s
        _raise(kind)
        return SendTransactionResp(VersionedTransaction.from_bytes(raw).signatures[0])

    async def get_signature_statuses(self, sigs: list[Any], search_transaction_history: bool = False) -> Any:
        self._next("getSignatureStatuses")
        _raise("timeout" if self.now < self.outage_until else "ok")
        status = None
        if self.landed_at is not None and self.now >= self.landed_at:
            err = TransactionErrorFieldless.AccountInUse if self.land_err else None
            status = TransactionStatus(
                7, confirmations=None, err=err, confirmation_status=TransactionConfirmationStatus.Confirmed
            )
        return GetSignatureStatusesResp([status], self.ctx)

    async def get_block_height(self, commitment: Any = None) -> GetBlockHeightResp:
        self._next("getBlockHeight")
        _raise("drop" if self.now < self.outage_until else "ok")
        return GetBlockHeightResp(self.height())


def run_scripted(chain: ScriptedChain, cfg: LiveSettings = PRODUCTION) -> TxResult:
    """Run the pipeline (default: production settings) on the chain's virtual clock."""

    async def sleep(seconds: float) -> None:
        chain.now += seconds

    async def main() -> TxResult:
        pipeline = TxPipeline(cast(AsyncClient, chain), PAYER, cfg, clock=lambda: chain.now, sleep=sleep, log=_quiet())
        return await pipeline.execute([transfer_ix()], what="scripted")

    return anyio.run(main)


class LandsDuringExpiryCheck(ScriptedChain):
    """The transaction lands in the last valid block just after a status query said "not found"."""

    async def get_block_height(self, commitment: Any = None) -> GetBlockHeightResp:
        self.landed_at = self.now
        return GetBlockHeightResp(self.last_valid + 1)


class StuckAtLastValidHeight(ScriptedChain):
    """The chain stalls at exactly the last valid block height: the transaction could still land."""

    async def get_block_height(self, commitment: Any = None) -> GetBlockHeightResp:
        return GetBlockHeightResp(self.last_valid)


@dataclass
class RecordsHeightReads(ScriptedChain):
    """Remembers when (virtual time) the block height was read."""

    height_reads: list[float] = field(default_factory=list)

    async def get_block_height(self, commitment: Any = None) -> GetBlockHeightResp:
        self.height_reads.append(self.now)
        return await super().get_block_height(commitment)


@pytest.mark.parametrize(
    ("confirm_timeout_s", "first_read_from"),
    [(30, 30.0), (100, EXPIRY_CHECK_AFTER_S)],  # the history phase (30 s) starts first | 48 s after the blockhash
)
def test_execute_when_never_seen_then_block_height_read_only_once_expiry_is_possible(
    confirm_timeout_s: int, first_read_from: float
) -> None:
    chain = RecordsHeightReads({}, False, 1_000.0, False)  # sent, but would land only long after expiry
    result = run_scripted(chain, LiveSettings(confirm_timeout_s=confirm_timeout_s))
    assert result.outcome is TxOutcome.EXPIRED  # the chain passes the last valid height after 150 x 0.4 s = 60 s
    assert 60.0 <= result.elapsed_s < 62.0
    assert first_read_from <= chain.height_reads[0] < first_read_from + 1.0
    assert chain.sends == 1


def test_execute_when_landed_between_status_and_height_reads_then_confirmed_not_expired() -> None:
    chain = LandsDuringExpiryCheck({"sendTransaction": ["drop"]}, False, 0.0, False)
    result = run_scripted(chain)
    assert result.outcome is TxOutcome.CONFIRMED  # the status is re-read after the height proves expiry
    assert chain.sends == 1


def test_execute_when_height_equals_last_valid_then_not_expired() -> None:
    chain = StuckAtLastValidHeight({"sendTransaction": ["drop"]}, False, 0.0, False)
    result = run_scripted(chain)
    assert result.outcome is TxOutcome.UNKNOWN  # a block at the last valid height may still include it
    assert result.elapsed_s == pytest.approx(90.0, abs=1.0)  # 30 s confirmation + 60 s status window
    assert chain.sends == 1


scripts = st.lists(st.sampled_from(["ok", "ok", *FAILURES]), max_size=5)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    plan=st.fixed_dictionaries(
        {
            m: scripts
            for m in (
                "getLatestBlockhash",
                "simulateTransaction",
                "sendTransaction",
                "getSignatureStatuses",
                "getBlockHeight",
            )
        }
    ),
    land_if_uncertain=st.booleans(),
    land_delay_s=st.floats(min_value=0.0, max_value=120.0, allow_nan=False),
    land_err=st.booleans(),
    outage_until=st.one_of(st.just(0.0), st.floats(min_value=0.0, max_value=150.0, allow_nan=False)),
)
def test_execute_property_never_sends_twice_and_outcome_matches_the_chain(
    plan: dict[str, list[str]], land_if_uncertain: bool, land_delay_s: float, land_err: bool, outage_until: float
) -> None:
    chain = ScriptedChain(plan, land_if_uncertain, land_delay_s, land_err, outage_until)
    result = run_scripted(chain)
    assert chain.sends <= 1
    assert result.sends == chain.sends
    match result.outcome:
        case TxOutcome.CONFIRMED:
            assert chain.landed_at is not None
            assert not land_err
        case TxOutcome.FAILED_ON_CHAIN:
            assert chain.landed_at is not None
            assert land_err
        case TxOutcome.EXPIRED | TxOutcome.SEND_FAILED | TxOutcome.SIMULATION_FAILED:
            assert chain.landed_at is None, f"{result.outcome} but the transaction landed"
        case TxOutcome.UNKNOWN:
            assert chain.sends == 1
        case TxOutcome.DRY_RUN:
            raise AssertionError("not a dry run")


def _quiet() -> Any:
    return capturing_logger(LogCapture())
