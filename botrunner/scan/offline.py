"""The scanner's snapshot from recorded history: a ``--data`` directory at a past time.

For each venue and coin at ``at`` (unix s):

- funding: the last settlement at or before ``at`` (``VenueFunding.at``, never one after), its rate per hour, and
  when the next one is due on the venue's schedule;
- price: the close of the last 1-hour candle that closed at or before ``at`` (Hyperliquid, Binance), or Drift's
  1-hour mark TWAP of the last funding hour (Drift publishes no candles). Both refer to the same hour boundary, so
  the spread between venues compares like with like; bid = ask = that price (history has no book);
- metrics from the 1-hour candles: VWAP deviation (last close vs the volume-weighted typical price of the last 24
  bars) and ATR trend (mean true range of the last 14 bars / of the last 168 bars). Drift has none.

What history cannot give: order-book depth (so the depth hard constraint is "not checkable"), quote freshness (the
same), open interest and liquidation clusters (unavailable soft metrics). The snapshot's ``notes`` say so.

A venue/coin whose data does not cover ``at`` (no file, before the first record, or more than two settlement
periods after the last one) is listed as unavailable with the reason. A time no venue covers is refused
(:class:`OutsideDataError`), naming the span the data does cover.
"""

from __future__ import annotations

import bisect
import itertools
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from botrunner.core.fixed import tdiv
from botrunner.core.precision import BPS_PRECISION
from botrunner.funding import ONE_HOUR_S
from botrunner.marketdata._text import read_text
from botrunner.marketdata.candles import Candle, Candles, load_candles
from botrunner.marketdata.funding import parse_drift_funding
from botrunner.marketdata.venue_data import Coin, Venue, locate
from botrunner.marketdata.venue_funding import VenueFunding, parse_venue_funding
from botrunner.scan.snapshot import MarketSnapshot, Unavailable, VenueQuote

VWAP_BARS: Final = 24
ATR_SHORT_BARS: Final = 14
ATR_LONG_BARS: Final = 168
STALE_PERIODS: Final = 2  # data older than this many settlement periods (or candle intervals) does not cover `at`

OFFLINE_NOTES: Final = (
    "offline history has no order-book depth and no quote time: the depth and freshness hard constraints are "
    "not checkable, so every score is provisional (not a trading signal)",
    "offline history has no open interest, order-book imbalance or liquidation clusters: those soft metrics are "
    "unavailable and the weights are renormalised over funding delta, VWAP deviation and ATR trend",
    "prices are the last closed 1-hour candle (Drift: its 1-hour mark TWAP), bid = ask",
)


class OutsideDataError(ValueError):
    """The scan time is not covered by any venue's data."""


def iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%MZ")


def _covers(series_last_ts: int, period_s: int, at: int) -> bool:
    return at - series_last_ts <= STALE_PERIODS * period_s


def vwap_deviation_bps(bars: tuple[Candle, ...]) -> int | None:
    """Last close vs the volume-weighted typical price ((h + l + c) / 3) of ``bars``, bps; None without volume."""
    volume = sum(b.volume for b in bars)
    if not bars or volume == 0:
        return None
    vwap = sum((b.high + b.low + b.close) * b.volume for b in bars) // (3 * volume)
    return tdiv((bars[-1].close - vwap) * BPS_PRECISION, vwap) if vwap > 0 else None


def atr_ratio_bps(bars: tuple[Candle, ...]) -> int | None:
    """Mean true range of the last :data:`ATR_SHORT_BARS` bars / of the last :data:`ATR_LONG_BARS`, bps (10000 =
    volatility as usual); None with fewer than ``ATR_LONG_BARS + 1`` bars or a flat history."""
    if len(bars) < ATR_LONG_BARS + 1:
        return None
    window = bars[-(ATR_LONG_BARS + 1) :]
    ranges = [
        max(b.high - b.low, abs(b.high - prev.close), abs(b.low - prev.close)) for prev, b in itertools.pairwise(window)
    ]
    long_sum = sum(ranges)
    if long_sum == 0:
        return None
    short_mean_x_long = sum(ranges[-ATR_SHORT_BARS:]) * ATR_LONG_BARS
    return short_mean_x_long * BPS_PRECISION // (long_sum * ATR_SHORT_BARS)


def _closed_by(candles: Candles, at: int) -> tuple[Candle, ...]:
    """Bars that had closed at ``at`` (``ts + interval <= at``)."""
    end = bisect.bisect_right(candles.bars, at - candles.interval_s, key=lambda b: b.ts)
    return candles.bars[:end]


def _quote(data_dir: Path, venue: Venue, coin: Coin, at: int) -> tuple[VenueQuote | Unavailable, VenueFunding | None]:
    files = locate(data_dir, venue, coin)
    if files.funding is None:
        return Unavailable(venue, coin, "no funding file in the data"), None
    text = read_text(files.funding)
    funding = parse_venue_funding(text, str(files.funding), venue, coin)
    point = funding.at(at)
    span = f"funding data spans {iso(funding.first_ts)} -> {iso(funding.last_ts)}"
    if point is None or not _covers(funding.last_ts, point.period_s, at):
        return Unavailable(venue, coin, span), funding
    vwap_dev: int | None = None
    atr: int | None = None
    match venue:
        case Venue.DRIFT:
            records = parse_drift_funding(text, str(files.funding)).records
            i = bisect.bisect_right(records, at, key=lambda r: r.hour_end)
            price = records[i - 1].mark_twap  # the record `point` came from: same hour boundary
            note = "1 h mark TWAP"
        case Venue.HYPERLIQUID | Venue.BINANCE:
            path = files.candles_1h or files.candles_5m
            if path is None:
                return Unavailable(venue, coin, "no candles in the data"), funding
            candles = load_candles(path)
            closed = _closed_by(candles, at)
            if not closed or not _covers(closed[-1].ts + candles.interval_s, candles.interval_s, at):
                first, last = candles.bars[0].ts, candles.bars[-1].ts + candles.interval_s
                return Unavailable(venue, coin, f"candles span {iso(first)} -> {iso(last)}"), funding
            price = closed[-1].close
            note = f"{candles.interval_s // 60} min candle close"
            if candles.interval_s == ONE_HOUR_S:
                vwap_dev = vwap_deviation_bps(closed[-VWAP_BARS:])
                atr = atr_ratio_bps(closed)
    quote = VenueQuote(
        venue=venue,
        coin=coin,
        bid=price,
        ask=price,
        funding_rate_per_hour=point.rate_per_hour,
        funding_period_s=point.period_s,
        next_funding_ts=funding.next_settlement(at),
        price_note=note,
        vwap_deviation_bps=vwap_dev,
        atr_ratio_bps=atr,
    )
    return quote, funding


def offline_snapshot(
    data_dir: Path, at: int, venues: tuple[Venue, ...] = tuple(Venue), coins: tuple[Coin, ...] = tuple(Coin)
) -> MarketSnapshot:
    """The snapshot of ``data_dir`` at ``at`` (module docstring). Bad data raises ``DataError`` naming file:line;
    a time no venue covers raises :class:`OutsideDataError`."""
    quotes: list[VenueQuote] = []
    unavailable: list[Unavailable] = []
    spans: list[tuple[int, int]] = []
    for coin in coins:
        for venue in venues:
            got, funding = _quote(data_dir, venue, coin, at)
            if funding is not None:
                spans.append((funding.first_ts, funding.last_ts))
            if isinstance(got, VenueQuote):
                quotes.append(got)
            else:
                unavailable.append(got)
    if not quotes:
        if not spans:
            raise OutsideDataError(f"{data_dir}: no funding data for {', '.join(venues)} / {', '.join(coins)}")
        first, last = min(s[0] for s in spans), max(s[1] for s in spans)
        raise OutsideDataError(
            f"{iso(at)} is outside the data in {data_dir}: its funding spans {iso(first)} -> {iso(last)}"
        )
    return MarketSnapshot(
        taken_ms=at * 1000,
        quotes=tuple(quotes),
        unavailable=tuple(unavailable),
        source=f"offline {data_dir} at {iso(at)}",
        notes=OFFLINE_NOTES,
    )


class OfflineSource:
    """:class:`~botrunner.scan.snapshot.SnapshotSource` over history: every call returns the snapshot at ``at``."""

    def __init__(self, data_dir: Path, at: int) -> None:
        self._data_dir = data_dir
        self._at = at

    async def snapshot(self, venues: tuple[Venue, ...], coins: tuple[Coin, ...]) -> MarketSnapshot:
        return offline_snapshot(self._data_dir, self._at, venues, coins)
