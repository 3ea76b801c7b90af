"""Locating each venue's funding and candles in a --data directory (both layouts), and None for what is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from botrunner.marketdata.candles import bundled_path
from botrunner.marketdata.venue_data import Coin, Venue, candles_path, funding_path, locate, market_root

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data"


def _touch(root: Path, rel: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("ts,rate\n")
    return path


def test_shared_layout_under_market_dir(tmp_path: Path) -> None:
    hl = _touch(tmp_path, "market/hyperliquid/SOL-USDC-PERP_funding_1h.csv")
    bn = _touch(tmp_path, "market/binance/ETH-USDT-PERP_funding_8h.csv")
    dr = _touch(tmp_path, "market/drift/BTC-PERP_funding_1h.csv")
    c5 = _touch(tmp_path, "market/binance/SOL-USDT-PERP_5m.csv.gz")
    assert market_root(tmp_path) == tmp_path / "market"
    assert funding_path(tmp_path, Venue.HYPERLIQUID, Coin.SOL) == hl
    assert funding_path(tmp_path, Venue.BINANCE, Coin.ETH) == bn
    assert funding_path(tmp_path, Venue.DRIFT, Coin.BTC) == dr
    assert funding_path(tmp_path, Venue.DRIFT, Coin.ETH) is None
    assert candles_path(tmp_path, Venue.BINANCE, Coin.SOL, "5m") == c5
    assert candles_path(tmp_path, Venue.BINANCE, Coin.SOL, "1h") is None
    # pointing --data at the market directory itself finds the same files
    assert funding_path(tmp_path / "market", Venue.HYPERLIQUID, Coin.SOL) == hl


def test_drift_never_has_candles(tmp_path: Path) -> None:
    _touch(tmp_path, "drift/SOL-PERP_5m.csv.gz")
    assert candles_path(tmp_path, Venue.DRIFT, Coin.SOL, "5m") is None


def test_bundled_flat_layout_is_found() -> None:
    data = bundled_path("")
    files = locate(data, Venue.DRIFT, Coin.SOL)
    assert files.funding is not None and files.funding.name == "SOL-PERP_drift_funding_1h.csv.gz"
    binance = locate(data, Venue.BINANCE, Coin.SOL)
    assert binance.candles_5m is not None and binance.candles == binance.candles_5m
    assert binance.funding is None  # no Binance funding is bundled


def test_missing_directory_finds_nothing(tmp_path: Path) -> None:
    files = locate(tmp_path / "nope", Venue.HYPERLIQUID, Coin.BTC)
    assert (files.funding, files.candles_5m, files.candles_1h, files.candles) == (None, None, None, None)


def test_shared_data_has_every_documented_file() -> None:
    if not SHARED.exists():
        pytest.skip("../shared/data absent")
    for coin in Coin:
        hl = locate(SHARED, Venue.HYPERLIQUID, coin)
        assert hl.funding is not None and hl.candles_5m is not None and hl.candles_1h is not None
        bn = locate(SHARED, Venue.BINANCE, coin)
        assert bn.funding is not None and bn.candles_1h is not None
    assert locate(SHARED, Venue.DRIFT, Coin.SOL).funding is not None
    assert locate(SHARED, Venue.DRIFT, Coin.ETH).funding is None
