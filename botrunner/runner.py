"""``botrunner run``'s engine room: assemble the store, logs, market feeds, supervisor and control socket; run until
shutdown; take them down in the right order.

Run directory (``--run-dir``, default ``./run``)::

    run/botrunner.db      SQLite (WAL): rows, checkpoints, audit; what survives a kill -9
    run/control.sock      the control socket (0600)
    run/logs/BOT.log      one JSON-lines log per bot, plus supervisor.log; daily rotation

Start: load and validate the fleet (nothing starts if one file is wrong), lock the run directory (``--fresh``: move
a previous run aside to ``RUN_DIR.YYYYMMDDTHHMMSS``, refused while it holds a live bot), open/migrate the store,
build one paced feed per market from the bundled real history (or ``--data``), resume each feed just after the
earliest cursor its bots checkpointed, spawn the supervisor and its bots (each reconciles with its venue and
catches up), then let the feeds run. ``start_report`` says what was resumed (bots, market time, operator modes) and
which replays had already ended, for the CLI's first lines.

Stop (Ctrl-C, SIGTERM, ``ctl shutdown``, or the data's end with ``--exit-at-end``): feeds first (no new market
events), then every bot (each applies its ``on_shutdown`` policy and writes a last step), then the writer flushes
and closes, then the socket goes.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import hashlib
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar, assert_never

import msgspec
import pykka
import structlog
from structlog.typing import FilteringBoundLogger

from actors.proxies import BotProxy, SupervisorProxy, bot_proxy, live_bot_proxy, supervisor_proxy
from actors.supervisor import LiveAccess, RuntimeContext, Supervisor, SupervisorError, fleet_changes
from botrunner.backtest.data import DataNotFound, resolve
from botrunner.bot.operator_position import PositionRefused, SizeError
from botrunner.config import BotConfig, BotMode, load_fleet
from botrunner.control import check_socket_path, control_socket_path
from botrunner.control.protocol import ControlError, ErrorCode
from botrunner.control.server import ControlServer, Send
from botrunner.core.catalogue import load_catalogue
from botrunner.core.markets import SpotMarketSpec
from botrunner.core.operator import (
    READ_ONLY,
    ClosePosition,
    Confirm,
    ControlCommand,
    DepositFunds,
    Flatten,
    OpenPosition,
    Pause,
    ReduceOnly,
    Reload,
    Resume,
    ShowBot,
    Shutdown,
    Start,
    Status,
    Stop,
    Subscribe,
    TransferFunds,
    WithdrawFunds,
)
from botrunner.logfiles import LogFiles
from botrunner.notify import Notifier
from botrunner.paper.config import PaperConfig
from botrunner.runtime.account_locks import AccountInUse, AccountLocks
from botrunner.runtime.exclusive import ExclusiveLock, LockHeld
from botrunner.runtime.feed import MarketFeed
from botrunner.runtime.hub import EventHub, StatusBoard
from botrunner.runtime.market import market_events, rate_in_force
from botrunner.runtime.pacer import ReplayPacer
from botrunner.runtime.restart import RestartPolicy
from botrunner.runtime.rundir import RunDirError, prepare_run_dir
from botrunner.runtime.snapshots import (
    BotSnapshot,
    FleetInfo,
    Message,
    ReloadResult,
    Result,
    StatusSnapshot,
    SupervisionView,
)
from botrunner.runtime.views import absent_bot, iso, status_row, with_supervision
from botrunner.store import Checkpoint, Store, StoreError, StoreWriteError, StoreWriter
from botrunner.web.metrics import FeedClock, Metrics
from botrunner.web.protocol import CommandFailed
from botrunner.web.server import DashboardOptions, DashboardServer
from botrunner.yamlconf import ConfigError

if TYPE_CHECKING:
    from actors.proxies import LiveBotProxy

DB_NAME = "botrunner.db"
LOCK_NAME = "runner.lock"  # held by the runner using the directory (botrunner.runtime.exclusive)
ASK_TIMEOUT_S = 4.0  # the control protocol promises an answer within 5 s


class RunnerError(Exception):
    """The runner cannot start; the message names what and where."""


class CommandQueued(Exception):
    """An operator command reached its actor's mailbox but got no answer in time: it is not lost, it takes effect
    when the actor finishes what it is doing (a pykka ask that times out is not withdrawn)."""

    def __init__(self, who: str) -> None:
        super().__init__(who)
        self.who = who


T = TypeVar("T")


def _answer(future: pykka.Future[T], who: str) -> T:
    """The answer to a command already in ``who``'s mailbox, or ``CommandQueued`` after ``ASK_TIMEOUT_S`` (read at
    call time, so a test can shorten it)."""
    try:
        return future.get(timeout=ASK_TIMEOUT_S)
    except pykka.Timeout:
        raise CommandQueued(who) from None


def _answer_later(future: concurrent.futures.Future[T], who: str) -> T:
    """The answer ``who`` gives once its transaction has an outcome (its mailbox is free meanwhile), or
    ``CommandQueued`` after ``ASK_TIMEOUT_S``: the move completes in the bot all the same."""
    try:
        return future.result(timeout=ASK_TIMEOUT_S)
    except concurrent.futures.TimeoutError:
        raise CommandQueued(who) from None


def parse_amount(text: str, asset: SpotMarketSpec) -> int:
    """``"12.5"`` USDC -> 12_500_000: exact, positive, at most the token's decimals (a control-socket argument)."""
    from botrunner.core.precision import to_fixed

    try:
        amount = to_fixed(text, 10**asset.decimals, what="amount")
    except ValueError as exc:
        raise ControlError(ErrorCode.BAD_ARGS, f"{exc} - at `$.args.amount`") from exc
    if amount <= 0:
        raise ControlError(ErrorCode.BAD_ARGS, f"amount must be > 0, got {text} - at `$.args.amount`")
    return amount


def prepare_live(
    configs: tuple[BotConfig, ...], known: Mapping[str, LiveAccess] | None = None
) -> dict[str, LiveAccess]:
    """Resolve every live/monitor bot's RPC URL and load every live bot's key, before anything starts; the RPCs
    are checked together (``probe_rpcs``: each URL once, concurrently).

    ``known``: access already prepared for bots that are not being (re)started (a reload's unchanged bots): kept
    as it is, without touching their keys or their RPC again.
    A missing or malformed key, a missing RPC URL or an RPC that does not answer is one line naming the bot (one
    line per bot when several fail)."""
    known = known or {}
    out: dict[str, LiveAccess] = {}
    fresh: list[BotConfig] = []
    for config in configs:
        if config.mode is BotMode.PAPER:
            continue
        if config.name in known:
            out[config.name] = known[config.name]
            continue
        # imported only for a live fleet: solders, httpx and driftpy cost a paper fleet ~25 MiB and start-up time
        from botrunner.live.connect import load_access

        try:
            url, wallet = load_access(config)
        except ValueError as exc:
            raise RunnerError(f"{config.source or config.name}: {exc}") from exc
        out[config.name] = LiveAccess(rpc_url=url, wallet=wallet)
        fresh.append(config)
    if fresh:
        from botrunner.live.connect import probe_rpcs

        timeouts: dict[str, float] = {}
        for config in fresh:
            url = out[config.name].rpc_url
            timeouts[url] = max(timeouts.get(url, 0.0), float(config.live.rpc_timeout_s))
        failed = probe_rpcs(timeouts)
        lines = [
            f"{config.source or config.name}: {failed[out[config.name].rpc_url]}"
            for config in fresh
            if out[config.name].rpc_url in failed
        ]
        if lines:
            raise RunnerError("\n".join(lines))
    return out


def register_config(store: Store, config: BotConfig, now: int) -> None:
    """Register ``config``'s account in ``store`` (``Store.register_bot``: refuses a bot that moved subaccount,
    market or mode), with the digest of its configuration (where the file lives is not part of it)."""
    store.register_bot(
        bot=config.name,
        authority=config.account.authority,
        subaccount_id=config.account.subaccount_id,
        market=config.market,
        mode=config.mode.value,
        created_ts=now,
        config_digest=hashlib.sha256(msgspec.json.encode(config.without_source())).hexdigest(),
    )


@dataclass
class RunOptions:
    fleet: Path
    run_dir: Path
    speed: float | str = 6000.0
    data_dir: Path | None = None
    exit_at_end: bool = False
    snapshot_every_s: int = 60
    retention_days: int = 30
    log_flush_s: float = 0.2  # INFO lines wait at most this long in the buffer (botrunner.logfiles: durability)
    paper: PaperConfig = field(default_factory=PaperConfig)
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    run_feeds: bool = True  # False: the caller publishes (the latency benchmark)
    probe: Callable[[str, int], None] | None = None
    dry_run: bool = False  # live bots: build and simulate every transaction, send none
    fresh: bool = False  # start over: set a previous run's directory aside (never deleted; refused for live bots)
    ui: DashboardOptions | None = None  # the dashboard (page, WebSocket, /metrics); None: none
    # apprise URLs for operator notifications (botrunner.notify): secrets (they carry tokens), so not in a repr
    notify_urls: tuple[str, ...] = field(default=(), repr=False)
    notify_dedup_s: int = 600
    notify_rate_per_minute: int = 20


@dataclass(frozen=True)
class ResumedBot:
    """A bot this run resumed from its last stored step."""

    name: str
    market_time: str | None  # ISO-8601 UTC market time of its last stored step
    state: str  # what it is doing now its saved operator flags apply: running, paused, reduce_only, flattening


@dataclass(frozen=True)
class StartReport:
    """What ``botrunner run`` started from, for the operator to read before anything else: a run that resumes a
    paused bot at the end of the replay must not look frozen."""

    fresh: bool  # asked to start over (``--fresh``)
    set_aside: Path | None  # where the previous run's directory went (``--fresh`` on a directory that held one)
    resumed: tuple[ResumedBot, ...]  # bots that continue from a previous run (none after ``--fresh``)
    replay_ended: tuple[str, ...]  # paper markets whose replayed history had already ended: nothing more happens


def aside_path(run_dir: Path, now: float) -> Path:
    """Where ``--fresh`` moves a previous run: ``RUN_DIR.YYYYMMDDTHHMMSS`` (UTC) beside it, ``-2``, ``-3`` … when a
    run of the same second is already there."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now))
    candidate = run_dir.with_name(f"{run_dir.name}.{stamp}")
    n = 1
    while candidate.exists():
        n += 1
        candidate = run_dir.with_name(f"{run_dir.name}.{stamp}-{n}")
    return candidate


class Runner:
    def __init__(self, options: RunOptions) -> None:
        self.options = options
        self.run_dir = options.run_dir
        self.db_path = self.run_dir / DB_NAME
        self.socket_path = control_socket_path(self.run_dir)
        # One runner per run directory: a second one would reconcile the same bots from the same store, write
        # rows beside the first one's and, stopping, cancel its orders.
        self.run_lock = ExclusiveLock(self.run_dir / LOCK_NAME, f"botrunner run --run-dir {self.run_dir}")
        self.account_locks = AccountLocks(self.run_dir)  # and one runner per live subaccount on this machine
        self._reload_lock = threading.Lock()
        # The subaccount locks and the keys in ``live_access`` are given back by whichever thread learns that the
        # supervisor applied a reload (its own, through ``_reload_applied``); this lock keeps them, ``_applied`` and
        # ``_pending`` consistent. Never held while waiting for an actor.
        self._fleet_lock = threading.Lock()
        self._applied: tuple[BotConfig, ...] = ()  # the fleet the supervisor runs
        self._pending: list[tuple[int, tuple[BotConfig, ...]]] = []  # reloads sent, not yet applied, in order
        self._reload_ids = itertools.count(1)
        self.shutdown_requested = threading.Event()
        self.stop_feeds = threading.Event()
        self.board = StatusBoard()
        self.hub = EventHub()
        self.started_at = time.time()
        self.configs: tuple[BotConfig, ...] = ()
        self.feeds: dict[str, MarketFeed] = {}
        self.feed_threads: list[threading.Thread] = []
        self.writer: StoreWriter | None = None
        self.store_failure: StoreWriteError | None = None  # the store could not be written: the run was stopped
        self.logs: LogFiles | None = None
        self.supervisor: pykka.ActorRef[Supervisor] | None = None
        self.server: ControlServer | None = None
        self.dashboard: DashboardServer | None = None
        self.notifier: Notifier | None = None
        self.metrics = Metrics(self.board, details=self._details, client_counts=self._client_counts)
        self.log: FilteringBoundLogger = structlog.get_logger("runner")
        self.live_access: dict[str, LiveAccess] = {}  # shared with the supervisor: reload adds to it
        self.start_report = StartReport(fresh=options.fresh, set_aside=None, resumed=(), replay_ended=())
        self._shut_down = False

    # -------------------------------------------------------------- start

    def start(self) -> None:
        opts = self.options
        # pykka logs an actor's crash through stdlib logging; the bot's own log already has it with its stack.
        pykka_log = logging.getLogger("pykka")
        pykka_log.propagate = False
        pykka_log.addHandler(logging.NullHandler())
        try:
            configs = load_fleet(opts.fleet)
        except ConfigError as exc:
            raise RunnerError(str(exc)) from exc
        self.live_access.update(prepare_live(configs))
        self.configs = configs
        self._applied = configs
        try:
            prepare_run_dir(self.run_dir)  # owner only (0700/0600, umask 077), ours, no symlink: its module doc
        except RunDirError as exc:
            raise RunnerError(str(exc)) from exc
        try:
            self.run_lock.acquire()
        except LockHeld as exc:
            raise RunnerError(
                f"run directory {self.run_dir} is in use by another runner ({exc.holder or 'starting'}); "
                f"nothing was touched. Stop it first (botrunner ctl shutdown --run-dir {self.run_dir}) or use "
                "another --run-dir"
            ) from None
        except OSError as exc:
            raise RunnerError(f"cannot lock the run directory {self.run_dir}: {exc.strerror or exc}") from exc
        set_aside = self._set_aside() if opts.fresh else None
        try:
            self.account_locks.acquire(configs)
        except AccountInUse as exc:
            raise RunnerError(f"{exc}; nothing was touched") from None
        check_socket_path(self.socket_path)
        saved = self._register(configs)
        cursors = {name: checkpoint.cursor for name, checkpoint in saved.items()}
        self.logs = LogFiles(
            self.run_dir / "logs", retention_days=opts.retention_days, flush_interval_s=opts.log_flush_s
        )
        self.logs.route_default_logging()
        self.log = self.logs.supervisor()
        # The socket is bound before any bot starts, so whatever stands in its way (a file that is not a socket,
        # another listener, permissions) is refused before a bot has reconciled or placed anything; requests that
        # arrive while the bots start are told so (``_dispatch``).
        self.server = ControlServer(self.socket_path, self.dispatch, self.subscribe)
        self.server.start()
        self._start_dashboard()  # bound before any bot starts, like the socket: a port in use refuses the run
        self.writer = StoreWriter(self.db_path, on_failure=self._store_failed, on_commit=self.metrics.on_store_commit)
        self._build_feeds(tuple(c for c in configs if c.mode is BotMode.PAPER), cursors)
        for feed in self.feeds.values():  # notes when each event is published: the decision latency metric
            feed.subscribe("\x00metrics", FeedClock(self.metrics))
        self.hub.subscribe(self.metrics.on_event)
        ctx = RuntimeContext(
            store_path=str(self.db_path),
            writer=self.writer,
            board=self.board,
            hub=self.hub,
            feeds=self.feeds,
            bot_logger=self.logs.for_bot,
            paper=opts.paper,
            restart=opts.restart,
            snapshot_every_s=opts.snapshot_every_s,
            probe=self._probe,
            live_decided=self.metrics.decided_after,
            live=self.live_access,
            dry_run=opts.dry_run,
        )
        supervisor: pykka.ActorRef[Supervisor] = Supervisor.start(ctx, configs)
        self.supervisor = supervisor
        supervisor_proxy(supervisor).start_all().get(timeout=60)
        # Every bot subscribes in its own on_start; the feeds start only once all have, so a fresh bot starts at
        # the beginning of the data and never joins a replay that already ran ahead.
        self.drain()
        self.start_report = self._start_report(saved, set_aside)
        for feed in self.feeds.values() if opts.run_feeds else ():
            thread = threading.Thread(target=feed.run, args=(self.stop_feeds,), name=f"feed-{feed.market}", daemon=True)
            thread.start()
            self.feed_threads.append(thread)
        self.log.info(
            "runner_started",
            bots=[c.name for c in configs],
            markets=sorted(self.feeds),
            speed=str(opts.speed),
            run_dir=str(self.run_dir),
            fresh=opts.fresh,
            set_aside=str(set_aside) if set_aside is not None else None,
            resumed={b.name: [b.market_time, b.state] for b in self.start_report.resumed},
            replay_ended=list(self.start_report.replay_ended),
        )

    def _start_dashboard(self) -> None:
        opts = self.options
        if opts.notify_urls:
            try:
                self.notifier = Notifier(
                    opts.notify_urls,
                    board=self.board,
                    dedup_s=opts.notify_dedup_s,
                    rate_per_minute=opts.notify_rate_per_minute,
                )
            except ValueError as exc:
                raise RunnerError(str(exc)) from exc
            self.notifier.start(self.hub)
        if opts.ui is None:
            return
        self.dashboard = DashboardServer(
            opts.ui,
            dispatch=self._web_dispatch,
            board=self.board,
            hub=self.hub,
            detail=self._detail,
            metrics_text=self.metrics.text,
        )
        if self.notifier is not None:
            notifier = self.notifier
            self.dashboard.fleet.on_detail = lambda name, d: notifier.on_health(
                name, d.get("health"), d.get("liq_price")
            )
        self.dashboard.start()

    def _probe(self, name: str, ts: int) -> None:
        """After each paper decision (a bot's thread): the latency metric, then a benchmark's own probe."""
        self.metrics.decided(name, ts)
        if self.options.probe is not None:
            self.options.probe(name, ts)

    def _details(self) -> dict[str, dict[str, object]]:
        return self.dashboard.fleet.details() if self.dashboard is not None else {}

    def _client_counts(self) -> dict[str, int]:
        counts = {"control": self.server.client_count if self.server is not None else 0}
        if self.dashboard is not None:
            counts["dashboard"] = self.dashboard.client_count
        return counts

    def _detail(self, name: str) -> BotSnapshot | None:
        """``ctl bot NAME`` for the dashboard's broadcasts; None when it cannot be had now."""
        try:
            return self._show_bot(name)
        except (ControlError, SupervisorError, pykka.Timeout, pykka.ActorDeadError, TimeoutError):
            return None

    def _web_dispatch(self, command: ControlCommand) -> Result:
        """The dashboard's commands: the same dispatch as the control socket's, its errors as the WebSocket's."""
        try:
            return self.dispatch(command, actor="web")
        except ControlError as exc:
            raise CommandFailed(exc.code.value, exc.message) from exc

    def _set_aside(self) -> Path | None:
        """``--fresh``: move a run directory that holds a previous run (its store) aside to
        ``RUN_DIR.YYYYMMDDTHHMMSS`` and start in a new, empty one; None when there was nothing to move. Nothing is
        ever deleted. Refused, touching nothing, when the store holds a live bot: started afresh it would forget
        its operator flags (a pause), its day-start equity (the daily-loss limit) and its order numbering, all of
        which protect its capital; resuming is the only safe start for it. Called with the directory's lock held,
        so no runner is using it."""
        if not self.db_path.exists():
            return None
        try:
            with Store.open(self.db_path, readonly=True) as store:
                live = [a.bot for a in store.accounts() if a.mode == BotMode.LIVE.value]
        except StoreError as exc:
            raise RunnerError(f"--fresh: cannot read {self.db_path} to check it holds no live bot: {exc}") from exc
        if live:
            raise RunnerError(
                f"--fresh refused: {self.run_dir} holds the state of live bot(s) {', '.join(live)} (operator flags, "
                "day-start equity, orders and fills); nothing was touched. Run without --fresh to resume them, or "
                "give a new --run-dir"
            )
        here, cwd = self.run_dir.resolve(), Path.cwd().resolve()
        if here == cwd or here in cwd.parents:
            raise RunnerError(f"--fresh refused: {self.run_dir} is the working directory or holds it; nothing touched")
        aside = aside_path(self.run_dir, time.time())
        try:
            os.rename(self.run_dir, aside)
        except OSError as exc:
            raise RunnerError(f"--fresh: cannot move {self.run_dir} aside to {aside}: {exc.strerror or exc}") from exc
        self.run_lock.release()  # it locked the file now in ``aside``; the new directory gets its own
        try:
            self.run_dir.mkdir(mode=0o700)
            self.run_lock.acquire()
        except LockHeld as exc:
            raise RunnerError(
                f"{self.run_dir} was taken by another runner ({exc.holder or 'starting'}) as it was being renewed; "
                f"the previous run is in {aside}"
            ) from None
        except OSError as exc:
            raise RunnerError(f"cannot create the run directory {self.run_dir}: {exc.strerror or exc}") from exc
        return aside

    def _start_report(self, saved: Mapping[str, Checkpoint], set_aside: Path | None) -> StartReport:
        """What this run resumed: each bot that had a stored step, at which market time, in which operator mode (its
        saved flags apply from its first step), and the replays that had already ended."""
        modes = {row.name: row.state or "running" for row in self.board.rows()}
        resumed = tuple(
            ResumedBot(name=c.name, market_time=iso(saved[c.name].ts), state=modes.get(c.name, "running"))
            for c in self.configs
            if c.name in saved
        )
        ended = tuple(market for market, feed in sorted(self.feeds.items()) if feed.finished)
        return StartReport(fresh=self.options.fresh, set_aside=set_aside, resumed=resumed, replay_ended=ended)

    def _register(self, configs: tuple[BotConfig, ...]) -> dict[str, Checkpoint]:
        """Register every bot's account in the store (refusing one that moved subaccount, market or mode: its
        history belongs to the old one); return the checkpoints of those that have one (they resume)."""
        found: dict[str, Checkpoint] = {}
        try:
            with Store.open(self.db_path) as store:
                for config in configs:
                    register_config(store, config, int(time.time()))
                    saved = store.load_checkpoint(config.name)
                    if saved is not None:
                        found[config.name] = saved
        except StoreError as exc:
            raise RunnerError(str(exc)) from exc
        return found

    def _build_feeds(self, configs: tuple[BotConfig, ...], cursors: dict[str, int]) -> None:
        by_market: dict[str, list[BotConfig]] = {}
        for config in configs:
            by_market.setdefault(config.market, []).append(config)
        for market, bots in sorted(by_market.items()):
            try:
                data = resolve(market, self.options.data_dir)
            except DataNotFound as exc:
                raise RunnerError(f"{bots[0].source}: {exc}") from exc
            interval = data.candles.interval_s
            start = data.default_start(max(b.strategy.warmup_s for b in bots))
            traded = [b for b in data.candles.bars if b.ts >= start]
            events = list(market_events(traded, interval, bots[0].market_spec, data.funding))
            saved = [cursors[b.name] for b in bots if b.name in cursors]
            resume = min(saved) if saved else None
            pacer = ReplayPacer(self.options.speed, events[0].ts)
            self.feeds[market] = MarketFeed(
                market,
                events,
                data.candles.bars,
                interval,
                pacer,
                resume_after_key=resume,
                initial_funding_rate=rate_in_force(data.funding, traded[0].ts),
            )

    # -------------------------------------------------------------- run and stop

    def _reload(self) -> ReloadResult:
        try:
            configs = load_fleet(self.options.fleet)
        except ConfigError as exc:
            raise ControlError(ErrorCode.BAD_REQUEST, f"reload refused, nothing changed: {exc}") from exc
        for config in configs:  # before anything is locked or written; live bots read their venue, not a feed
            if config.mode is BotMode.PAPER and config.market not in self.feeds:
                raise ControlError(
                    ErrorCode.BAD_REQUEST,
                    f"reload refused, nothing changed: {config.source}: market {config.market} has no replay feed in "
                    "this run (restart the runner to add it)",
                )
        supervisor = self._supervisor()
        # against the fleet last sent to the supervisor, which applies reloads in order: its diff too (one diff)
        changes = fleet_changes(self.configs, configs)
        # the bots left running keep the access their key and RPC were checked with when they started
        kept = {name: self.live_access[name] for name in changes.unchanged if name in self.live_access}
        reload_id = next(self._reload_ids)
        try:
            access = prepare_live(configs, known=kept)
            with self._fleet_lock:
                self._pending.append((reload_id, configs))  # wanted from now on: see ``_give_back_unused``
                self.account_locks.acquire(configs)  # a new live bot's subaccount, before anything is written
            self._register(configs)
        except (RunnerError, AccountInUse) as exc:
            with self._fleet_lock:  # give back what this reload took, and only that
                self._pending = [entry for entry in self._pending if entry[0] != reload_id]
                self._give_back_unused()
            raise ControlError(ErrorCode.BAD_REQUEST, f"reload refused, nothing changed: {exc}") from exc
        with self._fleet_lock:
            self.live_access.update(access)
        # the supervisor applies it now, or once it is free (CommandQueued): either way this is the fleet now
        self.configs = configs
        applied = functools.partial(self._reload_applied, reload_id)
        result = _answer(supervisor.reload(configs, changes, applied), "the supervisor")
        return ReloadResult(
            changed=tuple(result["changed"]),
            added=tuple(result["added"]),
            removed=tuple(result["removed"]),
            unchanged=tuple(result["unchanged"]),
        )

    def _reload_applied(self, reload_id: int) -> None:
        """The supervisor's word (from its own thread) that reload ``reload_id`` is in effect, its removed bots
        stopped: free their subaccounts and forget their keys now, not before (a pending restart could still need
        them), whether the reload was answered at once or as queued."""
        with self._fleet_lock:
            index = next((i for i, (rid, _) in enumerate(self._pending) if rid == reload_id), None)
            if index is None:  # not ours to know (cannot happen: a reload is pending until it is applied)
                return
            self._applied = self._pending[index][1]
            del self._pending[: index + 1]  # the supervisor applies in order: the ones sent before are done too
            self._give_back_unused()

    def _give_back_unused(self) -> None:
        """Release the subaccount locks and forget the keys of the bots neither the supervisor runs nor a reload
        sent to it still needs (a bot a queued reload removes runs until that reload applies). Under
        ``_fleet_lock``."""
        wanted = self._applied + tuple(config for _, fleet in self._pending for config in fleet)
        names = {config.name for config in wanted}
        # keys first: once a subaccount's lock is free nothing here may still hold the key that traded it (another
        # thread seeing the lock gone must not find the key)
        for name in [name for name in self.live_access if name not in names]:
            del self.live_access[name]
        self.account_locks.keep_only(wanted)

    def _store_failed(self, error: StoreWriteError) -> None:
        """The writer thread's news that the store cannot be written: stop the fleet (trading on would leave no
        record to recover from); ``store_failure`` tells the caller why the run ended."""
        self.store_failure = error
        self.log.error("store_failed_stopping_fleet", error=str(error))
        self.shutdown_requested.set()

    def wait(self, tick: Callable[[], None] | None = None, every_s: float = 0.5) -> None:
        """Block until shutdown is requested (or the data ends with ``exit_at_end``); ``tick()`` runs every
        ``every_s`` on the calling thread (the terminal summary)."""
        while not self.shutdown_requested.wait(every_s):
            if tick is not None:
                tick()
            if self.options.exit_at_end and all(f.finished for f in self.feeds.values()):
                self.drain()
                break

    def drain(self) -> None:
        """Wait until every bot has processed everything its feed published (a mailbox barrier per bot)."""
        assert self.supervisor is not None
        for config in self.configs:
            ref = supervisor_proxy(self.supervisor).bot_ref(config.name).get(timeout=ASK_TIMEOUT_S)
            if ref is not None:
                with contextlib.suppress(pykka.ActorDeadError, pykka.Timeout):
                    bot_proxy(ref).flush_marker().get(timeout=60)

    def shutdown(self) -> None:
        """Take the run down (see the module's docstring for the order). A second call does nothing."""
        if self._shut_down:
            return
        self._shut_down = True
        self.stop_feeds.set()
        for thread in self.feed_threads:
            thread.join(timeout=5)
        if self.supervisor is not None:
            try:
                supervisor_proxy(self.supervisor).shutdown().get(timeout=60)
            finally:
                self.supervisor.stop()
        if self.writer is not None:
            try:
                self.writer.close()
            except StoreWriteError as exc:  # already reported through _store_failed, or failing at the last write
                self.store_failure = self.store_failure or exc
        if self.dashboard is not None:
            self.dashboard.stop()
        if self.notifier is not None:
            self.notifier.stop()
        if self.server is not None:
            self.server.stop()
        if self.logs is not None:  # before the log files exist, a failed start has only its error to say
            self.log.info("runner_stopped")
            self.logs.close()
        self.account_locks.release_all()
        self.run_lock.release()  # last: until here this process may still write to the run directory

    # -------------------------------------------------------------- control socket

    def subscribe(self, send: Send, command: Subscribe) -> Callable[[], None]:
        return self.hub.subscribe(send, command.bots)

    def dispatch(self, command: ControlCommand, actor: str = "ctl") -> Result:
        """Answer one operator command (runs in the server's worker threads; may block up to ASK_TIMEOUT_S).
        ``actor``: who sent it, for the audit table (``ctl`` or ``web``)."""
        cmd = command.cmd
        audited = not isinstance(command, READ_ONLY)
        try:
            result = self._dispatch(command)
        except SupervisorError as exc:
            if audited:
                self._audit(command, f"error: {exc}", actor)
            raise ControlError(exc.code, str(exc)) from exc
        except CommandQueued as exc:
            self._audit(command, f"queued: no answer within {ASK_TIMEOUT_S:g} s", actor)
            raise ControlError(
                ErrorCode.TIMEOUT,
                f"{cmd}: no answer within {ASK_TIMEOUT_S:g} s; it is queued and takes effect when {exc.who} finishes "
                "what it is doing (a step, a transaction confirmation); `botrunner ctl status` shows when",
            ) from exc
        except (pykka.Timeout, TimeoutError) as exc:  # a question, or a command that was never sent
            raise ControlError(ErrorCode.TIMEOUT, f"{cmd}: no answer within {ASK_TIMEOUT_S:g} s; nothing done") from exc
        except pykka.ActorDeadError as exc:
            raise ControlError(ErrorCode.CONFLICT, f"{cmd}: the bot stopped while answering; try again") from exc
        except ControlError as exc:
            if exc.code is ErrorCode.REFUSED:  # a trade a gate refused: kept, with the gate and its numbers
                self._audit(command, f"refused: {exc.message}", actor)
            raise
        if audited:
            self._audit(command, "ok", actor)
        return result

    def _dispatch(self, command: ControlCommand) -> Result:  # noqa: PLR0911  <why: one flat exhaustive match over the commands>
        match command:
            case Shutdown():
                self.shutdown_requested.set()
                return Message(message="shutting down")
            case Status():
                return self.status()
            case ShowBot(name=name):
                return self._show_bot(name)
            case Pause() | Resume() | ReduceOnly() | Flatten():
                ref = self._bot(command.name)
                return _answer(ref.command(command), f"bot {command.name!r}")
            case Start(mode=mode) if mode is not None:
                self._check_mode(command.name, mode.value)
                return _answer(self._supervisor().command(Start(name=command.name)), "the supervisor")
            case Stop() | Start():
                return _answer(self._supervisor().command(command), "the supervisor")
            case OpenPosition() | ClosePosition():
                return self._position(command)
            case Reload():
                # one reload at a time: the control server answers clients from several threads, and two reloads
                # interleaved could free a subaccount lock the other had just taken for its new live bot
                with self._reload_lock:
                    return self._reload()
            case DepositFunds() | WithdrawFunds() | TransferFunds():
                live = self._live_bot(command.name)
                amount = parse_amount(command.amount, load_catalogue().spot_by_symbol(command.asset.value))
                # answered within the protocol's 5 s like any command: a confirmation that takes longer is reported
                # as queued (it completes in the bot; its outcome is in the bot's log and `ctl subscribe`)
                who = f"bot {command.name!r}"
                return _answer_later(_answer(live.capital(command, amount), who), who)
            case Confirm():
                return _answer(self._live_bot(command.name).confirm(command), f"bot {command.name!r}")
            case Subscribe():
                # the server streams a subscription itself (``subscribe``); a dispatcher never sees one
                raise ControlError(ErrorCode.BAD_REQUEST, "subscribe: a stream, served by the control server")
            case _ as unreachable:
                assert_never(unreachable)

    def _position(self, command: OpenPosition | ClosePosition) -> Result:
        """``open`` / ``close``: the bot steps on it through its governors (``bot.operator_position``); a size its
        markets cannot trade is ``bad_args``, a gate's refusal ``refused`` with the gate and its numbers."""
        who = f"bot {command.name!r}"
        ref = self._bot(command.name)
        try:
            return _answer(ref.position(command), who)
        except SizeError as exc:
            raise ControlError(ErrorCode.BAD_ARGS, f"{command.cmd} {command.name}: {exc}") from exc
        except PositionRefused as exc:
            refusal = exc.refusal
            raise ControlError(
                ErrorCode.REFUSED,
                f"{command.cmd} {command.name}: refused by {refusal.gate}: {refusal.describe()}; nothing done",
            ) from exc

    def _check_mode(self, name: str, mode: str) -> None:
        """``start NAME MODE`` (a dashboard's START_ENGINE): refused unless MODE is the bot's configured mode."""
        config = next((c for c in self.configs if c.name == name), None)
        if config is None:
            raise ControlError(ErrorCode.NOT_FOUND, f"no bot named {name!r}")
        if config.mode.value != mode:
            raise ControlError(
                ErrorCode.MODE_MISMATCH,
                f"start: bot {name!r} is configured {config.mode.value}, not {mode}; nothing done",
            )

    def _supervisor(self) -> SupervisorProxy:
        if self.supervisor is None:
            raise ControlError(ErrorCode.CONFLICT, "the runner is still starting its bots; try again shortly")
        return supervisor_proxy(self.supervisor)

    def _supervision(self, name: str) -> SupervisionView:
        return self._supervisor().slot_view(name).get(timeout=ASK_TIMEOUT_S)

    def _show_bot(self, name: str) -> BotSnapshot:
        supervisor = self._supervisor()
        slot = self._supervision(name)
        ref = supervisor.bot_ref(name).get(timeout=ASK_TIMEOUT_S)
        if ref is None:
            return absent_bot(self.board.get(name), name, slot)
        return with_supervision(bot_proxy(ref).detail().get(timeout=ASK_TIMEOUT_S), slot)

    def _bot(self, name: str) -> BotProxy:
        """The proxy of bot ``name``'s running actor; ``conflict`` when it is not running."""
        ref = self._supervisor().bot_ref(name).get(timeout=ASK_TIMEOUT_S)
        if ref is None:
            state = self._supervision(name).supervision
            raise ControlError(ErrorCode.CONFLICT, f"bot {name!r} is not running ({state}); `start` it first")
        return bot_proxy(ref)

    def _live_bot(self, name: str) -> LiveBotProxy:
        config = next((c for c in self.configs if c.name == name), None)
        if config is None:
            raise ControlError(ErrorCode.NOT_FOUND, f"no bot named {name!r}")
        if config.mode is not BotMode.LIVE:
            raise ControlError(ErrorCode.BAD_REQUEST, f"bot {name!r} is {config.mode.value}: only live bots move funds")
        ref = self._supervisor().bot_ref(name).get(timeout=ASK_TIMEOUT_S)
        if ref is None:
            raise ControlError(ErrorCode.CONFLICT, f"bot {name!r} is not running; `start` it first")
        return live_bot_proxy(ref)

    def status(self) -> StatusSnapshot:
        slots = self._supervisor().status().get(timeout=ASK_TIMEOUT_S)
        rows = tuple(status_row(summary, slots[summary.name]) for summary in self.board.rows() if summary.name in slots)
        states = [r.state for r in rows]
        market_times = [f.market_ts for f in self.feeds.values() if f.market_ts is not None]
        return StatusSnapshot(
            fleet=FleetInfo(
                bots=len(rows),
                running=sum(s in ("running", "reduce_only", "flattening") for s in states),
                paused=sum(s == "paused" for s in states),
                failed=sum(s in ("failed", "restarting") for s in states),
                started_at=iso(self.started_at) or "",
                market_time=iso(min(market_times)) if market_times else None,
                speed=str(self.options.speed),
                replay_finished=all(f.finished for f in self.feeds.values()),
            ),
            bots=rows,
        )

    def _audit(self, command: ControlCommand, outcome: str, actor: str = "ctl") -> None:
        if self.writer is not None:
            args = msgspec.to_builtins(command)
            del args["cmd"]  # the audit row has its own column for it
            try:
                self.writer.audit(ts=int(time.time()), actor=actor, cmd=command.cmd, args=args, outcome=outcome)
            except StoreWriteError as exc:  # the fleet is stopping for it already: the operator still gets the answer
                self.log.error("audit_not_stored", cmd=command.cmd, outcome=outcome, error=str(exc))
