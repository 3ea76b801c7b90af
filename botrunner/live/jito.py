"""Optional Jito bundle submission: our own tip transfer + the block engine's JSON-RPC ``sendBundle`` over HTTP.

driftpy's Jito sender was removed (guide §3), so this module speaks the block-engine protocol itself:

* ``tip_instruction(payer)``: a System Program transfer of ``tip_lamports`` to one of Jito's 8 mainnet tip accounts.
  The transaction pipeline appends it BEFORE signing, so the tip and the Drift instructions are one atomic transaction
  (Jito's advice: a tip in the same transaction is only paid if the transaction lands).
* ``submit(tx)``: POST ``sendBundle`` with the signed transaction (base64) as a one-transaction bundle. A ``result``
  (the bundle id) means the block engine ACCEPTED it; that is not "landed", the pipeline still confirms by signature.
  429, 5xx, a timeout, a dropped connection, a JSON-RPC ``error`` or an unreadable reply is retried with a short
  backoff (1 s, 2 s, ...) up to ``attempts`` in all; then ``False`` and the pipeline sends the SAME signed
  transaction through standard RPC. Re-sending the same signed bytes is safe: Solana deduplicates by signature, so
  a bundle that was accepted but whose reply was lost cannot execute twice.

Protocol reference: jito-labs/jito-docs ``docs/source/lowlatencytxnsend.md`` (``/api/v1/bundles``: ``sendBundle``,
``getBundleStatuses``, ``getTipAccounts``; minimum tip 1000 lamports; 5 requests/s per IP per region, 429 beyond).
"""

from __future__ import annotations

import asyncio
import base64
import enum
import json
import random
from collections.abc import Awaitable, Callable
from typing import Any, Final, assert_never

import httpx
import msgspec
import structlog
from solders.instruction import Instruction
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction

from botrunner.live.settings import JitoSettings

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
JITO_MIN_TIP_LAMPORTS: Final = 1_000  # the block engine ignores bundles tipping less
DEFAULT_TIMEOUT_S: Final = 5.0
DEFAULT_BACKOFF_S: Final = 1.0  # delays 1 s, 2 s, 4 s ... between attempts
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


class BundleStatus(msgspec.Struct, frozen=True, kw_only=True):
    """One entry of ``getBundleStatuses``: where the bundle landed and how final it is."""

    bundle_id: str
    slot: int
    confirmation_status: str  # processed | confirmed | finalized
    transactions: tuple[str, ...]  # signatures (base58)
    err: Any = None  # Jito reports {"Ok": null} for success


class JitoError(Exception):
    """A block-engine query (not a submission) failed: transport error, HTTP error or malformed reply."""


def backoff_delays(attempts: int, base_s: float) -> list[float]:
    """The sleeps between ``attempts`` tries: ``base_s * 2**k`` for k = 0 .. attempts-2 (none after the last)."""
    return [base_s * 2**k for k in range(max(attempts - 1, 0))]


def send_bundle_request(tx: VersionedTransaction) -> dict[str, Any]:
    """The JSON-RPC body submitting ``tx`` (already signed) as a one-transaction bundle, base64-encoded."""
    encoded = base64.b64encode(bytes(tx)).decode("ascii")
    return {"jsonrpc": "2.0", "id": 1, "method": "sendBundle", "params": [[encoded], {"encoding": "base64"}]}


def classify_reply(status_code: int, body: bytes) -> AttemptOutcome:
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
    (inject a recorder in tests); ``client`` lets the caller share one ``httpx.AsyncClient`` (otherwise each
    ``submit`` opens and closes its own). ``timeout_s`` bounds each HTTP request.
    """

    def __init__(
        self,
        settings: JitoSettings,
        *,
        rng: random.Random | None = None,
        sleep: Sleep = asyncio.sleep,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        backoff_s: float = DEFAULT_BACKOFF_S,
        client: httpx.AsyncClient | None = None,
        logger: Any = None,
    ) -> None:
        if settings.attempts < 1:
            raise ValueError("JitoSettings.attempts must be >= 1")
        if settings.tip_lamports < JITO_MIN_TIP_LAMPORTS:
            raise ValueError(f"JitoSettings.tip_lamports must be >= {JITO_MIN_TIP_LAMPORTS} (Jito's minimum)")
        if timeout_s <= 0 or backoff_s < 0:
            raise ValueError("JitoSubmitter needs timeout_s > 0 and backoff_s >= 0")
        self.settings = settings
        self._rng = rng if rng is not None else random.Random(DEFAULT_TIP_SEED)
        self._sleep = sleep
        self._timeout_s = timeout_s
        self._backoff_s = backoff_s
        self._client = client
        self._log: Any = logger if logger is not None else structlog.get_logger("botrunner.live.jito")

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
        body = send_bundle_request(tx)
        signature = str(tx.signatures[0]) if tx.signatures else ""
        delays = backoff_delays(self.settings.attempts, self._backoff_s)
        if self._client is not None:
            return await self._submit_with(self._client, body, signature, delays)
        async with httpx.AsyncClient() as client:
            return await self._submit_with(client, body, signature, delays)

    async def _submit_with(
        self, client: httpx.AsyncClient, body: dict[str, Any], signature: str, delays: list[float]
    ) -> bool:
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
                await self._sleep(delays[attempt - 1])
        self._log.warning("jito_bundle_gave_up", signature=signature, attempts=attempts)
        return False

    async def _attempt(self, client: httpx.AsyncClient, body: dict[str, Any]) -> AttemptOutcome:
        try:
            response = await client.post(self.settings.block_engine_url, json=body, timeout=self._timeout_s)
        except httpx.TimeoutException as exc:
            return AttemptOutcome(kind=AttemptKind.RETRYABLE, detail=f"timeout: {type(exc).__name__}")
        except httpx.TransportError as exc:
            return AttemptOutcome(kind=AttemptKind.RETRYABLE, detail=f"connection error: {type(exc).__name__}")
        return classify_reply(response.status_code, response.content)

    async def bundle_status(self, bundle_id: str) -> BundleStatus | None:
        """One ``getBundleStatuses`` query: the bundle's landing slot and confirmation, or ``None`` if the block
        engine does not know it (not landed, or outside its look-back). Raises ``JitoError`` on any failure."""
        body = {"jsonrpc": "2.0", "id": 1, "method": "getBundleStatuses", "params": [[bundle_id]]}
        try:
            if self._client is not None:
                response = await self._client.post(self.settings.block_engine_url, json=body, timeout=self._timeout_s)
            else:
                async with httpx.AsyncClient() as client:
                    response = await client.post(self.settings.block_engine_url, json=body, timeout=self._timeout_s)
        except httpx.HTTPError as exc:
            raise JitoError(f"getBundleStatuses failed: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise JitoError(f"getBundleStatuses failed: HTTP {response.status_code}")
        return parse_bundle_status(response.content, bundle_id)


def parse_bundle_status(body: bytes, bundle_id: str) -> BundleStatus | None:
    """Decode a ``getBundleStatuses`` reply for ``bundle_id``. Pure. Raises ``JitoError`` on an unreadable reply."""
    try:
        reply = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise JitoError("getBundleStatuses: reply is not JSON") from exc
    if not isinstance(reply, dict):
        raise JitoError("getBundleStatuses: reply is not a JSON object")
    if "error" in reply:
        raise JitoError(f"getBundleStatuses: JSON-RPC error: {_short(reply['error'])}")
    result = reply.get("result")
    if result is None:
        return None
    value = result.get("value") if isinstance(result, dict) else None
    if not isinstance(value, list):
        raise JitoError("getBundleStatuses: result.value is not a list")
    for entry in value:
        if isinstance(entry, dict) and entry.get("bundle_id") == bundle_id:
            try:
                return BundleStatus(
                    bundle_id=bundle_id,
                    slot=int(entry["slot"]),
                    confirmation_status=str(entry.get("confirmation_status") or entry.get("confirmationStatus")),
                    transactions=tuple(str(s) for s in entry.get("transactions") or ()),
                    err=entry.get("err"),
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise JitoError("getBundleStatuses: malformed status entry") from exc
    return None


def jito_submitter(settings: JitoSettings, **kwargs: Any) -> JitoSubmitter | None:
    """A ``JitoSubmitter`` when ``settings.enabled`` (Jito is off by default), else ``None``."""
    return JitoSubmitter(settings, **kwargs) if settings.enabled else None
