"""The market as a bot sees it on replayed history: one ordered stream of price points and funding settlements.

The backtest loop and the runtime's paced feed consume the very same stream, so a paper fleet replaying history
decides exactly as a backtest of the same window does. Per bar (see ``botrunner.marketdata.feed`` for the path
rule): the bar's four path points (open, nearer extreme, farther extreme, close at 0, 1/4, 1/2, 3/4 of the bar);
before each point, the funding settlements whose time has come (at equal ``ts`` funding first: it settles the hour
just ended). The close point carries ``close_ts`` (the bar's end): that is where the strategy sees the close and the
bot decides.

Funding: Drift's hourly records when given; otherwise Drift's formula from the hour's mark and oracle TWAPs (the
time-weighted mean of the path points), clamped by the market's tier (``botrunner.funding``).
Oracle: the path price (Drift's oracle tracks the Binance perp within ~14 bp median over the bundled window).

Pure: no clock, no I/O; a generator over data already in memory.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import msgspec

from botrunner.core.markets import PerpMarketSpec
from botrunner.funding import market_funding_rate, next_funding_ts
from botrunner.marketdata.candles import Candle
from botrunner.marketdata.feed import bar_path, tick_offsets
from botrunner.marketdata.funding import DriftFundingRecord


class PricePoint(msgspec.Struct, frozen=True):
    """One point of a bar's path. Prices 1e6; ``close_ts`` is the bar's end on its close point, else 0."""

    ts: int
    price: int
    oracle: int
    bar_ts: int
    bar_volume: int
    close_ts: int
    interval_s: int


class FundingPoint(msgspec.Struct, frozen=True):
    """A funding settlement at ``ts``: rates 1e9 quote per base for the period (+ = longs pay)."""

    ts: int
    rate_long: int
    rate_short: int
    rate: int  # the headline rate the Risk Governor's funding guardrail reads


MarketEvent = PricePoint | FundingPoint


class FormulaFunding:
    """Drift's funding from the path when no records are given: at each hourly boundary, the rate from the hour's
    time-weighted mark and oracle means (``botrunner.funding.market_funding_rate``)."""

    def __init__(self, spec: PerpMarketSpec, first_ts: int) -> None:
        self.spec = spec
        self.period = spec.funding_period
        self.next_ts = first_ts - first_ts % self.period + self.period
        self.mark_sum = 0
        self.oracle_sum = 0
        self.weight = 0
        self.last: tuple[int, int, int] | None = None  # ts, mark, oracle

    def observe(self, ts: int, mark: int, oracle: int) -> None:
        if self.last is not None:
            dt = ts - self.last[0]
            self.mark_sum += self.last[1] * dt
            self.oracle_sum += self.last[2] * dt
            self.weight += dt
        self.last = (ts, mark, oracle)

    def due(self, ts: int) -> int | None:
        """The rate settled at the boundary ``ts`` has reached (None if none is due)."""
        if ts < self.next_ts:
            return None
        if self.last is not None:
            self.observe(self.next_ts, self.last[1], self.last[2])
        rate = None
        if self.weight > 0:
            rate = market_funding_rate(self.spec, self.mark_sum // self.weight, self.oracle_sum // self.weight)
        self.mark_sum = self.oracle_sum = self.weight = 0
        self.next_ts = next_funding_ts(self.next_ts, self.period)
        return rate


def rate_in_force(records: Sequence[DriftFundingRecord] | None, first_ts: int) -> int:
    """The last funding rate settled before ``first_ts`` (0 if none): what is known when trading starts, never
    a later one."""
    rate = 0
    for rec in records or ():
        if rec.ts >= first_ts:
            break
        rate = rec.rate
    return rate


def market_events(
    bars: Sequence[Candle],
    interval_s: int,
    spec: PerpMarketSpec,
    funding: Sequence[DriftFundingRecord] | None,
) -> Iterator[MarketEvent]:
    """The ordered events of ``bars`` (already cut to the traded window) with funding (records, or the formula
    when None)."""
    if not bars:
        return
    offsets = tick_offsets(interval_s)
    close_offset = offsets[-1]
    first_ts = bars[0].ts
    cursor = 0
    if funding is not None:
        while cursor < len(funding) and funding[cursor].ts < first_ts:
            cursor += 1
    formula = FormulaFunding(spec, first_ts) if funding is None else None
    for bar in bars:
        for offset, (_, price) in zip(offsets, bar_path(bar), strict=True):
            ts = bar.ts + offset
            if funding is not None:
                while cursor < len(funding) and funding[cursor].ts <= ts:
                    rec = funding[cursor]
                    yield FundingPoint(rec.ts, rec.rate_long, rec.rate_short, rec.rate)
                    cursor += 1
            elif formula is not None:
                rate = formula.due(ts)
                if rate is not None:
                    yield FundingPoint(ts, rate, rate, rate)
                formula.observe(ts, price, price)
            close_ts = bar.ts + interval_s if offset == close_offset else 0
            yield PricePoint(ts, price, price, bar.ts, bar.volume, close_ts, interval_s)
