"""DriftVenue: the venue port on real Drift, through driftpy's instruction builders and our own transaction pipeline.

One instance per bot (one subaccount, one perp market). It is asynchronous (solana's ``AsyncClient``) and lives on
the process's one live loop (``botrunner.runtime.live_loop``); the bot's actor starts a command there and gets its
outcome back later in its mailbox, so the actor is never blocked by a transaction.

Concurrency on that loop: the command queue's rule is ``botrunner.live.dispatch`` (pure, property-tested): commands
run one at a time in the order submitted, so a command decided while an earlier one confirms is built, gated and
checked for ``tradeable`` only once that one's outcome is known (after an UNKNOWN it is refused). A cancel of orders
that the transaction under way does not touch goes at once (an operator's pause must not wait for another order's
confirmation; a cancel never adds exposure), and a pause's cancel drops the queued commands that would place orders.
Reads are serialised (each diff is against the reading before it), and a read that began before an UNKNOWN outcome
is not the resync that outcome requires.

What a refresh does: ONE ``getMultipleAccounts`` for every account the bot reads — its User, its perp market, the
quote (and SOL) spot markets, their oracles and the wallet (for the gas balance) — so every number in a snapshot is
from one slot. The round trip is the latency sample the safety gates read. The reading is converted into our
account model (``botrunner.live.account``), diffed against the previous one into venue events (fills, cancels,
expiries, funding), and installed into the driftpy client for the next instructions.

What a command does (``execute``), in order:

1. refuse anything while the link is not tradeable: RPC down, reconnecting, a resync pending after a reconnect or an
   unknown transaction outcome, or the circuit breaker open;
2. safety gates on every placement (confirmation above $100 unless a YAML cap allows it, gas reserve, latency);
   blocked orders are rejected with the numbers, logged at WARNING, and the rest proceed;
3. build the instructions (``botrunner.live.instructions``), split into transactions that fit (a ``Transfer`` first
   reads the destination subaccount's User, which the instruction lists);
4. each transaction through the pipeline (simulate, send once, confirm and check ``err``); the first failure stops
   the rest of the command (later transactions assumed the earlier ones), an unknown outcome forces a resync;
5. refresh: the chain is the truth, so what the command did is reported as the diff the refresh sees.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, assert_never, cast

import msgspec
import structlog
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed
from solders.account import Account
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from structlog.typing import FilteringBoundLogger

from botrunner.config import BotConfig
from botrunner.config.live import FulfillmentVenue, SpotFulfillment
from botrunner.connector.commands import CancelAndPlace, CancelOrders, PlaceOrders, PlanReason
from botrunner.connector.orders import OrderIntent, WorkingOrder
from botrunner.core.markets import PerpMarketSpec
from botrunner.core.policy import PostOnlyMode
from botrunner.core.precision import QUOTE_SPOT_MARKET_INDEX, SOL_SPOT_MARKET_INDEX
from botrunner.core.side import Side
from botrunner.drift.codec import DecodeError, OracleReading, decode_account, decode_oracle_price, variant_name
from botrunner.drift.convert import QUOTE_ASSET, market_name
from botrunner.live import instructions as ix
from botrunner.live.account import LiveSnapshot, diff_events, snapshot_from_chain
from botrunner.live.capital import CapitalError, check_deposit, check_transfer, check_withdraw
from botrunner.live.client import (
    ChainAccounts,
    ChainState,
    drift_client,
    install,
    install_user,
    remove_user,
    user_pubkey,
)
from botrunner.live.dispatch import Dispatch, Go, Job, Refuse
from botrunner.live.retry import Link, LinkState
from botrunner.live.transactions import TxOutcome, TxPipeline, TxResult, describe_error, record_outcome
from botrunner.live.vault_sync import SyncChange, VaultSync, interest_since
from botrunner.margin.interest import RatePoint
from botrunner.margin.model import PerpPosition
from botrunner.margin.spot_balance import signed_token_amount
from botrunner.margin.view import AccountMarginView
from botrunner.venue.port import (
    AccountReport,
    BalanceChanged,
    CommandRejected,
    Deposit,
    Fill,
    InterestAccrued,
    ModifyOrder,
    OrderRejected,
    PlaceLegs,
    RejectReason,
    SettlePnl,
    SpotFill,
    SpotOrder,
    VenueCommand,
    VenueEvent,
    Withdraw,
    order_rejected,
)
from governors.safety_gates import Confirmations, GateInputs, check_legs, check_orders, describe, gate_command

if TYPE_CHECKING:  # loaded by _load_priority_fee, only before a transaction is built
    from driftpy.drift_client import DriftClient
    from driftpy.priority_fees.priority_fee_subscriber import PriorityFeeSubscriber
    from driftpy.types import PhoenixV1FulfillmentConfigAccount

USER_ACCOUNT_BYTES = 4376  # Drift User account size: the rent of a new subaccount


class Transfer(msgspec.Struct, frozen=True, kw_only=True):
    """Move ``amount`` tokens of spot market ``spot_market_index`` from the bot's subaccount to the same authority's
    subaccount ``to_sub_account_id`` (Drift ``transfer_deposit``). Live only: a paper account has no sibling
    subaccounts, so this is not a ``VenueCommand`` (the paper venue would have to refuse it); ``execute`` takes it
    beside them and runs it exactly like a withdrawal."""

    spot_market_index: int
    amount: int
    to_sub_account_id: int


class UnknownAccount(CapitalError):
    """A capital operation names a subaccount that is not there."""

    reason = RejectReason.UNKNOWN_ACCOUNT


class VenueError(RuntimeError):
    """The venue cannot be used as configured (a missing subaccount in monitor mode, a market mismatch)."""


class RpcUnavailable(VenueError):
    """The RPC did not answer (timeout, refused, HTTP error)."""


_FAILED_OUTCOMES = {
    TxOutcome.SIMULATION_FAILED: RejectReason.TRANSACTION_FAILED,
    TxOutcome.SEND_FAILED: RejectReason.TRANSACTION_FAILED,
    TxOutcome.FAILED_ON_CHAIN: RejectReason.TRANSACTION_FAILED,
    TxOutcome.EXPIRED: RejectReason.TRANSACTION_FAILED,
    TxOutcome.UNKNOWN: RejectReason.OUTCOME_UNKNOWN,
    TxOutcome.DRY_RUN: RejectReason.DRY_RUN,
}


class DriftVenue:
    """See the module doc. ``wallet`` None = monitor mode: reads only, every command is refused."""

    def __init__(
        self,
        config: BotConfig,
        rpc: AsyncClient,
        *,
        wallet: Keypair | None,
        pipeline: TxPipeline | None,
        log: FilteringBoundLogger | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if (wallet is None) != (pipeline is None):
            raise ValueError("a trading venue needs both a wallet and a pipeline; a monitor neither")
        self.config = config
        self.settings = config.live
        self.rpc = rpc
        self.wallet = wallet
        self.pipeline = pipeline
        self.log: FilteringBoundLogger = log if log is not None else structlog.get_logger("live").bind(bot=config.name)
        self.clock = clock
        self.monotonic = monotonic
        self.authority = Pubkey.from_string(config.account.authority)
        if wallet is not None and wallet.pubkey() != self.authority:
            raise VenueError(
                f"{config.name}: account.authority {self.authority} is not the signing key's public key "
                f"{wallet.pubkey()}; the key must be the subaccount's authority"
            )
        self.sub_account_id = config.account.subaccount_id
        self.spec: PerpMarketSpec = config.market_spec
        self.client = drift_client(
            rpc,
            wallet if wallet is not None else Keypair(),  # a monitor signs nothing; driftpy wants a wallet object
            authority=self.authority,
            sub_account_id=self.sub_account_id,
            perp_market_index=self.spec.market_index,
        )
        self.accounts: ChainAccounts | None = None
        self.snapshot: LiveSnapshot | None = None
        self.wallet_lamports = 0
        self.latency_ms: int | None = None
        self.link = Link.from_settings(self.settings)
        self.vault = VaultSync()  # the engine vault's sync rule (botrunner.live.vault_sync)
        self.confirmations = Confirmations()
        self._cancels_sent: set[int] = set()  # uids a confirmed transaction cancelled, until the chain drops them
        self.priority_fee: int | None = None  # micro-lamports per CU, recent average on the bot's market
        self._fees: PriorityFeeSubscriber | None = None  # loaded only before we send
        self._fees_loaded_at: float | None = None
        self._sources: dict[str, str] = {}  # oracle pubkey -> Drift OracleSource variant
        # Drift's fulfilment config of the spot leg's external venue (live.spot_fulfillment), read at connect
        self.fulfillment: PhoenixV1FulfillmentConfigAccount | None = None
        # the command queue's rule (botrunner.live.dispatch): FIFO, cancels ahead, UNKNOWN blocks until a full
        # re-read begun after it, a pause drops queued placements; the answers wait here until their part is read
        self._dispatch = Dispatch()
        self._turns: dict[tuple[int, bool], asyncio.Future[Go | Refuse]] = {}
        self._job_seq = 0
        self._read_lock = asyncio.Lock()  # one read-and-diff at a time
        # whether the last refresh() read the chain (it returns () either way); None: it did not try (not due)
        self._read_ok: bool | None = None

    # -------------------------------------------------------------- reading the chain

    async def _fetch(self, keys: Sequence[Pubkey]) -> tuple[int, list[Account | None]]:
        started = self.monotonic()
        try:
            resp = await self.rpc.get_multiple_accounts(list(keys), commitment=Confirmed, encoding="base64")
        except Exception as exc:  # httpx/solana raise assorted transport errors: all mean "no answer"
            raise RpcUnavailable(f"{self.config.name}: RPC getMultipleAccounts failed: {describe_error(exc)}") from exc
        self.latency_ms = int((self.monotonic() - started) * 1000)
        return int(resp.context.slot), list(resp.value)

    async def connect(self) -> None:
        """Find the market's accounts and oracles, create the subaccount if a live bot needs it, read everything."""
        from driftpy.addresses import get_perp_market_public_key, get_spot_market_public_key

        program = self.client.program_id
        perp_key = get_perp_market_public_key(program, self.spec.market_index)
        spot_keys = tuple(
            get_spot_market_public_key(program, i) for i in (QUOTE_SPOT_MARKET_INDEX, SOL_SPOT_MARKET_INDEX)
        )
        _, found = await self._fetch([perp_key, *spot_keys])
        if found[0] is None:
            raise VenueError(f"{self.config.name}: perp market {self.spec.market_index} ({self.spec.symbol}) not found")
        perp = decode_account(bytes(found[0].data), expect="PerpMarket", what=f"perp market {self.spec.market_index}")
        symbol = market_name(perp.name)
        if symbol != self.spec.symbol:
            raise VenueError(
                f"{self.config.name}: perp market {self.spec.market_index} on chain is {symbol!r}, "
                f"the bot trades {self.spec.symbol!r}"
            )
        spots = [
            decode_account(bytes(a.data), expect="SpotMarket", what=f"spot market {i}")
            for i, a in enumerate(found[1:])
            if a is not None
        ]
        oracles = tuple(dict.fromkeys([perp.amm.oracle, *(s.oracle for s in spots)]))
        self._sources = {str(perp.amm.oracle): variant_name(perp.amm.oracle_source)} | {
            str(s.oracle): variant_name(s.oracle_source) for s in spots
        }
        self.accounts = ChainAccounts(
            user=user_pubkey(self.client, self.sub_account_id),
            perp_market=perp_key,
            spot_markets=spot_keys[: len(spots)],
            oracles=oracles,
        )
        if self.settings.spot_fulfillment is not None:
            self.fulfillment = await self._load_fulfillment(self.settings.spot_fulfillment)
        started = self.monotonic()
        state = await self._read()
        if state.user is None:
            if self.wallet is None:
                raise VenueError(
                    f"{self.config.name}: subaccount {self.sub_account_id} of {self.authority} does not exist"
                )
            await self._create_subaccounts()
            started = self.monotonic()
            state = await self._read()
            if state.user is None:
                raise VenueError(f"{self.config.name}: subaccount {self.sub_account_id} still missing after creation")
        self._accept(state)
        self._vault_changed(*self.vault.succeeded(started, self.monotonic()))  # the first reading is the first sync

    async def _load_fulfillment(self, settings: SpotFulfillment) -> PhoenixV1FulfillmentConfigAccount:
        """Read and check Drift's fulfilment config for the spot leg (owned by the Drift program, for SOL spot,
        Enabled): the accounts it names go into every spot leg's instruction."""
        match settings.venue:
            case FulfillmentVenue.PHOENIX_V1:
                expect = "PhoenixV1FulfillmentConfig"
            case _:
                assert_never(settings.venue)
        key = Pubkey.from_string(settings.config_account)
        _, (raw,) = await self._fetch([key])
        where = f"{self.config.name}: live.spot_fulfillment.config_account {key}"
        if raw is None:
            raise VenueError(f"{where} not found")
        if raw.owner != self.client.program_id:
            raise VenueError(f"{where} is owned by {raw.owner}, not the Drift program")
        try:
            config = decode_account(bytes(raw.data), expect=expect, what=where)
        except DecodeError as exc:
            raise VenueError(str(exc)) from exc
        status = variant_name(config.status)
        if int(config.market_index) != SOL_SPOT_MARKET_INDEX or status != "Enabled" or config.pubkey != key:
            raise VenueError(
                f"{where}: for spot market {config.market_index}, status {status}, pubkey {config.pubkey}; the "
                f"spot leg needs market {SOL_SPOT_MARKET_INDEX}, Enabled, and the account's own key"
            )
        self.log.info("spot_fulfillment", venue=settings.venue.value, market=str(config.phoenix_market))
        return cast("PhoenixV1FulfillmentConfigAccount", config)

    async def _read(self) -> ChainState:
        accounts = self.accounts
        assert accounts is not None
        keys = [*accounts.all(), self.authority]
        slot, values = await self._fetch(keys)
        user_raw, perp_raw, *rest = values
        spot_raw = rest[: len(accounts.spot_markets)]
        oracle_raw = rest[len(accounts.spot_markets) : len(accounts.spot_markets) + len(accounts.oracles)]
        wallet = rest[-1]
        self.wallet_lamports = int(wallet.lamports) if wallet is not None else 0
        if perp_raw is None:  # as an oracle that vanished: the reading cannot be used
            raise VenueError(f"{self.config.name}: perp market {accounts.perp_market} not found")
        try:
            perp = decode_account(bytes(perp_raw.data), expect="PerpMarket", what="perp market")
            spots = {
                int(s.market_index): s
                for s in (
                    decode_account(bytes(a.data), expect="SpotMarket", what="spot market")
                    for a in spot_raw
                    if a is not None
                )
            }
            prices: dict[str, OracleReading] = {}
            for key, raw in zip(accounts.oracles, oracle_raw, strict=True):
                source = self._sources[str(key)]
                if source == QUOTE_ASSET:
                    continue  # priced 1.0 by markets_of: there is no oracle account to read
                if raw is None:
                    raise VenueError(f"{self.config.name}: oracle {key} ({source}) not found")
                prices[str(key)] = decode_oracle_price(bytes(raw.data), source, what=f"oracle {key}")
            user = (
                decode_account(bytes(user_raw.data), expect="User", what=f"user {accounts.user}")
                if user_raw is not None
                else None
            )
        except DecodeError as exc:
            raise VenueError(f"{self.config.name}: {exc}") from exc
        return ChainState(slot=slot, user=user, perp_market=perp, spot_markets=spots, oracle_prices=prices)

    def _accept(self, state: ChainState) -> tuple[VenueEvent, ...]:
        install(self.client, state, sub_account_id=self.sub_account_id)
        snapshot = snapshot_from_chain(state, self.spec, ts=int(self.clock()))
        previous = self.snapshot
        events: tuple[VenueEvent, ...] = ()
        if previous is not None:
            # an order gone after our own cancel is "cancelled, requested", even past its max_ts
            events = diff_events(previous, snapshot, cancel_requested=self._cancels_sent)
            # the delta-neutral engine's SOL leg: interest the venue accrued on it since the last reading
            interest = interest_since(previous.account, previous.markets, snapshot.markets, SOL_SPOT_MARKET_INDEX)
            if interest:
                events = (
                    *events,
                    InterestAccrued(ts=snapshot.ts, spot_market_index=SOL_SPOT_MARKET_INDEX, amount=interest),
                )
        self.snapshot = snapshot
        self._cancels_sent &= {o.user_order_id for o in snapshot.open_orders}
        return events

    async def refresh(self) -> tuple[VenueEvent, ...]:
        """Read the chain again; return what changed as venue events.

        A failed read marks the link RECOVERING (no trading); while recovering, a read is attempted only every
        ``reconnect_every_s``. The first good read after a loss or an unknown transaction IS the resync: the whole
        account is re-read, so trading may resume after it."""
        async with self._read_lock:
            now = self.monotonic()
            if self.link.state is LinkState.RECOVERING and not self.link.should_reconnect(now):
                self._read_ok = None
                return ()
            token = self._dispatch.read_begun()
            try:
                state = await self._read()
            except RpcUnavailable as exc:
                self.link = self.link.connection_lost(now)
                self._read_ok = False
                self.log.warning("rpc_unavailable", error=str(exc), retry_in_s=self.settings.reconnect_every_s)
                return ()
            self._read_ok = True
            events = self._accept(state)
            # any whole reading is a vault sync: as old as its read's start (a slow answer is stale on arrival)
            self._vault_changed(*self.vault.succeeded(now, self.monotonic()))
            resynced = self._dispatch.resynced_by(token)
            self._dispatch = self._dispatch.read_done(token)
            if self.link.state is not LinkState.CONNECTED:
                if not resynced:
                    # a transaction's outcome turned UNKNOWN while this read was under way: the read may predate
                    # its landing, so it is not the full re-read the unknown outcome requires; the next one is
                    self.link = self.link.reconnected()
                    return events
                self.link = self.link.reconnected().resynced()
                self.log.info("resynced", slot=state.slot, latency_ms=self.latency_ms)
            return events

    async def sync(self, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> tuple[VenueEvent, ...]:
        """One vault sync (``botrunner.live.vault_sync``): ``refresh``, retried up to 3 times with backoff when the
        read fails. Trading is disabled (logged at ERROR once, ``self.vault.disabled``) when every retry fails or
        the last good reading is older than 10 s (a slow node: a reading is as old as its read's start); the next
        fresh good read enables it again. Returns what the reads that succeeded reported."""
        events: list[VenueEvent] = []
        while True:
            events.extend(await self.refresh())
            now = self.monotonic()
            if self._read_ok is None:  # no read was due (the link's reconnect cadence): only the reading's age
                self._vault_changed(*self.vault.aged(now))
                return tuple(events)
            if self._read_ok:  # refresh recorded the good read (and its age) in the vault
                return tuple(events)
            self._vault_changed(*self.vault.failed(now))
            wait = self.vault.retry_in()
            if wait is None:
                return tuple(events)
            await sleep(wait)
            # the vault's retries run on their own backoff, inside the link's slower reconnect cadence
            self.link = msgspec.structs.replace(self.link, next_attempt_at=self.monotonic())

    def _vault_changed(self, vault: VaultSync, change: SyncChange) -> None:
        self.vault = vault
        match change:
            case SyncChange.DISABLED:
                self.log.error("vault_sync_failed", failures=vault.failures, why=vault.why, trading="disabled")
            case SyncChange.ENABLED:
                self.log.info("vault_sync_recovered", trading="enabled")
            case SyncChange.NONE:
                pass
            case _:
                assert_never(change)

    # -------------------------------------------------------------- what the driver reads (the port's VenueAccount)

    def reading(self) -> LiveSnapshot:
        """The last reading of the account (``VenueError`` before ``connect`` made the first)."""
        if self.snapshot is None:
            raise VenueError(f"{self.config.name}: no account snapshot yet (connect first)")
        return self.snapshot

    @property
    def oracle(self) -> int:
        return self.reading().oracle

    @property
    def position(self) -> PerpPosition:
        return self.reading().position

    def open_orders(self) -> tuple[WorkingOrder, ...]:
        return self.reading().open_orders

    def equity(self) -> int:
        return self.reading().report.equity

    def report(self) -> AccountReport:
        return self.reading().report

    def unsettled_pnl(self) -> int:
        return self.reading().report.unsettled_pnl

    def spot_balance(self, spot_market_index: int) -> int:
        snap = self.reading()
        for held in snap.account.spot_positions:
            if held.market_index == spot_market_index:
                return signed_token_amount(held, snap.markets.spot_market(spot_market_index))
        return 0

    def margin_view(self) -> AccountMarginView:
        return self.reading().view  # built once per reading: the report and the decision share its figures

    def spot_rates(self, spot_market_index: int) -> RatePoint | None:
        """The chain's deposit/borrow APR of a spot market the bot reads (``botrunner.live.rates``), None for
        another."""
        return self.reading().spot_rates.get(spot_market_index)

    # -------------------------------------------------------------- commands

    def tradeable(self) -> str | None:
        """Why the bot may not trade now (None = it may)."""
        now = self.monotonic()
        if self.wallet is None:
            return "monitor mode: read-only"
        vault = self.vault.why_not_trading(now)  # disabled by the sync, or aged past 10 s since the last one
        if vault is not None:
            return vault
        link = self.link
        if link.can_trade(now):
            return None
        if link.state is not LinkState.CONNECTED:
            return f"link {link.state.value}" + (" after an unknown transaction outcome" if link.unknown_tx else "")
        if link.unknown_tx:
            return "a transaction outcome is unknown: resync pending"
        until = link.breaker.opens_until or now
        return f"circuit breaker open ({link.breaker.failures} consecutive failures) for {until - now:.0f} s more"

    @property
    def busy(self) -> bool:
        """Whether a command's transactions are under way (later ones wait in the queue)."""
        return self._dispatch.busy

    async def execute(self, command: VenueCommand | Transfer) -> tuple[VenueEvent, ...]:
        """Perform ``command`` in its turn (see the module doc and ``botrunner.live.dispatch``); return what the
        chain shows afterwards. A cancel of orders the command under way does not touch goes at once."""
        self._job_seq += 1
        seq = self._job_seq
        touched = _touched(command)
        job = Job(
            seq=seq,
            touches=frozenset(touched),
            places=bool(_placements(command)),
            cancel=command.user_order_ids if isinstance(command, CancelOrders) else None,
            pause=isinstance(command, CancelOrders) and command.reason is PlanReason.VERDICT_PAUSE,
        )
        loop = asyncio.get_running_loop()
        self._dispatch, actions, parts = self._dispatch.submit(job)
        turns = {ahead: self._turns.setdefault((seq, ahead), loop.create_future()) for ahead in parts}
        self._answer(actions)
        out: list[VenueEvent] = []
        for ahead in parts:  # the part ahead of the queue first: it is answered at once
            answer = await turns[ahead]
            del self._turns[(seq, ahead)]
            part = command
            if isinstance(answer, Go) and answer.ids is not None and isinstance(command, CancelOrders):
                part = CancelOrders(answer.ids, command.reason)
                if ahead and answer.ids != command.user_order_ids:
                    self.log.info("cancel_ahead_of_queue", orders=list(answer.ids))
            match answer:
                case Refuse(why=why):
                    self.log.warning("trade_refused", command=type(part).__name__, why=why)
                    out.extend(
                        _reject_all(part, _placements(part), int(self.clock()), RejectReason.VENUE_UNAVAILABLE, why)
                    )
                case Go() if ahead and answer.ids == ():
                    pass  # a cancel of nothing ahead of the queue: nothing to send (as before the rule had a module)
                case Go():
                    try:
                        out.extend(await self._execute(part))
                    finally:
                        if not ahead:
                            self._dispatch, actions = self._dispatch.done(seq)
                            self._answer(actions)
        return tuple(out)

    def _answer(self, actions: tuple[Go | Refuse, ...]) -> None:
        """Hand each answer to the part waiting for it (or to the part that will wait for it)."""
        loop = asyncio.get_running_loop()
        for action in actions:
            self._turns.setdefault((action.seq, action.ahead), loop.create_future()).set_result(action)

    async def _execute(self, command: VenueCommand | Transfer) -> tuple[VenueEvent, ...]:
        ts = int(self.clock())
        out: list[VenueEvent] = []
        if self.wallet is not None and self.vault.why_not_trading(self.monotonic()) is not None:
            # the reading aged past the freshness window since the tick (an operator's command between ticks, one
            # queued behind a slow confirmation) or the vault is disabled: read the chain again before trading on
            # it; a read that fails or answers late leaves the command refused below. What that read saw changed
            # is reported like any reading's (the next diff starts from it: dropped here, it would be lost)
            out.extend(await self.refresh())
        blocked_reason = self.tradeable()
        placing = _placements(command)
        if blocked_reason is not None:
            self.log.warning("trade_refused", command=type(command).__name__, why=blocked_reason)
            return (*out, *_reject_all(command, placing, ts, RejectReason.VENUE_UNAVAILABLE, blocked_reason))
        match command:
            case PlaceOrders() | CancelAndPlace():
                gated, rejected = self._gate(command, placing, ts)
                out.extend(rejected)
                if gated is None:
                    return tuple(out)
                command = gated
            case PlaceLegs():
                legs_blocked = self._gate_legs(command, ts)
                if legs_blocked is not None:
                    return (*out, legs_blocked)
            case CancelOrders() | ModifyOrder() | SettlePnl() | Deposit() | Withdraw() | Transfer():
                pass
        plans, refused = await self._plans_or_refusal(command, placing, ts)
        if plans is None:
            return (*out, *refused)
        spot_mark = _SpotMark.of(self.client, self.sub_account_id) if isinstance(command, PlaceLegs) else None
        before_run = len(out)
        confirmed_places = await self._run_plans(plans, command, placing, ts, out)
        # whether every transaction confirmed: a PlaceLegs places no tracked order without a perp leg (a spot-only
        # legs trade), so confirmed_places cannot say it; a failure of one rejected the command
        all_confirmed = not any(isinstance(e, CommandRejected) for e in out[before_run:])
        if self.link.unknown_tx:
            # Not now: the transaction may still land. The next tick's read is the resync (a refresh later).
            return tuple(out)
        out.extend(await self.refresh())
        out.extend(self._not_on_chain(confirmed_places, placing, ts))
        if isinstance(command, PlaceLegs) and spot_mark is not None and command.spot is not None and all_confirmed:
            out.extend(spot_mark.fills(self.client, self.sub_account_id, command.spot, ts))
        if (
            isinstance(command, PlaceLegs)
            and command.perp is None
            and all_confirmed
            and not any(isinstance(e, Fill | SpotFill) for e in out[before_run:])
        ):
            # Landed with nothing filled: a spot-only legs trade whose IOC spot order found no liquidity within its
            # limit. Without an event the bot would keep this PlaceLegs in flight and block every later trade as
            # legs_in_flight; the paper venue refuses such a leg whole with INVALID_ORDER, so the bot hears the same
            # here (nothing moved but the fee). Only spot-only: a trade with a perp leg is FullFill, so if it landed
            # the perp DID fill, and a read that shows no fill is stale; calling that "nothing filled" would free
            # the bot to send the same trade again, so it stays in flight until a read shows the fill.
            detail = "landed, but no leg filled: the IOC spot order found no liquidity within its limit"
            out.append(CommandRejected(ts=ts, command="PlaceLegs", reason=RejectReason.INVALID_ORDER, detail=detail))
        if isinstance(command, Deposit | Withdraw | Transfer) and not any(isinstance(e, CommandRejected) for e in out):
            sign = 1 if isinstance(command, Deposit) else -1
            out.append(BalanceChanged(ts=ts, spot_market_index=command.spot_market_index, amount=sign * command.amount))
        return tuple(out)

    async def _plans_or_refusal(
        self, command: VenueCommand | Transfer, placing: tuple[OrderIntent, ...], ts: int
    ) -> tuple[tuple[ix.TxPlan, ...] | None, tuple[VenueEvent, ...]]:
        """(the transactions ``command`` needs, ()), or (None, the events refusing it) when they cannot be built."""
        try:
            return await self._plans(command), ()
        except CapitalError as exc:
            self.log.warning("capital_refused", command=type(command).__name__, error=str(exc))
            return None, (CommandRejected(ts=ts, command=type(command).__name__, reason=exc.reason, detail=str(exc)),)
        except ix.InstructionError as exc:  # e.g. an account so busy that one operation exceeds a transaction
            self.log.warning("instructions_refused", command=type(command).__name__, error=str(exc))
            return None, _reject_all(command, placing, ts, RejectReason.INVALID_ORDER, str(exc))
        except RpcUnavailable as exc:  # a read the command needs (a transfer's destination User) went unanswered
            self.log.warning("rpc_unavailable", command=type(command).__name__, error=str(exc))
            return None, _reject_all(command, placing, ts, RejectReason.VENUE_UNAVAILABLE, str(exc))

    async def _run_plans(
        self,
        plans: tuple[ix.TxPlan, ...],
        command: VenueCommand | Transfer,
        placing: tuple[OrderIntent, ...],
        ts: int,
        out: list[VenueEvent],
    ) -> list[int]:
        """Send ``plans`` in order; the first failure stops the rest, and the rejections of what it stopped go to
        ``out``. Returns the user_order_ids whose transactions confirmed."""
        confirmed_places: list[int] = []
        for i, plan in enumerate(plans):
            result = await self._run(plan.instructions, plan.what)
            if result.outcome is TxOutcome.CONFIRMED:
                confirmed_places.extend(plan.places)
                self._cancels_sent.update(plan.cancels)
            else:
                reason = _FAILED_OUTCOMES[result.outcome]
                detail = f"{result.outcome.value}: {result.error}".strip(": ")
                if result.outcome is TxOutcome.UNKNOWN and result.signature:  # what the operator looks up
                    detail += f" (signature {result.signature})"
                for later in plans[i:]:  # later transactions assumed this one: none of them is sent
                    out.extend(_reject_ids(later.places, placing, ts, reason, detail))
                if not placing:
                    out.append(CommandRejected(ts=ts, command=type(command).__name__, reason=reason, detail=detail))
                break
        return confirmed_places

    def _gate(
        self, command: PlaceOrders | CancelAndPlace, placing: tuple[OrderIntent, ...], ts: int
    ) -> tuple[PlaceOrders | CancelAndPlace | CancelOrders | None, list[VenueEvent]]:
        """Drop the placements the safety gates block (each rejected with its numbers); cancels always pass."""
        self.confirmations = self.confirmations.prune(ts)
        result = check_orders(
            placing,
            self.oracle,
            self.settings,
            GateInputs(sol_lamports=self.wallet_lamports, latency_ms=self.latency_ms, now=ts),
            self.confirmations,
        )
        if not result.blocked:
            return command, []
        by_id = {o.user_order_id: o for o in placing}
        rejected: list[VenueEvent] = []
        for blocked in result.blocked:
            self.log.warning(
                "safety_gate",
                order=blocked.user_order_id,
                reason=blocked.reason.value,
                detail=describe(blocked),
                confirm_token=blocked.token,
            )
            rejected.extend(
                _reject_ids(
                    (blocked.user_order_id,),
                    (by_id[blocked.user_order_id],),
                    ts,
                    RejectReason.SAFETY_GATE,
                    f"{blocked.reason.value}: {blocked.detail} (token {blocked.token})",
                )
            )
        gated = gate_command(command, result)
        assert gated is None or isinstance(gated, PlaceOrders | CancelAndPlace | CancelOrders)
        return gated, rejected

    def _gate_legs(self, command: PlaceLegs, ts: int) -> CommandRejected | None:
        """The safety gates on a PlaceLegs, whole: None when it may go, else the rejection of the whole command
        (never one leg; cancels are not PlaceLegs, so they are never held here)."""
        self.confirmations = self.confirmations.prune(ts)
        snap = self.reading()
        spot_index = command.spot.spot_market_index if command.spot is not None else SOL_SPOT_MARKET_INDEX
        spot_oracle = (
            snap.markets.spot_market(spot_index).oracle_price if spot_index in snap.markets.spot else snap.oracle
        )
        blocked = check_legs(
            command,
            self.settings,
            GateInputs(sol_lamports=self.wallet_lamports, latency_ms=self.latency_ms, now=ts),
            self.confirmations,
            oracle_price=self.oracle,
            spot_oracle_price=spot_oracle,
        )
        if blocked is None:
            return None
        self.log.warning(
            "safety_gate",
            legs=command.reason,
            reason=blocked.reason.value,
            detail=describe(blocked),
            confirm_token=blocked.token,
        )
        return CommandRejected(
            ts=ts,
            command="PlaceLegs",
            reason=RejectReason.SAFETY_GATE,
            detail=f"{blocked.reason.value}: {blocked.detail} (token {blocked.token})",
        )

    def _not_on_chain(self, uids: Sequence[int], placing: tuple[OrderIntent, ...], ts: int) -> list[VenueEvent]:
        """Orders of a confirmed transaction that the chain does not show. Drift skips such an order without
        failing the transaction: a TryPostOnly order that would cross, or one whose max_ts already passed."""
        snap = self.reading()
        seen = {o.user_order_id for o in snap.open_orders} | {c.order.user_order_id for c in snap.closed_orders}
        out: list[VenueEvent] = []
        for o in placing:
            if o.user_order_id not in uids or o.user_order_id in seen:
                continue
            if o.post_only is PostOnlyMode.TRY_POST_ONLY:
                reason = RejectReason.POST_ONLY_SKIPPED
            elif o.max_ts and o.max_ts < ts:
                reason = RejectReason.EXPIRED_ON_ARRIVAL
            else:
                reason = RejectReason.INVALID_ORDER
            out.extend(_reject_ids((o.user_order_id,), (o,), ts, reason, "transaction confirmed, order not on chain"))
        if out:
            self.log.warning(
                "orders_not_on_chain", orders=[e.user_order_id for e in out if isinstance(e, OrderRejected)]
            )
        return out

    def approve(self, token: str, valid_s: int) -> None:
        """An operator confirmed the order terms ``token`` (``botrunner ctl confirm``) for ``valid_s`` seconds."""
        self.confirmations = self.confirmations.approve(token, int(self.clock()) + valid_s)

    async def _plans(self, command: VenueCommand | Transfer) -> tuple[ix.TxPlan, ...]:
        sub = self.sub_account_id
        market = self.spec.market_index
        match command:
            case PlaceOrders() | CancelOrders() | CancelAndPlace() | ModifyOrder():
                assert self.wallet is not None
                return ix.order_transactions(
                    self.client,
                    command,
                    market_index=market,
                    sub_account_id=sub,
                    payer=self.wallet.pubkey(),
                    limit=self._budget(),
                )
            case SettlePnl():
                return (
                    ix.settle_pnl_transaction(
                        self.client, limit=self._budget(), sub_account_id=sub, market_index=market
                    ),
                )
            case Deposit():
                wallet = await self._wallet_balance(command.spot_market_index)
                check_deposit(
                    command.amount,
                    wallet,
                    spot_market_index=command.spot_market_index,
                    gas_reserve_lamports=self.settings.gas_reserve_lamports,
                )
                return (
                    await ix.deposit_transaction(
                        self.client,
                        limit=self._budget(),
                        amount=command.amount,
                        spot_market_index=command.spot_market_index,
                        sub_account_id=sub,
                    ),
                )
            case Withdraw():
                snap = self.reading()
                check_withdraw(command.amount, command.spot_market_index, snap.account, snap.markets)
                return (
                    await ix.withdraw_transaction(
                        self.client,
                        limit=self._budget(),
                        amount=command.amount,
                        spot_market_index=command.spot_market_index,
                        sub_account_id=sub,
                    ),
                )
            case Transfer(to_sub_account_id=to_sub):
                snap = self.reading()
                check_transfer(
                    command.amount, command.spot_market_index, snap.account, snap.markets, to_sub_account_id=to_sub
                )
                # transfer_deposit lists the destination's markets too, so its User must be on the client; only the
                # bot's own User is kept fresh by refresh(), so the destination is read now and dropped after use.
                await self._load_user(to_sub)
                try:
                    return (
                        ix.transfer_transaction(
                            self.client,
                            limit=self._budget(),
                            amount=command.amount,
                            spot_market_index=command.spot_market_index,
                            from_sub=sub,
                            to_sub=to_sub,
                        ),
                    )
                finally:
                    remove_user(self.client, to_sub)
            case PlaceLegs():
                return (
                    ix.legs_transaction(
                        self.client,
                        command,
                        market_index=market,
                        sub_account_id=sub,
                        limit=self._budget(),
                        fulfillment=self.fulfillment,
                    ),
                )
        raise TypeError(f"unsupported command {type(command).__name__}")

    async def _load_user(self, sub_account_id: int) -> None:
        """Read the authority's subaccount ``sub_account_id`` and install its User on the client."""
        key = user_pubkey(self.client, sub_account_id)
        slot, (raw,) = await self._fetch([key])
        if raw is None:
            raise UnknownAccount(f"subaccount {sub_account_id} of {self.authority} does not exist")
        try:
            user = decode_account(bytes(raw.data), expect="User", what=f"user {key}")
        except DecodeError as exc:
            raise UnknownAccount(f"subaccount {sub_account_id}: {exc}") from exc
        install_user(self.client, sub_account_id, user, slot=slot)

    async def _wallet_balance(self, spot_market_index: int) -> int:
        if spot_market_index == SOL_SPOT_MARKET_INDEX:
            return self.wallet_lamports
        from spl.token.instructions import get_associated_token_address

        market = self.client.get_spot_market_account(spot_market_index)
        if market is None:
            raise UnknownAccount(f"spot market {spot_market_index} is not installed on the client")
        mint = Pubkey.from_string(str(market.mint))
        ata = get_associated_token_address(self.authority, mint)
        try:
            resp = await self.rpc.get_token_account_balance(ata, commitment=Confirmed)
        except Exception as exc:
            raise RpcUnavailable(f"cannot read the wallet's token balance ({describe_error(exc)})") from exc
        return int(resp.value.amount)

    async def _run(self, instructions: Sequence[Instruction], what: str) -> TxResult:
        pipeline = self.pipeline
        assert pipeline is not None
        await self._load_priority_fee()
        result = await pipeline.execute(instructions, what=what)  # logs it (tx.done), with the alert when UNKNOWN
        if result.outcome is TxOutcome.UNKNOWN:
            self._dispatch = self._dispatch.unknown()
        self.link = record_outcome(self.link, result, self.monotonic())
        return result

    def _budget(self) -> int:
        """Bytes the instructions of one transaction may take (the pipeline reserves room for a Jito tip)."""
        assert self.pipeline is not None
        return self.pipeline.instruction_budget

    async def _load_priority_fee(self) -> None:
        """Refresh the recent priority fees on the bot's perp market (driftpy's subscriber, loaded by us), at most
        once per refresh interval and only when a transaction is about to be built: no RPC call on idle ticks."""
        from driftpy.priority_fees.priority_fee_subscriber import PriorityFeeConfig, PriorityFeeSubscriber

        now = self.monotonic()
        if self._fees_loaded_at is not None and now - self._fees_loaded_at < self.settings.refresh_s:
            return
        self._fees_loaded_at = now
        if self._fees is None:
            assert self.accounts is not None
            market = str(self.accounts.perp_market)
            self._fees = PriorityFeeSubscriber(PriorityFeeConfig(self.rpc, self.settings.refresh_s, [market]))
        try:
            await self._fees.load()  # type: ignore[no-untyped-call]  # driftpy leaves it unannotated
        except Exception as exc:  # an estimate is optional: the pipeline then pays the last one, or none
            self.log.warning("priority_fees_unavailable", error=describe_error(exc))
            return
        self.priority_fee = int(self._fees.avg_priority_fee) or None

    async def _create_subaccounts(self) -> None:
        """Create the authority's subaccounts up to the bot's id, in order (Drift requires sequential ids)."""
        from driftpy.addresses import get_user_stats_account_public_key

        stats_key = get_user_stats_account_public_key(self.client.program_id, self.authority)
        _, (stats_raw,) = await self._fetch([stats_key])
        created = 0
        if stats_raw is not None:
            stats = decode_account(bytes(stats_raw.data), expect="UserStats", what=f"user stats {stats_key}")
            created = int(stats.number_of_sub_accounts_created)
        rent = await self._rent(USER_ACCOUNT_BYTES)
        for sub in range(created, self.sub_account_id + 1):
            plan = ix.initialize_subaccount_transaction(
                self.client,
                limit=self._budget(),
                sub_account_id=sub,
                name=f"botrunner-{sub}",
                stats_exist=stats_raw is not None or sub > 0,
            )
            self.log.info("creating_subaccount", subaccount=sub, rent_lamports=rent, rent_sol=rent / 1e9)
            result = await self._run(plan.instructions, plan.what)
            if result.outcome is not TxOutcome.CONFIRMED:
                raise VenueError(
                    f"{self.config.name}: creating subaccount {sub} failed ({result.outcome.value}: {result.error})"
                )

    async def _rent(self, size: int) -> int:
        try:
            return int((await self.rpc.get_minimum_balance_for_rent_exemption(size)).value)
        except Exception as exc:
            raise RpcUnavailable(
                f"{self.config.name}: RPC getMinimumBalanceForRentExemption failed: {describe_error(exc)}"
            ) from exc


class _SpotMark(msgspec.Struct, frozen=True, kw_only=True):
    """Where the User stood before a PlaceLegs was sent: its next order id (the spot leg's order gets an id from
    there on) and its USDC token balance (the spot leg's quote plus its fee leave or enter it)."""

    next_order_id: int
    usdc: int

    @staticmethod
    def of(client: DriftClient, sub_account_id: int) -> _SpotMark | None:
        user = client.get_user(sub_account_id)
        account = user.get_user_account()
        if account is None:
            return None
        return _SpotMark(
            next_order_id=int(account.next_order_id), usdc=int(user.get_token_amount(QUOTE_SPOT_MARKET_INDEX))
        )

    def fills(self, client: DriftClient, sub_account_id: int, order: SpotOrder, ts: int) -> list[VenueEvent]:
        """The spot leg's fill, read from the User after confirmation as perp fills are: the spot order Drift
        placed (an id from ``next_order_id`` on, on ``order``'s market) still sits in its slot, Filled or Canceled
        (IOC), with its cumulative base and quote filled. The fee is what the USDC balance moved beyond the quote
        (it includes any interest accrued between the two reads, a few slots apart)."""
        user = client.get_user(sub_account_id)
        account = user.get_user_account()
        out: list[VenueEvent] = []
        for o in account.orders:
            if (
                int(o.order_id) >= self.next_order_id
                and variant_name(o.market_type) == "Spot"
                and int(o.market_index) == order.spot_market_index
                and int(o.base_asset_amount_filled) > 0
            ):
                base = int(o.base_asset_amount_filled)
                quote_abs = int(o.quote_asset_amount_filled)
                market = client.get_spot_market_account(order.spot_market_index)
                assert market is not None  # legs_transaction refused the command without it
                decimals = int(market.decimals)
                quote = -quote_abs if order.side is Side.BUY else quote_abs
                usdc_change = int(user.get_token_amount(QUOTE_SPOT_MARKET_INDEX)) - self.usdc
                out.append(
                    SpotFill(
                        ts=ts,
                        spot_market_index=order.spot_market_index,
                        side=order.side,
                        price=quote_abs * 10**decimals // base,
                        base=base,
                        quote=quote,
                        fee=quote - usdc_change,
                    )
                )
        return out


def _touched(command: VenueCommand | Transfer) -> tuple[int, ...]:
    """The user_order_ids ``command`` places, cancels or modifies."""
    match command:
        case PlaceOrders():
            return tuple(o.user_order_id for o in command.orders)
        case CancelOrders():
            return command.user_order_ids
        case CancelAndPlace():
            return (*command.cancel_ids, *(o.user_order_id for o in command.orders))
        case ModifyOrder():
            return (command.user_order_id,)
    return ()


def _placements(command: VenueCommand | Transfer) -> tuple[OrderIntent, ...]:
    match command:
        case PlaceOrders() | CancelAndPlace():
            return tuple(command.orders)
    return ()


def _reject_ids(
    ids: Sequence[int], placing: tuple[OrderIntent, ...], ts: int, reason: RejectReason, detail: str
) -> list[VenueEvent]:
    wanted = set(ids)
    return [order_rejected(o, ts, reason, detail) for o in placing if o.user_order_id in wanted]


def _reject_all(
    command: VenueCommand | Transfer, placing: tuple[OrderIntent, ...], ts: int, reason: RejectReason, detail: str
) -> tuple[VenueEvent, ...]:
    if placing:
        return tuple(_reject_ids([o.user_order_id for o in placing], placing, ts, reason, detail))
    return (CommandRejected(ts=ts, command=type(command).__name__, reason=reason, detail=detail),)
