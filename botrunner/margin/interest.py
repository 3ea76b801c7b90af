"""Drift spot-market interest: utilisation, the borrow-rate curve, deposit rate and cumulative-interest accrual.

Ground truth is protocol-v2 (commit 0ae3e3b1): ``math/spot_balance.rs`` (``calculate_utilization``,
``calculate_borrow_rate``, ``calculate_accumulated_interest``, ``calculate_deposit_rate``), ``state/spot_market.rs``
(``get_min_borrow_rate``) and ``controller/spot_balance.rs`` (``update_spot_market_cumulative_interest``). Every
function here is that integer arithmetic, rounding included, so a simulated market accrues exactly as the chain does.

Units (all integers):
- utilisation: SPOT_UTILIZATION_PRECISION 1e6 (1_000_000 = 100 %);
- rates: SPOT_RATE_PRECISION 1e6 per year (APR; 45_000 = 4.5 %/yr, simple, not compounded);
- ``min_borrow_rate``: Drift's raw u8 in steps of 0.5 % (1 = 5_000 in rate precision);
- insurance factor: IF_FACTOR_PRECISION 1e6 (the share of depositors' interest the insurance stakers take);
- cumulative interests: SPOT_CUMULATIVE_INTEREST_PRECISION 1e10; scaled balances SPOT_BALANCE_PRECISION 1e9;
  token amounts in the mint's decimals; timestamps unix seconds.

The curve (as protocol-v2 has it now): linear from 0 to ``optimal_borrow_rate`` at ``optimal_utilization``, then
the extra ``max_borrow_rate - optimal_borrow_rate`` spread over fixed utilisation segments ending at 85, 90, 95, 99,
99.5 and 100 % with weights 5, 10, 15, 20, 25 and 25 % of the extra (so the rate reaches ``max_borrow_rate`` at
100 %), floored at the market's minimum borrow rate.
"""

from __future__ import annotations

from typing import Final

import msgspec

from botrunner.core.precision import PERCENTAGE_PRECISION, SPOT_CUMULATIVE_INTEREST_PRECISION

SPOT_UTILIZATION_PRECISION: Final = PERCENTAGE_PRECISION  # 1e6 = 100 %
SPOT_RATE_PRECISION: Final = PERCENTAGE_PRECISION  # 1e6 = 100 % per year
IF_FACTOR_PRECISION: Final = PERCENTAGE_PRECISION  # 1e6 = 100 %
ONE_YEAR_S: Final = 31_536_000  # protocol-v2 ONE_YEAR: 365 days, the rates' year
MIN_BORROW_RATE_STEP: Final = PERCENTAGE_PRECISION // 200  # one unit of the u8 min_borrow_rate = 0.5 %

# protocol-v2 INTEREST_RATE_SEGMENT_AND_WEIGHTS: (segment end utilisation 1e6, share of the extra rate in 1/1000).
_SEGMENTS: Final = (
    (850_000, 50),
    (900_000, 100),
    (950_000, 150),
    (990_000, 200),
    (995_000, 250),
    (1_000_000, 250),
)
_WEIGHTS_DIVISOR: Final = 1000


class SpotRateCurve(msgspec.Struct, frozen=True, kw_only=True):
    """A spot market's interest-rate parameters (SpotMarket fields of the same names)."""

    optimal_utilization: int  # 1e6; the kink (0 < u <= 1e6)
    optimal_borrow_rate: int  # 1e6 per year, borrow APR at the kink
    max_borrow_rate: int  # 1e6 per year, borrow APR at 100 % utilisation (>= optimal_borrow_rate)
    min_borrow_rate: int = 0  # raw u8, 0.5 % steps: the APR floor is min_borrow_rate * 5_000
    insurance_total_factor: int = 0  # 1e6; insurance_fund.total_factor, the stakers' share of deposit interest

    def __post_init__(self) -> None:
        if not 0 < self.optimal_utilization <= SPOT_UTILIZATION_PRECISION:
            raise ValueError(f"optimal_utilization {self.optimal_utilization} must be in (0, 1e6]")
        if self.optimal_borrow_rate < 0 or self.max_borrow_rate < self.optimal_borrow_rate:
            raise ValueError(
                f"borrow rates must satisfy 0 <= optimal ({self.optimal_borrow_rate}) <= max ({self.max_borrow_rate})"
            )
        if not 0 <= self.min_borrow_rate <= 255:
            raise ValueError(f"min_borrow_rate {self.min_borrow_rate} must be a u8 (0..255, 0.5 % steps)")
        if not 0 <= self.insurance_total_factor <= IF_FACTOR_PRECISION:
            raise ValueError(f"insurance_total_factor {self.insurance_total_factor} must be in [0, 1e6]")

    @property
    def min_rate(self) -> int:
        """The borrow-APR floor in SPOT_RATE_PRECISION (Rust ``get_min_borrow_rate``)."""
        return self.min_borrow_rate * MIN_BORROW_RATE_STEP


class SpotInterestMarket(msgspec.Struct, frozen=True, kw_only=True):
    """The part of a SpotMarket its interest accrual reads and writes."""

    market_index: int
    decimals: int  # mint decimals (USDC 6, SOL 9)
    curve: SpotRateCurve
    deposit_balance: int  # scaled, SPOT_BALANCE_PRECISION 1e9
    borrow_balance: int  # scaled, 1e9
    cumulative_deposit_interest: int = SPOT_CUMULATIVE_INTEREST_PRECISION  # 1e10
    cumulative_borrow_interest: int = SPOT_CUMULATIVE_INTEREST_PRECISION  # 1e10
    last_interest_ts: int = 0  # unix s
    revenue_pool_balance: int = 0  # scaled deposit balance of the revenue pool (the stakers' interest lands here)

    def __post_init__(self) -> None:
        if not 0 <= self.decimals <= 19:
            raise ValueError(f"spot market {self.market_index}: decimals {self.decimals} must be in 0..19")
        if self.deposit_balance < 0 or self.borrow_balance < 0 or self.revenue_pool_balance < 0:
            raise ValueError(f"spot market {self.market_index}: scaled balances must be >= 0")
        if self.cumulative_deposit_interest <= 0 or self.cumulative_borrow_interest <= 0:
            raise ValueError(f"spot market {self.market_index}: cumulative interests must be > 0")

    @property
    def deposit_tokens(self) -> int:
        """Total deposits in mint units (rounded down, Rust ``get_token_amount``)."""
        return self.deposit_balance * self.cumulative_deposit_interest // _precision_decrease(self.decimals)

    @property
    def borrow_tokens(self) -> int:
        """Total borrows in mint units (rounded up, Rust ``get_token_amount``)."""
        return -(-self.borrow_balance * self.cumulative_borrow_interest // _precision_decrease(self.decimals))

    @property
    def utilization(self) -> int:
        """Borrows / deposits, 1e6 (Rust ``calculate_spot_market_utilization``)."""
        return utilization(self.deposit_tokens, self.borrow_tokens)


class InterestAccumulated(msgspec.Struct, frozen=True):
    """Increments of the cumulative interests over one update, 1e10 (before the insurance share is taken)."""

    borrow_interest: int
    deposit_interest: int


class RatePoint(msgspec.Struct, frozen=True):
    """The curve at one utilisation: APRs in SPOT_RATE_PRECISION 1e6 per year."""

    utilization: int  # 1e6
    borrow_rate: int  # borrow APR, 1e6
    deposit_rate: int  # depositors' APR net of the insurance share, 1e6


def _precision_decrease(decimals: int) -> int:
    return int(10 ** (19 - decimals))


def utilization(deposit_tokens: int, borrow_tokens: int) -> int:
    """Rust ``calculate_utilization``: borrows * 1e6 // deposits; 0 when both are 0, 100 % with borrows and no
    deposits."""
    if deposit_tokens < 0 or borrow_tokens < 0:
        raise ValueError(f"token amounts must be >= 0 (deposits {deposit_tokens}, borrows {borrow_tokens})")
    if deposit_tokens == 0:
        return 0 if borrow_tokens == 0 else SPOT_UTILIZATION_PRECISION
    return borrow_tokens * SPOT_UTILIZATION_PRECISION // deposit_tokens


def borrow_rate(curve: SpotRateCurve, util: int) -> int:
    """Rust ``calculate_borrow_rate``: the borrow APR (1e6) at utilisation ``util`` (1e6).

    Above the kink the segment walk needs the kink at or below each segment it crosses, as on chain: a market
    whose ``optimal_utilization`` lies above 85 % has no defined rate above its kink there (Rust errors), and
    neither do we (ValueError)."""
    if util < 0:
        raise ValueError(f"utilization {util} must be >= 0")
    optimal_util = curve.optimal_utilization
    optimal_rate = curve.optimal_borrow_rate
    if util <= optimal_util:
        slope = optimal_rate * SPOT_UTILIZATION_PRECISION // optimal_util
        rate = util * slope // SPOT_UTILIZATION_PRECISION
    else:
        total_extra = curve.max_borrow_rate - optimal_rate
        rate = optimal_rate
        prev_util = optimal_util
        for segment_end, weight in _SEGMENTS:
            segment_range = segment_end - prev_util
            if segment_range < 0:
                raise ValueError(
                    f"optimal_utilization {optimal_util} lies above the rate segment ending at {segment_end}: "
                    "protocol-v2 has no borrow rate there"
                )
            segment_total = total_extra * weight // _WEIGHTS_DIVISOR
            if util <= segment_end:
                # Rust safe_div: a zero-width segment can only be reached with util == segment_end == prev_util,
                # where the partial utilisation is 0 and Rust would still divide by zero (an error).
                if segment_range == 0:
                    raise ValueError(f"utilization {util}: zero-width rate segment ending at {segment_end}")
                rate += segment_total * (util - prev_util) // segment_range
                break
            rate += segment_total
            prev_util = segment_end
        # Utilisation above 100 % falls off the last segment: Rust returns the rate summed so far (max_borrow_rate
        # give or take rounding), and so do we.
    return max(rate, curve.min_rate)


def deposit_rate(curve: SpotRateCurve, util: int, borrow: int | None = None) -> int:
    """Depositors' APR (1e6) at ``util``: borrow rate x utilisation x (1 - insurance factor), rounded down as Rust
    ``calculate_deposit_rate`` (drift-rs) does. ``borrow`` defaults to :func:`borrow_rate` at ``util``."""
    b = borrow_rate(curve, util) if borrow is None else borrow
    return (
        b
        * (PERCENTAGE_PRECISION - curve.insurance_total_factor)
        * util
        // SPOT_UTILIZATION_PRECISION
        // (PERCENTAGE_PRECISION)
    )


def rates_at(curve: SpotRateCurve, util: int) -> RatePoint:
    """Borrow and deposit APR at a configured utilisation ``util`` (1e6): "the curve at a utilisation"."""
    b = borrow_rate(curve, util)
    return RatePoint(util, b, deposit_rate(curve, util, b))


def accumulated_interest(market: SpotInterestMarket, now: int) -> InterestAccumulated:
    """Rust ``calculate_accumulated_interest``: the cumulative-interest increments from ``last_interest_ts`` to
    ``now`` (zero when no time passed or nothing is borrowed). The deposit increment is gross: the insurance
    stakers' share is split off by :func:`accrue`."""
    if now <= market.last_interest_ts:
        return InterestAccumulated(0, 0)
    util = market.utilization
    if util == 0:
        return InterestAccumulated(0, 0)
    rate = borrow_rate(market.curve, util)
    elapsed = now - market.last_interest_ts
    # Rust multiplies by the elapsed seconds first and divides by ONE_YEAR last (to save compute units); the
    # rounding follows that order.
    modified_borrow = rate * elapsed
    modified_deposit = modified_borrow * util // SPOT_UTILIZATION_PRECISION
    borrow_interest = market.cumulative_borrow_interest * modified_borrow // ONE_YEAR_S // SPOT_RATE_PRECISION + 1
    deposit_interest = market.cumulative_deposit_interest * modified_deposit // ONE_YEAR_S // SPOT_RATE_PRECISION
    return InterestAccumulated(borrow_interest, deposit_interest)


def accrue(market: SpotInterestMarket, now: int) -> SpotInterestMarket:
    """Rust ``update_spot_market_cumulative_interest`` (interest part; the twap statistics are not modelled).

    Adds the lenders' share of the deposit increment and the whole borrow increment to the cumulative interests
    and moves ``last_interest_ts`` to ``now`` -- only when both increments are large enough to register, exactly as
    on chain (otherwise the market is returned unchanged, so the time keeps counting from the last real update).
    The insurance stakers' share is credited to the revenue pool as a deposit, which grows ``deposit_balance``.
    """
    acc = accumulated_interest(market, now)
    if not (acc.deposit_interest > 0 and acc.borrow_interest > 1):
        return market
    for_stakers = acc.deposit_interest * market.curve.insurance_total_factor // IF_FACTOR_PRECISION
    for_lenders = acc.deposit_interest - for_stakers
    if for_lenders <= 0:
        return market
    decrease = _precision_decrease(market.decimals)
    # Rust get_interest_token_amount: the stakers' tokens on the deposit balance before the pool is credited.
    stakers_tokens = market.deposit_balance * for_stakers // decrease
    new_deposit_interest = market.cumulative_deposit_interest + for_lenders
    # update_revenue_pool_balances -> update_spot_balances (a deposit increasing a deposit, no round up) at the
    # new cumulative deposit interest.
    pool_delta = stakers_tokens * decrease // new_deposit_interest
    return msgspec.structs.replace(
        market,
        cumulative_deposit_interest=new_deposit_interest,
        cumulative_borrow_interest=market.cumulative_borrow_interest + acc.borrow_interest,
        last_interest_ts=now,
        deposit_balance=market.deposit_balance + pool_delta,
        revenue_pool_balance=market.revenue_pool_balance + pool_delta,
    )


def current_rates(market: SpotInterestMarket) -> RatePoint:
    """The market's borrow and deposit APR at its current utilisation."""
    return rates_at(market.curve, market.utilization)
