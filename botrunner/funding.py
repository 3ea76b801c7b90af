"""Drift's funding maths, exactly as protocol-v2 computes it (``controller/funding.rs``, ``math/funding.rs``).

Per funding period (hourly on every current market):

    spread   = mark_twap - oracle_twap + |oracle_twap| / 5000      # the offset: longs pay ~7.3 % APR extra
    spread   = clamp(spread, ±max_divergence(tier, oracle_twap))     # 3 % (tier A/B), 5 % (C), 10 % (others)
    rate     = spread * FUNDING_RATE_BUFFER / (24h / period)         # quote per base, 1e9; positive = longs pay

All divisions truncate toward zero, as Rust's integer division does (Python's ``//`` floors, so signed values go
through ``botrunner.core.fixed.tdiv``). Verified to the unit against every Drift SOL-PERP and BTC-PERP hourly
record in the shared data (tests/unit/funding/test_funding.py).
"""

from __future__ import annotations

from typing import Final

from botrunner.core.fixed import tdiv
from botrunner.core.markets import ContractTier, PerpMarketSpec
from botrunner.core.precision import FUNDING_RATE_BUFFER, PRICE_PRECISION

FUNDING_RATE_OFFSET_DENOMINATOR: Final = 5_000
ONE_HOUR_S: Final = 3_600
ONE_DAY_S: Final = 86_400
# funding (1e9) * base (1e9) / PRICE_PRECISION / FUNDING_RATE_BUFFER / AMM_TO_QUOTE_PRECISION_RATIO = quote (1e6)
AMM_TO_QUOTE_PRECISION_RATIO: Final = 1_000


def max_price_divergence_for_funding(tier: ContractTier, oracle_twap: int) -> int:
    """Largest |mark − oracle| spread funding may use (``get_max_price_divergence_for_funding_rate``)."""
    match tier:
        case ContractTier.A | ContractTier.B:
            return tdiv(oracle_twap, 33)  # ~3 %: 0.125 %/h at hourly funding
        case ContractTier.C:
            return tdiv(oracle_twap, 20)  # 5 %
        case ContractTier.SPECULATIVE | ContractTier.HIGHLY_SPECULATIVE | ContractTier.ISOLATED:
            return tdiv(oracle_twap, 10)  # 10 %


def funding_rate(mark_twap: int, oracle_twap: int, tier: ContractTier, funding_period_s: int = ONE_HOUR_S) -> int:
    """The funding rate for one period, quote per base in 1e9 (positive = longs pay), from 1e6 TWAPs.

    This is the rate before Drift's asymmetric capping (``calculate_funding_rate_long_short``), which only bites when
    the protocol's fee pool cannot cover the AMM's side; recorded long/short rates carry that when it happens.
    """
    if mark_twap <= 0 or oracle_twap <= 0:
        raise ValueError(f"funding needs positive TWAPs, got mark_twap={mark_twap} oracle_twap={oracle_twap}")
    period_adjustment = (24 * ONE_HOUR_S) // max(ONE_HOUR_S, funding_period_s)
    spread = mark_twap - oracle_twap + tdiv(abs(oracle_twap), FUNDING_RATE_OFFSET_DENOMINATOR)
    limit = max_price_divergence_for_funding(tier, oracle_twap)
    clamped = max(-limit, min(spread, limit))
    return tdiv(clamped * FUNDING_RATE_BUFFER, period_adjustment)


def funding_payment(cumulative_rate_delta: int, base: int) -> int:
    """Quote (1e6) a position of ``base`` (1e9, signed) receives for a cumulative funding-rate change (1e9).

    Positive = the position receives. Longs pay a positive rate; shorts receive it. Magnitudes truncate, as
    ``_calculate_funding_payment`` followed by ``safe_div(AMM_TO_QUOTE_PRECISION_RATIO)`` does on chain.
    """
    if cumulative_rate_delta == 0 or base == 0:
        return 0
    magnitude = abs(cumulative_rate_delta) * abs(base) // PRICE_PRECISION // FUNDING_RATE_BUFFER
    sign = (-1 if base > 0 else 1) * (1 if cumulative_rate_delta > 0 else -1)
    return tdiv(sign * magnitude, AMM_TO_QUOTE_PRECISION_RATIO)


def next_funding_ts(last_funding_ts: int, funding_period_s: int = ONE_HOUR_S) -> int:
    """When the next funding update becomes possible (``math/helpers.rs`` ``on_the_hour_update``).

    Updates land on the period boundary; one that ran late by more than a third of a period skips to the boundary
    after next, so the schedule never drifts.
    """
    offset = last_funding_ts % funding_period_s
    if offset == 0:
        wait = funding_period_s
    elif offset > funding_period_s // 3:
        wait = 2 * funding_period_s - offset
    else:
        wait = funding_period_s - offset
    return last_funding_ts + wait


def market_funding_rate(market: PerpMarketSpec, mark_twap: int, oracle_twap: int) -> int:
    """``funding_rate`` with the market's own contract tier and funding period."""
    return funding_rate(mark_twap, oracle_twap, market.contract_tier, market.funding_period)


def rate_bps_of_price(rate: int, oracle_twap: int) -> int:
    """A funding rate (1e9 quote per base) as basis points of the price per period, truncated (display/limits)."""
    if oracle_twap <= 0:
        raise ValueError(f"oracle_twap must be > 0, got {oracle_twap}")
    return tdiv(rate * 10_000, oracle_twap * FUNDING_RATE_BUFFER)
