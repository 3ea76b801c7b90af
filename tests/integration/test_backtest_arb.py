"""``botrunner backtest`` of a ``kind: funding_arb`` bot on the shared data: it runs, its figures add up, and two
runs write the same bytes."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from tests.support.margin import SHARED_DATA, require

ROOT = Path(__file__).resolve().parents[2]
BOT = ROOT / "config" / "bots" / "sol-funding-arb.yaml"


def _run(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "botrunner",
            "backtest",
            str(BOT),
            "--data",
            str(SHARED_DATA),
            "--out",
            str(out),
            *extra,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        check=False,
    )


def _digests(out: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.iterdir())}


def test_a_window_runs_deterministically_and_its_figures_add_up(tmp_path: Path) -> None:
    require(SHARED_DATA / "market" / "hyperliquid")
    window = ("--from", "2025-05-20", "--to", "2025-06-20")
    first, second = _run(tmp_path / "a", *window), _run(tmp_path / "b", *window)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b")
    doc = json.loads((tmp_path / "a" / "summary.json").read_text())
    pnl = {k: Decimal(v) for k, v in doc["pnl"].items()}
    assert Decimal(doc["ending_equity"]) - Decimal(doc["starting_equity"]) == pnl["total"]
    assert pnl["realized"] == pnl["total"]  # flat at the end: every pair closed
    assert pnl["trades"] - pnl["leg_out_losses"] == pnl["realized"]  # PnL = closed trades - leg-out losses
    trades = (tmp_path / "a" / "trades.csv").read_text().splitlines()
    assert len(trades) - 1 == doc["trades"] == sum(doc["exits_by_reason"].values())
    assert doc["from"] == "2025-05-20T00:00:00Z"
    assert "funding_external" in doc["pnl"] and "apr_pct" in doc


def test_the_fleet_commands_refuse_it_and_the_perp_flags_do_not_apply(tmp_path: Path) -> None:
    validate = subprocess.run(
        [sys.executable, "-m", "botrunner", "validate", str(BOT)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert validate.returncode == 2
    assert "backtest only in this release" in validate.stderr
    flags = _run(tmp_path / "c", "--funding-formula")
    assert flags.returncode != 0
    assert "--funding-formula: not for kind: funding_arb" in flags.stderr
