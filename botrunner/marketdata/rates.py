"""Spot interest-rate series: ``ts,deposit_apr,borrow_apr`` CSV (plain or gzip) -> an immutable, validated series.

A backtest of a delta-neutral bot takes such a file, when given, for the interest its spot legs earn or pay, instead
of the Drift curve at a configured utilisation (``botrunner.margin.interest.rates_at``). APRs in the file are
fractions per year (``0.045`` = 4.5 %); they become integers in Drift's ``SPOT_RATE_PRECISION`` (1e6 = 100 % per
year), the unit the interest maths uses, rounded half-even to 1e-6 (published rates carry float noise; 1e-6 of an
APR is 0.0001 percentage points, far below anything the carry decision can see).

Validation (each error one line naming ``file:line``): the exact header, integer timestamps strictly increasing
(a duplicate or a step back is an error: the lookup "rate in force at ts" would be ambiguous), APRs that are numbers,
not negative, and not above ``MAX_PLAUSIBLE_APR`` (10 = 1000 % per year: Drift's curves top out well below, so a
larger value is a unit mistake such as percent given for a fraction), and at least one row.
"""

from __future__ import annotations

import bisect
from pathlib import Path
from typing import Final

import msgspec

from botrunner.marketdata._text import DataError, csv_rows, parse_fixed, parse_int, read_text

RATE_COLUMNS: Final = ("ts", "deposit_apr", "borrow_apr")
APR_PRECISION: Final = 10**6  # == botrunner.margin.interest.SPOT_RATE_PRECISION: 1e6 = 100 % per year
MAX_PLAUSIBLE_APR: Final = 10 * APR_PRECISION  # 1000 % per year


class RateSample(msgspec.Struct, frozen=True):
    """Deposit and borrow APR in force from ``ts`` (unix seconds) until the next sample; APRs 1e6 = 100 % / year."""

    ts: int
    deposit_apr: int
    borrow_apr: int


class RateSeries(msgspec.Struct, frozen=True):
    """A validated series of rate samples, strictly increasing in ``ts``; ``source`` names the file."""

    source: str
    samples: tuple[RateSample, ...]

    def at(self, ts: int) -> RateSample | None:
        """The sample in force at ``ts``: the last one with ``sample.ts <= ts``; ``None`` before the first sample
        (the series says nothing there; the caller decides, rather than this guessing a rate)."""
        i = bisect.bisect_right(self.samples, ts, key=_sample_ts)
        return self.samples[i - 1] if i else None


def _sample_ts(sample: RateSample) -> int:
    return sample.ts


def _apr(text: str, where: str, column: str) -> int:
    value = parse_fixed(text, APR_PRECISION, where, column)  # rejects non-numbers, NaN/inf, negatives
    if value > MAX_PLAUSIBLE_APR:
        raise DataError(f"{where}: {column}={text!r} is implausible (above 10 = 1000 % per year; APRs are fractions)")
    return value


def parse_rate_series(text: str, source: str) -> RateSeries:
    """Parse ``ts,deposit_apr,borrow_apr`` CSV text; errors name ``source:line``."""
    samples: list[RateSample] = []
    for where, row in csv_rows(text, source, RATE_COLUMNS):
        ts = parse_int(row[0].strip(), where, "ts")
        if samples and ts <= samples[-1].ts:
            kind = "duplicate" if ts == samples[-1].ts else "non-monotonic"
            raise DataError(f"{where}: {kind} timestamp {ts} after {samples[-1].ts}")
        samples.append(
            RateSample(ts, _apr(row[1].strip(), where, "deposit_apr"), _apr(row[2].strip(), where, "borrow_apr"))
        )
    if not samples:
        raise DataError(f"{source}: no rates")
    return RateSeries(source, tuple(samples))


def load_rate_series(path: Path) -> RateSeries:
    """Read and parse a rate series file (plain or gzip, by content)."""
    return parse_rate_series(read_text(path), str(path))
