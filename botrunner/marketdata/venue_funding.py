"""Every venue's funding history as one normalised hourly series: one sign convention, one unit, one bound.

The convention (docs/funding-arbitrage.md): a funding rate is the **fraction of price paid per hour**, positive =
longs pay shorts, as an integer in parts per 1e12 (:data:`~botrunner.marketdata.funding.FUNDING_FRACTION_PRECISION`).

- Drift publishes ``fundingRate`` in USDC per 1 base unit for the hour (1e9 after loading); as a fraction of price
  it is ``fundingRate / oraclePriceTwap`` — Drift itself charges ``rate * base``, i.e. relative to the oracle TWAP
  the rate was computed from. In 1e12: ``rate_1e9 * 1e9 / oracle_1e6``, truncated toward zero (an error below
  1e-12 of price per hour, ~1e-8 of a cent on a $1,000 position). ``fundingRateLong``/``fundingRateShort`` differ
  from it only when the protocol caps one side (never in the shared SOL/BTC records); the series uses
  ``fundingRate``.
- Hyperliquid's file is already a fraction per hour (it settled 8-hourly until 2023-06-08, hourly since).
- Binance's is a fraction per 8 h settled every 8 h: divided by 8 (exact for every shared row: 8 decimals at 1e12
  leave four zeros), while its settlement interval stays 8 h.

A point's ``ts`` is the settlement instant that closes the period it covers, ``[ts - period_s, ts)``. Drift's records
land seconds after the hour; they are put on the hour boundary they follow (:attr:`DriftFundingRecord.hour_end`) so
every venue's points line up. The rate is therefore known (and paid) at ``ts``, not before: :meth:`VenueFunding.at`
never looks ahead.

Plausibility: a row whose |rate per hour| exceeds :data:`MAX_PLAUSIBLE_RATE_PER_HOUR` (4 %/h, Hyperliquid's own
funding cap and the largest of the three venues' caps: Drift clamps at 0.125 %/h for tier A/B markets and ~0.42 %/h
for the most speculative tier; Binance's USDT-M caps are at most a few % per 8 h) cannot be a real settlement; the
load fails with a :class:`DataError` naming the file and line — bad data is never traded on. The largest |rate| in
the shared data is 0.087 %/h (Hyperliquid SOL), 46x below the bound.
"""

from __future__ import annotations

import bisect
from pathlib import Path
from typing import Final

import msgspec

from botrunner.core.fixed import tdiv
from botrunner.funding import ONE_HOUR_S
from botrunner.marketdata._text import DataError, csv_rows, read_text
from botrunner.marketdata.funding import (
    DRIFT_FUNDING_COLUMNS,
    FUNDING_FRACTION_PRECISION,
    FUNDING_RATE_COLUMNS,
    parse_binance_funding_8h,
    parse_drift_funding,
    parse_hyperliquid_funding_1h,
)
from botrunner.marketdata.venue_data import Coin, Venue, funding_path

# 4 % of price per hour (Hyperliquid's funding cap; every other venue here caps lower), parts per 1e12.
MAX_PLAUSIBLE_RATE_PER_HOUR: Final = 4 * FUNDING_FRACTION_PRECISION // 100
# rate_1e9 (quote per base) * this // oracle_1e6 = fraction of price in 1e12
_DRIFT_TO_FRACTION: Final = FUNDING_FRACTION_PRECISION * 10**6 // 10**9


def drift_rate_per_hour(rate_1e9: int, oracle_twap_1e6: int, period_s: int = ONE_HOUR_S) -> int:
    """Drift's funding rate for a period (quote per base, 1e9) as the fraction of price per hour (1e12): relative to
    the oracle TWAP it came from (module docstring), truncated toward zero."""
    if oracle_twap_1e6 <= 0:
        raise ValueError(f"Drift funding needs a positive oracle TWAP, got {oracle_twap_1e6}")
    return tdiv(tdiv(rate_1e9 * _DRIFT_TO_FRACTION, oracle_twap_1e6) * ONE_HOUR_S, period_s)


class FundingPoint(msgspec.Struct, frozen=True):
    """One settlement: ``rate_per_hour`` (1e12 fraction of price per hour, positive = longs pay) applied over
    ``period_s`` seconds ending at ``ts``. A position of notional N pays ``N * rate_per_hour * period_s / 3600``
    (:meth:`period_rate`)."""

    ts: int
    period_s: int
    rate_per_hour: int

    def period_rate(self) -> int:
        """The fraction of price (1e12) paid over the whole period, truncated toward zero."""
        return tdiv(self.rate_per_hour * self.period_s, ONE_HOUR_S)


def _point_ts(point: FundingPoint) -> int:
    return point.ts


class VenueFunding(msgspec.Struct, frozen=True):
    """A venue's funding for one coin, normalised (module docstring), strictly time-ordered."""

    venue: Venue
    coin: Coin
    source: str
    points: tuple[FundingPoint, ...]

    @property
    def first_ts(self) -> int:
        return self.points[0].ts

    @property
    def last_ts(self) -> int:
        return self.points[-1].ts

    def at(self, ts: int) -> FundingPoint | None:
        """The latest settlement known at ``ts`` (``point.ts <= ts``); None before the first."""
        i = bisect.bisect_right(self.points, ts, key=_point_ts)
        return self.points[i - 1] if i else None

    def between(self, start: int | None, end: int | None) -> tuple[FundingPoint, ...]:
        """Points with ``start <= ts < end`` (either bound optional)."""
        return tuple(p for p in self.points if (start is None or p.ts >= start) and (end is None or p.ts < end))

    def next_settlement(self, ts: int) -> int:
        """When the next settlement after ``ts`` is due on the venue's current schedule (the last known period)."""
        known = self.at(ts)
        period = known.period_s if known is not None else self.points[0].period_s
        return ts - ts % period + period


def _check_bound(points: list[FundingPoint], text: str, source: str, columns: tuple[str, ...]) -> None:
    """Raise naming ``file:line`` for the first point beyond :data:`MAX_PLAUSIBLE_RATE_PER_HOUR`."""
    for i, point in enumerate(points):
        if abs(point.rate_per_hour) > MAX_PLAUSIBLE_RATE_PER_HOUR:
            # the parsers yield exactly one record per csv_rows row, in order: the i-th row is this point's line
            where = next(w for j, (w, _) in enumerate(csv_rows(text, source, columns)) if j == i)
            per_hour = point.rate_per_hour * 100 / FUNDING_FRACTION_PRECISION
            raise DataError(
                f"{where}: funding rate {per_hour:.6g} %/h is beyond the plausibility bound of "
                f"{MAX_PLAUSIBLE_RATE_PER_HOUR * 100 // FUNDING_FRACTION_PRECISION} %/h (bad data, not traded on)"
            )


def parse_venue_funding(text: str, source: str, venue: Venue, coin: Coin) -> VenueFunding:
    """Parse one venue's funding file text into the normalised series (module docstring)."""
    points: list[FundingPoint] = []
    columns: tuple[str, ...]
    match venue:
        case Venue.DRIFT:
            columns = DRIFT_FUNDING_COLUMNS
            for record in parse_drift_funding(text, source).records:
                rate = drift_rate_per_hour(record.rate, record.oracle_twap)
                points.append(FundingPoint(record.hour_end, ONE_HOUR_S, rate))
        case Venue.HYPERLIQUID:
            columns = FUNDING_RATE_COLUMNS
            for s in parse_hyperliquid_funding_1h(text, source).samples:
                points.append(FundingPoint(s.ts, s.interval_s, tdiv(s.rate * ONE_HOUR_S, s.rate_period_s)))
        case Venue.BINANCE:
            columns = FUNDING_RATE_COLUMNS
            for s in parse_binance_funding_8h(text, source).samples:
                points.append(FundingPoint(s.ts, s.interval_s, tdiv(s.rate * ONE_HOUR_S, s.rate_period_s)))
    _check_bound(points, text, source, columns)
    return VenueFunding(venue, coin, source, tuple(points))


def load_venue_funding(path: Path, venue: Venue, coin: Coin) -> VenueFunding:
    """Load and normalise one venue's funding file (plain or gzip)."""
    return parse_venue_funding(read_text(path), str(path), venue, coin)


def load_from_data_dir(data_dir: Path, venue: Venue, coin: Coin) -> VenueFunding | None:
    """The venue's normalised funding for ``coin`` found in ``data_dir`` (``venue_data`` layouts); None if absent."""
    path = funding_path(data_dir, venue, coin)
    return None if path is None else load_venue_funding(path, venue, coin)
