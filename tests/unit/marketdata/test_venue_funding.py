"""Normalised hourly funding: one sign convention and unit across Drift, Hyperliquid and Binance; the bound."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from botrunner.marketdata._text import DataError
from botrunner.marketdata.funding import DRIFT_FUNDING_COLUMNS, FUNDING_FRACTION_PRECISION
from botrunner.marketdata.venue_data import Coin, Venue
from botrunner.marketdata.venue_funding import (
    MAX_PLAUSIBLE_RATE_PER_HOUR,
    FundingPoint,
    load_from_data_dir,
    parse_venue_funding,
)

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data"
DRIFT_HEADER = ",".join(DRIFT_FUNDING_COLUMNS) + "\n"
DRIFT_ROW = "1757808001,-0.013416708,-0.013416708,-0.013416708,241.935113,241.564725,36953.329513\n"


def test_drift_rate_becomes_a_fraction_of_the_oracle_twap_on_the_hour() -> None:
    f = parse_venue_funding(DRIFT_HEADER + DRIFT_ROW, "d.csv", Venue.DRIFT, Coin.SOL)
    (p,) = f.points
    assert p.ts == 1757808000 and p.period_s == 3600  # the hour boundary the jittered record follows
    exact = Fraction("-0.013416708") / Fraction("241.935113") * FUNDING_FRACTION_PRECISION
    assert p.rate_per_hour == int(exact)  # truncated toward zero
    assert p.rate_per_hour < 0  # negative: shorts paid longs, as Drift's sign says


def test_hyperliquid_is_already_per_hour() -> None:
    f = parse_venue_funding("ts,rate\n1753498800,3.25373e-05\n", "h.csv", Venue.HYPERLIQUID, Coin.SOL)
    assert f.points == (FundingPoint(1753498800, 3600, 32_537_300),)


def test_hyperliquid_8_hourly_era_keeps_its_settlement_period() -> None:
    f = parse_venue_funding("ts,rate\n1683849600,-0.0002365296\n", "h.csv", Venue.HYPERLIQUID, Coin.SOL)
    assert f.points[0].period_s == 8 * 3600 and f.points[0].rate_per_hour == -236_529_600


def test_binance_8h_rate_is_divided_by_8_and_settles_every_8h() -> None:
    f = parse_venue_funding("ts,rate\n1738368000,-6.866e-05\n", "b.csv", Venue.BINANCE, Coin.SOL)
    (p,) = f.points
    assert p == FundingPoint(1738368000, 8 * 3600, -8_582_500)
    assert p.period_rate() == -68_660_000  # the published 8-hour rate, exactly


def test_rate_beyond_the_bound_is_rejected_naming_file_and_line() -> None:
    text = "ts,rate\n1753495200,0.0001\n\n1753498800,0.0401\n"  # the blank line: line numbers stay the file's
    with pytest.raises(DataError, match=r"^h\.csv:4: funding rate 4\.01 %/h is beyond the plausibility bound of 4 %/h"):
        parse_venue_funding(text, "h.csv", Venue.HYPERLIQUID, Coin.SOL)


def test_rate_at_the_bound_is_accepted_and_binance_bound_is_per_hour() -> None:
    ok = parse_venue_funding("ts,rate\n1753498800,-0.04\n", "h.csv", Venue.HYPERLIQUID, Coin.SOL)
    assert ok.points[0].rate_per_hour == -MAX_PLAUSIBLE_RATE_PER_HOUR
    # 30 % per 8 h is 3.75 %/h: plausible; 33 % per 8 h is 4.125 %/h: not
    parse_venue_funding("ts,rate\n1738368000,0.3\n", "b.csv", Venue.BINANCE, Coin.SOL)
    with pytest.raises(DataError, match=r"^b\.csv:2: "):
        parse_venue_funding("ts,rate\n1738368000,0.33\n", "b.csv", Venue.BINANCE, Coin.SOL)


def test_drift_rate_beyond_the_bound_is_rejected() -> None:
    # 10 USDC per SOL per hour on a $241 oracle: 4.1 %/h
    bad = "1757808001,10,10,10,241.935113,241.564725,0\n"
    with pytest.raises(DataError, match=r"^d\.csv:3: funding rate 4\.13"):
        parse_venue_funding(
            DRIFT_HEADER + DRIFT_ROW.replace("1757808001", "1757804401") + bad, "d.csv", Venue.DRIFT, Coin.SOL
        )


def test_at_never_looks_ahead_and_next_settlement_follows_the_schedule() -> None:
    text = "ts,rate\n1738368000,0.0001\n1738396800,0.0002\n"
    f = parse_venue_funding(text, "b.csv", Venue.BINANCE, Coin.BTC)
    assert f.at(1738367999) is None
    assert f.at(1738368000) == f.points[0]
    assert f.at(1738396799) == f.points[0]
    assert f.at(1738396800) == f.points[1]
    assert f.next_settlement(1738368000) == 1738396800
    assert f.next_settlement(1738370000) == 1738396800
    assert f.between(1738368001, None) == (f.points[1],)


def test_malformed_rows_keep_the_loader_errors() -> None:
    with pytest.raises(DataError, match=r"^h\.csv:3: duplicate timestamp"):
        parse_venue_funding("ts,rate\n1,0.1\n1,0.1\n", "h.csv", Venue.HYPERLIQUID, Coin.SOL)


def test_every_shared_funding_file_loads_within_the_bound() -> None:
    if not SHARED.exists():
        pytest.skip("../shared/data absent")
    largest = 0
    loaded = 0
    for venue in Venue:
        for coin in Coin:
            f = load_from_data_dir(SHARED, venue, coin)
            if f is None:
                continue
            loaded += 1
            largest = max(largest, *(abs(p.rate_per_hour) for p in f.points))
    assert loaded == 8  # Drift SOL/BTC, Hyperliquid and Binance SOL/BTC/ETH
    assert largest == 872_427_500  # Hyperliquid SOL, 0.087 %/h: 46x below the bound
    assert largest * 45 < MAX_PLAUSIBLE_RATE_PER_HOUR
