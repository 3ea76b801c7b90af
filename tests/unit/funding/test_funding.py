"""Drift funding maths: exact on real records, signs and sums by property."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from botrunner.core.fixed import tdiv
from botrunner.core.markets import ContractTier
from botrunner.funding import (
    funding_payment,
    funding_rate,
    max_price_divergence_for_funding,
    next_funding_ts,
    rate_bps_of_price,
)
from botrunner.marketdata.candles import bundled_path

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data"


def _records(path: Path) -> list[dict[str, str]]:
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as fh:
        return list(csv.DictReader(fh))


def _fixed(text: str, precision: int) -> int:
    return int((Decimal(text) * precision).to_integral_value())


def _assert_formula_reproduces(rows: list[dict[str, str]]) -> int:
    for row in rows:
        oracle = _fixed(row["oraclePriceTwap"], 10**6)
        mark = _fixed(row["markPriceTwap"], 10**6)
        recorded = _fixed(row["fundingRate"], 10**9)
        assert funding_rate(mark, oracle, ContractTier.B) == recorded, row
    return len(rows)


def test_funding_formula_reproduces_bundled_drift_records_exactly() -> None:
    assert _assert_formula_reproduces(_records(bundled_path("SOL-PERP_drift_funding_1h.csv.gz"))) == 720
    assert _assert_formula_reproduces(_records(bundled_path("BTC-PERP_drift_funding_1h.csv.gz"))) == 720


@pytest.mark.shared_data
@pytest.mark.parametrize("market", ["SOL-PERP", "BTC-PERP"])
def test_funding_formula_reproduces_every_shared_drift_record_exactly(market: str) -> None:
    path = SHARED / "market" / "drift" / f"{market}_funding_1h.csv"
    if not path.exists():
        pytest.skip(f"{path} absent")
    assert _assert_formula_reproduces(_records(path)) == 4392


def test_offset_makes_longs_pay_when_mark_equals_oracle() -> None:
    # 200 USD oracle: 200e6 / 5000 = 40_000; * 1000 / 24 = 1_666_666 (1e9) = $0.00167 per SOL per hour
    assert funding_rate(200_000_000, 200_000_000, ContractTier.B) == 1_666_666


def test_clamp_depends_on_contract_tier() -> None:
    oracle, mark = 100_000_000, 150_000_000  # a 50 % premium: clamped everywhere
    assert funding_rate(mark, oracle, ContractTier.A) == tdiv(oracle // 33 * 1000, 24)
    assert funding_rate(mark, oracle, ContractTier.C) == tdiv(oracle // 20 * 1000, 24)
    assert funding_rate(mark, oracle, ContractTier.SPECULATIVE) == tdiv(oracle // 10 * 1000, 24)
    # 0.125 %/h for tier B, as the data README says (3 % / 24, in bps of price: 12.6 -> 12 truncated)
    assert rate_bps_of_price(funding_rate(mark, oracle, ContractTier.B), oracle) == 12


def test_negative_rates_truncate_toward_zero_like_rust() -> None:
    # mark 0.0999999 % under the oracle: spread + offset = -99_999 + 20_000 = -79_999; * 1000 / 24 = -3_333_291.6
    assert funding_rate(99_900_001, 100_000_000, ContractTier.B) == -3_333_291  # floor would give -3_333_292
    assert tdiv(-7, 2) == -3
    assert tdiv(7, -2) == -3


@settings(max_examples=300, deadline=None)
@given(
    rate=st.integers(-(10**9), 10**9),
    base=st.integers(-(10**13), 10**13).filter(lambda b: b != 0),
)
def test_funding_payment_sign_longs_pay_positive_rates(rate: int, base: int) -> None:
    paid = funding_payment(rate, base)
    exact = Decimal(-rate) * Decimal(base) / Decimal(10**18)  # rate 1e9 x base 1e9 -> USD received
    # receiver sign: a long receives when the rate is negative, a short when it is positive
    assert paid == 0 or (paid > 0) == (rate * base < 0)
    # truncation never pays more than the exact amount
    assert abs(paid) <= abs(exact * 10**6)
    assert abs(exact * 10**6) - abs(paid) < 1


@settings(max_examples=200, deadline=None)
@given(
    rates=st.lists(st.integers(-5 * 10**6, 5 * 10**6), min_size=1, max_size=48),
    base=st.integers(1, 10**12),
)
def test_a_long_and_an_equal_short_see_opposite_payments(rates: list[int], base: int) -> None:
    for rate in rates:
        assert funding_payment(rate, base) == -funding_payment(rate, -base)


@settings(max_examples=300, deadline=None)
@given(last=st.integers(1_600_000_000, 1_900_000_000))
def test_next_funding_is_always_on_an_hour_boundary_within_two_periods(last: int) -> None:
    nxt = next_funding_ts(last)
    assert nxt % 3600 == 0
    assert 0 < nxt - last <= 2 * 3600


def test_next_funding_on_real_jittered_timestamps() -> None:
    # Drift records land a few seconds after the hour; the next one is due on the following hour
    assert next_funding_ts(1_760_396_417) == 1_760_400_000
    assert next_funding_ts(1_760_396_400) == 1_760_400_000


def test_max_divergence_is_three_percent_for_tier_b() -> None:
    assert max_price_divergence_for_funding(ContractTier.B, 330_000_000) == 10_000_000
