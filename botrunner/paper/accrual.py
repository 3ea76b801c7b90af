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

The maths of one update (the rate curve, the accumulated interest) is ``botrunner.margin.interest``'s; this module
only schedules updates and picks the rates.
"""

from __future__ import annotations

from collections.abc import Callable

from botrunner.margin.model import SpotMarketState
from botrunner.paper.account import PaperAccount
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
