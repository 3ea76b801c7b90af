"""Where a backtest's history comes from: candles (the price path) and Drift funding records for a bot's market.

Two directory layouts are understood, tried in this order for the bot's base asset (``SOL`` of ``SOL-PERP``):

* the shared development data: ``DIR/market/binance/SOL-USDT-PERP_5m.csv.gz`` (then ``_1h``) and
  ``DIR/market/drift/SOL-PERP_funding_1h.csv`` (or ``.csv.gz``);
* the bundled slice (``botrunner/data``): ``DIR/SOL-USDT-PERP_binance_5m.csv.gz`` (then ``_1h``) and
  ``DIR/SOL-PERP_drift_funding_1h.csv.gz``.

Without funding records the backtest uses Drift's formula; a window the records do not cover is an error (silently
switching formulas mid-run would make two halves of one report incomparable).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from botrunner.funding import ONE_HOUR_S
from botrunner.marketdata.candles import Candles, load_candles
from botrunner.marketdata.funding import DriftFundingRecord, load_drift_funding

BUNDLED_DIR = Path(__file__).resolve().parents[1] / "data"


class DataNotFound(ValueError):
    """No usable data file for the bot's market (message names what was looked for and where)."""


@dataclass(frozen=True)
class MarketData:
    candles: Candles
    candles_path: Path
    funding: tuple[DriftFundingRecord, ...] | None
    funding_path: Path | None

    @property
    def funding_source(self) -> str:
        """``drift_records`` or ``drift_formula`` (no records: Drift's formula from the path)."""
        return "drift_records" if self.funding is not None else "drift_formula"

    def digests(self) -> list[tuple[str, str]]:
        """(file name, sha256) of every file the run reads: part of the run id."""
        files = [self.candles_path] if self.funding_path is None else [self.candles_path, self.funding_path]
        return [(p.name, hashlib.sha256(p.read_bytes()).hexdigest()) for p in files]

    def span(self) -> tuple[int, int]:
        """[first bar's open, last bar's close) in unix s."""
        bars = self.candles.bars
        return bars[0].ts, bars[-1].ts + self.candles.interval_s

    def default_start(self, warmup_s: int) -> int:
        """The first bar traded when no start is given: after ``warmup_s`` of history (the strategy's longest
        lookback), or the last bar if the data is shorter than that."""
        first, end = self.span()
        return min(first + warmup_s, end - self.candles.interval_s)


def candle_candidates(directory: Path, base: str) -> list[Path]:
    return [
        directory / "market" / "binance" / f"{base}-USDT-PERP_5m.csv.gz",
        directory / "market" / "binance" / f"{base}-USDT-PERP_1h.csv.gz",
        directory / f"{base}-USDT-PERP_binance_5m.csv.gz",
        directory / f"{base}-USDT-PERP_binance_1h.csv.gz",
    ]


def funding_candidates(directory: Path, symbol: str) -> list[Path]:
    return [
        directory / "market" / "drift" / f"{symbol}_funding_1h.csv",
        directory / "market" / "drift" / f"{symbol}_funding_1h.csv.gz",
        directory / f"{symbol}_drift_funding_1h.csv.gz",
    ]


def resolve(
    symbol: str,
    directory: Path | None = None,
    *,
    candles: Path | None = None,
    funding: Path | None = None,
    formula_funding: bool = False,
) -> MarketData:
    """Load the candles and funding records for perp ``symbol`` (explicit files win over ``directory``)."""
    where = directory if directory is not None else BUNDLED_DIR
    base = symbol.removesuffix("-PERP")
    if candles is None:
        found = [p for p in candle_candidates(where, base) if p.is_file()]
        if not found:
            looked = ", ".join(str(p) for p in candle_candidates(where, base))
            raise DataNotFound(f"no candles for {symbol} in {where} (looked for {looked}); pass --candles FILE")
        candles = found[0]
    elif not candles.is_file():
        raise DataNotFound(f"candle file {candles} does not exist")
    if funding is None and not formula_funding:
        found = [p for p in funding_candidates(where, symbol) if p.is_file()]
        funding = found[0] if found else None
    elif funding is not None and not funding.is_file():
        raise DataNotFound(f"funding file {funding} does not exist")
    records = load_drift_funding(funding).records if funding is not None and not formula_funding else None
    return MarketData(load_candles(candles), candles, records, funding if records is not None else None)


def check_funding_covers(records: tuple[DriftFundingRecord, ...], start: int, end: int, source: Path) -> None:
    """Every funding hour of ``[start, end)`` must have its record (one hour of slack for the crank's lateness)."""
    if not records:
        raise DataNotFound(f"{source}: no funding records")
    first, last = records[0].ts, records[-1].ts
    if first > start + ONE_HOUR_S or last < end - 2 * ONE_HOUR_S:
        raise DataNotFound(
            f"{source}: funding records cover {first}..{last} but the window is {start}..{end}; "
            "narrow --from/--to or pass --funding-formula to use Drift's formula"
        )
    previous = None
    for r in records:
        if previous is not None and start <= r.ts <= end and r.ts - previous > 2 * ONE_HOUR_S + ONE_HOUR_S // 2:
            raise DataNotFound(f"{source}: funding records missing between {previous} and {r.ts} inside the window")
        previous = r.ts
