"""The offline snapshot: funding and price as known at the scan time, metrics from candles, coverage and refusal."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from botrunner.marketdata._text import DataError
from botrunner.marketdata.candles import Candle
from botrunner.marketdata.venue_data import Coin, Venue
from botrunner.scan.offline import (
    OfflineSource,
    OutsideDataError,
    atr_ratio_bps,
    offline_snapshot,
    vwap_deviation_bps,
)
from botrunner.scan.snapshot import VenueQuote

H = 3600
T0 = 1_748_736_000  # 2025-06-01 00:00 UTC
DRIFT_HEADER = "ts,fundingRate,fundingRateLong,fundingRateShort,oraclePriceTwap,markPriceTwap,periodRevenue\n"


def _write(root: Path, rel: str, text: str) -> None:
    path = root / "market" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _candles(start: int, n: int, price: str = "150") -> str:
    rows = [f"{start + i * H},{price},{price},{price},{price},10" for i in range(n)]
    return "ts,open,high,low,close,volume\n" + "\n".join(rows) + "\n"


@pytest.fixture
def data(tmp_path: Path) -> Path:
    hl = "ts,rate\n" + "".join(f"{T0 - 3 * H + i * H},{0.0001 * (i + 1):.4f}\n" for i in range(6))
    _write(tmp_path, "hyperliquid/SOL-USDC-PERP_funding_1h.csv", hl)
    _write(tmp_path, "hyperliquid/SOL-USDC-PERP_1h.csv", _candles(T0 - 200 * H, 300, "151"))
    _write(tmp_path, "binance/SOL-USDT-PERP_funding_8h.csv", f"ts,rate\n{T0 - 8 * H},0.0008\n{T0},-0.0008\n")
    _write(tmp_path, "binance/SOL-USDT-PERP_1h.csv", _candles(T0 - 10 * H, 10))
    rows = f"{T0 + 2},0.015,0.015,0.015,150,150.1,0\n{T0 + H + 3},0.03,0.03,0.03,150,150.2,0\n"
    _write(tmp_path, "drift/SOL-PERP_funding_1h.csv", DRIFT_HEADER + rows)
    return tmp_path


def _by_venue(quotes: tuple[VenueQuote, ...]) -> dict[Venue, VenueQuote]:
    return {q.venue: q for q in quotes}


def test_funding_and_prices_known_at_the_time(data: Path) -> None:
    snap = offline_snapshot(data, T0, coins=(Coin.SOL,))
    q = _by_venue(snap.quotes)
    assert q[Venue.HYPERLIQUID].funding_rate_per_hour == 400_000_000  # the 00:00 settlement: 0.04 %/h
    assert q[Venue.BINANCE].funding_rate_per_hour == -100_000_000  # -0.08 % per 8 h
    assert q[Venue.BINANCE].next_funding_ts == T0 + 8 * H
    assert q[Venue.DRIFT].funding_rate_per_hour == 100_000_000  # 0.015 USDC on $150: 0.01 %/h
    assert q[Venue.DRIFT].bid == 150_100_000  # the mark TWAP of the hour ending at T0
    assert q[Venue.HYPERLIQUID].bid == 151_000_000 and q[Venue.HYPERLIQUID].quote_ts_ms is None
    assert q[Venue.HYPERLIQUID].atr_ratio_bps is None  # flat candles: no range to compare
    assert q[Venue.HYPERLIQUID].vwap_deviation_bps == 0
    assert q[Venue.BINANCE].atr_ratio_bps is None  # fewer than 169 bars
    assert snap.taken_ms == T0 * 1000 and snap.notes


def test_one_second_earlier_sees_only_the_earlier_settlements(data: Path) -> None:
    q = _by_venue(offline_snapshot(data, T0 - 1, coins=(Coin.SOL,)).quotes)
    assert q[Venue.HYPERLIQUID].funding_rate_per_hour == 300_000_000
    assert q[Venue.BINANCE].funding_rate_per_hour == 100_000_000
    assert Venue.DRIFT not in q  # its first record settles at T0


def test_uncovered_venues_are_unavailable_with_reasons(data: Path) -> None:
    snap = offline_snapshot(data, T0 + 3 * H, coins=(Coin.SOL, Coin.ETH))
    reasons = {(u.venue, u.coin): u.reason for u in snap.unavailable}
    assert reasons[(Venue.DRIFT, Coin.ETH)] == "no funding file in the data"
    assert reasons[(Venue.BINANCE, Coin.SOL)].startswith("candles span")  # funding ok, candles ended at T0
    assert {q.venue for q in snap.quotes} == {Venue.HYPERLIQUID, Venue.DRIFT}


def test_a_time_no_venue_covers_is_refused_naming_the_span(data: Path) -> None:
    with pytest.raises(OutsideDataError, match=r"2030-01-01T00:00Z is outside the data in .*: its funding spans"):
        offline_snapshot(data, 1_893_456_000)
    with pytest.raises(OutsideDataError, match="no funding data"):
        offline_snapshot(data / "nothing", T0)


def test_bad_rows_fail_with_file_and_line(data: Path) -> None:
    _write(data, "hyperliquid/SOL-USDC-PERP_funding_1h.csv", f"ts,rate\n{T0 - H},0.0001\n{T0},0.5\n")
    with pytest.raises(DataError, match=r"SOL-USDC-PERP_funding_1h\.csv:3: funding rate 50 %/h"):
        offline_snapshot(data, T0)


def test_offline_source_implements_the_protocol(data: Path) -> None:
    snap = asyncio.run(OfflineSource(data, T0).snapshot((Venue.HYPERLIQUID,), (Coin.SOL,)))
    assert [q.venue for q in snap.quotes] == [Venue.HYPERLIQUID]


def _bar(ts: int, high: int, low: int, close: int, volume: int = 10**9) -> Candle:
    return Candle(ts, close, high, low, close, volume)


def test_vwap_deviation_and_atr_ratio() -> None:
    bars = (_bar(0, 110, 90, 100, 3), _bar(1, 210, 190, 200, 1))
    # typical prices 100 and 200, volume 3:1 -> VWAP 125; last close 200 is 60 % above
    assert vwap_deviation_bps(bars) == 6_000
    assert vwap_deviation_bps((_bar(0, 1, 1, 1, 0),)) is None
    calm = [_bar(i, 102, 98, 100) for i in range(155)]
    wild = [_bar(155 + i, 108, 92, 100) for i in range(14)]
    # ranges: 154 bars of 4 then 14 of 16 -> mean(last 14) = 16, mean(last 168) = (154*4 + 14*16)/168 = 5
    assert atr_ratio_bps(tuple(calm + wild)) == 32_000
    assert atr_ratio_bps(tuple(calm)) is None  # 155 bars < 169
