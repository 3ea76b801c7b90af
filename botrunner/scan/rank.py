"""Rank funding-arbitrage opportunities from a snapshot: per coin and pair of venues, long where funding is cheap,
short where it is rich.

Per pair (figures exact integers; the report's floats are for display only):

- funding delta = short leg's rate - long leg's rate, per hour and per 8 h (1e12 fraction of price), >= 0 by
  construction (the legs are oriented so); annualised as a simple APR: per hour x 8,760 (protocol-v2's year);
- price spread = (short leg's bid - long leg's ask) / mid, bps: positive means the short sells above where the long
  buys (an entry that also gains if the prices converge);
- the confluence score (``strategies.arb_score``) for a position of ``size`` quote: depth is the thinner of the long
  leg's ask depth and the short leg's bid depth, quote age the older of the two; the per-venue soft metrics combine
  conservatively over the legs that have them (the worst VWAP deviation, ATR ratio, liquidation distance; the
  lower open-interest change), unavailable when no leg has one. Order-book imbalance needs both legs' depth.

Ordering: score, then funding delta, both descending; then coin, long venue, short venue (deterministic).
"""

from __future__ import annotations

import itertools
from typing import Final

import msgspec

from botrunner.core.fixed import tdiv
from botrunner.core.precision import BPS_PRECISION
from botrunner.marketdata.funding import FUNDING_FRACTION_PRECISION
from botrunner.marketdata.venue_data import Coin, Venue
from botrunner.scan.snapshot import MarketSnapshot, Unavailable, VenueQuote
from strategies.arb_score import ArbScore, ScoreInputs, ScoreThresholds, per_8h, score

HOURS_PER_YEAR: Final = 8_760


class Opportunity(msgspec.Struct, frozen=True, kw_only=True):
    coin: Coin
    long_venue: Venue
    short_venue: Venue
    long_rate_per_hour: int  # 1e12
    short_rate_per_hour: int
    delta_per_hour: int  # 1e12 fraction of price
    delta_per_8h: int
    apr_ppm: int  # simple APR, parts per million (1_000_000 = 100 %)
    spread_bps: int
    score: ArbScore


class ScanReport(msgspec.Struct, frozen=True, kw_only=True):
    source: str
    taken_ms: int
    size: int  # position notional scored, quote 1e6
    opportunities: tuple[Opportunity, ...]  # ranked, best first (all pairs; the CLI shows the top N)
    unavailable: tuple[Unavailable, ...]
    notes: tuple[str, ...]


def _worst(values: list[int | None], *, key_abs: bool = False, lowest: bool = False) -> int | None:
    present = [v for v in values if v is not None]
    if not present:
        return None
    if lowest:
        return min(present)
    return max(present, key=abs) if key_abs else max(present)


def _imbalance(long: VenueQuote, short: VenueQuote) -> int | None:
    """Favourable imbalance (strategies.arb_score): ask-heavy where we buy, bid-heavy where we sell, bps."""
    depths = (long.bid_depth, long.ask_depth, short.bid_depth, short.ask_depth)
    lb, la, sb, sa = depths
    if lb is None or la is None or sb is None or sa is None or lb + la == 0 or sb + sa == 0:
        return None
    return ((la - lb) * BPS_PRECISION // (lb + la) + (sb - sa) * BPS_PRECISION // (sb + sa)) // 2


def opportunity(
    long: VenueQuote, short: VenueQuote, taken_ms: int, size: int, thresholds: ScoreThresholds
) -> Opportunity:
    """The opportunity of buying on ``long`` and selling on ``short`` (the caller orients the legs)."""
    delta = short.funding_rate_per_hour - long.funding_rate_per_hour
    mid = (long.ask + short.bid) // 2
    depth = None if long.ask_depth is None or short.bid_depth is None else min(long.ask_depth, short.bid_depth)
    ages = [None if q.quote_ts_ms is None else taken_ms - q.quote_ts_ms for q in (long, short)]
    age = None if ages[0] is None or ages[1] is None else max(ages[0], ages[1])
    inputs = ScoreInputs(
        position_notional=size,
        funding_delta_per_8h=per_8h(delta),
        depth_notional=depth,
        quote_age_ms=age,
        book_imbalance_bps=_imbalance(long, short),
        open_interest_vs_avg_bps=_worst([long.open_interest_vs_avg_bps, short.open_interest_vs_avg_bps], lowest=True),
        vwap_deviation_bps=_worst([long.vwap_deviation_bps, short.vwap_deviation_bps], key_abs=True),
        atr_ratio_bps=_worst([long.atr_ratio_bps, short.atr_ratio_bps]),
        liquidation_distance_bps=_worst([long.liquidation_distance_bps, short.liquidation_distance_bps], lowest=True),
    )
    return Opportunity(
        coin=long.coin,
        long_venue=long.venue,
        short_venue=short.venue,
        long_rate_per_hour=long.funding_rate_per_hour,
        short_rate_per_hour=short.funding_rate_per_hour,
        delta_per_hour=delta,
        delta_per_8h=per_8h(delta),
        apr_ppm=delta * HOURS_PER_YEAR * 10**6 // FUNDING_FRACTION_PRECISION,
        spread_bps=tdiv((short.bid - long.ask) * BPS_PRECISION, mid) if mid > 0 else 0,
        score=score(inputs, thresholds),
    )


def _rank_key(o: Opportunity) -> tuple[int, int, str, str, str]:
    return (-o.score.score, -o.delta_per_hour, o.coin, o.long_venue, o.short_venue)


def rank(snapshot: MarketSnapshot, size: int, thresholds: ScoreThresholds | None = None) -> ScanReport:
    """Every pair of venues per coin in ``snapshot``, oriented and scored, best first."""
    limits = thresholds or ScoreThresholds()
    found: list[Opportunity] = []
    for coin in Coin:
        quotes = sorted((q for q in snapshot.quotes if q.coin is coin), key=lambda q: list(Venue).index(q.venue))
        for a, b in itertools.combinations(quotes, 2):
            # long where funding is cheaper; on a tie, the venue listed first is the long leg (deterministic)
            long, short = (a, b) if a.funding_rate_per_hour <= b.funding_rate_per_hour else (b, a)
            found.append(opportunity(long, short, snapshot.taken_ms, size, limits))
    return ScanReport(
        source=snapshot.source,
        taken_ms=snapshot.taken_ms,
        size=size,
        opportunities=tuple(sorted(found, key=_rank_key)),
        unavailable=snapshot.unavailable,
        notes=snapshot.notes,
    )
