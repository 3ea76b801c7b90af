"""Ranking: legs oriented long-cheap/short-rich, delta per hour/8 h/APR, spread, score with its hard failures."""

from __future__ import annotations

import msgspec

from botrunner.marketdata.venue_data import Coin, Venue
from botrunner.scan.rank import opportunity, rank
from botrunner.scan.snapshot import MarketSnapshot, Unavailable, VenueQuote
from strategies.arb_score import CheckStatus, HardConstraint, ScoreThresholds

USDC = 10**6
PRICE = 10**6
T_MS = 1_748_736_000_000


def _q(venue: Venue, coin: Coin, rate: int, price: int = 150 * PRICE, **kw: int | None) -> VenueQuote:
    quote = VenueQuote(
        venue=venue,
        coin=coin,
        bid=price,
        ask=price,
        funding_rate_per_hour=rate,
        funding_period_s=3600,
        next_funding_ts=1_748_739_600,
    )
    return msgspec.structs.replace(quote, **kw)


def _snap(*quotes: VenueQuote) -> MarketSnapshot:
    return MarketSnapshot(taken_ms=T_MS, quotes=quotes, unavailable=(), source="test")


def test_pair_is_long_where_funding_is_cheaper_with_delta_apr_and_spread() -> None:
    report = rank(
        _snap(
            _q(Venue.HYPERLIQUID, Coin.SOL, 50_000_000, price=150_030_000),  # 0.005 %/h, richer
            _q(Venue.DRIFT, Coin.SOL, -10_000_000),
        ),
        1_000 * USDC,
    )
    (o,) = report.opportunities
    assert (o.long_venue, o.short_venue) == (Venue.DRIFT, Venue.HYPERLIQUID)
    assert o.delta_per_hour == 60_000_000 and o.delta_per_8h == 480_000_000  # 0.048 % per 8 h
    assert o.apr_ppm == 525_600  # 0.006 %/h x 8760 h = 52.56 %
    assert o.spread_bps == 1  # the short leg sells 3 cents above the long leg's 150
    assert o.score.score > 0 and o.score.provisional and not o.score.tradable


def test_small_delta_scores_zero_with_the_reason_and_ranks_last() -> None:
    report = rank(
        _snap(
            _q(Venue.DRIFT, Coin.SOL, 0),
            _q(Venue.HYPERLIQUID, Coin.SOL, 10_000_000),  # 0.008 % per 8 h: below the minimum
            _q(Venue.BINANCE, Coin.SOL, 100_000_000),
        ),
        1_000 * USDC,
    )
    assert [(o.long_venue, o.short_venue) for o in report.opportunities] == [
        (Venue.DRIFT, Venue.BINANCE),
        (Venue.HYPERLIQUID, Venue.BINANCE),
        (Venue.DRIFT, Venue.HYPERLIQUID),
    ]
    last = report.opportunities[-1].score
    assert last.score == 0 and last.reason is not None and last.reason.startswith("funding_delta")


def test_live_depth_and_age_are_checked_and_imbalance_becomes_available() -> None:
    thin = dict(bid_depth=1_500 * USDC, ask_depth=1_500 * USDC, quote_ts_ms=T_MS - 50)
    deep = dict(bid_depth=5_000 * USDC, ask_depth=5_000 * USDC, quote_ts_ms=T_MS - 50)
    long = _q(Venue.DRIFT, Coin.BTC, 0, **thin)
    short = _q(Venue.BINANCE, Coin.BTC, 100_000_000, **deep)
    o = opportunity(long, short, T_MS, 1_000 * USDC, ScoreThresholds())
    assert o.score.score == 0 and o.score.failures[0].constraint is HardConstraint.DEPTH
    ok = opportunity(_q(Venue.DRIFT, Coin.BTC, 0, **deep), short, T_MS, 1_000 * USDC, ScoreThresholds())
    assert ok.score.tradable and all(c.status is CheckStatus.PASSED for c in ok.score.checks)
    assert ok.score.metrics[1].sub_score == 50  # balanced books on both legs
    stale = opportunity(
        _q(Venue.DRIFT, Coin.BTC, 0, bid_depth=5_000 * USDC, ask_depth=5_000 * USDC, quote_ts_ms=T_MS - 250),
        short,
        T_MS,
        1_000 * USDC,
        ScoreThresholds(),
    )
    assert stale.score.score == 0 and stale.score.reason is not None and stale.score.reason.startswith("freshness")


def test_coins_never_pair_across_and_unavailable_passes_through() -> None:
    snap = MarketSnapshot(
        taken_ms=T_MS,
        quotes=(_q(Venue.DRIFT, Coin.SOL, 0), _q(Venue.HYPERLIQUID, Coin.BTC, 10**8)),
        unavailable=(Unavailable(Venue.DRIFT, Coin.ETH, "no funding file in the data"),),
        source="test",
    )
    report = rank(snap, 1_000 * USDC)
    assert report.opportunities == ()
    assert report.unavailable == snap.unavailable


def test_ranking_is_deterministic_on_ties() -> None:
    quotes = (
        _q(Venue.DRIFT, Coin.ETH, 0),
        _q(Venue.HYPERLIQUID, Coin.ETH, 0),
        _q(Venue.DRIFT, Coin.SOL, 0),
        _q(Venue.HYPERLIQUID, Coin.SOL, 0),
    )
    a = rank(_snap(*quotes), 1_000 * USDC)
    b = rank(_snap(*reversed(quotes)), 1_000 * USDC)
    assert a == b
    assert [o.coin for o in a.opportunities] == [Coin.ETH, Coin.SOL]
    assert a.opportunities[0].long_venue is Venue.DRIFT  # a tie: the venue listed first is long
