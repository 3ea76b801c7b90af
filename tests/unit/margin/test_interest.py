"""Drift's spot interest maths (botrunner.margin.interest) against protocol-v2's own Rust test assertions and the
real SpotMarket snapshots in ../shared/data/drift-accounts."""

from __future__ import annotations

import base64

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from botrunner.core.precision import SPOT_CUMULATIVE_INTEREST_PRECISION
from botrunner.drift.codec import decode_account
from botrunner.drift.convert import spot_interest_market, spot_rate_curve
from botrunner.margin.interest import (
    ONE_YEAR_S,
    SPOT_UTILIZATION_PRECISION,
    SpotInterestMarket,
    SpotRateCurve,
    accrue,
    accumulated_interest,
    borrow_rate,
    current_rates,
    deposit_rate,
    rates_at,
    utilization,
)
from tests.support.margin import protocol_v2_raw

SPOT_BALANCE = 10**9

# The SOL SpotMarket account protocol-v2 embeds in controller/spot_balance/tests.rs
# (test_multi_stage_borrow_rate_curve_sol, commit 0ae3e3b1, Apache-2.0): account bytes, used here as test data.
SOL_CURVE_MARKET_B64 = (
    "ZLEIa6hBQSe8mOScO4Q3gPiYlmy/ytlG/cnYQTYnRtaSWXsTV1MIDdyLk9ix4D+qm1SCoZnNadQyNDlZvAA3W5B/Hvp4Nzsj/NFB6YMsrxCtkXSV"
    "yg8nG1spPNRwJ+pzcAftQOs5oL2NnO4AQjaj0aPvLSuAhrujNBdQ4Oed3CsiKSwbXOb62kppdG9TT0wtMyAgICAgICAgICAgICAgICAgICAgICAg"
    "2MDRDAAAAAAAAAAAAAAAACkAAAAAAAAAjZzNDAAAAAAbptAMAAAAAPsfNmgAAAAAkcXoCgAAAACRxegKAAAAAJHF6AoAAAAAkcXoCgAAAAAAAAAA"
    "AAAAANw38AgAAAAAAAAAAAAAAAAoAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAUO6uqOFP+6m2IqCEcWIRS4KbJ19gSCx97MQnTm2zea"
    "sJI7ow8AAAAAAAAAAAAAAPjT3YsPAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAgCMRAAAAAABwGjZoAAAAABAOAAAAAAAAoIYBAFDDAAAAAAAA"
    "AAAAAAAAAAAAAAAAYklbkYUcAAAAAAAAAAAAAKtaiR+OFwAAAAAAAAAAAACObuFUAgAAAAAAAAAAAAAAn39RVQIAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAKByThgJAAAAgN1isiECAP6BWLcJHQAASD6HE6UXAADpbgwAAAAAAPsfNmgAAAAA+x82aAAAAAAAAAAA"
    "AAAAAICWmAAAAAAAZAAAAAAAAACAlpgAAAAAAAAAAAAAAAAAAQAAAAAAAACwBwAAAAAAADQhAAAiJAAA7CwAAP4pAAAyAAAAiBMAAJg6AAAANQwA"
    "IE4AACChBwAJAAAAKAABCwEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAEDlnDASAAAABQABAQAAAwAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAA="
)


def _decoded(raw: bytes) -> object:
    return decode_account(raw, expect="SpotMarket", what="snapshot")


def test_multi_stage_curve_on_protocol_v2_sol_market() -> None:
    """protocol-v2 test_multi_stage_borrow_rate_curve_sol: its asserted rates, monotone, five slope changes."""
    curve = spot_rate_curve(_decoded(base64.b64decode(SOL_CURVE_MARKET_B64)))
    assert borrow_rate(curve, 845_000) == 41_600
    assert borrow_rate(curve, 985_000) == 248_000
    assert borrow_rate(curve, 1_000_000) == 500_000 == curve.max_borrow_rate
    assert abs(borrow_rate(curve, curve.optimal_utilization) - curve.optimal_borrow_rate) <= 1
    last = last_delta = jumps = 0
    for i in range(201):
        rate = borrow_rate(curve, i * 5_000)
        assert rate >= last
        if last_delta and rate - last > last_delta + 1:
            jumps += 1
        assert rate - last >= max(last_delta - 1, 0)
        last_delta, last = rate - last, rate
    assert jumps == 5


def test_multi_stage_curve_synthetic_usdc() -> None:
    """protocol-v2 test_multi_stage_borrow_rate_curve: 70 % kink, 10 % at the kink, 500 % at 100 %."""
    curve = SpotRateCurve(optimal_utilization=700_000, optimal_borrow_rate=100_000, max_borrow_rate=5_000_000)
    assert abs(borrow_rate(curve, 700_000) - 100_000) <= 1
    assert borrow_rate(curve, 1_000_000) == 5_000_000
    assert borrow_rate(curve, 0) == 0
    # the first segment (70 % -> 85 %) carries 5 % of the extra 490 %: 24.5 % over 15 points of utilisation
    assert borrow_rate(curve, 850_000) == 100_000 + 245_000


def _min_rate_market(min_borrow_rate: int, borrowed: bool) -> SpotInterestMarket:
    deposit = 100_000_000 * SPOT_BALANCE
    return SpotInterestMarket(
        market_index=0,
        decimals=6,
        # SpotMarket::default(): every rate parameter 0 except the floor; optimal_utilization 0 is not a curve we
        # accept, and below the kink the slope of a zero optimal rate is 0 either way.
        curve=SpotRateCurve(
            optimal_utilization=1, optimal_borrow_rate=0, max_borrow_rate=0, min_borrow_rate=min_borrow_rate
        ),
        deposit_balance=deposit,
        borrow_balance=deposit // 100 if borrowed else 0,
    )


@pytest.mark.parametrize(
    ("min_rate", "borrowed", "now", "borrow_inc", "deposit_inc"),
    [
        (0, False, 30 + 10_000, 0, 0),
        (1, False, 30 + 10_000, 0, 0),
        (1, True, 30 + 10_000, 15_903, 159),
        (10, True, 30 + 10_000, 159_025, 1_590),
        (10, True, 30 + 1_000_000, 15_855_372, 158_553),
        (200, True, 30 + 1_000_000, 317_107_433, 3_171_074),
    ],
)
def test_min_borrow_rate_accumulation(
    min_rate: int, borrowed: bool, now: int, borrow_inc: int, deposit_inc: int
) -> None:
    """protocol-v2 check_spot_market_min_borrow_rate, every assertion."""
    acc = accumulated_interest(_min_rate_market(min_rate, borrowed), now)
    assert (acc.borrow_interest, acc.deposit_interest) == (borrow_inc, deposit_inc)


def _token(balance: int, cumulative: int, decimals: int, *, borrow: bool) -> int:
    num = balance * cumulative
    dec = 10 ** (19 - decimals)
    return -(-num // dec) if borrow else num // dec


def test_fee_collection_accrual_sequence() -> None:
    """protocol-v2 check_fee_collection: the cumulative interests, the revenue pool and the token totals after
    three updates (100 s, 7,500 s, then a year and 750 s)."""
    market = SpotInterestMarket(
        market_index=0,
        decimals=6,
        curve=SpotRateCurve(
            optimal_utilization=500_000,
            optimal_borrow_rate=20_000_000,
            max_borrow_rate=50_000_000,
            insurance_total_factor=1_000,
        ),
        deposit_balance=SPOT_BALANCE,
        borrow_balance=125_000_001,
    )
    market = accrue(market, 100)
    assert (market.cumulative_deposit_interest, market.cumulative_borrow_interest) == (10_000_019_799, 10_000_158_551)
    assert (market.revenue_pool_balance, market.last_interest_ts) == (0, 100)
    assert (market.deposit_tokens, market.borrow_tokens) == (1_000_001, 125_002)
    market = accrue(market, 7_500)
    assert (market.cumulative_deposit_interest, market.cumulative_borrow_interest) == (10_001_484_937, 10_011_891_454)
    assert (market.deposit_tokens, market.borrow_tokens, market.revenue_pool_balance) == (1_000_148, 125_149, 0)
    market = accrue(market, 750 + ONE_YEAR_S)
    assert (market.cumulative_deposit_interest, market.cumulative_borrow_interest) == (16_257_818_378, 60_112_684_636)
    assert market.revenue_pool_balance == 385_045
    assert (market.deposit_tokens, market.borrow_tokens) == (1_626_407, 751_409)
    # Rust reads the pool's tokens with the Borrow type here (cumulative borrow interest, rounded up): 2,315
    assert _token(market.revenue_pool_balance, market.cumulative_borrow_interest, 6, borrow=True) == 2_315


def test_accrue_does_nothing_without_time_or_borrows() -> None:
    market = _min_rate_market(10, borrowed=True)
    later = accrue(market, 1_000)
    assert accrue(later, 1_000) == later
    assert accrue(later, 999) == later
    idle = _min_rate_market(10, borrowed=False)
    assert accrue(idle, 10**6) == idle


def test_utilization_edges() -> None:
    assert utilization(0, 0) == 0
    assert utilization(0, 5) == SPOT_UTILIZATION_PRECISION
    assert utilization(3, 1) == 333_333
    with pytest.raises(ValueError, match="must be >= 0"):
        utilization(-1, 0)


def test_deposit_rate_is_borrow_times_utilization_net_of_insurance() -> None:
    curve = SpotRateCurve(
        optimal_utilization=800_000,
        optimal_borrow_rate=140_000,
        max_borrow_rate=1_200_000,
        insurance_total_factor=200_000,
    )
    # 50 % utilisation: borrow 8.75 %; depositors get 8.75 % x 0.5 x (1 - 0.2) = 3.5 %
    point = rates_at(curve, 500_000)
    assert (point.borrow_rate, point.deposit_rate) == (87_500, 35_000)
    assert deposit_rate(curve, 0) == 0


@pytest.mark.parametrize("line", [8930, 8941, 9078, 9089, 9100])
def test_real_snapshots_decode_and_price(line: int) -> None:
    """Every SpotMarket snapshot of the shared data: its curve, utilisation and one hour of accrual."""
    sm = _decoded(protocol_v2_raw("test", line))
    market = spot_interest_market(sm)
    curve = market.curve
    assert 0 < market.utilization < SPOT_UTILIZATION_PRECISION
    point = current_rates(market)
    assert 0 <= point.deposit_rate < point.borrow_rate <= curve.max_borrow_rate
    later = accrue(market, market.last_interest_ts + 3_600)
    assert later.cumulative_deposit_interest > market.cumulative_deposit_interest
    assert later.cumulative_borrow_interest > market.cumulative_borrow_interest
    # Borrowers pay at least what lenders and the insurance pool receive (rounding favours the protocol).
    paid = later.borrow_tokens - market.borrow_tokens
    received = later.deposit_tokens - market.deposit_tokens
    assert paid >= received >= 0


def test_sol_snapshot_rates() -> None:
    """SOL spot (protocol-v2 liquidation test snapshot, 2024-12-20): 80 % kink at 14 %, 120 % max, 0.5 % floor, 20 %
    insurance; its utilisation 37.57 % gives a 6.57 % borrow and 1.98 % deposit APR (hand check: 14 % / 80 % x 37.5678 %
    = 6.5743 %; x 37.5678 % x 0.8 = 1.9758 %)."""
    market = spot_interest_market(_decoded(protocol_v2_raw("test", 8941)))
    assert market.curve == SpotRateCurve(
        optimal_utilization=800_000,
        optimal_borrow_rate=140_000,
        max_borrow_rate=1_200_000,
        min_borrow_rate=1,
        insurance_total_factor=200_000,
    )
    point = current_rates(market)
    assert (point.utilization, point.borrow_rate, point.deposit_rate) == (375_678, 65_743, 19_758)


def test_sol_snapshots_20_hours_apart_bracket_the_chain() -> None:
    """Two SOL snapshots 72,882 s apart: the chain's cumulative interests after that time lie between our accrual
    at the first snapshot's utilisation (37.6 %) and at the second's (48.7 %) -- utilisation moved in between, so
    only a bracket is checkable, but it pins the scale and the insurance split."""
    first = spot_interest_market(_decoded(protocol_v2_raw("test", 8941)))
    second = spot_interest_market(_decoded(protocol_v2_raw("test", 9089)))
    low = accrue(first, second.last_interest_ts)
    high = accrue(
        msgspec.structs.replace(first, deposit_balance=second.deposit_balance, borrow_balance=second.borrow_balance),
        second.last_interest_ts,
    )
    assert low.cumulative_deposit_interest < second.cumulative_deposit_interest < high.cumulative_deposit_interest
    assert low.cumulative_borrow_interest < second.cumulative_borrow_interest < high.cumulative_borrow_interest


@given(
    opt_u=st.integers(1, 850_000),
    opt_r=st.integers(0, 2_000_000),
    extra=st.integers(0, 5_000_000),
    floor=st.integers(0, 255),
    factor=st.integers(0, 1_000_000),
    u1=st.integers(0, 1_000_000),
    u2=st.integers(0, 1_000_000),
)
def test_curve_monotone_and_deposit_below_borrow(
    *, opt_u: int, opt_r: int, extra: int, floor: int, factor: int, u1: int, u2: int
) -> None:
    curve = SpotRateCurve(
        optimal_utilization=opt_u,
        optimal_borrow_rate=opt_r,
        max_borrow_rate=opt_r + extra,
        min_borrow_rate=floor,
        insurance_total_factor=factor,
    )
    lo, hi = sorted((u1, u2))
    assert borrow_rate(curve, lo) <= borrow_rate(curve, hi)
    assert deposit_rate(curve, hi) <= borrow_rate(curve, hi)
    assert borrow_rate(curve, hi) <= max(curve.max_borrow_rate, curve.min_rate)


@given(
    deposits=st.integers(1, 10**18),
    borrow_share=st.integers(0, 1_000_000),
    dt=st.integers(0, 10 * ONE_YEAR_S),
)
def test_accrual_never_shrinks_interest(deposits: int, borrow_share: int, dt: int) -> None:
    market = SpotInterestMarket(
        market_index=1,
        decimals=9,
        curve=SpotRateCurve(optimal_utilization=800_000, optimal_borrow_rate=140_000, max_borrow_rate=1_200_000),
        deposit_balance=deposits,
        borrow_balance=deposits * borrow_share // 1_000_000,
        cumulative_deposit_interest=SPOT_CUMULATIVE_INTEREST_PRECISION,
    )
    later = accrue(market, dt)
    assert later.cumulative_deposit_interest >= market.cumulative_deposit_interest
    assert later.cumulative_borrow_interest >= market.cumulative_borrow_interest
    assert later.borrow_tokens - market.borrow_tokens >= later.deposit_tokens - market.deposit_tokens


def test_curve_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError, match="optimal_utilization"):
        SpotRateCurve(optimal_utilization=0, optimal_borrow_rate=0, max_borrow_rate=0)
    with pytest.raises(ValueError, match="borrow rates"):
        SpotRateCurve(optimal_utilization=1, optimal_borrow_rate=10, max_borrow_rate=5)
    above = SpotRateCurve(optimal_utilization=900_000, optimal_borrow_rate=10, max_borrow_rate=50)
    assert borrow_rate(above, 900_000) == 9  # the slope 10 / 0.9 floors to 11 per 100 %, x 0.9 floors to 9
    with pytest.raises(ValueError, match="no borrow rate there"):
        borrow_rate(above, 950_000)


def test_structs_are_frozen() -> None:
    curve = SpotRateCurve(optimal_utilization=1, optimal_borrow_rate=0, max_borrow_rate=0)
    with pytest.raises(AttributeError):
        curve.max_borrow_rate = 1  # type: ignore[misc]  # proving immutability
    assert msgspec.structs.replace(curve, max_borrow_rate=2).max_borrow_rate == 2
