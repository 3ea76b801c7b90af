"""Funding history: Drift's hourly funding records and other venues' published funding rates.

Drift records (``ts,fundingRate,fundingRateLong,fundingRateShort,oraclePriceTwap,markPriceTwap,periodRevenue``)
become :class:`DriftFundingRecord` in Drift's own precisions: rates 1e9 (quote per base per hour, positive = longs
pay), TWAPs 1e6, revenue quote 1e6. Every field must be exact at its precision (a finer value would mean the file
is not what we think it is). A record's ``ts`` is the on-chain update, seconds after the END of the funding hour it
settles; :attr:`DriftFundingRecord.hour_start` names that hour.

Venue rates (Binance ``ts,rate`` fraction of price per 8 h; Hyperliquid ``ts,rate`` fraction per hour) become
:class:`FundingRateSample` with ``rate`` in parts per 1e12 of price per ``rate_period_s`` — exact for every row in
the shared data (Hyperliquid publishes 10 decimals, so 1e9 would round).

Validation, as for candles: NaN, malformed rows, duplicates and non-monotone timestamps are errors naming the file
and line; gaps are reported (``.gaps``), not repaired.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Final

import msgspec

from botrunner.core.markets import ContractTier
from botrunner.core.precision import FUNDING_RATE_PRECISION, PRICE_PRECISION, QUOTE_PRECISION
from botrunner.funding import ONE_HOUR_S, funding_rate
from botrunner.marketdata._text import DataError, csv_rows, parse_fixed, parse_int, read_text

DRIFT_FUNDING_COLUMNS: Final = (
    "ts",
    "fundingRate",
    "fundingRateLong",
    "fundingRateShort",
    "oraclePriceTwap",
    "markPriceTwap",
    "periodRevenue",
)
FUNDING_RATE_COLUMNS: Final = ("ts", "rate")
FUNDING_FRACTION_PRECISION: Final = 10**12  # venue funding rates: parts per 1e12 of price per rate period
BINANCE_FUNDING_INTERVAL_S: Final = 8 * ONE_HOUR_S
# Hyperliquid paid funding every 8 h until this sample (2023-06-08 00:00 UTC, the last 8-hour settlement) and
# hourly after it; the published rate is per hour throughout.
HYPERLIQUID_HOURLY_AFTER_TS: Final = 1_686_182_400


class DriftFundingRecord(msgspec.Struct, frozen=True):
    """One Drift hourly funding update. Rates 1e9 quote per base (positive = longs pay); TWAPs 1e6; revenue 1e6."""

    ts: int
    rate: int
    rate_long: int
    rate_short: int
    oracle_twap: int
    mark_twap: int
    period_revenue: int

    @property
    def hour_end(self) -> int:
        """The hour boundary this update follows (its ``ts`` minus the crank's seconds of lateness)."""
        return self.ts - self.ts % ONE_HOUR_S

    @property
    def hour_start(self) -> int:
        """Start of the funding hour this record settles: ``[hour_start, hour_end)``."""
        return self.hour_end - ONE_HOUR_S


class DriftFunding(msgspec.Struct, frozen=True):
    """A validated, strictly time-ordered series of Drift funding records, one per funding hour."""

    source: str
    records: tuple[DriftFundingRecord, ...]

    @property
    def gaps(self) -> tuple[tuple[int, int], ...]:
        """(hour_start_before, hour_start_after) pairs where one or more funding hours are missing."""
        return tuple(
            (a.hour_start, b.hour_start)
            for a, b in itertools.pairwise(self.records)
            if b.hour_start - a.hour_start != ONE_HOUR_S
        )

    def between(self, start: int | None, end: int | None) -> DriftFunding:
        """Records whose update ``ts`` satisfies start <= ts < end (either bound optional)."""
        kept = tuple(r for r in self.records if (start is None or r.ts >= start) and (end is None or r.ts < end))
        return DriftFunding(self.source, kept)


class FormulaMismatch(msgspec.Struct, frozen=True):
    """A record whose ``rate`` differs from :func:`botrunner.funding.funding_rate` of its own TWAPs."""

    ts: int
    recorded: int
    computed: int


def parse_drift_funding(text: str, source: str) -> DriftFunding:
    """Parse Drift funding-record CSV text (header :data:`DRIFT_FUNDING_COLUMNS`)."""
    records: list[DriftFundingRecord] = []
    for where, row in csv_rows(text, source, DRIFT_FUNDING_COLUMNS):
        ts = parse_int(row[0], where, "ts")
        rate, rate_long, rate_short = (
            parse_fixed(row[i], FUNDING_RATE_PRECISION, where, DRIFT_FUNDING_COLUMNS[i], signed=True, exact=True)
            for i in (1, 2, 3)
        )
        oracle, mark = (
            parse_fixed(row[i], PRICE_PRECISION, where, DRIFT_FUNDING_COLUMNS[i], exact=True) for i in (4, 5)
        )
        if oracle == 0 or mark == 0:
            raise DataError(f"{where}: a zero TWAP (oracle={row[4]} mark={row[5]}) is not a price")
        revenue = parse_fixed(row[6], QUOTE_PRECISION, where, "periodRevenue", signed=True, exact=True)
        record = DriftFundingRecord(ts, rate, rate_long, rate_short, oracle, mark, revenue)
        if records:
            last = records[-1]
            if ts <= last.ts:
                kind = "duplicate" if ts == last.ts else "non-monotone"
                raise DataError(f"{where}: {kind} timestamp {ts} after {last.ts}")
            if record.hour_start == last.hour_start:
                raise DataError(f"{where}: duplicate funding hour {record.hour_start} (ts {last.ts} and {ts})")
        records.append(record)
    if not records:
        raise DataError(f"{source}: no funding records")
    return DriftFunding(source, tuple(records))


def load_drift_funding(path: Path) -> DriftFunding:
    """Load a Drift funding-record CSV (plain or gzip)."""
    return parse_drift_funding(read_text(path), str(path))


def verify_against_formula(
    records: DriftFunding | tuple[DriftFundingRecord, ...], tier: ContractTier = ContractTier.B
) -> tuple[FormulaMismatch, ...]:
    """Records whose recorded ``rate`` is not exactly ``funding_rate(mark_twap, oracle_twap, tier)``.

    Empty on every bundled and shared SOL/BTC record: the simulator may trust the formula. A mismatch means either
    the data or the maths is wrong, and a backtest built on both would be fiction.
    """
    rows = records.records if isinstance(records, DriftFunding) else records
    out: list[FormulaMismatch] = []
    for r in rows:
        computed = funding_rate(r.mark_twap, r.oracle_twap, tier)
        if computed != r.rate:
            out.append(FormulaMismatch(r.ts, r.rate, computed))
    return tuple(out)


class FundingRateSample(msgspec.Struct, frozen=True):
    """A venue's published funding rate at ``ts``.

    ``rate`` is the fraction of price paid per ``rate_period_s`` (the unit the venue quotes), in parts per 1e12;
    positive = longs pay. ``interval_s`` is the settlement interval this sample closes (the expected spacing from
    the previous sample), which may differ from ``rate_period_s`` (Hyperliquid quoted per hour while settling 8-hourly
    before 2023-06-08).
    """

    ts: int
    rate: int
    rate_period_s: int
    interval_s: int

    def rate_per_hour(self) -> Fraction:
        """The rate as an exact fraction of price per hour."""
        return Fraction(self.rate * ONE_HOUR_S, FUNDING_FRACTION_PRECISION * self.rate_period_s)


class FundingRates(msgspec.Struct, frozen=True):
    """A validated, strictly time-ordered series of venue funding-rate samples."""

    source: str
    samples: tuple[FundingRateSample, ...]

    @property
    def gaps(self) -> tuple[tuple[int, int], ...]:
        """(ts_before, ts_after) pairs whose spacing is not the later sample's settlement interval."""
        return tuple((a.ts, b.ts) for a, b in itertools.pairwise(self.samples) if b.ts - a.ts != b.interval_s)


def parse_funding_rates(
    text: str, source: str, *, rate_period_s: int, interval_at: Callable[[int], int]
) -> FundingRates:
    """Parse ``ts,rate`` CSV text; ``interval_at(ts)`` gives the venue's settlement interval in force at ``ts``."""
    samples: list[FundingRateSample] = []
    for where, row in csv_rows(text, source, FUNDING_RATE_COLUMNS):
        ts = parse_int(row[0], where, "ts")
        rate = parse_fixed(row[1], FUNDING_FRACTION_PRECISION, where, "rate", signed=True, exact=True)
        if samples and ts <= samples[-1].ts:
            kind = "duplicate" if ts == samples[-1].ts else "non-monotone"
            raise DataError(f"{where}: {kind} timestamp {ts} after {samples[-1].ts}")
        samples.append(FundingRateSample(ts, rate, rate_period_s, interval_at(ts)))
    if not samples:
        raise DataError(f"{source}: no funding rates")
    return FundingRates(source, tuple(samples))


def _binance_interval(ts: int) -> int:
    del ts  # constant over the whole data window
    return BINANCE_FUNDING_INTERVAL_S


def _hyperliquid_interval(ts: int) -> int:
    return 8 * ONE_HOUR_S if ts <= HYPERLIQUID_HOURLY_AFTER_TS else ONE_HOUR_S


def parse_binance_funding_8h(text: str, source: str) -> FundingRates:
    """Binance USDT-M funding: ``rate`` is a fraction of price per 8 h, settled every 8 h."""
    return parse_funding_rates(text, source, rate_period_s=BINANCE_FUNDING_INTERVAL_S, interval_at=_binance_interval)


def load_binance_funding_8h(path: Path) -> FundingRates:
    return parse_binance_funding_8h(read_text(path), str(path))


def parse_hyperliquid_funding_1h(text: str, source: str) -> FundingRates:
    """Hyperliquid funding: ``rate`` is a fraction of price per hour; settled 8-hourly until 2023-06-08."""
    return parse_funding_rates(text, source, rate_period_s=ONE_HOUR_S, interval_at=_hyperliquid_interval)


def load_hyperliquid_funding_1h(path: Path) -> FundingRates:
    return parse_hyperliquid_funding_1h(read_text(path), str(path))
