"""The runtime's SQLite store: bots, their order/fill/funding/settlement/snapshot/risk history, audit, and
venue checkpoints.

One step of a bot is one :class:`StepRecord`: the rows the step produced plus the bot's checkpoint (feed cursor,
paper venue state, order and fill counters). :meth:`Store.write` puts any number of steps in ONE transaction,
checkpoints upserted and rows inserted together, so after a crash (``kill -9`` included) every step is either
wholly in the store or wholly absent: restoring from the checkpoint and replaying the feed from its cursor
therefore loses nothing and duplicates nothing. The fill counter is checked on the way in (a step's fills must
continue the bot's numbering exactly), and ``UNIQUE`` constraints refuse a duplicate fill or order row.

Connection settings. WAL journal: readers (ctl, tests) never block the writer nor see a half-written step.
``synchronous=FULL`` by default: each commit is fsynced, so a committed step survives a power loss or OS crash,
not only a process crash; with group commit (:mod:`botrunner.store.writer`) that is one fsync per batch, not per
step. ``NORMAL`` is enough for a process crash (``kill -9``) — WAL commits reach the OS at once — and can lose
only the last commits on a power loss (never corrupting the file); pass it where throughput matters more.
Foreign keys on, so a row for an unregistered bot is refused; ``busy_timeout`` so a second connection waits for a
lock instead of failing at once.

sqlite-utils wraps the connection (``Store.db``) for reads and ad-hoc queries; writes go through the connection
itself inside explicit ``BEGIN IMMEDIATE`` transactions, which we need to control exactly (one transaction per
batch, the write lock taken up front).

A :class:`Store` is one connection: use it from one thread at a time. The runtime writes through
:class:`botrunner.store.writer.StoreWriter` (the only writer) and reads with ``Store.open(path, readonly=True)``.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, Literal, TypeVar

import msgspec
import sqlite_utils

from botrunner.core.records import (
    FillRow,
    FundingRow,
    InterestRow,
    LegsRow,
    OrderRow,
    SettleRow,
    SnapshotRow,
    SpotFillRow,
)
from botrunner.private_files import open_private
from botrunner.store.schema import MIGRATIONS, SCHEMA_VERSION, SCHEMA_VERSION_TABLE

Synchronous = Literal["NORMAL", "FULL"]
Mode = Literal["paper", "live", "monitor"]
MIN_SQLITE: Final = (3, 37, 0)  # STRICT tables
BUSY_TIMEOUT_MS: Final = 5_000


class StoreError(Exception):
    """The store cannot be opened or a write was refused; the message names the file."""


# ---------------------------------------------------------------------------------------------- records


class ObjectiveRow(msgspec.Struct, frozen=True, kw_only=True):
    """The approved exposure objective (band, base 1e9) when it changes, with the verdict and its reasons."""

    ts: int
    band_min: int
    band_max: int
    band_preferred: int
    verdict: str
    reasons: tuple[str, ...]


class DecisionRow(msgspec.Struct, frozen=True, kw_only=True):
    """A decision that sent the venue a command: what it acted on. Its orders' rows carry its ``decision_seq``
    (the bot's decision counter), so an order's cause is one join away."""

    decision_seq: int
    ts: int
    mark: int  # 1e6
    position_base: int  # 1e9, as the decision saw it
    band_min: int  # the approved band (base 1e9)
    band_max: int
    band_preferred: int
    verdict: str  # the Risk Governor's action
    reasons: tuple[str, ...]  # its findings
    mode: str  # the Execution Governor's mode
    plan_reason: str  # the connector's PlanReason of the command(s) sent (distinct ones comma-separated)
    note: str  # the strategy's note


class RiskEventRow(msgspec.Struct, frozen=True, kw_only=True):
    """A risk-state change and why."""

    ts: int
    from_state: str
    to_state: str
    reasons: tuple[str, ...]


class PositionRow(msgspec.Struct, frozen=True, kw_only=True):
    """The perp position after a change, with Drift's own bookkeeping (quote 1e6, base 1e9, price 1e6, rate 1e9)."""

    ts: int
    base: int
    quote: int
    quote_entry: int
    quote_break_even: int
    entry_price: int
    break_even_price: int
    last_cumulative_funding_rate: int


class AuditRow(msgspec.Struct, frozen=True, kw_only=True):
    """An operator command, or a reconciliation/adoption record. ``id`` is 0 until stored."""

    ts: int
    actor: str
    cmd: str
    args_json: str  # a JSON object, keys sorted
    outcome: str
    id: int = 0


class StepRecord(msgspec.Struct, frozen=True, kw_only=True):
    """Everything one step of one bot wrote, stored atomically.

    ``cursor`` is the bot's position in its feed after the step; ``venue_state`` the paper venue checkpoint
    (``botrunner.paper.persist``; None for a live bot). ``order_seq`` and ``fill_seq`` are the bot-wide order and
    fill counters at the END of the step: the step's fills are numbered ``fill_seq - len(fills) + 1 .. fill_seq``,
    and a restored bot continues from them. ``position`` is set when the position changed. ``samples`` are price
    samples (ts, price 1e6) a live bot's strategy observed (``price_samples``); ``samples_from``, when set, drops the
    bot's older samples (no lookback reaches them any more). ``decisions`` are the step's decisions that sent a
    command; ``decision_seq`` is the bot's decision counter at the end of the step."""

    bot: str
    ts: int
    cursor: int
    venue_state: bytes | None = None
    orders: tuple[OrderRow, ...] = ()
    fills: tuple[FillRow, ...] = ()
    funding: tuple[FundingRow, ...] = ()
    settlements: tuple[SettleRow, ...] = ()
    spot_fills: tuple[SpotFillRow, ...] = ()  # two-leg bots
    interest: tuple[InterestRow, ...] = ()
    legs: tuple[LegsRow, ...] = ()
    snapshot: SnapshotRow | None = None
    objective: ObjectiveRow | None = None
    risk_events: tuple[RiskEventRow, ...] = ()
    position: PositionRow | None = None
    samples: tuple[tuple[int, int], ...] = ()
    samples_from: int | None = None
    decisions: tuple[DecisionRow, ...] = ()
    order_seq: int
    fill_seq: int
    decision_seq: int = 0


class Checkpoint(msgspec.Struct, frozen=True, kw_only=True):
    """A bot's latest checkpoint: where to resume its feed and venue, and its counters."""

    bot: str
    ts: int
    cursor: int
    venue_state: bytes | None
    order_seq: int
    fill_seq: int
    decision_seq: int = 0  # the bot's last decision's number


class BotAccount(msgspec.Struct, frozen=True, kw_only=True):
    """A registered bot: its Drift subaccount, market and mode."""

    bot: str
    authority: str
    subaccount_id: int
    market: str
    mode: str
    created_ts: int
    config_digest: str


# ---------------------------------------------------------------------------------------------- SQL

_INSERT_ORDER: Final = (
    "INSERT INTO orders (bot, order_id, user_order_id, ts, event, side, price, base, post_only, reduce_only, reason,"
    " decision_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_DECISION: Final = (
    "INSERT INTO decisions (bot, decision_seq, ts, mark, position_base, band_min, band_max, band_preferred, verdict,"
    " reasons, mode, plan_reason, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_FILL: Final = (
    "INSERT INTO fills (bot, fill_seq, ts, order_id, side, price, base, quote, fee, liquidity, reduce_only)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_FUNDING: Final = (
    "INSERT INTO perps_funding_snapshots (bot, ts, position_base, rate, payment) VALUES (?, ?, ?, ?, ?)"
)
_INSERT_SETTLEMENT: Final = "INSERT INTO settlements (bot, ts, amount, reason) VALUES (?, ?, ?, ?)"
_INSERT_SPOT_FILL: Final = (
    "INSERT INTO spot_fills (bot, ts, market_index, side, price, base, quote, fee) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_INTEREST: Final = "INSERT INTO interest (bot, ts, market_index, amount) VALUES (?, ?, ?, ?)"
_LEGS_COLUMNS: Final = tuple(f.name for f in msgspec.structs.fields(LegsRow))
_INSERT_LEGS: Final = (
    f"INSERT INTO legs_decisions (bot, {', '.join(_LEGS_COLUMNS)}) VALUES ({', '.join('?' * (len(_LEGS_COLUMNS) + 1))})"
)
_SNAPSHOT_COLUMNS: Final = tuple(f.name for f in msgspec.structs.fields(SnapshotRow))
# several snapshots, positions or objectives in one second: the last one of the second is kept
_UPSERT_SNAPSHOT: Final = (
    f"INSERT OR REPLACE INTO perps_margin_snapshots (bot, {', '.join(_SNAPSHOT_COLUMNS)})"
    f" VALUES ({', '.join('?' * (len(_SNAPSHOT_COLUMNS) + 1))})"
)
_UPSERT_POSITION: Final = (
    "INSERT OR REPLACE INTO perps_positions (bot, ts, base, quote, quote_entry, quote_break_even, entry_price,"
    " break_even_price, last_cumulative_funding_rate) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_UPSERT_OBJECTIVE: Final = (
    "INSERT OR REPLACE INTO perps_objectives (bot, ts, band_min, band_max, band_preferred, verdict, reasons)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)
# a sample re-recorded for the same second (a restart flushes the open bucket) keeps the later price
_UPSERT_SAMPLE: Final = "INSERT OR REPLACE INTO price_samples (bot, ts, price) VALUES (?, ?, ?)"
_PRUNE_SAMPLES: Final = "DELETE FROM price_samples WHERE bot = ? AND ts < ?"
_INSERT_RISK: Final = "INSERT INTO risk_events (bot, ts, from_state, to_state, reasons) VALUES (?, ?, ?, ?, ?)"
_INSERT_AUDIT: Final = "INSERT INTO audit (ts, actor, cmd, args_json, outcome) VALUES (?, ?, ?, ?, ?)"
_UPSERT_CHECKPOINT: Final = (
    "INSERT INTO bot_checkpoints (bot, ts, cursor, venue_state, order_seq, fill_seq, decision_seq)"
    " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (bot) DO UPDATE SET ts = excluded.ts, cursor = excluded.cursor,"
    " venue_state = excluded.venue_state, order_seq = excluded.order_seq, fill_seq = excluded.fill_seq,"
    " decision_seq = excluded.decision_seq"
)

_JSON: Final = msgspec.json.Encoder(order="sorted")
R = TypeVar("R", bound=msgspec.Struct)


def _json(value: object) -> str:
    return _JSON.encode(value).decode()


def _record(cls: type[R], row: Mapping[str, Any], *json_fields: str) -> R:
    """A record from a row by column name (INTEGER 0/1 becomes bool; ``json_fields`` are decoded)."""
    data = dict(row)
    for name in json_fields:
        data[name] = msgspec.json.decode(data[name])
    return msgspec.convert(data, cls, strict=False)


# ---------------------------------------------------------------------------------------------- the store


def _own_files(path: Path) -> None:
    """Create the database 0600 (or make it 0600) before SQLite opens it, and make the journal files left beside it
    0600: the store holds positions, orders and PnL. SQLite gives a new ``-wal``, ``-shm`` or ``-journal`` the
    mode of the database, so they follow; but it creates a new database 0644 less the umask (0644 under umask 000),
    and a file that exists keeps its mode. Never through a symlink, never another user's file
    (``botrunner.private_files``)."""
    journals = (("-wal", os.O_RDONLY), ("-shm", os.O_RDONLY), ("-journal", os.O_RDONLY))
    for suffix, flags in (("", os.O_RDWR | os.O_CREAT), *journals):
        name = f"{path}{suffix}"
        try:
            os.close(open_private(name, flags))
        except FileNotFoundError:
            if not suffix:
                raise StoreError(f"{path}: cannot open the store: its directory does not exist") from None
        except OSError as exc:
            raise StoreError(f"{name}: cannot open the store: {exc.strerror or exc}") from exc


class Store:
    """One connection to the store; see the module docstring. Open with :meth:`open`."""

    def __init__(self, path: Path, conn: sqlite3.Connection, *, readonly: bool) -> None:
        self.path = path
        self.conn = conn
        self.readonly = readonly
        self.db = sqlite_utils.Database(conn, execute_plugins=False)

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(cls, path: str | Path, *, readonly: bool = False, synchronous: Synchronous = "FULL") -> Store:
        """Open (creating and migrating as needed) the store at ``path``. ``readonly`` opens an existing,
        up-to-date store for reading only. Raises :class:`StoreError` naming the path for a file that is not a
        SQLite database, a SQLite database that is not a store, or a store newer than this code."""
        path = Path(path)
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise StoreError(f"{path}: SQLite {sqlite3.sqlite_version} is too old, the store needs >= 3.37")
        if synchronous not in ("NORMAL", "FULL"):
            raise StoreError(f"{path}: synchronous must be NORMAL or FULL, got {synchronous!r}")
        if readonly and not path.is_file():
            raise StoreError(f"{path}: no store to open read-only")
        if not readonly:
            _own_files(path)
        try:
            if readonly:
                conn = sqlite3.connect(
                    f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
                )
            else:
                conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as e:
            raise StoreError(f"{path}: cannot open the store: {e}") from e
        store = cls(path, conn, readonly=readonly)
        try:
            store._configure(synchronous)
            if readonly:
                store._check_readable()
            else:
                store._migrate()
        except StoreError:
            conn.close()
            raise
        except sqlite3.Error as e:
            conn.close()
            raise StoreError(f"{path}: not a usable SQLite store: {e}") from e
        return store

    def _configure(self, synchronous: Synchronous) -> None:
        c = self.conn
        c.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        c.execute("PRAGMA foreign_keys = ON")
        c.execute("SELECT count(*) FROM sqlite_master").fetchone()  # a file that is not a database fails here
        if self.readonly:
            return
        mode = c.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"{self.path}: cannot use WAL journal mode (got {mode})")
        c.execute(f"PRAGMA synchronous = {synchronous}")

    def _user_tables(self) -> set[str]:
        rows = self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        return {r[0] for r in rows}

    def _version(self) -> int:
        row = self.conn.execute("SELECT max(version) FROM schema_version").fetchone()
        return int(row[0] or 0)

    def _check_known(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: store schema version {version} is newer than this botrunner knows "
                f"({SCHEMA_VERSION}); upgrade botrunner to open it"
            )

    def _check_readable(self) -> None:
        tables = self._user_tables()
        if "schema_version" not in tables:
            raise StoreError(f"{self.path}: not a botrunner store (no schema_version table)")
        version = self._version()
        self._check_known(version)
        if version < SCHEMA_VERSION:
            raise StoreError(f"{self.path}: store schema version {version} needs migrating; open it for writing")

    def _migrate(self) -> None:
        tables = self._user_tables()
        if tables and "schema_version" not in tables:
            raise StoreError(f"{self.path}: a SQLite database but not a botrunner store (tables {sorted(tables)})")
        self.conn.execute(SCHEMA_VERSION_TABLE)
        while True:
            # one transaction per migration; the version is re-read under the write lock, so two processes
            # opening the same new file cannot both apply a migration
            with self._transaction():
                version = self._version()
                self._check_known(version)
                if version == SCHEMA_VERSION:
                    return
                for statement in MIGRATIONS[version]:
                    self.conn.execute(statement)
                self.conn.execute(
                    "INSERT INTO schema_version (version, applied_ts) VALUES (?, ?)", (version + 1, int(time.time()))
                )

    @property
    def schema_version(self) -> int:
        return self._version()

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check``: ``"ok"`` or the problems found."""
        return "\n".join(str(r[0]) for r in self.conn.execute("PRAGMA integrity_check"))

    # ------------------------------------------------------------------ writes

    def register_bot(
        self,
        *,
        bot: str,
        authority: str,
        subaccount_id: int,
        market: str,
        mode: Mode,
        created_ts: int,
        config_digest: str,
    ) -> BotAccount:
        """Register ``bot`` or, if it is already registered, check it is the same account and record its current
        config digest. A bot that comes back on another subaccount, market or mode is refused: its history and
        checkpoint belong to the old one. Two bots on one subaccount are refused too."""
        wanted = (authority, subaccount_id, market, mode)
        try:
            with self._transaction():
                existing = self._account(bot)
                if existing is None:
                    self.conn.execute(
                        "INSERT INTO perps_accounts (bot, authority, subaccount_id, market, mode, created_ts,"
                        " config_digest) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (bot, *wanted, created_ts, config_digest),
                    )
                else:
                    was = (existing.authority, existing.subaccount_id, existing.market, existing.mode)
                    if was != wanted:
                        raise StoreError(f"{self.path}: bot {bot!r} is registered as {was}, not {wanted}")
                    self.conn.execute("UPDATE perps_accounts SET config_digest = ? WHERE bot = ?", (config_digest, bot))
                account = self._account(bot)
        except sqlite3.Error as e:
            raise StoreError(f"{self.path}: cannot register bot {bot!r}: {e}") from e
        assert account is not None
        return account

    def audit(self, *, ts: int, actor: str, cmd: str, args: Mapping[str, Any], outcome: str) -> int:
        """Record an operator command (or a reconciliation/adoption) and return its id."""
        row = audit_row(ts=ts, actor=actor, cmd=cmd, args=args, outcome=outcome)
        try:
            with self._transaction():
                cursor = self.conn.execute(_INSERT_AUDIT, (row.ts, row.actor, row.cmd, row.args_json, row.outcome))
        except sqlite3.Error as e:
            raise StoreError(f"{self.path}: cannot record audit {cmd!r}: {e}") from e
        return int(cursor.lastrowid or 0)

    def write_steps(self, records: Sequence[StepRecord]) -> None:
        """Store ``records`` in one transaction (see :meth:`write`)."""
        self.write(records)

    def write(self, items: Sequence[StepRecord | AuditRow]) -> None:
        """Store steps and audit rows, in order, in ONE transaction: all of them or, on any error, none.

        Refused (:class:`StoreError`, nothing written): a step whose fills do not continue its bot's fill
        counter, an order counter going backwards, a duplicate fill, order event, decision or funding payment, a bot
        that is not registered."""
        if not items:
            return
        batch = _Batch()
        latest: dict[str, StepRecord] = {}  # the last step of each bot in the batch: its checkpoint is the one kept
        try:
            with self._transaction():
                for item in items:
                    if isinstance(item, AuditRow):
                        batch.audits.append((item.ts, item.actor, item.cmd, item.args_json, item.outcome))
                        continue
                    first_fill = self._check_counters(item, latest.get(item.bot))
                    latest[item.bot] = item
                    batch.add(item, first_fill)
                batch.execute(self.conn, latest.values())
        except sqlite3.Error as e:
            raise StoreError(f"{self.path}: write of {len(items)} records refused, nothing written: {e}") from e

    def _check_counters(self, item: StepRecord, before: StepRecord | None) -> int:
        """The fill counter before ``item`` (its fills are numbered from one more), after checking that its fills
        continue the bot's numbering and its order counter does not go back (``before``: the bot's previous step
        in this batch, else the stored checkpoint)."""
        bot = item.bot
        order_seq, fill_seq = (before.order_seq, before.fill_seq) if before is not None else self._stored_counters(bot)
        first = item.fill_seq - len(item.fills)
        if first != fill_seq:
            raise StoreError(
                f"{self.path}: bot {bot!r} step at {item.ts}: fill_seq {item.fill_seq} with "
                f"{len(item.fills)} fills does not continue the stored fill_seq {fill_seq}"
            )
        if item.order_seq < order_seq:
            raise StoreError(
                f"{self.path}: bot {bot!r} step at {item.ts}: order_seq {item.order_seq} goes back from {order_seq}"
            )
        return first

    def _stored_counters(self, bot: str) -> tuple[int, int]:
        row = self.conn.execute("SELECT order_seq, fill_seq FROM bot_checkpoints WHERE bot = ?", (bot,)).fetchone()
        return (0, 0) if row is None else (int(row[0]), int(row[1]))

    # ------------------------------------------------------------------ reads

    def _account(self, bot: str) -> BotAccount | None:
        rows = list(self.db.query("SELECT * FROM perps_accounts WHERE bot = ?", [bot]))
        return _record(BotAccount, rows[0]) if rows else None

    def account(self, bot: str) -> BotAccount | None:
        """The registered account of ``bot``, if any."""
        return self._account(bot)

    def accounts(self) -> tuple[BotAccount, ...]:
        """Every registered bot, by name."""
        return tuple(_record(BotAccount, r) for r in self.db.query("SELECT * FROM perps_accounts ORDER BY bot"))

    def load_checkpoint(self, bot: str) -> Checkpoint | None:
        """The latest checkpoint of ``bot`` (None: it never completed a step)."""
        rows = list(self.db.query("SELECT * FROM bot_checkpoints WHERE bot = ?", [bot]))
        return _record(Checkpoint, rows[0]) if rows else None

    def fills(self, bot: str) -> tuple[FillRow, ...]:
        """Every fill of ``bot`` in fill_seq order."""
        sql = (
            "SELECT ts, order_id, side, price, base, quote, fee, liquidity, reduce_only FROM fills"
            " WHERE bot = ? ORDER BY fill_seq"
        )
        return tuple(_record(FillRow, r) for r in self.db.query(sql, [bot]))

    def orders(self, bot: str) -> tuple[OrderRow, ...]:
        """Every order lifecycle row of ``bot`` in the order written."""
        sql = (
            "SELECT ts, order_id, user_order_id, event, side, price, base, post_only, reduce_only, reason, decision_seq"
            " FROM orders WHERE bot = ? ORDER BY rowid"
        )
        return tuple(_record(OrderRow, r) for r in self.db.query(sql, [bot]))

    def open_orders(self, bot: str) -> tuple[OrderRow, ...]:
        """The ``placed`` or ``adopted`` row of every order of ``bot`` with no closing row yet (cancelled, expired,
        filled, rejected), in the order written: what a restart reconciles against. Filtered inside SQLite: the bot's
        order rows are scanned by index and each opening row's close is looked up by (bot, order_id, event), so only
        the open orders' rows reach Python (the scan still grows with the bot's order history)."""
        sql = (
            "SELECT ts, order_id, user_order_id, event, side, price, base, post_only, reduce_only, reason, decision_seq"
            " FROM orders o WHERE o.bot = ? AND o.event IN ('placed', 'adopted') AND NOT EXISTS (SELECT 1 FROM orders c"
            " WHERE c.bot = o.bot AND c.order_id = o.order_id AND c.event IN ('cancelled', 'expired', 'filled',"
            " 'rejected')) ORDER BY o.rowid"
        )
        return tuple(_record(OrderRow, r) for r in self.db.query(sql, [bot]))

    def funding(self, bot: str) -> tuple[FundingRow, ...]:
        """Every funding payment of ``bot`` by time."""
        sql = "SELECT ts, position_base, rate, payment FROM perps_funding_snapshots WHERE bot = ? ORDER BY ts"
        return tuple(_record(FundingRow, r) for r in self.db.query(sql, [bot]))

    def settlements(self, bot: str) -> tuple[SettleRow, ...]:
        """Every PnL settlement of ``bot`` by time (then as written)."""
        sql = "SELECT ts, amount, reason FROM settlements WHERE bot = ? ORDER BY ts, id"
        return tuple(_record(SettleRow, r) for r in self.db.query(sql, [bot]))

    def spot_fills(self, bot: str) -> tuple[SpotFillRow, ...]:
        """Every spot leg fill of ``bot`` by time (then as written)."""
        sql = "SELECT ts, market_index, side, price, base, quote, fee FROM spot_fills WHERE bot = ? ORDER BY ts, id"
        return tuple(_record(SpotFillRow, r) for r in self.db.query(sql, [bot]))

    def interest(self, bot: str) -> tuple[InterestRow, ...]:
        """Every interest accrual of ``bot`` by time (then as written)."""
        sql = "SELECT ts, market_index, amount FROM interest WHERE bot = ? ORDER BY ts, id"
        return tuple(_record(InterestRow, r) for r in self.db.query(sql, [bot]))

    def legs(self, bot: str) -> tuple[LegsRow, ...]:
        """Every two-leg decision row of ``bot`` by time (then as written)."""
        sql = f"SELECT {', '.join(_LEGS_COLUMNS)} FROM legs_decisions WHERE bot = ? ORDER BY ts, id"
        return tuple(_record(LegsRow, r) for r in self.db.query(sql, [bot]))

    def snapshots(self, bot: str) -> tuple[SnapshotRow, ...]:
        """Every margin snapshot of ``bot`` by time."""
        sql = f"SELECT {', '.join(_SNAPSHOT_COLUMNS)} FROM perps_margin_snapshots WHERE bot = ? ORDER BY ts"
        return tuple(_record(SnapshotRow, r, "bid_prices", "ask_prices") for r in self.db.query(sql, [bot]))

    def latest_snapshot(self, bot: str) -> SnapshotRow | None:
        """The most recent margin snapshot of ``bot``."""
        sql = (
            f"SELECT {', '.join(_SNAPSHOT_COLUMNS)} FROM perps_margin_snapshots WHERE bot = ? ORDER BY ts DESC LIMIT 1"
        )
        rows = list(self.db.query(sql, [bot]))
        return _record(SnapshotRow, rows[0], "bid_prices", "ask_prices") if rows else None

    def price_samples(self, bot: str, since: int, until: int | None = None) -> tuple[tuple[int, int], ...]:
        """The price samples (ts, price 1e6) of ``bot`` from ``since`` to ``until`` (both included), oldest first."""
        sql = "SELECT ts, price FROM price_samples WHERE bot = ? AND ts >= ? AND ts <= ? ORDER BY ts"
        end = 2**63 - 1 if until is None else until
        return tuple((int(ts), int(price)) for ts, price in self.conn.execute(sql, (bot, since, end)))

    def latest_position(self, bot: str) -> PositionRow | None:
        """The most recent position row of ``bot``."""
        sql = (
            "SELECT ts, base, quote, quote_entry, quote_break_even, entry_price, break_even_price,"
            " last_cumulative_funding_rate FROM perps_positions WHERE bot = ? ORDER BY ts DESC LIMIT 1"
        )
        rows = list(self.db.query(sql, [bot]))
        return _record(PositionRow, rows[0]) if rows else None

    def objectives(self, bot: str) -> tuple[ObjectiveRow, ...]:
        """Every approved objective of ``bot`` by time."""
        sql = (
            "SELECT ts, band_min, band_max, band_preferred, verdict, reasons FROM perps_objectives"
            " WHERE bot = ? ORDER BY ts"
        )
        return tuple(_record(ObjectiveRow, r, "reasons") for r in self.db.query(sql, [bot]))

    def decisions(self, bot: str) -> tuple[DecisionRow, ...]:
        """Every recorded decision of ``bot`` (those that sent a command) by number."""
        sql = (
            "SELECT decision_seq, ts, mark, position_base, band_min, band_max, band_preferred, verdict, reasons, mode,"
            " plan_reason, note FROM decisions WHERE bot = ? ORDER BY decision_seq"
        )
        return tuple(_record(DecisionRow, r, "reasons") for r in self.db.query(sql, [bot]))

    def risk_events(self, bot: str) -> tuple[RiskEventRow, ...]:
        """Every risk-state change of ``bot`` in the order written."""
        sql = "SELECT ts, from_state, to_state, reasons FROM risk_events WHERE bot = ? ORDER BY id"
        return tuple(_record(RiskEventRow, r, "reasons") for r in self.db.query(sql, [bot]))

    def audit_rows(self) -> tuple[AuditRow, ...]:
        """The whole audit trail in the order written."""
        sql = "SELECT id, ts, actor, cmd, args_json, outcome FROM audit ORDER BY id"
        return tuple(_record(AuditRow, r) for r in self.db.query(sql))


class _Batch:
    """The parameter rows of one write, per statement, in the order the steps gave them."""

    __slots__ = (
        "audits",
        "decisions",
        "fills",
        "funding",
        "objectives",
        "orders",
        "positions",
        "prunes",
        "risks",
        "samples",
        "settlements",
        "snapshots",
        "two_legs",
    )

    def __init__(self) -> None:
        self.orders: list[tuple[Any, ...]] = []
        self.fills: list[tuple[Any, ...]] = []
        self.funding: list[tuple[Any, ...]] = []
        self.settlements: list[tuple[Any, ...]] = []
        self.snapshots: list[tuple[Any, ...]] = []
        self.positions: list[tuple[Any, ...]] = []
        self.objectives: list[tuple[Any, ...]] = []
        self.decisions: list[tuple[Any, ...]] = []
        self.risks: list[tuple[Any, ...]] = []
        self.samples: list[tuple[Any, ...]] = []
        self.prunes: list[tuple[Any, ...]] = []
        self.audits: list[tuple[Any, ...]] = []
        self.two_legs: list[tuple[str, list[tuple[Any, ...]]]] = []  # (statement, rows) of two-leg bots' steps

    def add(self, item: StepRecord, first_fill: int) -> None:
        """The rows of one step; its fills are numbered from ``first_fill + 1``."""
        bot = item.bot
        self.orders.extend(
            (
                bot,
                o.order_id,
                o.user_order_id,
                o.ts,
                o.event,
                o.side,
                o.price,
                o.base,
                o.post_only,
                o.reduce_only,
                o.reason,
                o.decision_seq,
            )
            for o in item.orders
        )
        self.fills.extend(
            (bot, first_fill + i, f.ts, f.order_id, f.side, f.price, f.base, f.quote, f.fee, f.liquidity, f.reduce_only)
            for i, f in enumerate(item.fills, start=1)
        )
        self.funding.extend((bot, r.ts, r.position_base, r.rate, r.payment) for r in item.funding)
        self.settlements.extend((bot, r.ts, r.amount, r.reason) for r in item.settlements)
        if item.legs or item.spot_fills or item.interest:  # two-leg bots only: a perp-only step skips this
            self.two_legs.append((_INSERT_LEGS, [(bot, *msgspec.structs.astuple(r)) for r in item.legs]))
            self.two_legs.append((_INSERT_SPOT_FILL, [(bot, *msgspec.structs.astuple(r)) for r in item.spot_fills]))
            self.two_legs.append((_INSERT_INTEREST, [(bot, *msgspec.structs.astuple(r)) for r in item.interest]))
        if item.snapshot is not None:
            self.snapshots.append(_snapshot_values(bot, item.snapshot))
        if item.position is not None:
            self.positions.append((bot, *msgspec.structs.astuple(item.position)))
        if item.objective is not None:
            obj = item.objective
            reasons = _json(obj.reasons)
            self.objectives.append((bot, obj.ts, obj.band_min, obj.band_max, obj.band_preferred, obj.verdict, reasons))
        self.decisions.extend(_decision_values(bot, d) for d in item.decisions)
        self.risks.extend((bot, r.ts, r.from_state, r.to_state, _json(r.reasons)) for r in item.risk_events)
        self.samples.extend((bot, ts, price) for ts, price in item.samples)
        if item.samples_from is not None:
            self.prunes.append((bot, item.samples_from))

    def execute(self, c: sqlite3.Connection, checkpoints: Iterable[StepRecord]) -> None:
        """Run every statement of the batch, then upsert ``checkpoints`` (each bot's last step)."""
        c.executemany(_INSERT_ORDER, self.orders)
        c.executemany(_INSERT_FILL, self.fills)
        c.executemany(_INSERT_FUNDING, self.funding)
        if self.settlements:  # a few a day: skip the statement otherwise
            c.executemany(_INSERT_SETTLEMENT, self.settlements)
        for statement, rows in self.two_legs:
            c.executemany(statement, rows)
        c.executemany(_UPSERT_SNAPSHOT, self.snapshots)
        c.executemany(_UPSERT_POSITION, self.positions)
        c.executemany(_UPSERT_OBJECTIVE, self.objectives)
        c.executemany(_INSERT_DECISION, self.decisions)
        c.executemany(_INSERT_RISK, self.risks)
        c.executemany(_PRUNE_SAMPLES, self.prunes)
        c.executemany(_UPSERT_SAMPLE, self.samples)
        c.executemany(
            _UPSERT_CHECKPOINT,
            [(s.bot, s.ts, s.cursor, s.venue_state, s.order_seq, s.fill_seq, s.decision_seq) for s in checkpoints],
        )
        c.executemany(_INSERT_AUDIT, self.audits)


def _decision_values(bot: str, d: DecisionRow) -> tuple[Any, ...]:
    return (
        bot,
        d.decision_seq,
        d.ts,
        d.mark,
        d.position_base,
        d.band_min,
        d.band_max,
        d.band_preferred,
        d.verdict,
        _json(d.reasons),
        d.mode,
        d.plan_reason,
        d.note,
    )


def audit_row(*, ts: int, actor: str, cmd: str, args: Mapping[str, Any], outcome: str) -> AuditRow:
    """An audit row with ``args`` as JSON (keys sorted, so equal arguments give equal text)."""
    return AuditRow(ts=ts, actor=actor, cmd=cmd, args_json=_json(dict(args)), outcome=outcome)


def _snapshot_values(bot: str, s: SnapshotRow) -> tuple[Any, ...]:
    values = list(msgspec.structs.astuple(s))
    for name in ("bid_prices", "ask_prices"):
        i = _SNAPSHOT_COLUMNS.index(name)
        values[i] = _json(values[i])
    return (bot, *values)
