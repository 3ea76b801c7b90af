"""Candle loading: exact integer prices, strict validation naming file and line."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from botrunner.marketdata.candles import DataError, bundled_path, load_candles, parse_candles

HEADER = "ts,open,high,low,close,volume\n"


def test_prices_become_exact_1e6_integers() -> None:
    c = parse_candles(HEADER + "0,105.84,106.24,105.45,105.49,190190.0\n300,105.5,105.88,105.02,105.05,1.5\n", "t")
    assert c.bars[0].close == 105_490_000
    assert c.bars[1].volume == 1_500_000_000
    assert c.interval_s == 300
    assert c.gaps == ()


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("300,1,2,0.5,nan,1", "not finite"),
        ("300,1,2,0.5,abc,1", "not a number"),
        ("300,1,2,0.5,-1,1", "negative"),
        ("300,1,2,1.5,1,1", "do not bound"),
        ("0,1,2,0.5,1,1", "duplicate timestamp"),
        ("-5,1,2,0.5,1,1", "non-monotone"),
        ("300,1,2,0.5,1", "expected 6 columns"),
        ("x,1,2,0.5,1,1", "not an integer"),
    ],
)
def test_bad_rows_are_rejected_with_file_and_line(row: str, message: str) -> None:
    with pytest.raises(DataError, match=message) as err:
        parse_candles(HEADER + "0,1,2,0.5,1,1\n" + row + "\n", "bars.csv")
    assert str(err.value).startswith("bars.csv:3:")


def test_wrong_header_and_empty_file_are_errors() -> None:
    with pytest.raises(DataError, match="expected header"):
        parse_candles("time,o,h,l,c,v\n", "x")
    with pytest.raises(DataError, match="no candles"):
        parse_candles(HEADER, "x")


def test_gaps_are_reported_not_repaired() -> None:
    c = parse_candles(HEADER + "0,1,1,1,1,1\n300,1,1,1,1,1\n600,1,1,1,1,1\n1500,1,1,1,1,1\n", "x")
    assert c.interval_s == 300
    assert c.gaps == ((600, 1500),)
    assert len(c.between(300, 1500).bars) == 2


def test_gzip_and_corrupt_gzip(tmp_path: Path) -> None:
    good = tmp_path / "a.csv.gz"
    good.write_bytes(gzip.compress((HEADER + "0,1,1,1,1,1\n").encode()))
    assert len(load_candles(good).bars) == 1
    bad = tmp_path / "b.csv.gz"
    bad.write_bytes(gzip.compress(b"x" * 100)[:20])
    with pytest.raises(DataError, match="corrupt gzip"):
        load_candles(bad)
    with pytest.raises(DataError, match="cannot read"):
        load_candles(tmp_path / "missing.csv")


def test_bundled_slice_is_complete_and_gap_free() -> None:
    sol = load_candles(bundled_path("SOL-USDT-PERP_binance_5m.csv.gz"))
    assert (sol.interval_s, len(sol.bars), sol.gaps) == (300, 8640, ())
    for name in ("BTC-USDT-PERP_binance_1h.csv.gz", "ETH-USDT-PERP_binance_1h.csv.gz"):
        c = load_candles(bundled_path(name))
        assert (c.interval_s, len(c.bars), c.gaps) == (3600, 720, ())
