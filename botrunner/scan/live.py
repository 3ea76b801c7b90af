"""One live snapshot from several sources (Drift from the chain, the external venues through ccxt), read concurrently
under one total timeout: a :class:`~botrunner.scan.snapshot.SnapshotSource` itself.

Each source is asked only for the venues it serves. A source that does not finish within the total timeout, or that
raises, makes its venues unavailable with the reason; the others are still ranked. A venue no source serves is
unavailable ("no live source"). The merged snapshot is stamped with the latest of the parts' times: the decision
waits for the slowest source, so every quote's age counts that wait (never flattered).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

from botrunner.logsetup import scrub
from botrunner.marketdata.venue_data import Coin, Venue
from botrunner.scan.snapshot import MarketSnapshot, SnapshotSource, Unavailable, VenueQuote


class LiveSnapshotSource:
    """``parts`` maps each venue to the source that reads it (one source may serve several venues); unavailable
    venues (a source that could not be built: ccxt missing, no RPC URL) are given with their reason."""

    def __init__(
        self,
        parts: Mapping[Venue, SnapshotSource],
        *,
        total_timeout_s: float,
        clock_ms: Callable[[], int],
        unavailable: Mapping[Venue, str] | None = None,
    ) -> None:
        if not total_timeout_s > 0:
            raise ValueError(f"total_timeout_s must be > 0, got {total_timeout_s}")
        self._parts = dict(parts)
        self._total_timeout_s = total_timeout_s
        self._clock_ms = clock_ms
        self._unavailable = dict(unavailable or {})

    async def snapshot(self, venues: tuple[Venue, ...], coins: tuple[Coin, ...]) -> MarketSnapshot:
        """Every source at once; one quote or one ``Unavailable`` per venue and coin asked for."""
        groups: list[tuple[SnapshotSource, tuple[Venue, ...]]] = []
        for venue in venues:
            source = self._parts.get(venue)
            if source is None:
                continue
            for i, (known, served) in enumerate(groups):
                if known is source:
                    groups[i] = (known, (*served, venue))
                    break
            else:
                groups.append((source, (venue,)))
        results = await asyncio.gather(
            *(asyncio.wait_for(src.snapshot(served, coins), self._total_timeout_s) for src, served in groups),
            return_exceptions=True,
        )
        quotes: list[VenueQuote] = []
        missing: list[Unavailable] = []
        notes: list[str] = []
        sources: list[str] = []
        taken = [self._clock_ms()]
        for (_, served), result in zip(groups, results, strict=True):
            if isinstance(result, MarketSnapshot):
                quotes.extend(q for q in result.quotes if q.venue in served)
                missing.extend(u for u in result.unavailable if u.venue in served)
                notes.extend(n for n in result.notes if n not in notes)
                sources.append(result.source.removeprefix("live "))  # "live: Drift (...); ccxt (...)"
                taken.append(result.taken_ms)
                continue
            if isinstance(result, TimeoutError):
                why = f"no answer within the scan's total timeout of {self._total_timeout_s:g} s"
            else:  # a source's bug or an error it did not turn into Unavailable: that venue only, never the scan
                why = scrub(f"{type(result).__name__}: {result}")
            missing.extend(Unavailable(v, c, why) for v in served for c in coins)
            sources.append("+".join(v.value for v in served) + ": failed")
        for venue in venues:
            if venue not in self._parts:
                why = self._unavailable.get(venue, "no live source for this venue yet")
                missing.extend(Unavailable(venue, c, why) for c in coins)
        order = {v: i for i, v in enumerate(Venue)}
        return MarketSnapshot(
            taken_ms=max(taken),
            quotes=tuple(sorted(quotes, key=lambda q: (order[q.venue], q.coin.value))),
            unavailable=tuple(sorted(missing, key=lambda u: (order[u.venue], u.coin.value))),
            source="live: " + "; ".join(sources) if sources else "live: no source",
            notes=tuple(notes),
        )
