"""PnL settlements in the store (schema v5): written in the step's one transaction with its fills, read back by
time; a version 4 store upgrades keeping its rows and counters."""

from __future__ import annotations

from pathlib import Path

import pytest

from botrunner.core.records import FillRow, SettleRow
from botrunner.store import schema
from botrunner.store import store as store_module
from botrunner.store.store import StepRecord, Store, StoreError

T0 = 1_700_000_000


def _register(store: Store) -> None:
    store.register_bot(
        bot="sol-grid",
        authority="paper-wallet",
        subaccount_id=1,
        market="SOL-PERP",
        mode="paper",
        created_ts=T0,
        config_digest="digest-1",
    )


def _fill(ts: int) -> FillRow:
    return FillRow(ts, 1, "sell", 150_000_000, 10**9, 150_000_000, -3_750, "maker", False)


def test_a_step_stores_its_settlements_with_its_fills(tmp_path: Path) -> None:
    s = Store.open(tmp_path / "s.sqlite")
    _register(s)
    rows = (SettleRow(T0, 12_345_678, "position_closed"), SettleRow(T0, -1, "schedule"))
    s.write_steps(
        [StepRecord(bot="sol-grid", ts=T0, cursor=1, fills=(_fill(T0),), settlements=rows, order_seq=1, fill_seq=1)]
    )
    assert s.settlements("sol-grid") == rows
    assert s.settlements("other") == ()


def test_a_refused_step_stores_none_of_its_settlements(tmp_path: Path) -> None:
    s = Store.open(tmp_path / "s.sqlite")
    _register(s)
    bad = StepRecord(  # its fill counter does not continue the bot's (0): the whole step is refused
        bot="sol-grid",
        ts=T0,
        cursor=1,
        fills=(_fill(T0),),
        settlements=(SettleRow(T0, 5, "schedule"),),
        order_seq=1,
        fill_seq=7,
    )
    with pytest.raises(StoreError):
        s.write_steps([bad])
    assert s.settlements("sol-grid") == ()
    assert s.fills("sol-grid") == ()


def test_a_version_4_store_upgrades_to_settlements_keeping_its_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.sqlite"
    monkeypatch.setattr(store_module, "MIGRATIONS", schema.MIGRATIONS[:4])
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", 4)
    old = Store.open(path)
    _register(old)
    old.write_steps([StepRecord(bot="sol-grid", ts=T0, cursor=3, fills=(_fill(T0),), order_seq=1, fill_seq=1)])
    tables = {r[0] for r in old.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "settlements" not in tables
    old.close()
    monkeypatch.undo()

    with pytest.raises(StoreError, match="version 4 needs migrating"):
        Store.open(path, readonly=True)
    s = Store.open(path)
    assert s.schema_version == schema.SCHEMA_VERSION >= 5
    assert s.fills("sol-grid") == (_fill(T0),)
    cp = s.load_checkpoint("sol-grid")
    assert cp is not None and (cp.cursor, cp.fill_seq) == (3, 1)
    row = SettleRow(T0 + 1, 2_000_000, "schedule")
    s.write_steps([StepRecord(bot="sol-grid", ts=T0 + 1, cursor=4, settlements=(row,), order_seq=1, fill_seq=1)])
    assert s.settlements("sol-grid") == (row,)
