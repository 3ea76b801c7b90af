"""A fake Solana JSON-RPC node: a real HTTP server on 127.0.0.1 for tests that drive the real ``AsyncClient``.

It answers the methods a live bot uses, keeps a tiny chain model (slot, block height, one blockhash, the fate of
every transaction it receives) and injects faults on demand, so a test can run the transaction pipeline end to end
through httpx and solders and then assert what reached "the network"::

    with FakeRpc() as fake:
        fake.inject("getLatestBlockhash", Fault.http(429), times=3)
        fake.land_with_error({"InstructionError": [2, {"Custom": 6010}]})
        client = AsyncClient(fake.url)
        ...
        fake.assert_no_double_send()

Faults (``inject``) apply to the next ``times`` calls of a method (``times=None``: every call). A fault on
``sendTransaction`` may still let the transaction reach the chain (``Fault.hang(..., land=True)``): that is the
ambiguous case a client must never answer with a second send.
"""

from __future__ import annotations

import base64
import json
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from solders.hash import Hash
from solders.transaction import VersionedTransaction

COMPUTE_BUDGET_PROGRAM = "ComputeBudget111111111111111111111111111111"
BLOCKHASH_VALIDITY = 150  # blocks a blockhash stays valid, as on mainnet
RENT_PER_BYTE_YEAR = 3_480
RENT_EXEMPT_YEARS = 2
ACCOUNT_OVERHEAD_BYTES = 128


@dataclass(frozen=True)
class Fault:
    """One injected misbehaviour. Build with the class methods."""

    kind: str  # "hang" | "http" | "drop" | "rpc_error"
    status: int = 0
    delay_s: float = 0.0
    code: int = 0
    message: str = ""
    land: bool = False  # sendTransaction only: the transaction reaches the chain despite the fault
    data: Any = None  # rpc_error only: the error's "data" member (solders needs it for some codes, e.g. -32005)

    @classmethod
    def hang(cls, delay_s: float = 5.0, *, land: bool = False) -> Fault:
        """Answer only after ``delay_s`` (longer than the client's timeout: the client gives up first)."""
        return cls("hang", delay_s=delay_s, land=land)

    @classmethod
    def http(cls, status: int, *, land: bool = False) -> Fault:
        """An HTTP error status (429, 500, 503, ...) with no JSON-RPC body."""
        return cls("http", status=status, land=land)

    @classmethod
    def drop(cls, *, land: bool = False) -> Fault:
        """Read the request, then close the connection without any response."""
        return cls("drop", land=land)

    @classmethod
    def rpc_error(
        cls, code: int = -32003, message: str = "Transaction signature verification failure", data: Any = None
    ) -> Fault:
        """A definite JSON-RPC error response (HTTP 200)."""
        return cls("rpc_error", code=code, message=message, data=data)


@dataclass(frozen=True)
class RpcCall:
    """One JSON-RPC call as received."""

    method: str
    params: list[Any]


@dataclass(frozen=True)
class SentIx:
    """One instruction of a received transaction, with its account keys resolved where the message holds them."""

    program_id: str
    accounts: tuple[str, ...]
    data: bytes


@dataclass(frozen=True)
class SentTx:
    """A transaction received by ``sendTransaction`` (or landed by a bundle), decoded with solders."""

    signature: str
    raw: bytes
    blockhash: str
    instructions: tuple[SentIx, ...]

    @property
    def compute_unit_limit(self) -> int | None:
        """The ``SetComputeUnitLimit`` value, if the transaction sets one."""
        for ix in self.instructions:
            if ix.program_id == COMPUTE_BUDGET_PROGRAM and ix.data[:1] == b"\x02":
                return int(struct.unpack_from("<I", ix.data, 1)[0])
        return None

    @property
    def compute_unit_price(self) -> int | None:
        """The ``SetComputeUnitPrice`` value (micro-lamports per CU), if the transaction sets one."""
        for ix in self.instructions:
            if ix.program_id == COMPUTE_BUDGET_PROGRAM and ix.data[:1] == b"\x03":
                return int(struct.unpack_from("<Q", ix.data, 1)[0])
        return None


def decode_tx(raw: bytes) -> SentTx:
    """Decode a wire-format versioned transaction."""
    tx = VersionedTransaction.from_bytes(raw)
    message = tx.message
    keys = [str(k) for k in message.account_keys]

    def key(index: int) -> str:
        return keys[index] if index < len(keys) else f"lookup#{index}"

    instructions = tuple(
        SentIx(key(ix.program_id_index), tuple(key(i) for i in bytes(ix.accounts)), bytes(ix.data))
        for ix in message.instructions
    )
    return SentTx(str(tx.signatures[0]), raw, str(message.recent_blockhash), instructions)


@dataclass
class _Landing:
    """What happens to a transaction the fake receives."""

    err: Any = None  # the on-chain error (JSON), None = success
    never: bool = False  # never shows up in any status
    after_polls: int = 0  # getSignatureStatuses calls (for that signature) before it shows up
    after_s: float = 0.0  # seconds after it was received before it shows up
    history_only: bool = False  # only visible with searchTransactionHistory (aged out of the status cache)
    expire: bool = False  # never lands, and the block height passes the blockhash's last valid height


@dataclass
class _TxRecord:
    tx: SentTx
    landing: _Landing
    polls: int = 0
    slot: int = 0
    received_at: float = field(default_factory=time.monotonic)


@dataclass
class _Rule:
    fault: Fault
    remaining: int | None  # None: sticky


@dataclass
class _State:
    slot: int = 1_000
    block_height: int = 900
    blockhash: str = field(default_factory=lambda: str(Hash.new_unique()))
    accounts: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    balances: dict[str, int] = field(default_factory=dict)
    token_balances: dict[str, tuple[int, int]] = field(default_factory=dict)  # token account -> (amount, decimals)
    priority_fees: list[int] = field(default_factory=lambda: [0, 5_000, 10_000])
    simulation_err: Any = None
    simulation_logs: list[str] = field(default_factory=lambda: ["Program 11111111111111111111111111111111 success"])
    simulation_units: int = 1_500
    landing: _Landing = field(default_factory=_Landing)
    txs: dict[str, _TxRecord] = field(default_factory=dict)
    rules: dict[str, list[_Rule]] = field(default_factory=dict)
    calls: list[RpcCall] = field(default_factory=list)
    sent: list[SentTx] = field(default_factory=list)
    expired: bool = False
    block_time: int | None = None  # getBlockTime's answer (unix s) for any slot; None: "block not available"

    @property
    def last_valid_block_height(self) -> int:
        return self.block_height + BLOCKHASH_VALIDITY


class FakeRpc:
    """The server plus its chain model and fault plan. Thread-safe; use as a context manager."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._state = _State()
        self._lvbh = self._state.last_valid_block_height
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        # A short poll interval: shutdown() waits for the loop to notice, and tests start one server each.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-rpc", daemon=True
        )

    # -- lifecycle ------------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeRpc:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers that are "hanging"
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeRpc:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scenario setup -------------------------------------------------------------------------------------------

    def inject(self, method: str, fault: Fault, *, times: int | None = 1) -> None:
        """Apply ``fault`` to the next ``times`` calls of ``method`` (``None``: to every call from now on)."""
        with self._lock:
            self._state.rules.setdefault(method, []).append(_Rule(fault, times))

    def clear_faults(self, method: str | None = None) -> None:
        with self._lock:
            if method is None:
                self._state.rules.clear()
            else:
                self._state.rules.pop(method, None)

    def fail_simulation(self, err: Any, logs: list[str], units: int = 42_000) -> None:
        """``simulateTransaction`` returns ``err`` (transaction-error JSON) with these program logs."""
        with self._lock:
            self._state.simulation_err, self._state.simulation_logs, self._state.simulation_units = err, logs, units

    def land_with_error(self, err: Any) -> None:
        """Transactions land (confirmed) but fail on chain with ``err``."""
        with self._lock:
            self._state.landing = _Landing(err=err)

    def never_confirm(self) -> None:
        """Transactions are accepted but never show up in any signature status."""
        with self._lock:
            self._state.landing = _Landing(never=True)

    def confirm_after(self, polls: int, *, history_only: bool = False) -> None:
        """Transactions show up as confirmed after ``polls`` status queries; with ``history_only`` only to queries
        that set ``searchTransactionHistory``."""
        with self._lock:
            self._state.landing = _Landing(after_polls=polls, history_only=history_only)

    def confirm_after_s(self, seconds: float) -> None:
        """Transactions show up as confirmed ``seconds`` after they were received (a slow confirmation)."""
        with self._lock:
            self._state.landing = _Landing(after_s=seconds)

    def expire_blockhash(self) -> None:
        """Transactions never land, and once one is sent the block height jumps past the last valid height."""
        with self._lock:
            self._state.landing = _Landing(expire=True)

    def set_accounts(self, accounts: dict[str, tuple[bytes, str]]) -> None:
        """pubkey (base58) -> (data, owner base58), served by getAccountInfo / getMultipleAccounts."""
        with self._lock:
            self._state.accounts = dict(accounts)

    def set_block_time(self, unix_s: int | None) -> None:
        """What getBlockTime answers for any slot (None: the node's "block not available" error)."""
        with self._lock:
            self._state.block_time = unix_s

    def set_balance(self, pubkey: str, lamports: int) -> None:
        with self._lock:
            self._state.balances[pubkey] = lamports

    def set_token_balance(self, token_account: str, amount: int, decimals: int) -> None:
        """An SPL token account's balance, served by getTokenAccountBalance (others: the node's 'could not find
        account' error)."""
        with self._lock:
            self._state.token_balances[token_account] = (amount, decimals)

    def set_priority_fees(self, fees: list[int]) -> None:
        with self._lock:
            self._state.priority_fees = list(fees)

    def land_external(self, raw: bytes) -> None:
        """A transaction that reached the chain another way (a Jito bundle): it lands under the current landing plan
        without a sendTransaction call."""
        with self._lock:
            tx = decode_tx(raw)
            self._state.txs.setdefault(tx.signature, _TxRecord(tx, self._state.landing, slot=self._state.slot))

    # -- observations ---------------------------------------------------------------------------------------------

    @property
    def blockhash(self) -> str:
        return self._state.blockhash

    @property
    def last_valid_block_height(self) -> int:
        return self._lvbh

    @property
    def calls(self) -> list[RpcCall]:
        with self._lock:
            return list(self._state.calls)

    @property
    def sent(self) -> list[SentTx]:
        """Every transaction received by sendTransaction, in order (including ones whose response failed)."""
        with self._lock:
            return list(self._state.sent)

    def methods(self) -> list[str]:
        return [c.method for c in self.calls]

    def count(self, method: str) -> int:
        return sum(1 for c in self.calls if c.method == method)

    def assert_no_double_send(self) -> None:
        """No signature was received by sendTransaction more than once."""
        signatures = [tx.signature for tx in self.sent]
        assert len(signatures) == len(set(signatures)), f"a signature was sent twice: {signatures}"

    # -- request handling (server threads) ------------------------------------------------------------------------

    def _take_fault(self, method: str) -> Fault | None:
        rules = self._state.rules.get(method)
        if not rules:
            return None
        rule = rules[0]
        if rule.remaining is not None:
            rule.remaining -= 1
            if rule.remaining <= 0:
                rules.pop(0)
        return rule.fault

    def _plan(self, requests: list[dict[str, Any]]) -> tuple[Fault | None, list[Fault | None]]:
        """Record the calls and pick the faults: an HTTP-level fault (hang, http, drop) for the whole request and a
        per-call JSON-RPC error."""
        transport: Fault | None = None
        per_call: list[Fault | None] = []
        with self._lock:
            for req in requests:
                method = str(req.get("method", ""))
                params = list(req.get("params") or [])
                self._state.calls.append(RpcCall(method, params))
                if method == "sendTransaction":
                    # Recorded on arrival, whatever happens next: "sent" means it left the client.
                    self._state.sent.append(decode_tx(base64.b64decode(params[0])))
                fault = self._take_fault(method)
                if fault is not None and fault.kind == "rpc_error":
                    per_call.append(fault)
                    continue
                per_call.append(None)
                if fault is not None and transport is None:
                    transport = fault
        return transport, per_call

    def _answer(self, req: dict[str, Any], fault: Fault | None, transport: Fault | None) -> dict[str, Any]:
        rid = req.get("id")
        if fault is not None:
            error: dict[str, Any] = {"code": fault.code, "message": fault.message}
            if fault.data is not None:
                error["data"] = fault.data
            return {"jsonrpc": "2.0", "id": rid, "error": error}
        method = str(req.get("method", ""))
        params = list(req.get("params") or [])
        try:
            result = self._result(method, params, transport)
        except _RpcError as err:
            return {"jsonrpc": "2.0", "id": rid, "error": {"code": err.code, "message": err.message}}
        return {"jsonrpc": "2.0", "id": rid, "result": result}

    def _result(  # noqa: PLR0911, PLR0912  <why: one flat match over the RPC methods the fake serves>
        self, method: str, params: list[Any], transport: Fault | None
    ) -> Any:
        with self._lock:
            st = self._state
            ctx = {"slot": st.slot}
            match method:
                case "getLatestBlockhash":
                    self._lvbh = st.last_valid_block_height
                    return {"context": ctx, "value": {"blockhash": st.blockhash, "lastValidBlockHeight": self._lvbh}}
                case "getBlockHeight":
                    return st.block_height
                case "getSlot":
                    return st.slot
                case "getHealth":
                    return "ok"
                case "getVersion":
                    return {"solana-core": "2.2.0", "feature-set": 3294202862}
                case "simulateTransaction":
                    return {
                        "context": ctx,
                        "value": {
                            "err": st.simulation_err,
                            "logs": st.simulation_logs,
                            "accounts": None,
                            "unitsConsumed": st.simulation_units,
                            "returnData": None,
                        },
                    }
                case "sendTransaction":
                    return self._receive(params, transport)
                case "getSignatureStatuses":
                    history = bool(params[1].get("searchTransactionHistory")) if len(params) > 1 else False
                    return {"context": ctx, "value": [self._status(sig, history) for sig in params[0]]}
                case "getAccountInfo":
                    return {"context": ctx, "value": self._account(params[0])}
                case "getMultipleAccounts":
                    return {"context": ctx, "value": [self._account(k) for k in params[0]]}
                case "getBlockTime":
                    if st.block_time is None:
                        raise _RpcError(-32004, f"Block not available for slot {params[0]}")
                    return st.block_time
                case "getBalance":
                    return {"context": ctx, "value": st.balances.get(params[0], 0)}
                case "getTokenAccountBalance":
                    if params[0] not in st.token_balances:
                        raise _RpcError(-32602, "Invalid param: could not find account")
                    amount, decimals = st.token_balances[params[0]]
                    ui = str(amount / 10**decimals)
                    value = {"amount": str(amount), "decimals": decimals, "uiAmount": float(ui), "uiAmountString": ui}
                    return {"context": ctx, "value": value}
                case "getRecentPrioritizationFees":
                    return [{"slot": st.slot - i, "prioritizationFee": fee} for i, fee in enumerate(st.priority_fees)]
                case "getMinimumBalanceForRentExemption":
                    size = int(params[0])
                    return (ACCOUNT_OVERHEAD_BYTES + size) * RENT_PER_BYTE_YEAR * RENT_EXEMPT_YEARS
                case _:
                    raise _RpcError(-32601, "Method not found")

    def _receive(self, params: list[Any], transport: Fault | None) -> str:
        """sendTransaction, called under the lock: decide the transaction's fate."""
        st = self._state
        tx = decode_tx(base64.b64decode(params[0]))
        # A fault that does not let the transaction land struck before it got anywhere.
        landing = st.landing if transport is None or transport.land else _Landing(never=True)
        st.txs.setdefault(tx.signature, _TxRecord(tx, landing, slot=st.slot))
        if landing.expire:
            st.expired = True
            st.block_height = self._lvbh + 1
        return tx.signature

    def _status(self, signature: str, history: bool) -> dict[str, Any] | None:
        record = self._state.txs.get(signature)
        if record is None:
            return None
        landing = record.landing
        record.polls += 1
        if landing.never or landing.expire or record.polls <= landing.after_polls:
            return None
        if time.monotonic() - record.received_at < landing.after_s:
            return None
        if landing.history_only and not history:
            return None
        status = {"Ok": None} if landing.err is None else {"Err": landing.err}
        return {
            "slot": record.slot,
            "confirmations": None,
            "err": landing.err,
            "status": status,
            "confirmationStatus": "confirmed",
        }

    def _account(self, pubkey: str) -> dict[str, Any] | None:
        entry = self._state.accounts.get(pubkey)
        if entry is None:
            return None
        data, owner = entry
        return {
            "data": [base64.b64encode(data).decode(), "base64"],
            "executable": False,
            "lamports": self._state.balances.get(pubkey, 1_000_000),
            "owner": owner,
            "rentEpoch": 18446744073709551615,
            "space": len(data),
        }


class _RpcError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeRpc

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The client gave up on a hanging call and closed the socket: expected, not worth a traceback.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: without this each answer waits ~40 ms
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests read the recorded calls instead

    def do_POST(self) -> None:
        fake = self.server.fake
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        payload = json.loads(body)
        requests = payload if isinstance(payload, list) else [payload]
        transport, per_call = fake._plan(requests)
        # The node acts first (a sendTransaction hit by a fault with land=True still reaches the chain), then the
        # fault decides what, if anything, the client gets back.
        answers = [fake._answer(req, fault, transport) for req, fault in zip(requests, per_call, strict=True)]
        if transport is not None and transport.kind == "hang":
            fake._stopping.wait(transport.delay_s)
        elif transport is not None:
            self._fail(transport)
            return
        self._send_json(answers if isinstance(payload, list) else answers[0])

    def _fail(self, fault: Fault) -> None:
        if fault.kind == "drop":
            self.close_connection = True
            return
        body = b'{"error": "injected"}'
        self.send_response(fault.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, obj: Any) -> None:
        body = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def fake_rpc() -> Iterator[FakeRpc]:
    """A started ``FakeRpc`` for a pytest fixture (``conftest.fake``); the test fails if any transaction reached
    the node twice."""
    with FakeRpc() as fake:
        yield fake
        fake.assert_no_double_send()
