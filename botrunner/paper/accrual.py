"""When and with which rates the paper venue performs Drift interest updates of its USDC and SOL spot markets.

On Drift a spot market's cumulative deposit and borrow interest move at every interaction with the market (any
user's deposit, withdrawal, fill, ...): each update compounds ``cumulative *= 1 + rate * dt / year`` over the time
``dt`` since the previous one (protocol-v2 ``update_spot_market_cumulative_interest``). A balance's token amount is
its scaled balance times the cumulative interest, so what a balance earns depends only on the sequence of updates.

The paper venue updates both markets (:meth:`Accrual.update`) before every account command it performs (the
bot's own interactions, as on Drift) and at the first market input at least ``InterestSettings.every_s`` after the
previous update (the other users' interactions, which on SOL/USDC come every few seconds). Each update applies the
rate in force at the start of its interval (a rate series' last row at or before it, or the curve at the
configured utilisation) over the whole interval.

Error bound. Against an update at every instant (continuous compounding, the limit of Drift's frequent updates),
simple interest over an interval of ``d`` seconds at annual rate ``r`` misses ``(r d / year)^2 / 2`` of the
balance per interval, so the interest booked is low by a relative ``r d / (2 year)`` at most (second-order terms
aside): 5.7e-6 of the interest for r = 10 % and d = 3600 s, 0.0057 USDC on 1,000 USDC of interest. A rate series'
changes land at the next update (up to ``every_s`` late), which the rate's own sampling (hourly) dominates.

The rates: ``botrunner.margin.interest.rates_at`` (Drift's curve at the configured utilisation; the deposit rate
net of the insurance share) or a rate series (``botrunner.marketdata.rates``, none before its first row). One update
with given rates is protocol-v2 ``calculate_accumulated_interest``'s arithmetic with those rates
(:func:`accumulate_at_rates`): ``cumulative * rate * dt // ONE_YEAR // SPOT_RATE_PRECISION``, +1 on the borrow side.
Against the chain's update at the same utilisation the deposit side differs only in where the insurance share is
rounded (within one unit of 1e10 of the cumulative interest).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import msgspec

from botrunner.margin.interest import ONE_YEAR_S, SPOT_RATE_PRECISION, rates_at
from botrunner.margin.model import SpotMarketState
from botrunner.marketdata.rates import load_rate_series
from botrunner.paper.account import PaperAccount
from botrunner.paper.config import InterestSettings, MarketRates
from botrunner.venue.port import VenueEvent

# (market, ts) -> (deposit rate, borrow rate) in force at ts, in the interest maths' rate precision
RateSource = Callable[[SpotMarketState, int], tuple[int, int]]
# (market, deposit rate, borrow rate, seconds) -> the market after one Drift interest update over that time
Accumulate = Callable[[SpotMarketState, int, int, int], SpotMarketState]


class Accrual:
    """The interest clock of one paper venue: the time of the last update and how to make the next one."""

    __slots__ = ("_accumulate", "_sol_rates", "_usdc_rates", "every_s", "last_ts")

    def __init__(
        self, *, usdc_rates: RateSource, sol_rates: RateSource, accumulate: Accumulate, every_s: int, last_ts: int
    ) -> None:
        if every_s <= 0:
            raise ValueError(f"Accrual: every_s must be > 0, got {every_s}")
        self._usdc_rates = usdc_rates
        self._sol_rates = sol_rates
        self._accumulate = accumulate
        self.every_s = every_s
        self.last_ts = last_ts

    def due(self, now: int) -> bool:
        """Whether a market input at ``now`` brings an update (``every_s`` since the last one)."""
        return now - self.last_ts >= self.every_s

    def update(self, account: PaperAccount, out: list[VenueEvent]) -> None:
        """A Drift interest update of both markets at the account's time, booked on its balances (nothing when no
        time has passed since the last one)."""
        now = account.tape.now
        dt = now - self.last_ts
        if dt <= 0:
            return
        start = self.last_ts
        usdc_market = account.usdc_market
        sol_market = account.sol_market
        usdc_deposit, usdc_borrow = self._usdc_rates(usdc_market, start)
        sol_deposit, sol_borrow = self._sol_rates(sol_market, start)
        account.accrue_interest(
            self._accumulate(usdc_market, usdc_deposit, usdc_borrow, dt),
            self._accumulate(sol_market, sol_deposit, sol_borrow, dt),
            out,
        )
        self.last_ts = now


def accumulate_at_rates(market: SpotMarketState, deposit_rate: int, borrow_rate: int, dt: int) -> SpotMarketState:
    """``market`` after one Drift interest update over ``dt`` seconds at these APRs (SPOT_RATE_PRECISION 1e6 a
    year): protocol-v2 ``calculate_accumulated_interest``'s increments (the borrow side rounded up by one, as there;
    none when no time passed or no borrow rate, as there with nothing borrowed)."""
    if dt <= 0 or borrow_rate <= 0:
        return market
    dep = market.cumulative_deposit_interest
    bor = market.cumulative_borrow_interest
    return msgspec.structs.replace(
        market,
        cumulative_deposit_interest=dep + dep * (deposit_rate * dt) // ONE_YEAR_S // SPOT_RATE_PRECISION,
        cumulative_borrow_interest=bor + bor * (borrow_rate * dt) // ONE_YEAR_S // SPOT_RATE_PRECISION + 1,
    )


def rate_source(rates: MarketRates) -> RateSource:
    """The rates of ``rates`` (validated): a loaded series (read once, here) or the curve at the utilisation."""
    if rates.series is not None:
        series = load_rate_series(Path(rates.series))

        def from_series(_market: SpotMarketState, ts: int) -> tuple[int, int]:
            sample = series.at(ts)
            return (0, 0) if sample is None else (sample.deposit_apr, sample.borrow_apr)

        return from_series
    assert rates.curve is not None and rates.utilization is not None  # MarketRates.validate
    point = rates_at(rates.curve, rates.utilization)
    fixed = (point.deposit_rate, point.borrow_rate)
    return lambda _market, _ts: fixed


def accrual_from_settings(settings: InterestSettings, now: int) -> Accrual:
    """The interest clock ``PaperConfig.interest`` describes, starting at ``now``."""
    settings.validate()
    return Accrual(
        usdc_rates=rate_source(settings.usdc),
        sol_rates=rate_source(settings.sol),
        accumulate=accumulate_at_rates,
        every_s=settings.every_s,
        last_ts=now,
    )
