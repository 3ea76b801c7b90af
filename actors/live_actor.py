"""LiveBotActor: one live (or monitor) bot on real Drift, in the same supervisor as the paper bots.

The bot is the very same: one ``BotDriver`` (``botrunner.bot.driver``) steps it on each input, and the step routes
venue reports into records and the connector, decides, applies the settle-PnL policy and the daily-loss reference.
Only the shell differs from the paper ``BotActor``:

* there is no replay feed: a ticker tells the actor ``Tick`` every ``live.refresh_s`` seconds; each tick reads the
  chain once (``DriftVenue.refresh``), feeds what changed as a ``VenueReport`` and then the reading as the step's
  ``Tick`` (the strategy sees the oracle, the bot decides, and settles PnL when the policy says so);
* commands out, events in: the venue and the ticker live on the process's one live loop
  (``botrunner.runtime.live_loop``), not on threads of the actor's own. A command the step asks for is started
  there and the step's effect returns at once with its orders PENDING; the transaction's outcome (simulation
  failure, confirmation, failure, expiry, UNKNOWN) comes back to the mailbox as ``TxDone`` and is fed to the same
  step as a ``VenueReport``. So an operator command to a bot whose transaction is confirming is stepped at once (a
  pause blocks new orders and cancels what no transaction under way touches). Commands run one at a time in
  submission order (``DriftVenue.execute``'s queue), so order ids and the safety rules are exactly as before;
* a transaction still confirming when the bot stops is not abandoned: it runs to its outcome on the loop (the
  venue's pipeline logs it), the RPC client is closed after it, and the next start re-reads the chain;
* nothing of the venue is checkpointed: the chain is the truth. The store keeps the bot's rows and a small
  ``LiveCheckpoint`` (operator flags, the day's starting equity, the last settle, the fees its fills paid), so a
  pause survives a restart;
* its strategy's price history survives restarts: the samples it depends on go to the store as they complete
  (``live.samples``) and a restart replays them before the first tick;
* like a paper bot, it stores a margin snapshot (``live.rows``) every ``snapshot_every_s`` and on every step with a
  fill, and the position after every step with a fill (the chain's reading after it);
* a monitor bot never decides: it assesses health and liquidation distance and reports level changes.

Start and restart: connect (create the subaccount if a live bot needs it), reconcile (adopt the venue's open orders,
restart the ramp-in, audit the adoption), then tick. A failure escapes to pykka, exactly like a paper bot's.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, assert_never

import msgspec
import pykka
from solana.rpc.async_api import AsyncClient
from solders.keypair import Keypair

from actors.actor_shell import ActorSetup, BotShell, open_order_rows
from botrunner.bot import step as bot
from botrunner.bot.driver import BotDriver
from botrunner.bot.operator_position import BotCommand
from botrunner.bot.pipeline import BotDefinition, BotMemory, OperatorFlags
from botrunner.config import BotMode, ShutdownPolicy
from botrunner.connector.commands import CancelOrders, PlanReason
from botrunner.core.catalogue import load_catalogue
from botrunner.core.operator import (
    CapitalCommand,
    Confirm,
    DepositFunds,
    ModeCommand,
    Pause,
    PositionCommand,
    TransferFunds,
    WithdrawFunds,
)
from botrunner.core.records import QUOTE_DECIMALS, fixed
from botrunner.live.alerts import AlertLevel, AlertTracker
from botrunner.live.retry import backoff_delays
from botrunner.live.rows import live_snapshot_row
from botrunner.live.samples import Sample, SampleTrail
from botrunner.live.transactions import TxPipeline
from botrunner.live.venue import DriftVenue, Transfer
from botrunner.runtime import incidents
from botrunner.runtime.decisions import position_row
from botrunner.runtime.live_loop import LIVE_LOOP, LiveLoop, Ticker
from botrunner.runtime.snapshots import (
    Alert,
    BotSnapshot,
    BotState,
    BotSummary,
    CapitalEvent,
    CapitalResult,
    Confirmed,
    PnlView,
    PositionResult,
)
from botrunner.runtime.views import (
    account_fields,
    account_snapshot,
    band_view,
    iso,
    iso_time,
    order_views,
    risk_view,
    summary_row,
)
from botrunner.store import Store
from botrunner.venue.port import (
    BalanceChanged,
    CommandRejected,
    Deposit,
    ReadThrough,
    VenueCommand,
    VenueEvent,
    Withdraw,
)

if TYPE_CHECKING:
    from botrunner.live.jito import JitoSubmitter

LIVE_CHECKPOINT_VERSION = 1
CONFIRMATION_VALID_S = 300  # an operator's confirmation of an order's terms holds this long


class LiveCheckpoint(msgspec.Struct, frozen=True, kw_only=True):
    """What a live bot keeps between runs beside its rows; the venue itself is re-read from the chain."""

    version: int = LIVE_CHECKPOINT_VERSION
    kind: str = "live"
    flags: OperatorFlags
    day: int
    day_start_equity: int
    last_settle_ts: int
    fees_paid: int = 0  # what the bot's recorded fills paid (Drift counts fees per authority, not per subaccount)
    last_position: int | None = None  # the settle policy's last check (None: kept before it was; the chain's)


class Tick(msgspec.Struct, frozen=True):
    """Time for the next refresh-and-decide step."""


class TxDone(msgspec.Struct, frozen=True):
    """The command the actor started as number ``seq`` has an outcome (told by the live loop)."""

    seq: int


class ReadDone(msgspec.Struct, frozen=True):
    """The chain read a tick started has an outcome (told by the live loop)."""


class CapitalDone(msgspec.Struct, frozen=True):
    """The capital move the actor started as number ``seq`` has an outcome (told by the live loop)."""

    seq: int


@dataclass
class _CapitalMove:
    """A capital move under way: what the operator asked, and where its answer goes."""

    command: CapitalCommand
    amount: int
    spot_market_index: int
    decimals: int
    answer: concurrent.futures.Future[CapitalResult]
    future: concurrent.futures.Future[tuple[VenueEvent, ...]]


@dataclass(frozen=True, kw_only=True)
class LiveSetup(ActorSetup):
    """A live or monitor bot's setup: the shell's, plus how it reaches Drift (in memory only)."""

    wallet: Keypair | None  # None: monitor mode
    rpc_url: str
    dry_run: bool = False
    loop: LiveLoop = field(default=LIVE_LOOP)  # the process's one live loop (a test may bring its own)
    # (name, seconds) after each decision: from the tick's chain reading returning to the decision's commands started
    # (the runner's decision latency metric)
    decided: Callable[[str, float], None] | None = None


class _LoopVenue(ReadThrough[DriftVenue]):
    """The driver's view of the venue: synchronous reads of the last snapshot; a command is started on the live
    loop and ``submit`` returns at once with nothing reported (its outcome arrives later as ``TxDone``)."""

    __slots__ = ("start",)

    def __init__(self, venue: DriftVenue, start: Callable[[VenueCommand], None]) -> None:
        super().__init__(venue)
        self.start = start

    def submit(self, command: VenueCommand, now: int) -> tuple[VenueEvent, ...]:
        del now  # the chain's clock, not the caller's, stamps live events
        self.start(command)
        return ()


class LiveBotActor(BotShell):
    """See the module doc."""

    setup: LiveSetup

    def __init__(self, setup: LiveSetup) -> None:
        super().__init__(setup)
        self.fees_paid = 0
        self.definition = BotDefinition.from_config(setup.config)
        memory = self.definition.strategy.price_memory()
        self.trail = SampleTrail(memory) if memory is not None and setup.config.mode is BotMode.LIVE else None
        self.samples: list[Sample] = []  # completed samples not yet stored
        self.alerts = AlertTracker()
        self.venue: DriftVenue | None = None
        self.loop = setup.loop
        self._leased = False  # whether this actor holds a lease on the live loop
        self._rpc: AsyncClient | None = None
        self._jito: JitoSubmitter | None = None  # when bundles are on (its HTTP client is closed on stop)
        self._ticker: Ticker | None = None
        self._tx_seq = 0
        # commands started on the loop whose outcome the bot has not stepped on yet: seq -> (command, future)
        self._pending: dict[int, tuple[VenueCommand, concurrent.futures.Future[tuple[VenueEvent, ...]]]] = {}
        self._reading: concurrent.futures.Future[tuple[VenueEvent, ...]] | None = None  # a tick's chain read
        self._vault_disabled = False  # the vault sync state last published (an Alert per change)
        self._capital: dict[int, _CapitalMove] = {}  # capital moves under way (their seq shares ``_tx_seq``)
        self._breaker_seen: float | None = None  # the breaker trip last published (its ``opens_until``)
        self._read_at = 0.0  # when the last tick's chain read returned (perf_counter, set on the live loop)

    # -------------------------------------------------------------- start

    def _start(self) -> None:
        setup, config = self.setup, self.config
        self.loop.acquire()
        self._leased = True
        settings = config.live
        # a previous actor of this subaccount (a restart) may have left a transaction confirming: its outcome first
        if not self.loop.wait_idle(self._key, settings.confirm_timeout_s + settings.status_timeout_s + 60):
            raise RuntimeError(f"{self.name}: a transaction of the previous run is still confirming")
        venue = self.loop.call(self._build_venue)
        self.venue = venue
        self.loop.call(venue.connect)
        now = int(time.time())
        with Store.open(setup.store_path, readonly=True) as store:
            saved = store.load_checkpoint(self.name)
            known = open_order_rows(store, self.name) if saved is not None else {}
            trail = self.trail
            # up to now: a clock set back since would put a later sample out of the strategy's time order
            history = store.price_samples(self.name, since=trail.keep_from(now), until=now) if trail else ()
        # the settle policy's previous position: the chain's now, unless the checkpoint kept the last check's
        memory = BotMemory(last_position=venue.position.base_asset_amount)
        if saved is not None:
            self.fill_seq = saved.fill_seq
            memory = msgspec.structs.replace(memory, order_seq=saved.order_seq, decision_seq=saved.decision_seq)
            if saved.venue_state:
                envelope = msgspec.json.decode(saved.venue_state, type=LiveCheckpoint)
                if envelope.version != LIVE_CHECKPOINT_VERSION or envelope.kind != "live":
                    raise ValueError(f"{self.name}: its checkpoint is not a live bot's (version {envelope.version})")
                memory = msgspec.structs.replace(
                    memory,
                    flags=envelope.flags,
                    day=envelope.day,
                    day_start_equity=envelope.day_start_equity,
                    last_settle_ts=envelope.last_settle_ts,
                    last_position=(
                        envelope.last_position if envelope.last_position is not None else memory.last_position
                    ),
                )
                self.fees_paid = envelope.fees_paid
        definition = self.definition
        loop_venue = _LoopVenue(venue, self._start_command)
        state = definition.initial_state(started_at=now, memory=memory)
        for ts, price in history:
            state, _ = bot.step(definition, state, bot.PricePoint(ts, price), loop_venue)
        driver = BotDriver(definition, loop_venue, state, self.step)
        self.driver = driver
        self.flags_seen = self.flags
        adopted = driver.reconcile(now, known.values()) if config.mode is BotMode.LIVE else ()
        dry_run = setup.dry_run or config.live.dry_run
        self._announce_start(
            now,
            resumed=saved is not None,
            position_base=venue.position.base_asset_amount,
            adopted=tuple(o.user_order_id for o in adopted),
            audit={"mode": config.mode.value, "dry_run": dry_run},
            log={
                "mode": config.mode.value,
                "subaccount": config.account.subaccount_id,
                "dry_run": dry_run,
                "price_samples_replayed": len(history),
            },
        )
        self._write(now, force=True)
        if setup.force_pause and config.mode is BotMode.LIVE:  # a monitor never trades: nothing to pause
            self.command(Pause(name=self.name))
        self._announce_started()
        self._ticker = self.loop.every(config.live.refresh_s, self._tell_tick)

    async def _build_venue(self) -> DriftVenue:
        setup, settings = self.setup, self.config.live
        self._rpc = AsyncClient(setup.rpc_url, timeout=settings.rpc_timeout_s)
        pipeline = None
        if setup.wallet is not None:
            effective = msgspec.structs.replace(settings, dry_run=settings.dry_run or setup.dry_run)
            if effective.jito.enabled:
                from botrunner.live.jito import JitoSubmitter

                # the bot's own retry schedule and log file, like the pipeline it feeds
                self._jito = JitoSubmitter(effective.jito, delays=backoff_delays(effective), logger=self.log)
            # the venue loads the market's recent fees just before it sends (see DriftVenue._load_priority_fee)
            pipeline = TxPipeline(
                self._rpc,
                setup.wallet,
                effective,
                log=self.log,
                priority_fee=lambda: venue.priority_fee,
                bundles=self._jito,
            )
        venue = DriftVenue(self.config, self._rpc, wallet=setup.wallet, pipeline=pipeline, log=self.log)
        return venue

    @property
    def _key(self) -> str:
        """The subaccount this bot trades: what a restarted actor waits on (``LiveLoop.wait_idle``)."""
        return f"{self.config.account.authority}/{self.config.account.subaccount_id}"

    def _tell_tick(self) -> bool:
        """The ticker's call, on the live loop: tell the actor; False (stop ticking) once it is gone."""
        try:
            self.actor_ref.tell(Tick())
        except pykka.ActorDeadError:
            return False
        return True

    # -------------------------------------------------------------- commands out, events in

    def _start_command(self, command: VenueCommand) -> None:
        """Start ``command`` on the live loop; its outcome comes back to the mailbox as ``TxDone``."""
        venue = self.venue
        assert venue is not None
        self._tx_seq += 1
        seq = self._tx_seq
        ref, log = self.actor_ref, self.log

        def done(future: concurrent.futures.Future[tuple[VenueEvent, ...]]) -> None:
            try:
                ref.tell(TxDone(seq))
            except pykka.ActorDeadError:
                # the bot stopped meanwhile: the venue's pipeline logged the outcome; the next start re-reads
                log.warning(
                    "tx_outcome_after_stop", command=type(command).__name__, failed=future.exception() is not None
                )

        async def run() -> tuple[VenueEvent, ...]:
            return await venue.execute(command)

        self._pending[seq] = (command, self.loop.spawn(run, done, key=self._key))

    def _on_tx_done(self, seq: int) -> None:
        """Step on the outcome of command ``seq`` (a failure of the venue itself escapes to pykka)."""
        entry = self._pending.pop(seq, None)
        venue, driver = self.venue, self.driver
        if entry is None or venue is None or driver is None:
            return  # fed already (a stop waited for it)
        _, future = entry
        events = future.result()
        ts = venue.reading().ts
        driver.report(events, ts)
        self._publish_incidents(venue, events, ts)
        self._note_flags(ts)
        self._write(ts, force=bool(events))

    def _publish_incidents(self, venue: DriftVenue, events: tuple[VenueEvent, ...], ts: int) -> None:
        """Tell the operator's surfaces (the notifier) of an UNKNOWN outcome, a gate block or a trip of the breaker
        in this command's outcome (the venue logged each already)."""
        found = incidents.from_events(self.name, events)
        breaker = venue.link.breaker
        opened = incidents.breaker_opened(self.name, self._breaker_seen, breaker, ts)
        self._breaker_seen = breaker.opens_until
        for incident in [*found, *([opened] if opened is not None else [])]:
            self.setup.hub.publish(incident)

    def in_flight(self) -> int:
        """How many commands (capital moves among them) were started and not yet stepped on (tests use it as a
        barrier)."""
        return len(self._pending) + len(self._capital)

    def reading_chain(self) -> bool:
        """Whether a tick's chain read is under way (its step comes when it is done; tests use it as a barrier)."""
        return self._reading is not None

    def _tell_done(self, message: object, what: str) -> Callable[[concurrent.futures.Future[Any]], None]:
        """A live-loop callback that tells the actor ``message`` (logged, not raised, once the actor is gone)."""
        ref, log = self.actor_ref, self.log

        def done(future: concurrent.futures.Future[Any]) -> None:
            try:
                ref.tell(message)
            except pykka.ActorDeadError:
                log.warning("outcome_after_stop", what=what, failed=future.exception() is not None)

        return done

    # -------------------------------------------------------------- the step

    def on_receive(self, message: object) -> None:
        if isinstance(message, Tick):
            self._on_tick()
            return None
        if isinstance(message, TxDone):
            self._on_tx_done(message.seq)
            return None
        if isinstance(message, ReadDone):
            self._on_read_done()
            return None
        if isinstance(message, CapitalDone):
            self._on_capital_done(message.seq)
            return None
        raise TypeError(f"{self.name}: unexpected message {type(message).__name__}")

    def _on_tick(self) -> None:
        """Start the chain read on the live loop and return: the step comes with its outcome (``ReadDone``), so the
        mailbox stays open to the operator while the RPC node answers. A tick while the last read is still under
        way is that read's (reads never pile up)."""
        venue = self.venue
        assert venue is not None and self.driver is not None
        if self._store_down() or self._reading is not None:
            return
        tell = self._tell_done(ReadDone(), "read")

        def done(future: concurrent.futures.Future[tuple[VenueEvent, ...]]) -> None:
            self._read_at = time.perf_counter()  # the decision latency starts here (the mailbox wait counts)
            tell(future)

        # the vault sync: a refresh, retried 3x with backoff (live/vault_sync.py), on the loop like any chain read
        self._reading = self.loop.spawn(venue.sync, done, key=self._key)

    def _on_read_done(self) -> None:
        """Step on the tick's reading (a failure of the venue itself escapes to pykka, as a tick's always did)."""
        future, self._reading = self._reading, None
        venue, driver = self.venue, self.driver
        if future is None or venue is None or driver is None:
            return
        events = future.result()
        if venue.vault.disabled != self._vault_disabled:  # one event per change, not one per failing tick
            self._vault_disabled = venue.vault.disabled
            level, message = (
                ("error", venue.vault.why)  # the retries all failed, or the reading is older than 10 s
                if venue.vault.disabled
                else ("ok", "vault sync recovered: trading enabled")
            )
            self.setup.hub.publish(Alert(bot=self.name, level=level, message=message))
            if venue.vault.disabled:  # and the operator's notification: an error, not a status line
                self.setup.hub.publish(
                    incidents.vault_disabled(self.name, venue.vault.why, venue.vault.synced_at, int(venue.clock()))
                )
        snap = venue.reading()
        driver.report(events, snap.ts)
        now = snap.ts
        self.alerts, alert = self.alerts.observe(snap.report, self.config.risk)
        if alert is not None:
            log = self.log.warning if alert.level is not AlertLevel.OK else self.log.info
            log("health_alert", level=alert.level.value, message=alert.message, health=alert.health)
            self.setup.hub.publish(Alert(bot=self.name, level=alert.level.value, message=alert.message))
        if self.config.mode is BotMode.MONITOR:
            self._write(now, force=bool(events))
            return
        if self.trail is not None:
            done = self.trail.observe(now, snap.oracle)
            if done is not None:
                self.samples.append(done)
        # the oracle is the mark (Drift's DLOB is off-chain, unreachable here); the funding rate is the one of the
        # same reading as the account and the oracle, not driftpy's cache
        effects = driver.feed(bot.Tick(ts=now, oracle=snap.oracle, funding_rate=snap.funding_rate))
        if effects.decision is not None and self.setup.decided is not None:  # its commands are on the loop now
            self.setup.decided(self.name, time.perf_counter() - self._read_at)
        self._note_decision(effects)
        self._note_flags(now)
        self._write(now, force=True)

    # -------------------------------------------------------------- records and views

    def _write(self, ts: int, *, force: bool) -> None:
        """Record the step in the store when it holds anything, a margin snapshot is due, or ``force``; then post
        the status row. The row is posted either way: a monitor's position, equity and mark move on ticks that
        record nothing."""
        due = self._snapshot_due(ts)
        if force or self.step or due:  # a decision, samples or a capital move always come with force
            self._record(ts, snapshot_due=due)
        self.setup.board.post(self.name, self._summary())

    def _record(self, ts: int, *, snapshot_due: bool) -> None:
        step = self.step
        driver, venue = self.driver, self.venue
        assert driver is not None and venue is not None
        self.fees_paid += sum(fill.fee for fill in step.fills)
        snap = venue.reading()
        snapshot = position = None
        if step.fills or snapshot_due:
            self.last_snapshot_ts = ts
            snapshot = live_snapshot_row(
                snap, driver.state.connector.orders, self.last_decision, self.recorder.state, self.fees_paid
            )
            if step.fills:
                position = position_row(snap.ts, snap.position)
        state = driver.state
        envelope = LiveCheckpoint(
            flags=state.flags,
            day=state.day,
            day_start_equity=state.day_start_equity,
            last_settle_ts=state.last_settle_ts,
            fees_paid=self.fees_paid,
            last_position=state.last_position,
        )
        self._commit(
            driver,
            ts=ts,
            cursor=ts,
            venue_state=msgspec.json.encode(envelope),
            snapshot=snapshot,
            position=position,
            samples=tuple(self.samples),
            samples_from=self.trail.keep_from(ts) if self.samples and self.trail is not None else None,
        )
        self.samples = []

    def _summary(self) -> BotSummary:
        venue = self.venue
        assert venue is not None
        snap = venue.reading()
        return summary_row(
            self.config,
            self.mode,
            self.recorder.state,
            position=snap.report.position_base,
            mark=snap.oracle,
            equity=snap.report.equity,
            pnl=None,  # on chain, lifetime PnL needs the deposit history: see `ctl bot`
            open_orders=len(snap.open_orders),
            fills=self.fill_seq,
            market_time=snap.ts,
            risk_reasons=self.recorder.reasons,
        )

    def detail(self) -> BotSnapshot:
        """``ctl bot NAME`` for a live or monitor bot (never the key, never the RPC URL)."""
        venue = self.venue
        assert venue is not None
        snap = venue.reading()
        report = snap.report
        band = self.last_decision.verdict.band if self.last_decision is not None else None
        # Drift's DLOB is off-chain: the oracle is the mark a live bot trades against
        account = account_fields(report, mark=snap.oracle, oracle=snap.oracle)
        return msgspec.structs.replace(
            account_snapshot(self.config, self.mode, account),
            slot=snap.slot,
            free_collateral=fixed(report.free_collateral, QUOTE_DECIMALS),
            pnl=PnlView(
                unrealized=fixed(report.unrealized_pnl, QUOTE_DECIMALS),
                unsettled=fixed(report.unsettled_pnl, QUOTE_DECIMALS),
                settled_perp_pnl=fixed(snap.settled_perp_pnl, QUOTE_DECIMALS),
                cumulative_funding=fixed(snap.cumulative_perp_funding, QUOTE_DECIMALS),
            ),
            wallet_sol=fixed(venue.wallet_lamports, 9),
            latency_ms=venue.latency_ms,
            trading=venue.tradeable() or "ok",
            risk=risk_view(self.recorder.state, self.recorder.reasons),
            alert=self.alerts.level.value,
            band=band_view(band),
            orders=order_views(snap.open_orders),
            market_time=iso(snap.ts),
        )

    # -------------------------------------------------------------- operator commands

    def command(self, command: ModeCommand) -> BotState:
        if self.config.mode is BotMode.MONITOR:
            raise ValueError(f"{self.name} is a monitor bot: it never trades")
        return super().command(command)

    def position(self, command: PositionCommand) -> PositionResult:
        if self.config.mode is BotMode.MONITOR:
            raise ValueError(f"{self.name} is a monitor bot: it never trades")
        return super().position(command)

    def _decide_now(self, command: BotCommand) -> bot.Effects:
        venue, driver = self.venue, self.driver
        assert venue is not None and driver is not None
        snap = venue.reading()
        now = snap.ts
        effects = driver.feed(bot.Operator(ts=now, command=command, mark=snap.oracle, oracle=snap.oracle))
        self._note_decision(effects)
        self._write(now, force=True)
        return effects

    def capital(self, command: CapitalCommand, amount: int) -> concurrent.futures.Future[CapitalResult]:
        """``ctl deposit / withdraw / transfer``: validated, simulated, sent and confirmed like any transaction, on
        the live loop; returns at once with the answer to come (the actor steps on the outcome as ``CapitalDone``,
        so it is not deaf meanwhile). ``amount``: the command's amount in the asset's integer units (the runner
        checked its decimals). A refusal before anything is sent (a monitor bot) is raised here."""
        venue, driver = self.venue, self.driver
        assert venue is not None and driver is not None
        if self.config.mode is BotMode.MONITOR:
            raise ValueError(f"{self.name} is a monitor bot: it never moves funds")
        spot = load_catalogue().spot_by_symbol(command.asset.value)
        index = spot.market_index
        move: VenueCommand | Transfer
        match command:
            case DepositFunds():
                move = Deposit(spot_market_index=index, amount=amount)
            case WithdrawFunds():
                move = Withdraw(spot_market_index=index, amount=amount)
            case TransferFunds(to_subaccount=to):
                move = Transfer(spot_market_index=index, amount=amount, to_sub_account_id=to)
            case _ as unreachable:
                assert_never(unreachable)
        self._tx_seq += 1
        seq = self._tx_seq

        async def run() -> tuple[VenueEvent, ...]:
            return await venue.execute(move)

        answer: concurrent.futures.Future[CapitalResult] = concurrent.futures.Future()
        future = self.loop.spawn(run, self._tell_done(CapitalDone(seq), command.cmd), key=self._key)
        self._capital[seq] = _CapitalMove(command, amount, index, spot.decimals, answer, future)
        return answer

    def _on_capital_done(self, seq: int) -> None:
        """Step on a capital move's outcome and answer the operator (a failure goes to the operator, not pykka:
        it is a refused command, as when ``capital`` waited for it)."""
        move = self._capital.pop(seq, None)
        venue, driver = self.venue, self.driver
        if move is None or venue is None or driver is None:
            return
        try:
            events = move.future.result()
        except Exception as exc:  # the operator's call raises it, as it did when the actor waited
            move.answer.set_exception(exc)
            return
        command, asset = move.command, move.command.asset.value
        driver.report(events, venue.reading().ts)
        self._publish_incidents(venue, events, venue.reading().ts)
        self._write(int(time.time()), force=True)
        outcome = [msgspec.to_builtins(e) | {"event": type(e).__name__} for e in events]
        self.log.info(
            "capital", action=command.cmd, amount=move.amount, spot_market_index=move.spot_market_index, events=outcome
        )
        move.answer.set_result(
            CapitalResult(
                name=self.name,
                action=command.cmd,
                asset=asset,
                amount=fixed(move.amount, move.decimals),
                events=tuple(_capital_event(e, asset, move.decimals) for e in events),
            )
        )

    def confirm(self, command: Confirm) -> Confirmed:
        """``ctl confirm NAME TOKEN``: approve orders with these terms for ``CONFIRMATION_VALID_S`` seconds."""
        venue = self.venue
        assert venue is not None

        async def approve() -> None:  # on the loop: the venue's gate prunes the same confirmations there
            venue.approve(command.token, CONFIRMATION_VALID_S)

        self.loop.call(approve)
        self.log.info("order_terms_confirmed", token=command.token, valid_s=CONFIRMATION_VALID_S)
        return Confirmed(name=self.name, token=command.token, valid_s=CONFIRMATION_VALID_S)

    def flush_marker(self) -> int | None:
        snap = self.venue.snapshot if self.venue is not None else None
        return snap.ts if snap is not None else None

    # -------------------------------------------------------------- stop and failure

    def _release(self) -> None:
        """Stop the ticker, close the RPC (and Jito) clients once no transaction of this bot is under way, and give
        the loop's lease back. A transaction still confirming runs to its outcome on the loop: never abandoned."""
        if self._ticker is not None:
            self._ticker.stop()
            self._ticker = None
        if not self._leased:
            return
        self._leased = False
        pending: list[concurrent.futures.Future[tuple[VenueEvent, ...]]] = [f for _, f in self._pending.values()]
        pending += [move.future for move in self._capital.values()]
        if self._reading is not None:
            pending.append(self._reading)
        rpc, jito = self._rpc, self._jito
        self._rpc = self._jito = None

        async def close_when_idle() -> None:
            if pending:
                await asyncio.wait([asyncio.wrap_future(f) for f in pending])
            for close in (rpc.close if rpc else None, jito.aclose if jito else None):
                if close is not None:
                    with contextlib.suppress(Exception):
                        await close()

        try:
            self.loop.spawn(close_when_idle, lambda _: None)
        finally:
            self.loop.release()

    def on_stop(self) -> None:
        try:
            venue, driver = self.venue, self.driver
            if venue is None or driver is None or venue.snapshot is None:
                return
            ids = tuple(o.user_order_id for o in venue.open_orders())
            cancel = self.config.on_shutdown is ShutdownPolicy.CANCEL_ALL and ids and self.config.mode is BotMode.LIVE
            if cancel:
                driver.perform(CancelOrders(ids, PlanReason.VERDICT_PAUSE), venue.snapshot.ts)
                self._await_cancel_all()
            if self._pending:
                # their outcomes are logged by the venue's pipeline; the next start re-reads the chain
                self.log.warning("tx_in_flight_at_stop", commands=[type(c).__name__ for c, _ in self._pending.values()])
            last = self.trail.flush() if self.trail is not None else None
            if last is not None:
                self.samples.append(last)
            self._write(venue.snapshot.ts, force=True)
            self.log.info("bot_stopped", policy=self.config.on_shutdown.value, cancelled=len(ids) if cancel else 0)
        finally:
            self._release()

    def _await_cancel_all(self) -> None:
        """A stop's cancel-all is the bot's last word: wait for it (it queues behind a transaction under way, as
        before this bot stopped blocking on transactions) and step on every outcome known by then."""
        last = max(self._pending)
        _, future = self._pending[last]
        with contextlib.suppress(Exception):  # its outcome, whatever it is, is stepped on below
            future.exception(timeout=None)
        for seq in sorted(self._pending):
            if self._pending[seq][1].done():
                self._on_tx_done(seq)


def _capital_event(event: VenueEvent, asset: str, decimals: int) -> CapitalEvent:
    """What a capital move's venue event says, in the asset's units."""
    match event:
        case BalanceChanged():
            return CapitalEvent(
                event="BalanceChanged", time=iso_time(event.ts), asset=asset, amount=fixed(event.amount, decimals)
            )
        case CommandRejected():
            return CapitalEvent(
                event="CommandRejected", time=iso_time(event.ts), reason=event.reason.value, detail=event.detail
            )
        case _:
            return CapitalEvent(event=type(event).__name__, time=iso_time(event.ts))
