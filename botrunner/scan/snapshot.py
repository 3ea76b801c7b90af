"""What the scanner reads: one quote per venue and coin, and where quotes come from (live or offline).

Units: prices 1e6; depth quote 1e6 (notional resting within :data:`NEAR_TOUCH_BPS` of the touch, per side);
funding 1e12 fraction of price per hour, positive = longs pay (``botrunner.marketdata.venue_funding``); times unix
ms for quotes (freshness is judged in ms), unix s for funding. A figure a source cannot supply is None and the
scan says so (the score marks it unavailable, or the hard constraint that needs it "not checkable").
"""

from __future__ import annotations

from typing import Final, Protocol

import msgspec

from botrunner.marketdata.venue_data import Coin, Venue

NEAR_TOUCH_BPS: Final = 10  # depth counted within 0.1 % of the best bid/ask


class VenueQuote(msgspec.Struct, frozen=True, kw_only=True):
    """One venue's market for one coin at the snapshot time.

    ``quote_ts_ms`` is the venue's own timestamp of the book/ticker (None: unknown, e.g. offline history);
    ``price_note`` says what the bid/ask are when they are not a live book (offline: a candle close or a TWAP, bid =
    ask). The optional metrics are per venue: ``vwap_deviation_bps`` (last price vs the 24 h VWAP),
    ``atr_ratio_bps`` (ATR of the last 14 hours / of the last 7 days, 10000 = flat), ``open_interest_vs_avg_bps``
    (open interest / its 24 h average - 1), ``liquidation_distance_bps`` (to the nearest liquidation cluster)."""

    venue: Venue
    coin: Coin
    bid: int
    ask: int
    funding_rate_per_hour: int
    funding_period_s: int
    next_funding_ts: int
    bid_depth: int | None = None
    ask_depth: int | None = None
    quote_ts_ms: int | None = None
    price_note: str = ""
    vwap_deviation_bps: int | None = None
    atr_ratio_bps: int | None = None
    open_interest_vs_avg_bps: int | None = None
    liquidation_distance_bps: int | None = None

    @property
    def mid(self) -> int:
        return (self.bid + self.ask) // 2


class Unavailable(msgspec.Struct, frozen=True):
    """A venue/coin the snapshot has no quote for, and why."""

    venue: Venue
    coin: Coin
    reason: str


class MarketSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """Every venue/coin at one moment: ``taken_ms`` is when the snapshot was taken (quote age = taken - quote)."""

    taken_ms: int
    quotes: tuple[VenueQuote, ...]
    unavailable: tuple[Unavailable, ...]
    source: str  # "offline DIR at TIME" or the live source's name
    notes: tuple[str, ...] = ()  # what the source cannot supply, said plainly in the output


class SnapshotSource(Protocol):
    """Where a scan's quotes come from. The live implementation (ccxt for Hyperliquid/Binance, the Drift venue for
    Drift) fills every field it can; the offline one (:mod:`botrunner.scan.offline`) reads history."""

    async def snapshot(self, venues: tuple[Venue, ...], coins: tuple[Coin, ...]) -> MarketSnapshot:
        """One quote per venue and coin asked for (or an :class:`Unavailable` saying why not)."""
        ...
