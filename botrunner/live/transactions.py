"""The transaction pipeline: build, simulate, send ONCE, confirm — and say exactly what is known afterwards.

One call of ``TxPipeline.execute`` takes a list of instructions to one of seven outcomes (``TxOutcome``) and never
puts a signed transaction on the wire twice. The steps (REQ 3 and 9 of the live-mode requirements):

1. ``getLatestBlockhash`` (confirmed), then build a v0 transaction ourselves: a compute-unit limit, a compute-unit
   price (the priority-fee estimate capped by ``max_priority_fee_micro_lamports``), the instructions, and a Jito tip
   when bundles are on; sign it. The signature is therefore known before anything is sent.
2. ``simulateTransaction`` at confirmed commitment without signature checks. An error there rejects the operation
   (SIMULATION_FAILED) with the program logs and units consumed; it is not retried and nothing is sent. A dry run
   stops here (DRY_RUN).
3. Send once: the bundle submitter first when configured, then — if it reports failure — ``sendTransaction`` of
   the SAME signed bytes (same signature, so the two can never both execute), with preflight off and
   ``maxRetries`` 0. A definite refusal (a JSON-RPC error, HTTP 4xx/429, a connection that never opened) means
   nothing reached a leader: SEND_FAILED. Anything else (a timeout, a dropped connection, a 5xx) means it MAY have
   reached one, so we go on to confirmation and never send it again.
4. Confirm by polling ``getSignatureStatuses`` every ``poll_interval_s`` for ``confirm_timeout_s``, then with
   ``searchTransactionHistory`` for ``status_timeout_s`` more. A confirmed or finalized status is CONFIRMED, or
   FAILED_ON_CHAIN when it carries an ``err`` (driftpy's own sender never checks it). When the block height has
   passed the blockhash's ``lastValidBlockHeight`` and the signature is still unknown, the transaction provably
   never landed: EXPIRED. The height is only read once expiry is possible (``expiry_check_after_s`` after the
   blockhash was fetched, or in the history phase), so a normal confirmation costs one RPC call per poll. When
   neither is established in time: UNKNOWN — the caller must resync the account before trading again
   (``record_outcome`` does that on a ``Link``).

Each call ends with ONE ``tx.done`` log line carrying the outcome (ERROR with ``alert=True`` and an ``action`` for
UNKNOWN); callers need not log the result again.

Reads (blockhash, simulation, statuses, block height) are retried on transient failures with the configured
backoff (1 s, 2 s, 4 s). Every RPC call is bounded by ``rpc_timeout_s``. Time comes from the injected clock and
sleep, so tests can shrink every window.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar, assert_never

import anyio
import httpx
import msgspec
import structlog
from solana.exceptions import SolanaRpcException
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed
from solana.rpc.core import RPCException, RPCNoResultException
from solana.rpc.types import TxOpts
from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.rpc.errors import (
    BlockStatusNotAvailableYetMessage,
    InternalErrorMessage,
    MinContextSlotNotReachedMessage,
    NodeUnhealthyMessage,
)
from solders.signature import Signature
from solders.transaction import VersionedTransaction
from solders.transaction_status import TransactionConfirmationStatus, TransactionStatus
from structlog.typing import FilteringBoundLogger

from botrunner.config.live import LiveSettings
from botrunner.core.precision import MAX_TRANSACTION_BYTES
from botrunner.live.jito import TIP_TRANSFER_BYTES
from botrunner.live.retry import Link, backoff_delays

T = TypeVar("T")

# A blockhash is valid for 150 blocks (~60 s at 400 ms a block). Before 80 % of that has passed the transaction
# cannot have expired, so reading the block height earlier would only double the RPC calls of each status poll. The
# 20 % margin covers faster-than-nominal slots and the latency of the blockhash read.
BLOCKHASH_VALID_BLOCKS = 150
NOMINAL_BLOCK_S = 0.4
EXPIRY_CHECK_AFTER_S = BLOCKHASH_VALID_BLOCKS * NOMINAL_BLOCK_S * 0.8
UNKNOWN_ACTION = "resync the account before trading; never re-sent"
HTTP_TOO_MANY_REQUESTS = 429
HTTP_SERVER_ERROR = 500

# JSON-RPC errors that mean "this node cannot answer right now" rather than "this request is wrong".
_NODE_BUSY = (NodeUnhealthyMessage, MinContextSlotNotReachedMessage, BlockStatusNotAvailableYetMessage)


class TxOutcome(enum.Enum):
    """What one pipeline call established about its transaction."""

    CONFIRMED = "confirmed"  # landed (confirmed or finalized) without error
    FAILED_ON_CHAIN = "failed_on_chain"  # landed with an error: fees paid, no instruction took effect
    SIMULATION_FAILED = "simulation_failed"  # rejected by simulation (or too large): nothing sent
    SEND_FAILED = "send_failed"  # could not build/simulate, or the send was refused: nothing landed
    EXPIRED = "expired"  # sent, and its blockhash expired unseen: provably never landed
    UNKNOWN = "unknown"  # sent, fate not established: it may still have landed — resync before trading
    DRY_RUN = "dry_run"  # simulated successfully; nothing sent by design


class TxResult(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome of one ``TxPipeline.execute`` call, with everything needed to log and act on it."""

    outcome: TxOutcome
    what: str  # the caller's label ("cancel_and_place", "settle_pnl", ...)
    signature: str | None = None  # known once signed, whether or not it was sent
    error: str = ""
    logs: tuple[str, ...] = ()  # program logs from the simulation
    units_consumed: int | None = None  # compute units used in the simulation
    priority_fee: int = 0  # micro-lamports per compute unit, after the cap
    sends: int = 0  # sendTransaction calls made (0 or 1; a bundle submission is not counted)
    slot: int | None = None  # where it landed, when it did
    elapsed_s: float = 0.0


class BundleSubmitter(Protocol):
    """Jito bundle submission (implemented elsewhere). Optional: the pipeline works without it."""

    def tip_instruction(self, payer: Pubkey) -> Instruction:
        """The tip transfer to append to the transaction."""
        ...

    async def submit(self, tx: VersionedTransaction) -> bool:
        """Submit ``tx`` as a bundle, with the submitter's own attempts and time limits; True when the block engine
        accepted it. False (or an exception) makes the pipeline send the same transaction by RPC."""
        ...


class RpcFailure(enum.Enum):
    """How an RPC call failed, as far as "did the node act on it?" goes."""

    REJECTED = "rejected"  # a definite answer (JSON-RPC error, HTTP 4xx): the node refused this request
    REFUSED = "refused"  # not taken (HTTP 429, connection never opened, node unhealthy): try again later
    UNCERTAIN = "uncertain"  # no usable answer (timeout, dropped connection, 5xx, garbled reply): it may have acted


def classify_rpc_error(exc: BaseException) -> RpcFailure | None:  # noqa: PLR0911  <why: a flat first-match classification, one return per kind of failure>
    """Sort an exception raised by an ``AsyncClient`` call; None when it is not an RPC failure (a bug: re-raise)."""
    if isinstance(exc, TimeoutError):
        return RpcFailure.UNCERTAIN  # our own per-call deadline (anyio.fail_after)
    if isinstance(exc, RPCException):
        error = exc.args[0] if exc.args else None
        # solders turns an error code it does not know into a bare int (some providers rate-limit with code 429).
        if isinstance(error, _NODE_BUSY) or (isinstance(error, int) and error == HTTP_TOO_MANY_REQUESTS):
            return RpcFailure.REFUSED
        if isinstance(error, InternalErrorMessage):
            return RpcFailure.UNCERTAIN  # the node failed somewhere inside: it may have forwarded a transaction
        return RpcFailure.REJECTED
    if isinstance(exc, RPCNoResultException):
        return RpcFailure.UNCERTAIN
    cause = exc.__cause__ if isinstance(exc, SolanaRpcException) else exc
    if isinstance(cause, httpx.HTTPStatusError):
        status = cause.response.status_code
        if status == HTTP_TOO_MANY_REQUESTS:
            return RpcFailure.REFUSED  # rate limiting happens at the door, before any processing
        if status >= HTTP_SERVER_ERROR:
            return RpcFailure.UNCERTAIN  # a gateway error may hide a node that did act
        return RpcFailure.REJECTED
    if isinstance(cause, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return RpcFailure.REFUSED  # the request never left this machine
    if isinstance(cause, httpx.HTTPError):
        return RpcFailure.UNCERTAIN  # read timeout, dropped connection, ...
    if type(exc).__name__ in ("PanicException", "SerdeJSONError"):
        return RpcFailure.UNCERTAIN  # solders could not parse the reply: the node answered something
    return None


def record_outcome(link: Link, result: TxResult, now: float) -> Link:
    """Fold a transaction's outcome into the bot's ``Link``: success closes the breaker, failures count toward
    tripping it, and an UNKNOWN outcome also forces a resync before the next trade."""
    outcome = result.outcome
    match outcome:
        case TxOutcome.CONFIRMED:
            return link.tx_succeeded()
        case TxOutcome.FAILED_ON_CHAIN | TxOutcome.SIMULATION_FAILED | TxOutcome.SEND_FAILED | TxOutcome.EXPIRED:
            return link.tx_failed(now)
        case TxOutcome.UNKNOWN:
            return link.tx_failed(now).unknown_transaction()
        case TxOutcome.DRY_RUN:
            return link
        case _:
            assert_never(outcome)


@dataclass(frozen=True)
class _Failed:
    """An RPC call that did not return a result."""

    kind: RpcFailure
    error: str


class _Sent(enum.Enum):
    ACCEPTED = "accepted"  # the node (or the block engine) took it
    MAYBE = "maybe"  # no clear answer: it may be on its way to a leader
    REFUSED = "refused"  # definitely not taken


@dataclass
class _Run:
    """The facts gathered during one ``execute`` call, turned into a ``TxResult`` at the end."""

    what: str
    started: float
    priority_fee: int
    log: FilteringBoundLogger
    signature: str | None = None
    logs: tuple[str, ...] = ()
    units_consumed: int | None = None
    sends: int = 0


class TxPipeline:
    """Builds, simulates, sends once and confirms transactions for one payer (one bot).

    ``expiry_check_after_s``: how long after fetching the blockhash the confirmation loop starts reading the block
    height to detect expiry (tests shrink it to 0)."""

    def __init__(
        self,
        rpc: AsyncClient,
        payer: Keypair,
        settings: LiveSettings,
        *,
        log: FilteringBoundLogger | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        priority_fee: Callable[[], int | None] = lambda: None,
        poll_interval_s: float = 0.5,
        bundles: BundleSubmitter | None = None,
        expiry_check_after_s: float = EXPIRY_CHECK_AFTER_S,
    ) -> None:
        self._rpc = rpc
        self._payer = payer
        self._settings = settings
        self._log: FilteringBoundLogger = log if log is not None else structlog.get_logger("tx")
        self._clock = clock
        self._sleep = sleep
        self._priority_fee = priority_fee
        self._poll_s = poll_interval_s
        self._bundles = bundles
        self._expiry_check_after_s = expiry_check_after_s

    @property
    def instruction_budget(self) -> int:
        """The most bytes a transaction of the caller's instructions may take as measured by
        ``instructions.transaction_size`` (which counts the two compute-budget instructions): Solana's limit, less
        the room for the Jito tip transfer this pipeline appends when bundles are on."""
        return MAX_TRANSACTION_BYTES - (TIP_TRANSFER_BYTES if self._bundles is not None else 0)

    async def execute(self, instructions: Sequence[Instruction], *, what: str) -> TxResult:
        """Run ``instructions`` as one transaction through every step; never raises for an RPC failure."""
        requested = self._priority_fee() or 0
        fee = max(0, min(requested, self._settings.max_priority_fee_micro_lamports))
        run = _Run(what=what, started=self._clock(), priority_fee=fee, log=self._log.bind(what=what))
        if requested > fee:
            run.log.info("tx.priority_fee_capped", requested=requested, cap=fee)

        got = await self._read("getLatestBlockhash", lambda: self._rpc.get_latest_blockhash(Confirmed), run.log)
        if isinstance(got, _Failed):
            return self._done(run, TxOutcome.SEND_FAILED, error=f"getLatestBlockhash: {got.error}")
        blockhash, last_valid = got.value.blockhash, got.value.last_valid_block_height
        expiry_possible_at = self._clock() + self._expiry_check_after_s

        tx = self._build(instructions, blockhash, fee)
        run.signature = str(tx.signatures[0])
        run.log = run.log.bind(signature=run.signature)
        size = len(bytes(tx))
        if size > MAX_TRANSACTION_BYTES:
            return self._done(
                run, TxOutcome.SIMULATION_FAILED, error=f"transaction is {size} bytes, over {MAX_TRANSACTION_BYTES}"
            )

        unsent = await self._simulate(tx, run)
        if unsent is not None:
            return unsent

        sent, error = await self._send(tx, run)
        match sent:
            case _Sent.REFUSED:
                return self._done(run, TxOutcome.SEND_FAILED, error=error)
            case _Sent.ACCEPTED | _Sent.MAYBE:
                outcome, error, slot = await self._confirm(tx.signatures[0], last_valid, expiry_possible_at, run.log)
                return self._done(run, outcome, error=error, slot=slot)
            case _:
                assert_never(sent)

    # -- steps ------------------------------------------------------------------------------------------------------

    def _build(self, instructions: Sequence[Instruction], blockhash: Hash, fee: int) -> VersionedTransaction:
        ixs = [
            set_compute_unit_limit(self._settings.compute_unit_limit),
            set_compute_unit_price(fee),
            *instructions,
        ]
        if self._bundles is not None:
            # The tip rides in the transaction itself: if the bundle path fails and the same transaction goes out
            # by plain RPC, the tip is paid anyway — the price of never having two different signatures.
            ixs.append(self._bundles.tip_instruction(self._payer.pubkey()))
        message = MessageV0.try_compile(self._payer.pubkey(), ixs, [], blockhash)
        return VersionedTransaction(message, [self._payer])

    async def _simulate(self, tx: VersionedTransaction, run: _Run) -> TxResult | None:
        """Simulate ``tx`` (its logs and compute units go into ``run``); the result that ends the run when it must
        not be sent (the simulation could not run or failed, or this is a dry run), None to send it."""
        simulated = await self._read(
            "simulateTransaction",
            lambda: self._rpc.simulate_transaction(tx, sig_verify=False, commitment=Confirmed),
            run.log,
        )
        if isinstance(simulated, _Failed):
            return self._done(run, TxOutcome.SEND_FAILED, error=f"simulateTransaction: {simulated.error}")
        sim = simulated.value
        run.logs = tuple(sim.logs or ())
        run.units_consumed = sim.units_consumed
        if sim.err is not None:
            return self._done(run, TxOutcome.SIMULATION_FAILED, error=_error_text(sim.err))
        if self._settings.dry_run:
            return self._done(run, TxOutcome.DRY_RUN)
        return None

    async def _send(self, tx: VersionedTransaction, run: _Run) -> tuple[_Sent, str]:
        """Put ``tx`` on the wire at most once per route; report whether it may be on its way."""
        bundle_tried = False
        if self._bundles is not None:
            bundle_tried = True
            try:
                if await self._bundles.submit(tx):
                    run.log.info("tx.bundle_accepted")
                    return _Sent.ACCEPTED, ""
                run.log.warning("tx.bundle_failed", fallback="rpc")
            except Exception as exc:
                run.log.warning("tx.bundle_failed", fallback="rpc", error=describe_error(exc))

        raw = bytes(tx)  # the very bytes that were (maybe) bundled: same signature, so at most one can execute
        run.sends += 1
        result = await self._once(
            lambda: self._rpc.send_raw_transaction(raw, TxOpts(skip_preflight=True, max_retries=0)),
            unknown_is_uncertain=True,
        )
        if not isinstance(result, _Failed):
            if str(result.value) != run.signature:
                run.log.error("tx.signature_mismatch", returned=str(result.value))
            run.log.info("tx.sent")
            return _Sent.ACCEPTED, ""
        match result.kind:
            case RpcFailure.REJECTED | RpcFailure.REFUSED:
                if bundle_tried:
                    # The block engine may have taken the bundle despite reporting failure: only the chain can
                    # tell us now.
                    run.log.warning("tx.send_refused_after_bundle", error=result.error)
                    return _Sent.MAYBE, result.error
                run.log.warning("tx.send_failed", error=result.error)
                return _Sent.REFUSED, f"sendTransaction: {result.error}"
            case RpcFailure.UNCERTAIN:
                run.log.warning("tx.send_uncertain", error=result.error, action="confirm without resending")
                return _Sent.MAYBE, result.error
            case _:
                assert_never(result.kind)

    async def _confirm(
        self, signature: Signature, last_valid: int, expiry_possible_at: float, log: FilteringBoundLogger
    ) -> tuple[TxOutcome, str, int | None]:
        """Poll until the signature's fate is known or the status window closes. The block height (for expiry) is
        read only from ``expiry_possible_at`` on, or once the history phase has begun."""
        sent_at = self._clock()
        confirm_deadline = sent_at + self._settings.confirm_timeout_s
        status_deadline = confirm_deadline + self._settings.status_timeout_s
        seen = "nothing"
        while (now := self._clock()) < status_deadline:
            await self._sleep(min(self._poll_s, status_deadline - now))
            history = self._clock() >= confirm_deadline  # past the confirmation window: search the ledger too
            status = await self._status(signature, history, status_deadline, log)
            if isinstance(status, _Failed):
                seen = f"status query failed ({status.error})"
                continue
            if status is not None:
                final = _final(status)
                if final is not None:
                    return final
                seen = f"{status.confirmation_status} at slot {status.slot}"
                continue
            if not history and self._clock() < expiry_possible_at:
                continue  # too early for the blockhash to have expired: save the block-height call
            height = await self._read(
                "getBlockHeight", lambda: self._rpc.get_block_height(Confirmed), log, deadline=status_deadline
            )
            if isinstance(height, _Failed) or height.value <= last_valid:
                continue
            # The chain is past the last height this blockhash allows, so the transaction can only be in a block at
            # or below it — which a status query made NOW must see. Not seen: it never landed.
            recheck = await self._status(signature, True, status_deadline, log)
            if recheck is None:
                return TxOutcome.EXPIRED, f"block height {height.value} > last valid {last_valid}, not seen", None
            if not isinstance(recheck, _Failed):
                final = _final(recheck)
                if final is not None:
                    return final
        window = self._settings.confirm_timeout_s + self._settings.status_timeout_s
        return TxOutcome.UNKNOWN, f"no final status within {window} s of sending; last seen: {seen}", None

    async def _status(
        self, signature: Signature, history: bool, deadline: float, log: FilteringBoundLogger
    ) -> TransactionStatus | _Failed | None:
        got = await self._read(
            "getSignatureStatuses",
            lambda: self._rpc.get_signature_statuses([signature], search_transaction_history=history),
            log,
            deadline=deadline,
        )
        if isinstance(got, _Failed):
            return got
        return got.value[0] if got.value else None

    # -- RPC calls --------------------------------------------------------------------------------------------------

    async def _once(self, call: Callable[[], Awaitable[T]], *, unknown_is_uncertain: bool = False) -> T | _Failed:
        """One RPC call bounded by ``rpc_timeout_s``; an RPC failure comes back as a ``_Failed``."""
        try:
            with anyio.fail_after(self._settings.rpc_timeout_s):
                return await call()
        except Exception as exc:
            kind = classify_rpc_error(exc)
            if kind is None:
                if not unknown_is_uncertain:
                    raise
                kind = RpcFailure.UNCERTAIN
            return _Failed(kind, describe_error(exc))
        except BaseException as exc:
            # solders panics (a BaseException) on some malformed replies; cancellation must pass through untouched.
            if type(exc).__name__ != "PanicException":
                raise
            return _Failed(RpcFailure.UNCERTAIN, describe_error(exc))

    async def _read(
        self, method: str, call: Callable[[], Awaitable[T]], log: FilteringBoundLogger, *, deadline: float | None = None
    ) -> T | _Failed:
        """A read-only call, retried after each backoff delay while the failure is transient (and, when given,
        while the retry still starts before ``deadline``)."""
        delays = backoff_delays(self._settings)
        attempt = 0
        while True:
            got = await self._once(call)
            if not isinstance(got, _Failed):
                return got
            if got.kind is RpcFailure.REJECTED or attempt >= len(delays):
                log.warning("tx.rpc_gave_up", method=method, attempts=attempt + 1, error=got.error)
                return got
            delay = delays[attempt]
            if deadline is not None and self._clock() + delay >= deadline:
                return got
            log.warning("tx.rpc_retry", method=method, attempt=attempt + 1, retry_in_s=delay, error=got.error)
            await self._sleep(delay)
            attempt += 1

    def _done(self, run: _Run, outcome: TxOutcome, *, error: str = "", slot: int | None = None) -> TxResult:
        result = TxResult(
            outcome=outcome,
            what=run.what,
            signature=run.signature,
            error=error,
            logs=run.logs,
            units_consumed=run.units_consumed,
            priority_fee=run.priority_fee,
            sends=run.sends,
            slot=slot,
            elapsed_s=self._clock() - run.started,
        )
        fields = {
            "outcome": outcome.value,
            "sends": run.sends,
            "priority_fee": run.priority_fee,
            "units_consumed": run.units_consumed,
            "elapsed_s": round(result.elapsed_s, 3),
        }
        match outcome:
            case TxOutcome.CONFIRMED | TxOutcome.DRY_RUN:
                run.log.info("tx.done", slot=slot, **fields)
            case TxOutcome.SIMULATION_FAILED:
                # The program logs are what explains a rejected operation: keep them with the line.
                run.log.warning("tx.done", error=error, logs=list(run.logs), **fields)
            case TxOutcome.FAILED_ON_CHAIN | TxOutcome.SEND_FAILED | TxOutcome.EXPIRED:
                run.log.warning("tx.done", error=error, slot=slot, **fields)
            case TxOutcome.UNKNOWN:
                # The one record of an unknown fate: an alert, and what the operator (and the venue) must do.
                run.log.error("tx.done", error=error, alert=True, action=UNKNOWN_ACTION, **fields)
            case _:
                assert_never(outcome)
        return result


def _final(status: TransactionStatus) -> tuple[TxOutcome, str, int | None] | None:
    """CONFIRMED / FAILED_ON_CHAIN for a confirmed or finalized status; None while it is only processed."""
    level = status.confirmation_status
    # A status without a level but with no confirmation count is rooted (the RPC's encoding of finalized).
    final = level in (TransactionConfirmationStatus.Confirmed, TransactionConfirmationStatus.Finalized) or (
        level is None and status.confirmations is None
    )
    if not final:
        return None
    if status.err is not None:
        return TxOutcome.FAILED_ON_CHAIN, _error_text(status.err), status.slot
    return TxOutcome.CONFIRMED, "", status.slot


def _error_text(err: object) -> str:
    """A transaction error as compact JSON where solders can render it (``{"InstructionError":[2,{"Custom":6010}]}``),
    else its variant name (``BlockhashNotFound``)."""
    to_json = getattr(err, "to_json", None)
    if callable(to_json):
        return str(to_json())
    return str(err).rsplit(".", 1)[-1]


def describe_error(exc: BaseException) -> str:
    """A one-line description of an RPC call's failure for logs and errors, naming the underlying transport error
    (SolanaRpcException hides it in __cause__); at most 200 characters of the error's own text."""
    inner = exc.__cause__ if isinstance(exc, SolanaRpcException) and exc.__cause__ is not None else exc
    if isinstance(inner, httpx.HTTPStatusError):
        return f"HTTP {inner.response.status_code}"
    if isinstance(exc, RPCException) and exc.args:
        return f"RPC error {_one_line(exc.args[0])}"
    text = _one_line(inner)
    return f"{type(inner).__name__}: {text}" if text else type(inner).__name__


def _one_line(value: object) -> str:
    return " ".join(str(value).split())[:200]
