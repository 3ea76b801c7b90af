"""``botrunner backtest config/bots/sol-delta-neutral.yaml`` end to end (a subprocess): the two-leg outputs are
written, their figures add up, and a second run writes byte-identical files."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.integration, pytest.mark.slow]
FILES = ("summary.json", "fills.csv", "spot_fills.csv", "interest.csv", "legs.csv", "report.html")


def _run(out: Path, *extra: str) -> None:
    cmd = [sys.executable, "-m", "botrunner", "backtest", "config/bots/sol-delta-neutral.yaml", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([*cmd, "--quiet", *extra], cwd=ROOT, env=env, check=True, capture_output=True, timeout=600)


def _digests(out: Path) -> dict[str, str]:
    return {name: hashlib.sha256((out / name).read_bytes()).hexdigest() for name in FILES}


def test_backtest_delta_neutral_writes_two_leg_outputs_deterministically(tmp_path: Path) -> None:
    _run(tmp_path / "a")
    _run(tmp_path / "b")
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b")
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["strategy"] == "delta_neutral"
    pnl = {k: Decimal(v) for k, v in summary["pnl"].items()}
    assert pnl["total"] == (
        pnl["realized"] + pnl["unrealized"] + pnl["funding"] - pnl["fees"] + pnl["spot_trading"] - pnl["spot_fees"]
        + pnl["interest"] - pnl["tx_costs"]
    )  # fmt: skip
    assert Decimal(summary["ending_equity"]) - Decimal(summary["starting_equity"]) == pnl["total"]
    legs = summary["two_legs"]
    assert set(legs["carry"]) >= {"funding_received", "funding_paid", "interest", "tx_costs", "interest_source"}
    # every booked PlaceLegs is one transaction, charged at the SOL price of its moment (config/live.py defaults:
    # 5,000 lamports base + 10,000 micro-lamports x 300,000 CU = 8,000 lamports, about $0.0012 at $150)
    assert Decimal(legs["carry"]["tx_costs"]) == pnl["tx_costs"]
    assert (pnl["tx_costs"] > 0) == bool(legs["trades"])
    time = legs["time"]
    assert time["stance_in_s"] + time["stance_out_s"] == summary["bars"] * 300
    with (tmp_path / "a" / "legs.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) >= summary["bars"]  # one per decision (plus one per refused PlaceLegs)
    assert {"drift_pct", "net_delta", "correction_base", "carry_apr_pct", "reason", "blocked"} <= set(rows[0])
    # the example's paper.interest is on and said so; the carry engine's reasons are counted, one per decision
    assert legs["carry"]["interest_source"].startswith("usdc: curve at utilisation 69.3523 %; sol: curve at")
    assert Decimal(legs["carry"]["interest_usdc"]) > 0 and pnl["interest"] != 0
    assert sum(legs["stances"].values()) == len([r for r in rows if r["stance"]]) >= summary["bars"]
    assert {r["stance"] for r in rows} <= set(legs["stances"])
    report = (tmp_path / "a" / "report.html").read_text()
    assert "Delta-neutral carry" in report and "chart-drift" in report and "stance: " in report
    # the spot leg's books from its fills: what its sells realised plus what it holds at the last oracle is the
    # pnl split's spot trading, exactly; the entry is our average cost (Drift keeps none for a balance)
    spot = legs["spot_leg"]
    assert Decimal(spot["realized_trading"]) + Decimal(spot["unrealized_trading"]) == pnl["spot_trading"]
    assert spot["entry"] is None or Decimal(spot["entry"]) > 0
