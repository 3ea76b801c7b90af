"""Where each venue's funding history and candles are in a ``--data`` directory.

Two layouts are recognised, and nothing else is guessed:

- the shared development data (``../shared/data``, see its README): ``DIR/market/<venue>/<file>``, or ``DIR``
  pointing at the ``market`` directory itself::

      drift/SOL-PERP_funding_1h.csv                   Drift hourly funding records (no candles: Drift publishes none)
      hyperliquid/SOL-USDC-PERP_funding_1h.csv        Hyperliquid funding, fraction per hour
      hyperliquid/SOL-USDC-PERP_{5m,1h}.csv.gz        Hyperliquid candles
      binance/SOL-USDT-PERP_funding_8h.csv            Binance USDT-M funding, fraction per 8 h
      binance/SOL-USDT-PERP_{5m,1h}.csv.gz            Binance USDT-M perp candles

- the bundled slice (``botrunner/data``, flat): ``SOL-PERP_drift_funding_1h.csv.gz``,
  ``SOL-USDT-PERP_binance_5m.csv.gz``, ``BTC-USDT-PERP_binance_1h.csv.gz``.

Each file may be plain or gzip (``.csv`` or ``.csv.gz``; the loaders sniff the content). A venue/coin whose file is
absent is reported as ``None``: the caller decides whether that is an error (a backtest) or "unavailable" (the
scanner). No slice for Hyperliquid or Binance funding is bundled: the tests read ``../shared/data``, and the product
never needs these files to start.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Literal

import msgspec

CandleInterval = Literal["5m", "1h"]


class Venue(enum.StrEnum):
    """A perp venue the funding-arbitrage tools know. Drift is the home venue (one bot = one Drift subaccount)."""

    DRIFT = "drift"
    HYPERLIQUID = "hyperliquid"
    BINANCE = "binance"


class Coin(enum.StrEnum):
    """The underlying of a perp market, the same on every venue (SOL-PERP, SOL-USDC-PERP, SOLUSDT)."""

    SOL = "SOL"
    BTC = "BTC"
    ETH = "ETH"


def _stem(venue: Venue, coin: Coin) -> str:
    match venue:
        case Venue.DRIFT:
            return f"{coin}-PERP"
        case Venue.HYPERLIQUID:
            return f"{coin}-USDC-PERP"
        case Venue.BINANCE:
            return f"{coin}-USDT-PERP"


def _funding_names(venue: Venue, coin: Coin) -> tuple[str, ...]:
    stem = _stem(venue, coin)
    match venue:
        case Venue.DRIFT | Venue.HYPERLIQUID:
            period = "1h"
        case Venue.BINANCE:
            period = "8h"
    shared = f"{venue}/{stem}_funding_{period}.csv"
    bundled = f"{stem}_{venue}_funding_{period}.csv"
    return (shared, f"{shared}.gz", bundled, f"{bundled}.gz")


def _candle_names(venue: Venue, coin: Coin, interval: CandleInterval) -> tuple[str, ...]:
    stem = _stem(venue, coin)
    shared = f"{venue}/{stem}_{interval}.csv"
    bundled = f"{stem}_{venue}_{interval}.csv"
    return (f"{shared}.gz", shared, f"{bundled}.gz", bundled)


def market_root(data_dir: Path) -> Path:
    """The directory holding the venue folders: ``DIR/market`` when it exists, else ``DIR`` itself."""
    nested = data_dir / "market"
    return nested if nested.is_dir() else data_dir


def _first_existing(root: Path, names: tuple[str, ...]) -> Path | None:
    for name in names:
        path = root / name
        if path.is_file():
            return path
    return None


def funding_path(data_dir: Path, venue: Venue, coin: Coin) -> Path | None:
    """The venue's funding file for ``coin`` under ``data_dir``; None when the data has none."""
    return _first_existing(market_root(data_dir), _funding_names(venue, coin))


def candles_path(data_dir: Path, venue: Venue, coin: Coin, interval: CandleInterval) -> Path | None:
    """The venue's perp candles for ``coin`` at ``interval``; None when absent (always for Drift)."""
    if venue is Venue.DRIFT:
        return None  # Drift publishes no candles; its funding records carry hourly mark/oracle TWAPs instead
    return _first_existing(market_root(data_dir), _candle_names(venue, coin, interval))


class VenueFiles(msgspec.Struct, frozen=True):
    """Every file the data holds for one venue and coin (None: absent)."""

    venue: Venue
    coin: Coin
    funding: Path | None
    candles_5m: Path | None
    candles_1h: Path | None

    @property
    def candles(self) -> Path | None:
        """The finest candles available (5 m before 1 h)."""
        return self.candles_5m or self.candles_1h


def locate(data_dir: Path, venue: Venue, coin: Coin) -> VenueFiles:
    """All of one venue/coin's files under ``data_dir`` (a missing directory finds nothing)."""
    return VenueFiles(
        venue,
        coin,
        funding_path(data_dir, venue, coin),
        candles_path(data_dir, venue, coin, "5m"),
        candles_path(data_dir, venue, coin, "1h"),
    )
