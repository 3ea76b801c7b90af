"""The engine vault's spot entry and spot trading PnL survive a restart: the paper bot actor rebuilds the SOL
fills' books (``botrunner.margin.spot_basis``) from the store, which wrote them in the same transactions as the
venue's checkpoint, so ``ctl bot`` after a restart shows what it showed before (the venue is the truth for the
balance, the fills for the basis)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from botrunner.core.operator import ShowBot
from botrunner.runner import Runner, RunOptions
from botrunner.store import Store
from tests.support.delta_neutral import NAME, write_delta_neutral_bot
from tests.support.runtime import ask, short_dir, small_fleet, small_market

pytestmark = [pytest.mark.integration]


def _run_once(fleet: Path, run_dir: Path, data: Path) -> dict[str, Any]:
    runner = Runner(RunOptions(fleet=fleet, run_dir=run_dir, speed="max", data_dir=data))
    runner.start()
    try:
        runner.drain()
        detail: dict[str, Any] = ask(runner, ShowBot(name=NAME))
        return detail
    finally:
        runner.shutdown()


def test_the_spot_entry_and_spot_trading_pnl_survive_a_restart() -> None:
    work = short_dir()
    fleet = small_fleet(work / "fleet", ("alpha",))
    write_delta_neutral_bot(fleet)
    data = small_market(work / "data")
    before = _run_once(fleet, work / "run", data)
    vault = before["vault"]
    assert vault["spot_entry"] is not None and Decimal(vault["spot_entry"]) > 0  # it bought SOL: an average cost
    stored = list((work / "run").rglob("*.db")) or list((work / "run").rglob("*.sqlite*"))
    assert stored, "the run wrote no store"
    after = _run_once(fleet, work / "run", data)  # resumes from the checkpoint: nothing left to replay
    assert after["vault"] == vault
    assert after["legs"]["spot_entry"] == before["legs"]["spot_entry"] == vault["spot_entry"]
    with Store.open(stored[0], readonly=True) as store:
        assert store.spot_fills(NAME), "the spot fills the books were rebuilt from"
