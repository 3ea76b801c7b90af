"""``botrunner account inspect``: exact JSON shape on the two protocol-v2 liquidation users, and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from botrunner.cli import main
from tests.support.margin import FIXTURES

PERP_USER = FIXTURES / "liquidate_dust_prediction_market_user.json"
SPOT_USER = FIXTURES / "liquidate_dust_spot_market_user.json"
TOP_KEYS = {
    "sub_account_id",
    "margin_mode",
    "total_collateral",
    "margin_requirement",
    "free_collateral",
    "health",
    "leverage_x10000",
    "perp_positions",
    "spot_positions",
}
PERP_KEYS = {"market_index", "base", "quote", "entry_price", "unrealized_pnl", "liquidation_price"}


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["account", "inspect", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def _json(capsys: pytest.CaptureFixture[str], path: Path, *extra: str) -> dict[str, Any]:
    code, out, err = _run(capsys, str(path), "--json", *extra)
    assert code == 0, err
    report: dict[str, Any] = json.loads(out)
    return report


def test_inspect_json_when_perp_user_then_exact_shape_and_rust_values(capsys: pytest.CaptureFixture[str]) -> None:
    r = _json(capsys, PERP_USER)
    assert set(r) == TOP_KEYS
    for key in ("total_collateral", "margin_requirement", "free_collateral"):
        assert set(r[key]) == {"initial", "maintenance"}
        assert all(type(v) is int for v in r[key].values())
    assert r["margin_mode"] == "default"
    assert r["total_collateral"] == {"initial": -108_440, "maintenance": -42_916}
    assert r["margin_requirement"] == {"initial": 0, "maintenance": 0}
    assert r["free_collateral"] == {"initial": 0, "maintenance": 0}
    assert (r["health"], r["leverage_x10000"]) == (0, 0)
    assert r["perp_positions"] == [
        {
            "market_index": 37,
            "base": 1_000_000_000,
            "quote": -632_632,
            "entry_price": 632_000,
            "unrealized_pnl": -632_631,
            "liquidation_price": None,
        }
    ]
    assert r["spot_positions"] == [{"market_index": 1, "token_amount": 3_339_875}]


def test_inspect_json_when_spot_user_then_borrow_is_negative(capsys: pytest.CaptureFixture[str]) -> None:
    r = _json(capsys, SPOT_USER)
    assert set(r) == TOP_KEYS
    assert r["total_collateral"] == {"initial": 903, "maintenance": 1016}
    assert r["margin_requirement"] == {"initial": 1161, "maintenance": 1064}
    assert r["health"] == 0
    assert r["leverage_x10000"] == 60_124
    assert r["perp_positions"] == []
    assert r["spot_positions"] == [
        {"market_index": 3, "token_amount": -1},
        {"market_index": 1, "token_amount": 5915},
    ]


def test_inspect_json_when_strict_then_assets_at_lower_twap_and_liabilities_at_higher(
    capsys: pytest.CaptureFixture[str],
) -> None:
    plain = _json(capsys, SPOT_USER)
    strict = _json(capsys, SPOT_USER, "--strict")
    # SOL oracle 190.997187 > its 5-min twap 190.785494: 5_915 * 190.785494 = 1_128.5 -> 1_128 * 0.9 = 1_015
    assert strict["total_collateral"]["maintenance"] == 1_128 * 9000 // 10_000 == 1_015
    # wBTC twap 96_808.422276 > oracle: -1 sat -> -969 (floored) * 1.1 = 1_065 (truncated)
    assert strict["margin_requirement"]["maintenance"] == 969 * 11_000 // 10_000 == 1_065
    assert set(strict) == set(plain)


def test_inspect_when_human_output_then_report_mentions_health(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, str(SPOT_USER))
    assert code == 0
    assert "health 0/100" in out
    assert "total collateral" in out


def _write(tmp_path: Path, doc: Any) -> Path:
    p = tmp_path / "snap.json"
    p.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return p


def _fixture() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(PERP_USER.read_text())
    return doc


@pytest.mark.parametrize(
    ("name", "mutate", "message"),
    [
        ("not_json", lambda d: "{not json", "not JSON"),
        ("not_base64", lambda d: {**d, "user": "@@@not-base64@@@"}, "user: not valid base64"),
        ("wrong_account_type", lambda d: {**d, "user": d["perp_markets"][0]}, "expected a Drift User account"),
        ("perp_market_missing", lambda d: {**d, "perp_markets": []}, "perp market 37"),
        ("spot_market_missing", lambda d: {**d, "spot_markets": d["spot_markets"][:1]}, "spot market"),
        ("oracle_missing", lambda d: {**d, "oracles": d["oracles"][1:]}, "is missing from 'oracles'"),
        ("no_user", lambda d: {k: v for k, v in d.items() if k != "user"}, "missing key 'user'"),
        ("bad_now", lambda d: {**d, "now": "yesterday"}, "now"),
    ],
)
def test_inspect_when_bad_snapshot_then_one_line_error_and_nonzero_exit(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str, mutate: Any, message: str
) -> None:
    path = _write(tmp_path, mutate(_fixture()))
    code, out, err = _run(capsys, str(path), "--json")
    assert code != 0, name
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert message in lines[0]
    assert lines[0].startswith("botrunner account: error:")


def test_inspect_when_file_missing_then_one_line_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = _run(capsys, str(tmp_path / "absent.json"))
    assert code != 0
    assert len(err.strip().splitlines()) == 1
    assert "cannot read" in err


def test_inspect_when_run_as_program_then_no_traceback(tmp_path: Path) -> None:
    path = _write(tmp_path, {**_fixture(), "oracles": []})
    proc = subprocess.run(
        [sys.executable, "-m", "botrunner", "account", "inspect", str(path), "--json"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[3],
        check=False,
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
