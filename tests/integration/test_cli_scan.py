"""`botrunner scan` as a user runs it: a ranked table and parseable JSON from ../shared/data at 2025-06-01, and
clear refusals (a time outside the data, a bad time, no --data)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "botrunner", "scan", *args],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )


@pytest.fixture
def shared() -> Path:
    if not SHARED.exists():
        pytest.skip("../shared/data absent")
    return SHARED


def test_table_at_2025_06_01(shared: Path) -> None:
    res = _cli("--data", str(shared), "--at", "2025-06-01")
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "not checkable" in out and "provisional" in out  # offline: depth and freshness cannot be checked
    assert "unavailable: drift/ETH: no funding file in the data" in out
    rows = [line.split() for line in out.splitlines() if line[:1].isdigit()]
    assert len(rows) == 7  # SOL: 3 pairs, BTC: 3 pairs, ETH: 1 pair (no Drift ETH)
    assert rows[0][:5] == ["1", "BTC", "binance", "hyperliquid", "0.0013"]
    assert "(7 of 7 venue pairs shown)" in out


def test_json_parses_and_says_what_is_unavailable(shared: Path) -> None:
    res = _cli("--data", str(shared), "--at", "2025-06-01T00:00:00Z", "--json", "--top", "5")
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["at"] == "2025-06-01T00:00:00Z" and report["pairs"] == 7
    rows = report["opportunities"]
    assert [r["rank"] for r in rows] == [1, 2, 3, 4, 5]
    top = rows[0]
    # Hyperliquid BTC 0.00125 %/h minus Binance BTC -0.000582 % per 8 h / 8
    assert (top["coin"], top["long"], top["short"], top["delta_per_hour_1e12"]) == (
        "BTC",
        "binance",
        "hyperliquid",
        13_227_500,
    )
    for r in rows:
        assert r["tradable"] is False
        assert (r["score"] == 0) == (r["reason"] is not None)
        unavailable = {m["metric"] for m in r["metrics"] if not m["available"]}
        assert {"book_imbalance", "open_interest", "liquidation_clusters"} <= unavailable
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    assert {"venue": "drift", "coin": "ETH", "reason": "no funding file in the data"} in report["unavailable"]


def test_refusals_are_one_clear_line(shared: Path, tmp_path: Path) -> None:
    outside = _cli("--data", str(shared), "--at", "2030-01-01")
    assert outside.returncode == 2
    assert "is outside the data" in outside.stderr and "Traceback" not in outside.stderr
    bad = _cli("--data", str(shared), "--at", "June")
    assert bad.returncode == 2 and "--at 'June': not a date" in bad.stderr
    none = _cli("--at", "2025-06-01")
    assert none.returncode == 2 and "needs both --data DIR and --at TIME" in none.stderr
    empty = _cli("--data", str(tmp_path), "--at", "2025-06-01")
    assert empty.returncode == 2 and "no funding data" in empty.stderr


def test_venue_and_coin_filters(shared: Path) -> None:
    res = _cli("--data", str(shared), "--at", "2025-06-01", "--coin", "ETH", "--venue", "binance", "--venue", "drift")
    assert res.returncode == 0, res.stderr
    rows = [line.split() for line in res.stdout.splitlines() if line[:1].isdigit()]
    assert rows == []  # Drift has no ETH: no pair left
    assert "unavailable: drift/ETH: no funding file in the data" in res.stdout
    assert "(0 of 0 venue pairs shown)" in res.stdout
