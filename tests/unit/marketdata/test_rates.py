"""The rate-series loader: exact parsing, the lookup in force at a time, and one-line errors for bad input."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from botrunner.marketdata._text import DataError
from botrunner.marketdata.rates import RateSample, load_rate_series, parse_rate_series

GOOD = "ts,deposit_apr,borrow_apr\n100,0.045,0.09\n200,0.05,0.1\n400,0,0.0123456789\n"


def test_rates_when_valid_then_fractions_become_1e6_aprs() -> None:
    series = parse_rate_series(GOOD, "r.csv")
    assert series.samples == (
        RateSample(100, 45_000, 90_000),
        RateSample(200, 50_000, 100_000),
        RateSample(400, 0, 12_346),  # rounded half-even to 1e-6
    )


def test_rates_at_when_between_samples_then_the_earlier_one_is_in_force() -> None:
    series = parse_rate_series(GOOD, "r.csv")
    assert series.at(99) is None
    assert series.at(100) == RateSample(100, 45_000, 90_000)
    assert series.at(199) == RateSample(100, 45_000, 90_000)
    assert series.at(200) == RateSample(200, 50_000, 100_000)
    assert series.at(10**12) == RateSample(400, 0, 12_346)


def test_rates_load_when_gzip_then_same_series(tmp_path: Path) -> None:
    plain, packed = tmp_path / "r.csv", tmp_path / "r.csv.gz"
    plain.write_text(GOOD)
    packed.write_bytes(gzip.compress(GOOD.encode()))
    assert load_rate_series(plain).samples == load_rate_series(packed).samples
    assert load_rate_series(packed).source == str(packed)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ts,deposit_apr\n1,0.1\n", "r.csv:1: expected header ts,deposit_apr,borrow_apr"),
        ("ts,deposit_apr,borrow_apr\n1,0.1\n", "r.csv:2: expected 3 columns, got 2"),
        ("ts,deposit_apr,borrow_apr\n2,0.1,0.2\n1,0.1,0.2\n", "r.csv:3: non-monotonic timestamp 1 after 2"),
        ("ts,deposit_apr,borrow_apr\n2,0.1,0.2\n2,0.1,0.2\n", "r.csv:3: duplicate timestamp 2 after 2"),
        ("ts,deposit_apr,borrow_apr\n1,-0.01,0.2\n", "r.csv:2: deposit_apr='-0.01' is negative"),
        ("ts,deposit_apr,borrow_apr\n1,0.01,10.5\n", "r.csv:2: borrow_apr='10.5' is implausible"),
        ("ts,deposit_apr,borrow_apr\n1,nan,0.2\n", "r.csv:2: deposit_apr='nan' is not finite"),
        ("ts,deposit_apr,borrow_apr\n1,abc,0.2\n", "r.csv:2: deposit_apr='abc' is not a number"),
        ("ts,deposit_apr,borrow_apr\n1.5,0.1,0.2\n", "r.csv:2: ts='1.5' is not an integer"),
        ("ts,deposit_apr,borrow_apr\n", "r.csv: no rates"),
    ],
)
def test_rates_when_bad_input_then_one_line_error_naming_file_and_line(text: str, message: str) -> None:
    with pytest.raises(DataError) as info:
        parse_rate_series(text, "r.csv")
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_rates_when_ten_exactly_then_accepted() -> None:
    assert parse_rate_series("ts,deposit_apr,borrow_apr\n1,10,10\n", "r.csv").samples[0].borrow_apr == 10_000_000


def test_rates_load_when_missing_file_then_error_names_it(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.csv: cannot read"):
        load_rate_series(tmp_path / "nope.csv")
