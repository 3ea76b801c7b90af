"""The bundled market catalogue: real parameters, provenance, lookups, regeneration and the funding clamp."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from botrunner.core.catalogue import UnknownMarketError, load_catalogue, parse_catalogue
from botrunner.core.markets import ContractTier
from botrunner.core.operator import Asset
from botrunner.funding import market_funding_rate, max_price_divergence_for_funding
from tests.support.margin import PROTOCOL_V2, require

ROOT = Path(__file__).resolve().parents[3]


def test_catalogue_when_loaded_then_sol_perp_has_the_mainnet_parameters() -> None:
    sol = load_catalogue().perp("SOL-PERP")
    # the facts recorded for the 2026-03 mainnet snapshot (shared data README / driftpy guide)
    assert (sol.market_index, sol.margin_ratio_initial, sol.margin_ratio_maintenance) == (0, 500, 300)
    assert (sol.high_leverage_margin_ratio_initial, sol.high_leverage_margin_ratio_maintenance) == (99, 66)
    assert (sol.imf_factor, sol.step_size, sol.min_order_size, sol.tick_size) == (50, 10_000_000, 10_000_000, 100)
    assert (sol.unrealized_pnl_initial_asset_weight, sol.unrealized_pnl_maintenance_asset_weight) == (0, 10_000)
    assert sol.funding_period == 3600
    assert sol.contract_tier is ContractTier.B
    assert sol.oracle == "3m6i4RFWEDw2Ft4tFHPJtYgmpPe21k56M3FHeWYrgGBz"
    assert sol.oracle_source == "PythLazer"


def test_catalogue_when_looked_up_by_index_or_symbol_then_same_market() -> None:
    cat = load_catalogue()
    for spec in cat.perp_markets:
        assert cat.perp(spec.market_index) is cat.perp(spec.symbol.lower())
    assert {s.symbol for s in cat.perp_markets} == {"SOL-PERP", "BTC-PERP", "ETH-PERP"}
    assert (cat.spot(0).symbol, cat.spot(0).decimals) == ("USDC", 6)
    assert (cat.spot(1).symbol, cat.spot(1).decimals) == ("SOL", 9)
    assert (cat.spot(1).initial_asset_weight, cat.spot(1).maintenance_asset_weight) == (8000, 9000)
    for spec in cat.spot_markets:
        assert cat.spot_by_symbol(spec.symbol.lower()) is cat.spot(spec.market_index)


def test_every_asset_the_control_socket_accepts_is_a_catalogued_spot_market() -> None:
    # ``ctl deposit/withdraw/transfer`` take an asset name the protocol validates; the runner then reads its
    # market index and decimals from the catalogue, so no accepted name may be missing there.
    cat = load_catalogue()
    assert [(cat.spot_by_symbol(a).symbol, cat.spot_by_symbol(a).decimals) for a in Asset] == [("USDC", 6), ("SOL", 9)]


def test_catalogue_when_unknown_market_then_error_names_it() -> None:
    cat = load_catalogue()
    with pytest.raises(UnknownMarketError, match="DOGE-PERP") as exc:
        cat.perp("DOGE-PERP")
    assert isinstance(exc.value, KeyError)
    assert "SOL-PERP" in str(exc.value)  # lists what exists
    with pytest.raises(KeyError, match="unknown spot market 7"):
        cat.spot(7)
    with pytest.raises(UnknownMarketError, match="unknown spot market 'BONK'; the catalogue has USDC"):
        cat.spot_by_symbol("BONK")


def test_catalogue_when_every_entry_then_provenance_recorded() -> None:
    raw = json.loads((ROOT / "botrunner" / "data" / "markets.json").read_text())
    for entry in raw["perp"] + raw["spot"]:
        src = entry["source"]
        assert src["repo"] == "drift-labs/protocol-v2"
        assert src["file"].startswith("programs/drift/src/")
        assert src["fn"] and src["var"] and src["line"] > 0


def test_catalogue_when_loaded_then_needs_neither_driftpy_nor_shared_data() -> None:
    code = (
        "import sys; sys.modules['driftpy'] = None; "
        "from botrunner.core.catalogue import load_catalogue; "
        "print(load_catalogue().perp('SOL-PERP').margin_ratio_initial)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd="/", capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "500"


def test_catalogue_when_file_malformed_then_validation_error_names_field() -> None:
    with pytest.raises(msgspec.ValidationError, match="perp"):
        parse_catalogue(b'{"generated_by": "x", "perp": 3, "spot": []}')


def test_catalogue_when_regenerated_from_snapshots_then_identical(tmp_path: Path) -> None:
    require(PROTOCOL_V2)
    out = tmp_path / "markets.json"
    subprocess.run(
        [sys.executable, str(ROOT / "ops" / "gen_market_catalogue.py"), "--out", str(out)],
        check=True,
        capture_output=True,
    )
    assert out.read_bytes() == (ROOT / "botrunner" / "data" / "markets.json").read_bytes()


def test_funding_clamp_uses_each_catalogued_markets_contract_tier() -> None:
    cat = load_catalogue()
    sol, btc = cat.perp("SOL-PERP"), cat.perp("BTC-PERP")
    # Rust get_max_price_divergence_for_funding_rate: tier A/B -> twap / 33, C -> / 20, lower -> / 10
    assert max_price_divergence_for_funding(sol.contract_tier, 150_000_000) == 150_000_000 // 33
    assert max_price_divergence_for_funding(btc.contract_tier, 60_000_000_000) == 60_000_000_000 // 33
    # mark 10 % above the oracle: clamped to the tier cap; * 1000 / 24 (hourly funding)
    assert market_funding_rate(sol, 165_000_000, 150_000_000) == 4_545_454 * 1000 // 24
    assert market_funding_rate(sol, 135_000_000, 150_000_000) == -(4_545_454 * 1000 // 24)
    with pytest.raises(ValueError, match="positive TWAPs"):
        market_funding_rate(sol, 0, 150_000_000)
