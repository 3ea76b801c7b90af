"""Optional Jito bundle submission: our own tip transfer + the block engine's JSON-RPC ``sendBundle`` over HTTP.

driftpy's Jito sender was removed (guide §3), so this module speaks the block-engine protocol itself:

* ``tip_instruction(payer)``: a System Program transfer of ``tip_lamports`` to one of Jito's 8 mainnet tip accounts.
  The transaction pipeline appends it BEFORE signing, so the tip and the Drift instructions are one atomic transaction
  (Jito's advice: a tip in the same transaction is only paid if the transaction lands). It costs at most
  ``TIP_TRANSFER_BYTES`` of the transaction, which the pipeline keeps free (``TxPipeline.instruction_budget``).
* ``submit(tx)``: POST ``sendBundle`` with the signed transaction (base64) as a one-transaction bundle. A ``result``
  (the bundle id) means the block engine ACCEPTED it; that is not "landed", the pipeline still confirms by signature.
  429, 5xx, a timeout, a dropped connection, a JSON-RPC ``error`` or an unreadable reply is retried after the
  ``delays`` (1 s, 2 s, 4 s by default) up to ``attempts`` in all; then ``False`` and the pipeline sends the SAME
  signed transaction through standard RPC. Re-sending the same signed bytes is safe: Solana deduplicates by
  signature, so a bundle that was accepted but whose reply was lost cannot execute twice.

One ``httpx.AsyncClient`` is opened on the first submission and kept (one TLS handshake, then a pooled connection);
``aclose()`` closes it when the bot stops.

Protocol reference: jito-labs/jito-docs ``docs/source/lowlatencytxnsend.md`` (``/api/v1/bundles``: ``sendBundle``,
``getTipAccounts``; minimum tip 1000 lamports; 5 requests/s per IP per region, 429 beyond).
"""

from __future__ import annotations

import asyncio
import base64
import enum
import json
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Final, assert_never

import httpx
import msgspec
import structlog
from solders.instruction import Instruction
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction
from structlog.typing import FilteringBoundLogger

from botrunner.config.live import JitoSettings, LiveSettings
from botrunner.live.retry import backoff_delays

# Jito's 8 mainnet tip accounts, as published in the block-engine docs (jito-labs/jito-docs,
# docs/source/lowlatencytxnsend.md, "getTipAccounts" response example: "The tip accounts have remained constant").
# The live source of truth is the block engine's `getTipAccounts` JSON-RPC method; we hard-code them so building a
# transaction never needs a network round trip. Tip accounts must NOT be put in an address lookup table (Jito docs).
JITO_TIP_ACCOUNTS: Final[tuple[Pubkey, ...]] = tuple(
    Pubkey.from_string(address)
    for address in (
        "96gYZGLnJYVFmbjzopPSU6QiEV5fGqZNyN9nmNhvrZU5",
        "HFqU5x63VTqvQss8hp11i4wVV8bD44PvwucfZ2bU7gRe",
        "Cw8CFyM9FkoMi7K7Crf6HNQqf4uEMzpKw6QNghXLvLkY",
        "ADaUMid9yfUytqMBgopwjb2DTLSokTSzL1zt6iGPaS49",
        "DfXygSm4jCyNCybVYYK6DwvWqjKee8pbDmJGcLWNDXjh",
        "ADuUkR4vqLUMWXxW9gh6D6L8pMSawimctcNZ5pGwDcEt",
        "DttWaMuVvTiduZRnguLF7jNxTgiMBZ1hyAumKUiL2KRL",
        "3AVi9Tg9Uo68tJfuvoKvqKNWKkC5wPdSSdeBnizKZ6jT",
    )
)
# What a tip transfer adds to a compiled v0 transaction, at most: two new account keys (the System Program and the
# tip account, 2 x 32 bytes) + the compiled instruction (program index, 2 account indexes with their length, 12 data
# bytes with their length = 17). Less when the System Program is already in the transaction. Measured by the tests.
TIP_TRANSFER_BYTES: Final = 81
DEFAULT_TIMEOUT_S: Final = 5.0
# The same schedule as the pipeline's RPC retries (REQ 9.1): 1 s, 2 s, 4 s between attempts.
DEFAULT_DELAYS_S: Final[tuple[float, ...]] = backoff_delays(LiveSettings())
DEFAULT_TIP_SEED: Final = 0

Sleep = Callable[[float], Awaitable[None]]


class AttemptKind(enum.Enum):
    """How one ``sendBundle`` attempt ended."""

    ACCEPTED = "accepted"  # the block engine returned a bundle id
    RETRYABLE = "retryable"  # 429, 5xx, timeout, connection error, JSON-RPC error, unreadable reply
    REJECTED = "rejected"  # any other HTTP 4xx: the identical request cannot succeed, so stop at once


class AttemptOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """The classified result of one attempt: ``bundle_id`` when accepted, ``detail`` (an error summary) otherwise."""

    kind: AttemptKind
    bundle_id: str = ""
    detail: str = ""


def send_bundle_request(tx: VersionedTransaction) -> dict[str, object]:
    """The JSON-RPC body submitting ``tx`` (already signed) as a one-transaction bundle, base64-encoded."""
    encoded = base64.b64encode(bytes(tx)).decode("ascii")
    return {"jsonrpc": "2.0", "id": 1, "method": "sendBundle", "params": [[encoded], {"encoding": "base64"}]}


def classify_reply(status_code: int, body: bytes) -> AttemptOutcome:  # noqa: PLR0911  <why: a flat first-match classification, one return per kind of reply>
    """Classify one block-engine HTTP reply. Pure; never raises, whatever the bytes.

    Only an HTTP 200 whose JSON body carries a non-empty string ``result`` counts as accepted: anything we cannot
    read is a failure, so we never skip the RPC fallback on a reply we do not understand.
    """
    if status_code == 429 or status_code >= 500:
        return AttemptOutcome(kind=AttemptKind.RETRYABLE, detail=f"HTTP {status_code}{_error_suffix(body)}")
    if status_code != 200:
        return AttemptOutcome(kind=AttemptKind.REJECTED, detail=f"HTTP {status_code}{_error_suffix(body)}")
    try:
        reply = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError; RecursionError: absurd nesting
        return AttemptOutcome(kind=AttemptKind.RETRYABLE, detail="malformed reply: not JSON")
    if not isinstance(reply, dict):
        return AttemptOutcome(kind=AttemptKind.RETRYABLE, detail="malformed reply: not a JSON object")
    if "error" in reply:
        return AttemptOutcome(kind=AttemptKind.RETRYABLE, detail=f"JSON-RPC error: {_short(reply['error'])}")
    result = reply.get("result")
    if isinstance(result, str) and result:
        return AttemptOutcome(kind=AttemptKind.ACCEPTED, bundle_id=result)
    return AttemptOutcome(kind=AttemptKind.RETRYABLE, detail="malformed reply: no bundle id in result")


def _error_suffix(body: bytes) -> str:
    # The block engine explains 4xx/429 in a JSON-RPC error body; keep a short excerpt for the log.
    try:
        reply = json.loads(body)
    except (ValueError, RecursionError):
        return ""
    if isinstance(reply, dict) and "error" in reply:
        return f": {_short(reply['error'])}"
    return ""


def _short(value: object, limit: int = 200) -> str:
    text = value.get("message", value) if isinstance(value, dict) else value
    return str(text)[:limit]


class JitoSubmitter:
    """Submits signed transactions as Jito bundles; implements the pipeline's ``BundleSubmitter`` protocol.

    ``rng`` picks the tip account (seeded by default, so a run is reproducible); ``sleep`` is the backoff sleep
    (inject a recorder in tests); ``delays`` are the sleeps between attempts (when ``settings.attempts`` asks for
    more attempts than ``delays`` has gaps, the last delay repeats). ``timeout_s`` bounds each HTTP request.

    The submitter opens one ``httpx.AsyncClient`` on first use and keeps it; call ``aclose()`` when done. A
    ``client`` passed in is used instead and left to its owner (``aclose()`` does not close it). ``settings`` are
    taken as validated by ``LiveSettings.validate`` (tip >= ``settings.JITO_MIN_TIP_LAMPORTS``, attempts >= 1).
    """

    def __init__(
        self,
        settings: JitoSettings,
        *,
        rng: random.Random | None = None,
        sleep: Sleep = asyncio.sleep,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        delays: Sequence[float] = DEFAULT_DELAYS_S,
        client: httpx.AsyncClient | None = None,
        logger: FilteringBoundLogger | None = None,
    ) -> None:
        if timeout_s <= 0 or any(delay < 0 for delay in delays):
            raise ValueError("JitoSubmitter needs timeout_s > 0 and delays >= 0")
        self.settings = settings
        self._rng = rng if rng is not None else random.Random(DEFAULT_TIP_SEED)
        self._sleep = sleep
        self._timeout_s = timeout_s
        gaps = max(settings.attempts - 1, 0)
        last = delays[-1] if delays else 0.0
        self._delays = (*delays[:gaps], *[last] * (gaps - len(delays)))
        self._client = client
        self._owns_client = client is None
        self._log: FilteringBoundLogger = logger if logger is not None else structlog.get_logger("botrunner.live.jito")

    def tip_account(self) -> Pubkey:
        """The next tip account, drawn from the seeded ``rng`` (Jito asks for a random one to spread contention)."""
        return self._rng.choice(JITO_TIP_ACCOUNTS)

    def tip_instruction(self, payer: Pubkey) -> Instruction:
        """A System Program transfer of ``tip_lamports`` from ``payer`` to a tip account; append it before signing."""
        return transfer(
            TransferParams(from_pubkey=payer, to_pubkey=self.tip_account(), lamports=self.settings.tip_lamports)
        )

    async def submit(self, tx: VersionedTransaction) -> bool:
        """Send ``tx`` as a bundle, retrying transient failures up to ``settings.attempts`` times in all.

        ``True``: the block engine accepted it (a bundle id came back); the caller still confirms by signature.
        ``False``: every attempt failed, or the engine rejected the request outright; the caller falls back to
        standard RPC with the same signed transaction.
        """
        client = self._http()
        body = send_bundle_request(tx)
        signature = str(tx.signatures[0]) if tx.signatures else ""
        attempts = self.settings.attempts
        for attempt in range(1, attempts + 1):
            outcome = await self._attempt(client, body)
            # Log the signature, never the transaction bytes.
            fields = {"signature": signature, "attempt": attempt, "attempts": attempts}
            match outcome.kind:
                case AttemptKind.ACCEPTED:
                    self._log.info("jito_bundle_accepted", bundle_id=outcome.bundle_id, **fields)
                    return True
                case AttemptKind.REJECTED:
                    self._log.warning("jito_bundle_rejected", error=outcome.detail, **fields)
                    return False
                case AttemptKind.RETRYABLE:
                    self._log.warning("jito_bundle_attempt_failed", error=outcome.detail, **fields)
                case _:
                    assert_never(outcome.kind)
            if attempt < attempts:
                await self._sleep(self._delays[attempt - 1])
        self._log.warning("jito_bundle_gave_up", signature=signature, attempts=attempts)
        return False

    async def aclose(self) -> None:
        """Close the HTTP client this submitter opened (an injected one stays open). Safe to call twice; a later
        ``submit`` opens a new client."""
        if self._owns_client and self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    def _http(self) -> httpx.AsyncClient:
        # Created on first use, inside the event loop that will drive it, and reused: one connection pool (and one
        # TLS handshake) for the submitter's lifetime instead of one per transaction.
        if self._client is None:
            self._client = httpx.AsyncClient()
        return self._client

    async def _attempt(self, client: httpx.AsyncClient, body: dict[str, object]) -> AttemptOutcome:
        try:
            response = await client.post(self.settings.block_engine_url, json=body, timeout=self._timeout_s)
        except httpx.TimeoutException as exc:
            return AttemptOutcome(kind=AttemptKind.RETRYABLE, detail=f"timeout: {type(exc).__name__}")
        except httpx.TransportError as exc:
            return AttemptOutcome(kind=AttemptKind.RETRYABLE, detail=f"connection error: {type(exc).__name__}")
        return classify_reply(response.status_code, response.content)
