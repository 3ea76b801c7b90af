"""The delta-neutral engine's rows in the store (schema v6): spot fills, interest and two-leg decision rows are
written in the step's one transaction and read back by time; a version 5 store upgrades keeping its rows."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from botrunner.core.records import FillRow, InterestRow, LegsRow, SpotFillRow
from botrunner.store import schema
from botrunner.store import store as store_module
from botrunner.store.store import StepRecord, Store, StoreError

T0 = 1_700_000_000


def _register(store: Store) -> None:
    store.register_bot(
        bot="sol-dn",
        authority="paper-wallet",
        subaccount_id=4,
        market="SOL-PERP",
        mode="paper",
        created_ts=T0,
        config_digest="digest-1",
    )


def _legs(ts: int, drift: int | None) -> LegsRow:
    return LegsRow(
        ts, 7, 200_000_000, 200_100_000, 40 * 10**9, -40 * 10**9, 0, drift, 100, 0, 40 * 10**9, -40 * 10**9,
        512, 240, True, "enter", "", True, 1_234_567 if drift is not None else None, "enter",
    )  # fmt: skip


def test_a_two_leg_step_stores_its_spot_fills_interest_and_decision_rows(tmp_path: Path) -> None:
    s = Store.open(tmp_path / "s.sqlite")
    _register(s)
    spot = (SpotFillRow(T0, 1, "buy", 200_200_000, 40 * 10**9, -8_008_000_000, 8_008_000),)
    interest = (InterestRow(T0, 1, 1_234), InterestRow(T0, 0, -5))
    legs = (_legs(T0, 0), _legs(T0, None))
    perp = FillRow(T0, 0, "sell", 199_000_000, 40 * 10**9, 7_960_000_000, 2_786_000, "taker", False)
    s.write_steps(
        [
            StepRecord(
                bot="sol-dn",
                ts=T0,
                cursor=1,
                fills=(perp,),
                spot_fills=spot,
                interest=interest,
                legs=legs,
                order_seq=0,
                fill_seq=1,
            )
        ]
    )
    assert s.spot_fills("sol-dn") == spot
    assert s.interest("sol-dn") == interest
    assert s.legs("sol-dn") == legs
    assert s.fills("sol-dn") == (perp,)


def test_a_version_5_store_upgrades_to_the_two_leg_tables_keeping_its_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.sqlite"
    monkeypatch.setattr(store_module, "MIGRATIONS", schema.MIGRATIONS[:5])
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", 5)
    old = Store.open(path)
    _register(old)
    fill = FillRow(T0, 1, "sell", 150_000_000, 10**9, 150_000_000, -3_750, "maker", False)
    old.write_steps([StepRecord(bot="sol-dn", ts=T0, cursor=3, fills=(fill,), order_seq=1, fill_seq=1)])
    tables = {r[0] for r in old.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "legs_decisions" not in tables
    old.close()
    monkeypatch.undo()

    with pytest.raises(StoreError, match="version 5 needs migrating"):
        Store.open(path, readonly=True)
    s = Store.open(path)
    assert s.schema_version == schema.SCHEMA_VERSION == 7
    assert s.fills("sol-dn") == (fill,)
    row = _legs(T0 + 1, 25)
    s.write_steps([StepRecord(bot="sol-dn", ts=T0 + 1, cursor=4, legs=(row,), order_seq=1, fill_seq=1)])
    assert s.legs("sol-dn") == (row,)


def test_a_version_6_store_keeps_its_legs_rows_and_gains_the_carry_engine_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.sqlite"
    monkeypatch.setattr(store_module, "MIGRATIONS", schema.MIGRATIONS[:6])
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", 6)
    old = Store.open(path)
    _register(old)
    columns = ", ".join(f.name for f in msgspec.structs.fields(LegsRow) if f.name not in {"break_even_s", "stance"})
    values = (T0, 7, 200_000_000, 200_100_000, 0, 0, 0, None, 100, 0, 0, 0, 512, 240, 0, "out_of_market:x", "", 0)
    old.conn.execute(
        f"INSERT INTO legs_decisions (bot, {columns}) VALUES ({', '.join('?' * (len(values) + 1))})",
        ("sol-dn", *values),
    )
    old.conn.commit()
    old.close()
    monkeypatch.undo()

    s = Store.open(path)
    assert s.schema_version == 7
    (row,) = s.legs("sol-dn")
    assert row.reason == "out_of_market:x" and row.break_even_s is None and not row.stance
