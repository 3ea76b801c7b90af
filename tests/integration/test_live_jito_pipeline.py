"""The real ``JitoSubmitter`` inside the real ``TxPipeline``, end to end: a scripted block engine (httpx's in-process
``MockTransport``) that lands the bundles it accepts on a fake Solana node (``FakeRpc``). The unit tests of each
side use stand-ins for the other; this checks what crosses between them: the bundle is exactly the pipeline's signed
transaction with the submitter's tip as its last instruction, an accepted bundle is confirmed without any RPC send,
and a block engine that keeps failing falls back to one RPC send of the very same bytes."""

from __future__ import annotations

import base64
import json
import random
from typing import Any

import anyio
import httpx
import pytest
from solana.rpc.async_api import AsyncClient
from solders.instruction import AccountMeta, Instruction
from solders.system_program import ID as SYSTEM_PROGRAM_ID
from solders.system_program import decode_transfer
from solders.transaction import VersionedTransaction

from botrunner.config.live import JitoSettings
from botrunner.live.jito import JITO_TIP_ACCOUNTS, JitoSubmitter
from botrunner.live.transactions import TxOutcome, TxPipeline, TxResult
from tests.integration.test_live_transactions import FAST, PAYER, POLL_S, Sleeps, transfer_ix
from tests.support.fake_rpc import FakeRpc, fake_rpc
from tests.unit.live.test_jito import ACCEPT_BODY, ENGINE_URL, SleepRecorder

TIP = 23_456


class LandingEngine:
    """A block engine that fails ``failures`` times (HTTP 503), then accepts and lands each bundle on ``chain``."""

    def __init__(self, chain: FakeRpc, failures: int = 0) -> None:
        self.chain = chain
        self.failures = failures
        self.bundles: list[VersionedTransaction] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        [encoded], options = json.loads(request.content)["params"]
        assert options == {"encoding": "base64"}
        tx = VersionedTransaction.from_bytes(base64.b64decode(encoded))
        self.bundles.append(tx)
        if len(self.bundles) <= self.failures:
            return httpx.Response(503, content=b"")
        self.chain.land_external(bytes(tx))
        return httpx.Response(200, content=ACCEPT_BODY)


chain = pytest.fixture(fake_rpc, name="chain")  # the node the bundles land on


def _execute(chain: FakeRpc, engine: LandingEngine, attempts: int) -> tuple[TxResult, SleepRecorder]:
    backoff = SleepRecorder()
    jito = JitoSettings(enabled=True, block_engine_url=ENGINE_URL, tip_lamports=TIP, attempts=attempts)

    async def main() -> TxResult:
        async with (
            AsyncClient(chain.url, timeout=5) as rpc,
            httpx.AsyncClient(transport=httpx.MockTransport(engine.handle)) as http,
        ):
            submitter = JitoSubmitter(jito, rng=random.Random(11), sleep=backoff, client=http)
            pipeline = TxPipeline(rpc, PAYER, FAST, sleep=Sleeps(), poll_interval_s=POLL_S, bundles=submitter)
            return await pipeline.execute([transfer_ix()], what="ladder")

    return anyio.run(main), backoff


def _tip_of(tx: VersionedTransaction) -> dict[str, Any]:
    """The transaction's last instruction decoded as a System Program transfer (it must be one)."""
    message = tx.message
    last = message.instructions[-1]
    keys = message.account_keys
    assert keys[last.program_id_index] == SYSTEM_PROGRAM_ID
    metas = [AccountMeta(keys[i], is_signer=False, is_writable=True) for i in last.accounts]
    return dict(decode_transfer(Instruction(SYSTEM_PROGRAM_ID, bytes(last.data), metas)))


def test_an_accepted_bundle_is_the_pipelines_signed_transaction_and_lands_without_an_rpc_send(chain: FakeRpc) -> None:
    engine = LandingEngine(chain)
    result, backoff = _execute(chain, engine, attempts=3)
    assert (result.outcome, result.sends) == (TxOutcome.CONFIRMED, 0)
    assert chain.count("sendTransaction") == 0
    (bundle,) = engine.bundles
    assert str(bundle.signatures[0]) == result.signature
    assert bundle.verify_with_results() == [True]
    tip = _tip_of(bundle)
    assert (tip["from_pubkey"], tip["lamports"]) == (PAYER.pubkey(), TIP)
    assert tip["to_pubkey"] in JITO_TIP_ACCOUNTS
    assert backoff.delays == []


def test_a_failing_block_engine_falls_back_to_one_rpc_send_of_the_same_bytes(chain: FakeRpc) -> None:
    engine = LandingEngine(chain, failures=99)
    result, backoff = _execute(chain, engine, attempts=3)
    assert result.outcome is TxOutcome.CONFIRMED
    assert (result.sends, chain.count("sendTransaction")) == (1, 1)
    assert len(engine.bundles) == 3 and len(backoff.delays) == 2  # every attempt, a pause between two
    assert {bytes(b) for b in engine.bundles} == {chain.sent[0].raw}  # one signature: at most one can execute
    assert _tip_of(engine.bundles[0])["lamports"] == TIP  # the tip rides along on the RPC path too
