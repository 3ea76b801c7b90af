"""Funding-history loaders: Drift records in Drift precisions, venue rates exact, strict validation."""

from __future__ import annotations

import gzip
import itertools
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from botrunner.core.markets import ContractTier
from botrunner.marketdata.candles import DataError, bundled_path
from botrunner.marketdata.funding import (
    DRIFT_FUNDING_COLUMNS,
    DriftFunding,
    DriftFundingRecord,
    load_binance_funding_8h,
    load_drift_funding,
    load_hyperliquid_funding_1h,
    parse_binance_funding_8h,
    parse_drift_funding,
    parse_hyperliquid_funding_1h,
    verify_against_formula,
)

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "market"
HEADER = ",".join(DRIFT_FUNDING_COLUMNS) + "\n"
# Two real SOL-PERP rows (the first two of the bundled slice).
ROW1 = "1757808001,-0.013416708,-0.013416708,-0.013416708,241.935113,241.564725,36953.329513\n"
ROW2 = "1757811605,-0.016782541,-0.016782541,-0.016782541,242.705307,242.253985,109972.996193\n"


def _shared(rel: str) -> Path:
    path = SHARED / rel
    if not path.exists():
        pytest.skip(f"{path} absent")
    return path


def test_drift_record_fields_are_exact_drift_precision_integers() -> None:
    f = parse_drift_funding(HEADER + ROW1 + ROW2, "t")
    r = f.records[0]
    assert (r.rate, r.rate_long, r.rate_short) == (-13_416_708, -13_416_708, -13_416_708)
    assert (r.oracle_twap, r.mark_twap, r.period_revenue) == (241_935_113, 241_564_725, 36_953_329_513)
    assert f.gaps == ()


def test_drift_record_settles_the_hour_before_its_jittered_timestamp() -> None:
    f = parse_drift_funding(HEADER + ROW1 + ROW2, "t")
    # 1757808001 is 1 s after the 1757808000 boundary; 1757811605 is 5 s after the next one
    assert [(r.hour_start, r.hour_end) for r in f.records] == [(1757804400, 1757808000), (1757808000, 1757811600)]


def test_missing_funding_hours_are_reported_as_gaps() -> None:
    later = ROW2.replace("1757811605", "1757818802")  # skips the hour starting 1757811600
    f = parse_drift_funding(HEADER + ROW1 + later, "t")
    assert f.gaps == ((1757804400, 1757815200),)
    assert len(f.between(1757808002, None).records) == 1


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (ROW2.replace("-0.016782541,-0.016782541,-0.016782541", "nan,-0.01,-0.01"), "not finite"),
        (ROW2.replace("242.705307", "-242.7"), "negative"),
        (ROW2.replace("242.705307", "0"), "zero TWAP"),
        (ROW2.replace("-0.016782541,-0", "-0.0167825411,-0"), "finer than"),
        (ROW2.replace("1757811605", "1757808001"), "duplicate timestamp"),
        (ROW2.replace("1757811605", "1757800000"), "non-monotone"),
        (ROW2.replace("1757811605", "1757808030"), "duplicate funding hour"),
        ("1757811605,1,2\n", "expected 7 columns"),
        (ROW2.replace("1757811605", "17578x"), "not an integer"),
    ],
)
def test_bad_drift_rows_are_rejected_with_file_and_line(row: str, message: str) -> None:
    with pytest.raises(DataError, match=message) as err:
        parse_drift_funding(HEADER + ROW1 + row, "drift.csv")
    assert str(err.value).startswith("drift.csv:3:")


def test_drift_bad_header_empty_and_corrupt_gzip(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="expected header"):
        parse_drift_funding("ts,rate\n" + ROW1, "x")
    with pytest.raises(DataError, match="no funding records"):
        parse_drift_funding(HEADER, "x")
    bad = tmp_path / "f.csv.gz"
    bad.write_bytes(gzip.compress((HEADER + ROW1).encode())[:25])
    with pytest.raises(DataError, match="corrupt gzip"):
        load_drift_funding(bad)


def test_formula_check_reports_a_tampered_record() -> None:
    f = parse_drift_funding(HEADER + ROW1 + ROW2, "t")
    assert verify_against_formula(f) == ()
    tampered = DriftFunding("t", (f.records[0], DriftFundingRecord(**{**_as_dict(f.records[1]), "rate": 1})))
    [mismatch] = verify_against_formula(tampered)
    assert (mismatch.ts, mismatch.recorded, mismatch.computed) == (1757811605, 1, f.records[1].rate)


def _as_dict(r: DriftFundingRecord) -> dict[str, int]:
    return {k: getattr(r, k) for k in r.__struct_fields__}


@pytest.mark.parametrize("market", ["SOL-PERP", "BTC-PERP"])
def test_bundled_drift_records_load_gap_free_and_match_the_formula_exactly(market: str) -> None:
    f = load_drift_funding(bundled_path(f"{market}_drift_funding_1h.csv.gz"))
    assert (len(f.records), f.gaps) == (720, ())
    assert verify_against_formula(f, ContractTier.B) == ()


@pytest.mark.shared_data
@pytest.mark.parametrize("market", ["SOL-PERP", "BTC-PERP"])
def test_every_shared_drift_record_matches_the_formula_exactly(market: str) -> None:
    f = load_drift_funding(_shared(f"drift/{market}_funding_1h.csv"))
    assert (len(f.records), f.gaps) == (4392, ())
    assert verify_against_formula(f) == ()
    # the jitter is seconds, never enough to blur which hour a record settles
    assert max(r.ts - r.hour_end for r in f.records) < 120


def test_venue_rates_are_exact_at_1e12_and_keep_their_period() -> None:
    b = parse_binance_funding_8h("ts,rate\n1738368000,-6.866e-05\n1738396800,3.033e-05\n", "b")
    assert [s.rate for s in b.samples] == [-68_660_000, 30_330_000]
    assert b.samples[0].rate_per_hour() == Fraction(-6866, 10**8 * 8)
    assert b.gaps == ()
    h = parse_hyperliquid_funding_1h("ts,rate\n1683849600,-0.0002365296\n1683878400,-0.0002071632\n", "h")
    assert h.samples[0].rate == -236_529_600
    assert h.samples[0].rate_per_hour() == Fraction(-2365296, 10**10)
    assert [s.interval_s for s in h.samples] == [28_800, 28_800]  # 8-hourly settlement before 2023-06-08
    assert h.gaps == ()


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("0,nan\n", "not finite"),
        ("0,0.0001\n0,0.0002\n", "duplicate timestamp"),
        ("28800,0.0001\n0,0.0002\n", "non-monotone"),
        ("0,0.0000000000001\n", "finer than"),
        ("0,abc\n", "not a number"),
    ],
)
def test_bad_venue_rate_rows_are_rejected(rows: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        parse_binance_funding_8h("ts,rate\n" + rows, "b")


def test_venue_rate_gap_is_reported() -> None:
    b = parse_binance_funding_8h("ts,rate\n0,0.0001\n28800,0.0001\n86400,0.0001\n", "b")
    assert b.gaps == ((28800, 86400),)
    with pytest.raises(DataError, match="expected header"):
        parse_binance_funding_8h("time,rate\n0,1\n", "b")


@pytest.mark.shared_data
@pytest.mark.parametrize("coin", ["SOL", "BTC", "ETH"])
def test_shared_venue_rates_load_and_gaps_are_the_known_irregular_samples(coin: str) -> None:
    b = load_binance_funding_8h(_shared(f"binance/{coin}-USDT-PERP_funding_8h.csv"))
    assert (len(b.samples), b.gaps) == (765, ())
    h = load_hyperliquid_funding_1h(_shared(f"hyperliquid/{coin}-USDC-PERP_funding_1h.csv"))
    assert len(h.samples) == 18778
    # the switch from 8-hourly to hourly settlement is not a gap; a few missing or off-grid hours are
    assert len(h.gaps) == 11
    assert (1688324400, 1688331600) in h.gaps  # one missing hour in July 2023


@settings(max_examples=200, deadline=None)
@given(
    start_hour=st.integers(400_000, 500_000),
    steps=st.lists(st.tuples(st.integers(1, 3), st.integers(0, 300)), min_size=1, max_size=30),
)
def test_drift_gaps_are_exactly_the_skipped_hours(start_hour: int, steps: list[tuple[int, int]]) -> None:
    hours = [start_hour]
    for step, _ in steps:
        hours.append(hours[-1] + step)
    jitters = [0] + [j for _, j in steps]
    rows = "".join(f"{h * 3600 + j},0,0,0,100,100,0\n" for h, j in zip(hours, jitters, strict=True))
    f = parse_drift_funding(HEADER + rows, "p")
    expected = tuple((a * 3600 - 3600, b * 3600 - 3600) for a, b in itertools.pairwise(hours) if b - a > 1)
    assert f.gaps == expected
    assert [r.hour_start for r in f.records] == [h * 3600 - 3600 for h in hours]
