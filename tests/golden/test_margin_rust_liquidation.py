"""The two User snapshots of protocol-v2 ``controller/liquidation/tests.rs`` (fn ``test``, user_str at lines 9009
and 9171), with their own markets and oracles, through our decoder and margin engine.

What the Rust tests assert: ``liquidate_perp(37, ...)`` (mod ``liquidate_dust_prediction_market``) and
``liquidate_spot(1, 3, ...)`` (mod ``liquidate_dust_spot_market``) both return ``Ok(())`` under
``MarginContext::liquidation(MARGIN_PRECISION / 50)`` (a 2 % buffer). ``liquidate_perp``/``liquidate_spot`` only
get past their guards if the user fails the maintenance check with that buffer (or is already being liquidated and
cannot exit, i.e. still fails it). The numbers below are the margin values behind that outcome, each derived by
hand from the Rust formula in its comment; the outcome itself is asserted as Rust's guard computes it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from botrunner.drift.snapshot import Snapshot, parse_snapshot
from botrunner.margin import MarginCategory, account_margin, calculate_margin, liquidation_price
from botrunner.margin.spot_balance import signed_token_amount
from tests.support.margin import FIXTURES, PROTOCOL_V2, require

LIQUIDATION_BUFFER = 10_000 // 50  # state.liquidation_margin_buffer_ratio = MARGIN_PRECISION / 50


def _load(name: str) -> Snapshot:
    return parse_snapshot((FIXTURES / name).read_bytes())


def test_rust_liquidate_dust_prediction_market_user_values() -> None:
    s = _load("liquidate_dust_prediction_market_user.json")
    a, m = s.account, s.markets
    assert (s.now, s.slot) == (1734646601, 308552347)
    sol = a.spot_position(1)
    assert sol is not None
    # SOL deposit: scaled 3_221_762 * cumulative_deposit_interest 10_366_612_724 / 1e10 = 3_339_875 lamports
    assert signed_token_amount(sol, m.spot_market(1)) == 3_339_875
    # value at the SOL oracle 196.186936: 3_339_875 * 196_186_936 / 1e9 = 655_239 ($0.655239)
    # perp 37 (KAMALA-POPULAR-VOTE-2024-BET, Prediction, Settlement, expiry_price 1):
    #   pnl = 1e9 * 1 / 1e9 + quote -632_632 = -632_631, weight 1 (a loss), no requirement once settled
    maint = calculate_margin(a, m, MarginCategory.MAINTENANCE)
    assert maint.total_collateral == 655_239 * 9000 // 10_000 - 632_631 == -42_916
    assert maint.margin_requirement == 0
    initial = calculate_margin(a, m, MarginCategory.INITIAL)
    assert initial.total_collateral == 655_239 * 8000 // 10_000 - 632_631 == -108_440
    # Rust's guard in liquidate_perp with the 2 % buffer: collateral + buffer (-632_631 * 200 / 1e4 = -12_652)
    # against requirement + buffer (liability 1e9 * oracle 2 / 1e9 = 2, * 2 % = 0): -55_568 < 0 -> liquidatable,
    # so liquidate_perp proceeds (Rust: Ok(())).
    buffered = calculate_margin(a, m, MarginCategory.MAINTENANCE, margin_buffer=LIQUIDATION_BUFFER)
    assert buffered.total_collateral_buffer == -12_652
    assert buffered.margin_requirement_plus_buffer == 0
    assert not a.being_liquidated
    assert not buffered.meets_margin_requirement_with_buffer
    r = account_margin(a, m)
    assert r.health == 0  # collateral <= 0
    # a settled market has a fixed valuation price: no liquidation price
    assert liquidation_price(a, m, 37) is None


def test_rust_liquidate_dust_spot_market_user_values() -> None:
    s = _load("liquidate_dust_spot_market_user.json")
    a, m = s.account, s.markets
    assert (s.now, s.slot) == (1734721516, 308728664)
    assert a.being_liquidated  # status = BeingLiquidated in the snapshot
    assert a.max_margin_ratio == 2000
    btc, sol = a.spot_position(3), a.spot_position(1)
    assert btc is not None and sol is not None
    # wBTC borrow: ceil(2 * 10_156_806_173 / 1e11) = 1 satoshi; SOL: 5_706 * 10_367_196_911 / 1e10 = 5_915 lamports
    assert signed_token_amount(btc, m.spot_market(3)) == -1
    assert signed_token_amount(sol, m.spot_market(1)) == 5_915
    # SOL value: 5_915 * 190.997187 = 1_129.74 -> 1_129; wBTC: -1 * 96_759.649781 / 1e8 floored -> -968
    maint = calculate_margin(a, m, MarginCategory.MAINTENANCE)
    assert maint.total_collateral == 1_129 * 9000 // 10_000 == 1_016
    assert maint.margin_requirement == 968 * 11_000 // 10_000 == 1_064  # wBTC maintenance liability weight 1.1
    initial = calculate_margin(a, m, MarginCategory.INITIAL)
    # max_margin_ratio 2000 caps asset weights at 1 - 0.2 = 0.8 and floors liability weights at 1.2
    assert initial.total_collateral == 1_129 * 8000 // 10_000 == 903
    assert initial.margin_requirement == 968 * 12_000 // 10_000 == 1_161
    # being liquidated and unable to exit (1_016 < 1_064 + 968 * 2 % = 1_083): liquidate_spot proceeds (Ok(()))
    buffered = calculate_margin(a, m, MarginCategory.MAINTENANCE, margin_buffer=LIQUIDATION_BUFFER)
    assert buffered.margin_requirement_plus_buffer == 1_064 + 968 * 200 // 10_000 == 1_083
    assert not buffered.meets_margin_requirement_with_buffer
    r = account_margin(a, m)
    assert r.health == 0  # being liquidated
    assert r.leverage == 968 * 10_000 // (1_129 - 968) == 60_124


@pytest.mark.parametrize(
    ("name", "user_line"),
    [("liquidate_dust_prediction_market_user.json", 9009), ("liquidate_dust_spot_market_user.json", 9171)],
)
def test_fixture_when_rebuilt_from_shared_snapshots_then_identical(name: str, user_line: int, tmp_path: Path) -> None:
    require(PROTOCOL_V2)
    import json
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    subprocess.run(
        [sys.executable, str(root / "ops" / "build_account_snapshot.py"), "--out-dir", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    rebuilt = json.loads((tmp_path / name).read_text())
    assert rebuilt["source"]["user_line"] == user_line
    assert rebuilt == json.loads((FIXTURES / name).read_text())
