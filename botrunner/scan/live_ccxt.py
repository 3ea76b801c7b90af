"""The scanner's live quotes from external venues through ccxt: a :class:`~botrunner.scan.snapshot.SnapshotSource`.

One :class:`~botrunner.live.ccxt_venue.CcxtVenue` per venue (public, read-only: funding and the book need no key).
Per venue and coin it reads the funding rate and the book at the same time and fills a
:class:`~botrunner.scan.snapshot.VenueQuote`: best bid/ask, the quote notional within ``NEAR_TOUCH_BPS`` of the
touch on each side, the venue's book time (the freshness constraint compares it with ``taken_ms``), and the funding
rate per hour (the adapter normalises Binance's 8-hour rate). A rate beyond the plausibility bound
(:data:`~botrunner.marketdata.venue_funding.MAX_PLAUSIBLE_RATE_PER_HOUR`) is bad data: that venue/coin is
unavailable, never ranked. A venue without an adapter (Drift's live quotes come from the Drift venue, Hyperliquid
needs its own signer) and every failed read are listed as unavailable with the reason.

The soft metrics that need history (VWAP deviation, ATR trend, open interest vs its 24 h average, liquidation
clusters) are not read live yet: the snapshot says so in its notes and the score renormalises over the rest.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

from botrunner.core.precision import quote_value
from botrunner.core.side import Side
from botrunner.live.ccxt_venue import BookSnapshot, CcxtVenue, CcxtVenueError, FundingQuote
from botrunner.marketdata.venue_data import Coin, Venue
from botrunner.marketdata.venue_funding import MAX_PLAUSIBLE_RATE_PER_HOUR
from botrunner.scan.snapshot import NEAR_TOUCH_BPS, MarketSnapshot, Unavailable, VenueQuote

# ccxt's unified symbol of each coin's linear perp, per venue the adapter speaks.
CCXT_SYMBOLS: dict[Venue, Callable[[Coin], str]] = {
    Venue.BINANCE: lambda coin: f"{coin.value}/USDT:USDT",
}
LIVE_NOTES = (
    "live ccxt quotes carry no VWAP deviation, ATR trend, open interest or liquidation clusters yet: those soft "
    "metrics are unavailable and the weights are renormalised",
)


def near_touch_notional(book: BookSnapshot, side: Side) -> int:
    """Quote (1e6) resting within ``NEAR_TOUCH_BPS`` of the touch on the side an order of ``side`` takes."""
    return sum(quote_value(level.base, level.price) for level in book.levels_within(side, NEAR_TOUCH_BPS))


class CcxtSnapshotSource:
    """Live quotes for the venues in ``adapters`` (markets must be loaded: :meth:`CcxtVenue.load_markets`)."""

    def __init__(self, adapters: Mapping[Venue, CcxtVenue], clock_ms: Callable[[], int], book_levels: int = 20):
        unknown = sorted(v.value for v in adapters if v not in CCXT_SYMBOLS)
        if unknown:
            raise ValueError(f"live scan: no ccxt symbol mapping for {unknown} (have {sorted(CCXT_SYMBOLS)})")
        self._adapters = dict(adapters)
        self._clock_ms = clock_ms
        self._book_levels = book_levels

    async def snapshot(self, venues: tuple[Venue, ...], coins: tuple[Coin, ...]) -> MarketSnapshot:
        """One quote per venue and coin asked for, read concurrently, or an ``Unavailable`` saying why not."""
        asked = [(v, c) for v in venues for c in coins]
        found = await asyncio.gather(*(self._quote(v, c) for v, c in asked))
        # Taken when the last reply is in: a quote's age then includes its round trip (never negative, never flattered)
        taken = self._clock_ms()
        return MarketSnapshot(
            taken_ms=taken,
            quotes=tuple(q for q in found if isinstance(q, VenueQuote)),
            unavailable=tuple(q for q in found if isinstance(q, Unavailable)),
            source="live ccxt (" + ", ".join(sorted(f"{v.value}: {a.venue}" for v, a in self._adapters.items())) + ")",
            notes=LIVE_NOTES,
        )

    async def _quote(self, venue: Venue, coin: Coin) -> VenueQuote | Unavailable:
        adapter = self._adapters.get(venue)
        if adapter is None:
            why = "no live source for this venue in the scan yet (ccxt adapters: binance)"
            return Unavailable(venue, coin, why)
        symbol = CCXT_SYMBOLS[venue](coin)
        try:
            funding, book = await asyncio.gather(adapter.funding(symbol), adapter.book(symbol, self._book_levels))
        except CcxtVenueError as exc:
            return Unavailable(venue, coin, str(exc))
        return _venue_quote(venue, coin, funding, book)


def _venue_quote(venue: Venue, coin: Coin, funding: FundingQuote, book: BookSnapshot) -> VenueQuote | Unavailable:
    if abs(funding.rate_per_hour) > MAX_PLAUSIBLE_RATE_PER_HOUR:
        return Unavailable(
            venue,
            coin,
            f"implausible funding {funding.rate_per_hour} per 1e12 per hour (bound {MAX_PLAUSIBLE_RATE_PER_HOUR}): "
            "bad data, not ranked",
        )
    if not book.bids or not book.asks:
        return Unavailable(venue, coin, "one side of the book is empty")
    return VenueQuote(
        venue=venue,
        coin=coin,
        bid=book.bids[0].price,
        ask=book.asks[0].price,
        funding_rate_per_hour=funding.rate_per_hour,
        funding_period_s=funding.interval_s,
        next_funding_ts=funding.next_funding_ms // 1000,
        bid_depth=near_touch_notional(book, Side.SELL),
        ask_depth=near_touch_notional(book, Side.BUY),
        quote_ts_ms=book.venue_ms,
        price_note="live book top",
    )
