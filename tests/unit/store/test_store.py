"""The SQLite store: schema and migrations, bad files, atomic step writes, the fill-numbering and uniqueness guards,
and reading back exactly what was written."""

from __future__ import annotations

import itertools
import sqlite3
import stat
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from botrunner.core.records import FillRow, FundingRow, OrderRow, SnapshotRow
from botrunner.store import schema
from botrunner.store import store as store_module
from botrunner.store.store import (
    AuditRow,
    DecisionRow,
    ObjectiveRow,
    PositionRow,
    RiskEventRow,
    StepRecord,
    Store,
    StoreError,
    audit_row,
)
from tests.support.files import give_away, umask

T0 = 1_700_000_000
TABLES = {
    "schema_version",
    "perps_accounts",
    "perps_positions",
    "perps_margin_snapshots",
    "perps_funding_snapshots",
    "perps_objectives",
    "decisions",
    "price_samples",
    "orders",
    "fills",
    "risk_events",
    "audit",
    "bot_checkpoints",
}

# ---------------------------------------------------------------------------------------------- helpers


def register(store: Store, bot: str = "sol-grid", subaccount_id: int = 1) -> None:
    store.register_bot(
        bot=bot,
        authority="paper-wallet",
        subaccount_id=subaccount_id,
        market="SOL-PERP",
        mode="paper",
        created_ts=T0,
        config_digest="digest-1",
    )


def fill(ts: int, order_id: int, base: int = 10**9) -> FillRow:
    return FillRow(ts, order_id, "buy", 150_000_000, base, -150 * base // 1000, 52_500, "taker", False)


def order(ts: int, order_id: int, event: str = "placed", uid: int = 7) -> OrderRow:
    return OrderRow(ts, order_id, uid, event, "buy", 150_000_000, 10**9, True, False, "")


def snapshot(ts: int) -> SnapshotRow:
    return SnapshotRow(
        ts=ts,
        mark=150_000_000,
        oracle=149_990_000,
        position_base=10**9,
        entry_price=150_000_000,
        collateral=9_900_000_000,
        unrealized_pnl=-10_000,
        unsettled_pnl=-160_000,
        settled_pnl=0,
        equity=9_999_840_000,
        health=97,
        leverage=150,
        liq_price=None,
        risk_state="normal",
        range_low=140_000_000,
        range_high=160_000_000,
        band_min=-2 * 10**9,
        band_max=2 * 10**9,
        bid_prices=(149_400_000, 148_800_000),
        ask_prices=(150_600_000,),
        realized=0,
        funding=-1_234,
        fees=52_500,
    )


def step(bot: str, n: int, *, fills_before: int, fills: int = 1, orders_before: int | None = None) -> StepRecord:
    """Step ``n`` of ``bot`` (ts T0 + n): one placed order, ``fills`` fills, one funding payment, a checkpoint."""
    order_seq = (n if orders_before is None else orders_before) + 1
    return StepRecord(
        bot=bot,
        ts=T0 + n,
        cursor=n,
        venue_state=f"venue after step {n}".encode(),
        orders=(order(T0 + n, order_seq),),
        fills=tuple(fill(T0 + n, order_seq) for _ in range(fills)),
        funding=(FundingRow(T0 + n, 10**9, 1_000, -150),),
        order_seq=order_seq,
        fill_seq=fills_before + fills,
    )


def steps(bot: str, count: int, fills_per_step: int = 1) -> list[StepRecord]:
    return [step(bot, n, fills_before=n * fills_per_step, fills=fills_per_step) for n in range(count)]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "botrunner.sqlite"


@pytest.fixture
def store(path: Path) -> Store:
    s = Store.open(path)
    register(s)
    return s


def count(s: Store, table: str) -> int:
    return int(s.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


# ---------------------------------------------------------------------------------------------- opening


def test_a_new_file_gets_every_table_at_the_current_version_in_wal_mode(path: Path) -> None:
    s = Store.open(path)
    assert set(s.db.table_names()) >= TABLES
    assert s.schema_version == schema.SCHEMA_VERSION == len(schema.MIGRATIONS)
    assert [r[0] for r in s.conn.execute("SELECT version FROM schema_version ORDER BY version")] == list(
        range(1, schema.SCHEMA_VERSION + 1)
    )
    assert s.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert s.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert s.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert s.integrity_check() == "ok"


def test_synchronous_normal_can_be_chosen_and_anything_else_is_refused(path: Path) -> None:
    assert Store.open(path, synchronous="NORMAL").conn.execute("PRAGMA synchronous").fetchone()[0] == 1
    with pytest.raises(StoreError, match="synchronous"):
        Store.open(path, synchronous="OFF")  # type: ignore[arg-type]


def test_reopening_changes_nothing_and_keeps_the_data(path: Path) -> None:
    s = Store.open(path)
    register(s)
    s.write_steps(steps("sol-grid", 3))
    s.close()
    again = Store.open(path)
    assert again.schema_version == schema.SCHEMA_VERSION
    assert count(again, "schema_version") == schema.SCHEMA_VERSION
    assert len(again.fills("sol-grid")) == 3


def test_a_store_newer_than_the_code_is_refused_with_both_versions(path: Path) -> None:
    s = Store.open(path)
    newer = schema.SCHEMA_VERSION + 1
    s.conn.execute("INSERT INTO schema_version (version, applied_ts) VALUES (?, ?)", (newer, T0))
    s.close()
    with pytest.raises(StoreError, match=rf"{path}.*version {newer} is newer.*\({schema.SCHEMA_VERSION}\)"):
        Store.open(path)
    with pytest.raises(StoreError, match="newer"):
        Store.open(path, readonly=True)


def test_migrations_run_in_order_one_transaction_each(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Store.open(path).close()
    good = ("CREATE TABLE extra_a (x INTEGER) STRICT",)
    broken = ("CREATE TABLE extra_b (x INTEGER) STRICT", "INSERT INTO no_such_table VALUES (1)")
    monkeypatch.setattr(store_module, "MIGRATIONS", (*schema.MIGRATIONS, good, broken))
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", schema.SCHEMA_VERSION + 2)
    with pytest.raises(StoreError, match="no_such_table"):
        Store.open(path)
    monkeypatch.undo()
    # the good migration stayed, the broken one left nothing behind (its first statement was rolled back)
    with sqlite3.connect(path) as raw:
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        version = raw.execute("SELECT max(version) FROM schema_version").fetchone()[0]
    assert "extra_a" in tables and "extra_b" not in tables
    assert version == schema.SCHEMA_VERSION + 1


def test_an_older_store_is_migrated_forward_keeping_its_data(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = Store.open(path)
    register(s)
    s.write_steps(steps("sol-grid", 2))
    s.close()
    added = ("ALTER TABLE fills ADD COLUMN note TEXT NOT NULL DEFAULT ''",)
    monkeypatch.setattr(store_module, "MIGRATIONS", (*schema.MIGRATIONS, added))
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", schema.SCHEMA_VERSION + 1)
    with pytest.raises(StoreError, match="needs migrating"):
        Store.open(path, readonly=True)
    migrated = Store.open(path)
    assert migrated.schema_version == schema.SCHEMA_VERSION + 1
    assert len(migrated.fills("sol-grid")) == 2


def test_a_version_3_store_upgrades_to_causes_keeping_its_rows_and_counters(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A store exactly as the code before v4 made it: its migrations, its rows (no decision_seq anywhere).
    monkeypatch.setattr(store_module, "MIGRATIONS", schema.MIGRATIONS[:3])
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", 3)
    old = Store.open(path)
    register(old)
    old.conn.execute(
        "INSERT INTO orders (bot, order_id, user_order_id, ts, event, side, price, base, post_only, reduce_only,"
        " reason) VALUES ('sol-grid', 1, 7, ?, 'placed', 'buy', 150000000, 1000000000, 1, 0, '')",
        (T0,),
    )
    old.conn.execute(
        "INSERT INTO bot_checkpoints (bot, ts, cursor, venue_state, order_seq, fill_seq)"
        " VALUES ('sol-grid', ?, 5, x'00', 1, 0)",
        (T0,),
    )
    assert {r[1] for r in old.conn.execute("PRAGMA table_info(orders)")} >= {"reason"}
    assert "decision_seq" not in {r[1] for r in old.conn.execute("PRAGMA table_info(orders)")}
    old.close()
    monkeypatch.undo()

    with pytest.raises(StoreError, match="version 3 needs migrating"):
        Store.open(path, readonly=True)
    s = Store.open(path)
    assert s.schema_version == schema.SCHEMA_VERSION == 4
    assert "decisions" in {r[0] for r in s.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    # the old rows are there, with no decision behind them
    assert s.orders("sol-grid") == (order(T0, 1),)
    assert s.orders("sol-grid")[0].decision_seq == 0
    cp = s.load_checkpoint("sol-grid")
    assert cp is not None and (cp.cursor, cp.order_seq, cp.fill_seq, cp.decision_seq) == (5, 1, 0, 0)
    assert s.decisions("sol-grid") == ()
    # and the upgraded store takes the new rows: a decision and the order it placed, joined by number
    placed = msgspec.structs.replace(order(T0 + 1, 2, uid=8), reason="ladder_empty", decision_seq=1)
    decision = DecisionRow(
        decision_seq=1,
        ts=T0 + 1,
        mark=150_000_000,
        position_base=0,
        band_min=-(10**9),
        band_max=10**9,
        band_preferred=0,
        verdict="APPROVE",
        reasons=(),
        mode="grid",
        plan_reason="ladder_empty",
        note="",
    )
    s.write_steps(
        [
            StepRecord(
                bot="sol-grid",
                ts=T0 + 1,
                cursor=6,
                orders=(placed,),
                decisions=(decision,),
                order_seq=2,
                fill_seq=0,
                decision_seq=1,
            )
        ]
    )
    joined = s.conn.execute(
        "SELECT o.order_id, d.plan_reason, d.verdict FROM orders o JOIN decisions d"
        " ON d.bot = o.bot AND d.decision_seq = o.decision_seq WHERE o.bot = 'sol-grid'"
    ).fetchall()
    assert joined == [(2, "ladder_empty", "APPROVE")]
    cp = s.load_checkpoint("sol-grid")
    assert cp is not None and cp.decision_seq == 1
    s.close()


def test_a_decision_recorded_twice_is_refused_with_its_whole_batch(store: Store) -> None:
    decision = DecisionRow(
        decision_seq=3,
        ts=T0,
        mark=150_000_000,
        position_base=0,
        band_min=0,
        band_max=0,
        band_preferred=0,
        verdict="PAUSE",
        reasons=("operator_pause",),
        mode="halt",
        plan_reason="verdict_pause",
        note="",
    )
    first = StepRecord(bot="sol-grid", ts=T0, cursor=0, decisions=(decision,), order_seq=0, fill_seq=0)
    store.write_steps([first])
    again = msgspec.structs.replace(first, ts=T0 + 1, cursor=1, orders=(order(T0 + 1, 1),), order_seq=1)
    with pytest.raises(StoreError, match="nothing written"):
        store.write_steps([again])
    assert store.decisions("sol-grid") == (decision,) and store.orders("sol-grid") == ()


@pytest.mark.parametrize(
    "content", [b"this is not a database, just text\n" * 100, b"SQLite format 3\x00" + b"\xff" * 4000]
)
def test_a_file_that_is_not_a_sqlite_database_is_refused_naming_it(path: Path, content: bytes) -> None:
    path.write_bytes(content)
    with pytest.raises(StoreError, match=str(path)):
        Store.open(path)
    assert path.read_bytes() == content  # and left as it was


def test_a_sqlite_database_that_is_not_a_store_is_refused(path: Path) -> None:
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE notes (x TEXT)")
    with pytest.raises(StoreError, match=rf"{path}.*not a botrunner store"):
        Store.open(path)
    with pytest.raises(StoreError, match="not a botrunner store"):
        Store.open(path, readonly=True)


def test_a_path_that_cannot_be_opened_is_refused_naming_it(tmp_path: Path) -> None:
    missing_dir = tmp_path / "no" / "such" / "dir" / "store.sqlite"
    with pytest.raises(StoreError, match=str(missing_dir)):
        Store.open(missing_dir)
    with pytest.raises(StoreError, match=str(tmp_path)):
        Store.open(tmp_path)  # a directory
    with pytest.raises(StoreError, match="no store to open read-only"):
        Store.open(tmp_path / "absent.sqlite", readonly=True)


def test_a_read_only_connection_sees_committed_steps_and_cannot_write(path: Path, store: Store) -> None:
    reader = Store.open(path, readonly=True)
    store.write_steps(steps("sol-grid", 2))
    assert len(reader.fills("sol-grid")) == 2
    with pytest.raises(StoreError, match="readonly database"):
        reader.write_steps([step("sol-grid", 2, fills_before=2)])


# ---------------------------------------------------------------------------------------------- writes


def test_every_record_type_reads_back_exactly_as_written(store: Store) -> None:
    record = StepRecord(
        bot="sol-grid",
        ts=T0 + 60,
        cursor=42,
        venue_state=b"\x00venue\xff",
        orders=(
            msgspec.structs.replace(order(T0 + 60, 1), reason="ladder_empty", decision_seq=7),
            msgspec.structs.replace(order(T0 + 60, 1, "filled"), decision_seq=7),
            order(T0 + 60, 2, "rejected"),
        ),
        fills=(fill(T0 + 60, 1), fill(T0 + 60, 0, base=3 * 10**9)),
        funding=(FundingRow(T0 + 60, -(10**9), -25_000, -25),),
        snapshot=snapshot(T0 + 60),
        objective=ObjectiveRow(
            ts=T0 + 60, band_min=-(10**9), band_max=10**9, band_preferred=0, verdict="allow", reasons=("ok", "x")
        ),
        risk_events=(
            RiskEventRow(ts=T0 + 60, from_state="normal", to_state="reduce_only", reasons=("leverage",)),
            RiskEventRow(ts=T0 + 60, from_state="reduce_only", to_state="paused", reasons=("health", "funding")),
        ),
        position=PositionRow(
            ts=T0 + 60,
            base=10**9,
            quote=-150_052_500,
            quote_entry=-150_000_000,
            quote_break_even=-150_052_500,
            entry_price=150_000_000,
            break_even_price=150_052_500,
            last_cumulative_funding_rate=12_345,
        ),
        decisions=(
            DecisionRow(
                decision_seq=7,
                ts=T0 + 60,
                mark=150_000_000,
                position_base=10**9,
                band_min=-(10**9),
                band_max=10**9,
                band_preferred=0,
                verdict="APPROVE",
                reasons=("funding_guardrail",),
                mode="grid",
                plan_reason="ladder_empty",
                note="",
            ),
        ),
        order_seq=2,
        fill_seq=2,
        decision_seq=9,
    )
    store.write_steps([record])
    assert store.decisions("sol-grid") == record.decisions
    assert store.orders("sol-grid") == record.orders
    assert store.fills("sol-grid") == record.fills
    assert store.funding("sol-grid") == record.funding
    assert store.latest_snapshot("sol-grid") == record.snapshot
    assert store.snapshots("sol-grid") == (record.snapshot,)
    assert store.objectives("sol-grid") == (record.objective,)
    assert store.risk_events("sol-grid") == record.risk_events
    assert store.latest_position("sol-grid") == record.position
    cp = store.load_checkpoint("sol-grid")
    assert cp is not None
    assert (cp.bot, cp.ts, cp.cursor, cp.venue_state, cp.order_seq, cp.fill_seq, cp.decision_seq) == (
        "sol-grid",
        T0 + 60,
        42,
        b"\x00venue\xff",
        2,
        2,
        9,
    )


def test_a_snapshot_with_a_liquidation_price_round_trips(store: Store) -> None:
    snap = msgspec.structs.replace(snapshot(T0), liq_price=98_765_000)
    store.write_steps([StepRecord(bot="sol-grid", ts=T0, cursor=0, snapshot=snap, order_seq=0, fill_seq=0)])
    assert store.latest_snapshot("sol-grid") == snap


def test_the_checkpoint_is_the_last_steps_and_fills_are_numbered_across_steps(store: Store) -> None:
    store.write_steps(steps("sol-grid", 4, fills_per_step=3))
    cp = store.load_checkpoint("sol-grid")
    assert cp is not None and (cp.cursor, cp.fill_seq, cp.order_seq) == (3, 12, 4)
    assert cp.venue_state == b"venue after step 3"
    seqs = [r[0] for r in store.conn.execute("SELECT fill_seq FROM fills WHERE bot = 'sol-grid' ORDER BY fill_seq")]
    assert seqs == list(range(1, 13))


def test_latest_reads_pick_the_most_recent_row(store: Store) -> None:
    later = msgspec.structs.replace(snapshot(T0 + 120), equity=1)
    store.write_steps(
        [
            StepRecord(bot="sol-grid", ts=T0, cursor=0, snapshot=snapshot(T0), order_seq=0, fill_seq=0),
            StepRecord(bot="sol-grid", ts=T0 + 120, cursor=1, snapshot=later, order_seq=0, fill_seq=0),
        ]
    )
    assert store.latest_snapshot("sol-grid") == later
    assert store.latest_snapshot("other") is None
    assert store.load_checkpoint("other") is None


def test_a_failure_at_the_last_statement_leaves_nothing_of_the_batch(store: Store) -> None:
    """Simulated crash mid-transaction: a trigger makes the batch's final insert (the audit row) fail after every
    step row of the batch has been inserted."""
    store.write_steps(steps("sol-grid", 1))
    store.conn.execute("CREATE TRIGGER boom BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'simulated'); END")
    before = {t: count(store, t) for t in TABLES}
    batch = steps("sol-grid", 4)[1:]
    with pytest.raises(StoreError, match="nothing written: simulated"):
        store.write([*batch, audit_row(ts=T0, actor="op", cmd="pause", args={}, outcome="ok")])
    assert {t: count(store, t) for t in TABLES} == before
    cp = store.load_checkpoint("sol-grid")
    assert cp is not None and cp.cursor == 0
    # the connection is usable afterwards, outside any transaction
    assert not store.conn.in_transaction
    store.write_steps(batch)
    assert len(store.fills("sol-grid")) == 4


def test_a_step_that_breaks_a_uniqueness_rule_takes_its_whole_batch_down(store: Store) -> None:
    first, second = steps("sol-grid", 2)
    # the second step repeats the first's placed order row (same bot, order_id, event)
    clash = msgspec.structs.replace(second, orders=first.orders)
    with pytest.raises(StoreError, match="UNIQUE"):
        store.write_steps([first, clash])
    assert store.fills("sol-grid") == () and store.orders("sol-grid") == ()
    assert store.load_checkpoint("sol-grid") is None


def test_fills_that_do_not_continue_the_bots_numbering_are_refused(store: Store) -> None:
    store.write_steps(steps("sol-grid", 2))
    replay = step("sol-grid", 1, fills_before=1)  # the step already stored, written again: fill_seq 2, stored 2
    with pytest.raises(StoreError, match="does not continue the stored fill_seq 2"):
        store.write_steps([replay])
    gap = step("sol-grid", 3, fills_before=3)  # skips fill 3
    with pytest.raises(StoreError, match="fill_seq"):
        store.write_steps([gap])
    assert len(store.fills("sol-grid")) == 2


def test_a_duplicate_fill_number_or_funding_payment_is_refused_by_the_schema(store: Store) -> None:
    store.write_steps(steps("sol-grid", 1))
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        store.conn.execute("INSERT INTO fills VALUES ('sol-grid', 1, ?, 1, 'buy', 1, 1, 1, 1, 'maker', 0)", (T0,))
    repeat_funding = StepRecord(
        bot="sol-grid", ts=T0 + 5, cursor=5, funding=(FundingRow(T0, 1, 1, 1),), order_seq=1, fill_seq=1
    )
    with pytest.raises(StoreError, match="UNIQUE"):
        store.write_steps([repeat_funding])


def test_an_order_counter_going_back_is_refused(store: Store) -> None:
    store.write_steps(steps("sol-grid", 3))
    with pytest.raises(StoreError, match="order_seq 1 goes back from 3"):
        store.write_steps([step("sol-grid", 3, fills_before=3, orders_before=0)])


def test_rows_for_an_unregistered_bot_are_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="FOREIGN KEY"):
        store.write_steps(steps("ghost", 1))


def test_a_wrongly_typed_value_is_refused_not_stored(store: Store) -> None:
    bad = msgspec.structs.replace(step("sol-grid", 0, fills_before=0), funding=(FundingRow(T0, "lots", 1, 1),))  # type: ignore[arg-type]
    with pytest.raises(StoreError):
        store.write_steps([bad])
    assert store.funding("sol-grid") == ()


# ---------------------------------------------------------------------------------------------- bots and audit


def test_registering_again_updates_the_digest_and_a_changed_account_is_refused(store: Store) -> None:
    again = store.register_bot(
        bot="sol-grid",
        authority="paper-wallet",
        subaccount_id=1,
        market="SOL-PERP",
        mode="paper",
        created_ts=T0 + 999,
        config_digest="digest-2",
    )
    assert (again.config_digest, again.created_ts) == ("digest-2", T0)
    with pytest.raises(StoreError, match="registered as"):
        store.register_bot(
            bot="sol-grid",
            authority="paper-wallet",
            subaccount_id=2,
            market="SOL-PERP",
            mode="paper",
            created_ts=T0,
            config_digest="digest-2",
        )
    with pytest.raises(StoreError, match="UNIQUE"):  # 1 bot = 1 subaccount
        register(store, bot="another-bot", subaccount_id=1)
    assert [a.bot for a in store.accounts()] == ["sol-grid"]


def test_audit_rows_keep_their_order_and_sorted_arguments(store: Store) -> None:
    first = store.audit(ts=T0, actor="ctl", cmd="pause", args={"bot": "sol-grid", "a": 1}, outcome="ok")
    store.write([audit_row(ts=T0 + 1, actor="runner", cmd="adopt", args={"orders": [3, 4]}, outcome="adopted 2")])
    rows = store.audit_rows()
    assert [r.id for r in rows] == [first, first + 1]
    assert rows[0] == AuditRow(
        id=first, ts=T0, actor="ctl", cmd="pause", args_json='{"a":1,"bot":"sol-grid"}', outcome="ok"
    )
    assert rows[1].cmd == "adopt" and msgspec.json.decode(rows[1].args_json) == {"orders": [3, 4]}


# ---------------------------------------------------------------------------------------------- property


@settings(max_examples=40, deadline=None)
@given(
    fills_per_step=st.lists(st.integers(0, 4), min_size=1, max_size=30),
    owners=st.lists(st.sampled_from(("a", "b")), min_size=30, max_size=30),
    cuts=st.lists(st.integers(1, 30), max_size=6),
)
def test_however_steps_are_batched_the_store_holds_the_same_numbered_history(
    tmp_path_factory: pytest.TempPathFactory, fills_per_step: list[int], owners: list[str], cuts: list[int]
) -> None:
    s = Store.open(tmp_path_factory.mktemp("prop") / "s.sqlite", synchronous="NORMAL")
    register(s, "a", 1)
    register(s, "b", 2)
    made: list[StepRecord] = []
    counters = {"a": (0, 0), "b": (0, 0)}
    for n, (k, bot) in enumerate(zip(fills_per_step, owners, strict=False)):
        orders_before, fills_before = counters[bot]
        made.append(step(bot, n, fills_before=fills_before, fills=k, orders_before=orders_before))
        counters[bot] = (orders_before + 1, fills_before + k)
    bounds = sorted({0, len(made), *(c for c in cuts if c < len(made))})
    for lo, hi in itertools.pairwise(bounds):
        s.write_steps(made[lo:hi])
    for bot in ("a", "b"):
        mine = [r for r in made if r.bot == bot]
        assert s.fills(bot) == tuple(f for r in mine for f in r.fills)
        assert s.orders(bot) == tuple(o for r in mine for o in r.orders)
        cp = s.load_checkpoint(bot)
        assert (cp.fill_seq if cp else 0) == len(s.fills(bot)) == counters[bot][1]
    s.close()


CLOSING = ("cancelled", "expired", "filled", "rejected")


BOTS = ("sol-grid", "eth-curve")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(BOTS),
            st.sampled_from(("placed", "adopted", *CLOSING)),
            st.integers(1, 12),
            st.integers(1, 4),
        ),
        max_size=60,
    )
)
def test_open_orders_are_the_placed_rows_the_history_never_closed(
    tmp_path_factory: pytest.TempPathFactory, events: list[tuple[str, str, int, int]]
) -> None:
    """``Store.open_orders`` (filtered in SQL, what a restart reads) equals folding the bot's whole order history:
    each placed or adopted order stays open until a cancelled, expired, filled or rejected row of its order id —
    of the same bot: two bots number their orders independently, so one's closing row never closes the other's."""
    s = Store.open(tmp_path_factory.mktemp("open") / "s.sqlite")
    for subaccount, bot in enumerate(BOTS, start=1):
        register(s, bot, subaccount)
    seen: set[tuple[str, int, str]] = set()
    opened: set[tuple[str, int]] = set()
    rows: dict[str, list[OrderRow]] = {bot: [] for bot in BOTS}
    for n, (bot, event, order_id, uid) in enumerate(events):
        opening = event in ("placed", "adopted")
        if (bot, order_id, event) in seen or (opening and (bot, order_id) in opened):
            continue  # one row per (order id, event), and an order id is opened once (adoption takes a new id)
        if event in ("cancelled", "expired", "filled") and (bot, order_id) not in opened:
            continue  # the session closes only an order it placed or adopted
        if opening and (bot, order_id, "rejected") in seen:
            continue  # a rejection takes an order id of its own, never opened
        seen.add((bot, order_id, event))
        if opening:
            opened.add((bot, order_id))
        rows[bot].append(order(T0 + n, order_id, event, uid))
    s.write(
        [
            msgspec.structs.replace(
                step(bot, 0, fills_before=0, fills=0), orders=tuple(mine), order_seq=max(r.order_id for r in mine)
            )
            for bot, mine in rows.items()
            if mine
        ]
    )
    for bot in BOTS:
        expected: dict[int, OrderRow] = {}
        for row in s.orders(bot):
            if row.event in ("placed", "adopted"):
                expected[row.order_id] = row
            elif row.event in CLOSING:
                expected.pop(row.order_id, None)
        assert s.open_orders(bot) == tuple(expected.values())
    s.close()


def test_price_samples_are_stored_with_their_step_and_pruned_past_the_lookback(store: Store) -> None:
    bot = "sol-grid"
    first = msgspec.structs.replace(step(bot, 0, fills_before=0), samples=((T0 - 120, 1), (T0 - 60, 2)))
    store.write_steps([first])
    assert store.price_samples(bot, since=0) == ((T0 - 120, 1), (T0 - 60, 2))
    # the next step's sample comes with "nothing before T0 - 60 is needed": the oldest goes, in the same transaction
    second = msgspec.structs.replace(step(bot, 1, fills_before=1), samples=((T0, 3),), samples_from=T0 - 60)
    store.write_steps([second])
    assert store.price_samples(bot, since=0) == ((T0 - 60, 2), (T0, 3))
    assert store.price_samples(bot, since=T0) == ((T0, 3),)
    assert store.price_samples(bot, since=0, until=T0 - 1) == ((T0 - 60, 2),)
    # a refused step stores none of its samples
    bad = msgspec.structs.replace(step(bot, 2, fills_before=99), samples=((T0 + 60, 4),), samples_from=T0 + 60)
    with pytest.raises(StoreError):
        store.write_steps([bad])
    assert store.price_samples(bot, since=0) == ((T0 - 60, 2), (T0, 3))


def _mode(path: Path | str) -> int:
    return stat.S_IMODE(Path(path).stat().st_mode)


def test_a_new_store_and_its_wal_and_shm_are_owner_only_whatever_the_umask(path: Path) -> None:
    with umask(0):
        store = Store.open(path)
        register(store)
    try:
        assert {suffix: _mode(f"{path}{suffix}") for suffix in ("", "-wal", "-shm")} == {
            "": 0o600,
            "-wal": 0o600,
            "-shm": 0o600,
        }
    finally:
        store.close()


def test_an_existing_store_and_the_journal_files_left_beside_it_are_made_owner_only(path: Path) -> None:
    with umask(0):
        first = Store.open(path)  # kept open: its -wal and -shm stay, as after a kill -9
        register(first)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").chmod(0o644)
        second = Store.open(path)
    try:
        assert [_mode(f"{path}{suffix}") for suffix in ("", "-wal", "-shm")] == [0o600, 0o600, 0o600]
    finally:
        second.close()
        first.close()


@pytest.mark.parametrize("suffix", ["", "-wal", "-shm"])
def test_a_symlink_where_a_store_file_should_be_is_refused_and_its_target_untouched(
    tmp_path: Path, suffix: str
) -> None:
    path = tmp_path / "botrunner.db"
    if suffix:
        Store.open(path).close()
    elsewhere = tmp_path / "elsewhere"
    Path(f"{path}{suffix}").symlink_to(elsewhere)
    with pytest.raises(StoreError, match=rf"{path}{suffix}: cannot open the store: Too many levels of symbolic links"):
        Store.open(path)
    assert not elsewhere.exists()  # SQLite would have created (and written) the store there


def test_another_user_s_store_is_refused_for_writing_naming_its_owner(path: Path) -> None:
    Store.open(path).close()
    path.chmod(0o666)
    owner = give_away(path)
    with pytest.raises(StoreError, match=f"{path}: cannot open the store: owned by uid {owner} .*not by this user"):
        Store.open(path)
    assert _mode(path) == 0o666
