"""OHLCV candles: load, convert to Drift price precision, validate.

Prices arrive as decimal text (``"207.75"``) and become 1e6 integers through ``Decimal`` so no binary-float noise
enters the core. Validation is strict by default: a malformed row, a NaN, a non-monotone or duplicate timestamp,
or a bar whose high/low do not bound its open/close is an error naming the file and line. Gaps are reported, not
repaired: a gap in history is a fact the caller decides about (``Candles.gaps``).
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import msgspec

from botrunner.core.precision import BASE_PRECISION, PRICE_PRECISION
from botrunner.marketdata._text import DataError, parse_fixed, read_text

__all__ = [
    "CANDLE_COLUMNS",
    "Candle",
    "Candles",
    "DataError",
    "bundled_path",
    "iter_closes",
    "load_candles",
    "parse_candles",
]

CANDLE_COLUMNS = ("ts", "open", "high", "low", "close", "volume")


class Candle(msgspec.Struct, frozen=True):
    """One bar; ``ts`` is the bar's open time (unix s). Prices 1e6, volume in base units 1e9."""

    ts: int
    open: int
    high: int
    low: int
    close: int
    volume: int


class Candles(msgspec.Struct, frozen=True):
    source: str
    interval_s: int
    bars: tuple[Candle, ...]

    @property
    def gaps(self) -> tuple[tuple[int, int], ...]:
        """(ts_before, ts_after) pairs where consecutive bars are more than one interval apart."""
        return tuple((a.ts, b.ts) for a, b in itertools.pairwise(self.bars) if b.ts - a.ts != self.interval_s)

    def between(self, start: int | None, end: int | None) -> Candles:
        """Bars with start <= ts < end (either bound optional)."""
        kept = tuple(b for b in self.bars if (start is None or b.ts >= start) and (end is None or b.ts < end))
        return Candles(self.source, self.interval_s, kept)


def parse_candles(text: str, source: str) -> Candles:
    """Parse ``ts,open,high,low,close,volume`` CSV text; the interval is the most common spacing."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != CANDLE_COLUMNS:
        raise DataError(f"{source}:1: expected header {','.join(CANDLE_COLUMNS)}, got {header!r}")
    bars: list[Candle] = []
    for line_no, row in enumerate(reader, start=2):
        where = f"{source}:{line_no}"
        if len(row) != len(CANDLE_COLUMNS):
            raise DataError(f"{where}: expected {len(CANDLE_COLUMNS)} columns, got {len(row)}")
        try:
            ts = int(row[0])
        except ValueError as exc:
            raise DataError(f"{where}: ts={row[0]!r} is not an integer unix time") from exc
        o, h, lo, c = (parse_fixed(row[i], PRICE_PRECISION, where, CANDLE_COLUMNS[i]) for i in range(1, 5))
        vol = parse_fixed(row[5], BASE_PRECISION, where, "volume")
        if not (lo <= min(o, c) and max(o, c) <= h):
            raise DataError(f"{where}: high/low do not bound open/close (o={row[1]} h={row[2]} l={row[3]} c={row[4]})")
        if bars and ts <= bars[-1].ts:
            kind = "duplicate" if ts == bars[-1].ts else "non-monotone"
            raise DataError(f"{where}: {kind} timestamp {ts} after {bars[-1].ts}")
        bars.append(Candle(ts, o, h, lo, c, vol))
    if not bars:
        raise DataError(f"{source}: no candles")
    spacings: dict[int, int] = {}
    for a, b in itertools.pairwise(bars):
        spacings[b.ts - a.ts] = spacings.get(b.ts - a.ts, 0) + 1
    interval = max(spacings, key=lambda k: (spacings[k], -k)) if spacings else 0
    return Candles(source, interval, tuple(bars))


def load_candles(path: Path) -> Candles:
    return parse_candles(read_text(path), str(path))


def bundled_path(name: str) -> Path:
    """Path of a file in the bundled data slice (botrunner/data)."""
    return Path(str(resources.files("botrunner") / "data" / name))


def iter_closes(candles: Candles) -> Iterator[tuple[int, int]]:
    """(close_ts, close) pairs: a bar's close is known at ts + interval."""
    for bar in candles.bars:
        yield bar.ts + candles.interval_s, bar.close
