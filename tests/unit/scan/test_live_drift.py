"""The live Drift quote from a decoded PerpMarket (the bundled real SOL-PERP snapshot), and the combined live source.

The funding figures are worked by hand from the account's TWAPs (protocol-v2's formula) so a change in either the
formula or the conversion shows here."""

from __future__ import annotations

import asyncio
import dataclasses
import math

import pytest

from botrunner.core.precision import quote_value
from botrunner.drift.codec import OracleReading
from botrunner.marketdata.venue_data import Coin, Venue
from botrunner.scan.live import LiveSnapshotSource
from botrunner.scan.live_drift import DriftSnapshotSource, drift_quote
from botrunner.scan.snapshot import MarketSnapshot, Unavailable, VenueQuote
from tests.support.drift import bundled_markets

TWAP_TS = 1_773_072_629  # the snapshot's mark and oracle TWAP time
NOW = TWAP_TS + 71


def _sol() -> tuple[object, OracleReading]:
    pm, _ = bundled_markets()
    price = int(pm.amm.historical_oracle_data.last_oracle_price)
    return pm, OracleReading(price=price, confidence=0, slot=1)


def test_funding_is_the_programs_estimate_from_the_twaps_per_hour_of_the_oracle_twap() -> None:
    pm, oracle = _sol()
    q = drift_quote(Coin.SOL, pm, oracle, NOW, NOW * 1000)
    # mark TWAP 85.001305, oracle TWAP 85.043706 (1e6): spread = -42_401 + 85_043_706 // 5000 (17_008) = -25_393,
    # inside tier B's clamp (oracle / 33); per hour: -25_393 * 1000 / 24 = -1_058_041 (1e9 quote per base, truncated);
    # as a fraction: -1_058_041 * 1e9 / 85_043_706 = -12_441_144.6 -> -12_441_144 (1e12): -0.00124 %/h, shorts paid
    assert (q.funding_rate_per_hour, q.funding_period_s) == (-12_441_144, 3600)
    # last update 1773072008 is 8 s past the hour: the next is on the following hour (on_the_hour_update)
    assert q.next_funding_ts == 1_773_075_600
    assert q.quote_ts_ms == NOW * 1000
    assert 0 < q.bid < oracle.price < q.ask  # the vAMM straddles the oracle
    assert q.price_note.startswith("Drift vAMM")


def test_depth_is_the_curve_within_10_bp_capped_by_the_amms_per_fill_limit() -> None:
    pm, oracle = _sol()
    q = drift_quote(Coin.SOL, pm, oracle, NOW, None)
    amm = pm.amm  # type: ignore[attr-defined]
    per_fill = amm.base_asset_reserve // amm.max_fill_reserve_fraction  # 1,646.5 SOL
    # the curve alone would take ~$1.75M within 10 bp (quote reserve notional x (sqrt(1.001) - 1)); one fill is less
    curve = amm.quote_asset_reserve * amm.peg_multiplier / 1e9 * (math.sqrt(1.001) - 1)
    assert curve > 10 * quote_value(per_fill, q.ask)
    assert q.ask_depth == quote_value(per_fill, q.ask)
    assert q.bid_depth == quote_value(per_fill, q.bid)


def test_stale_twaps_or_a_market_not_active_cannot_be_quoted() -> None:
    pm, oracle = _sol()
    with pytest.raises(ValueError, match="no current funding estimate"):
        drift_quote(Coin.SOL, pm, oracle, TWAP_TS + 3601, None)
    from driftpy.types import MarketStatus

    paused = dataclasses.replace(pm, status=MarketStatus.ReduceOnly())  # type: ignore[type-var]
    with pytest.raises(ValueError, match="market status ReduceOnly, not Active"):
        drift_quote(Coin.SOL, paused, oracle, NOW, None)


def test_the_drift_source_turns_an_unreachable_rpc_into_unavailable_for_every_coin() -> None:
    from solana.rpc.async_api import AsyncClient

    async def body() -> MarketSnapshot:
        async with AsyncClient("http://127.0.0.1:1", timeout=1.0) as rpc:
            source = DriftSnapshotSource(rpc, rpc_label="http://127.0.0.1:1", timeout_s=1.0, clock_ms=lambda: 5)
            return await source.snapshot((Venue.DRIFT, Venue.BINANCE), (Coin.SOL, Coin.ETH))

    snap = asyncio.run(body())
    assert snap.quotes == ()
    why = {(u.venue, u.coin): u.reason for u in snap.unavailable}
    assert why[(Venue.DRIFT, Coin.SOL)].startswith("RPC http://127.0.0.1:1 getMultipleAccounts failed: ")
    assert why[(Venue.BINANCE, Coin.ETH)] == "not read by the Drift source"


class _Fixed:
    def __init__(self, snap: MarketSnapshot | Exception) -> None:
        self.snap = snap
        self.asked: list[tuple[Venue, ...]] = []

    async def snapshot(self, venues: tuple[Venue, ...], coins: tuple[Coin, ...]) -> MarketSnapshot:
        self.asked.append(venues)
        if isinstance(self.snap, Exception):
            raise self.snap
        return self.snap


def _quote(venue: Venue) -> VenueQuote:
    return VenueQuote(
        venue=venue, coin=Coin.SOL, bid=1, ask=2, funding_rate_per_hour=0, funding_period_s=3600, next_funding_ts=0
    )


def test_the_combined_source_asks_each_part_for_its_venues_and_a_failing_part_fails_only_its_venues() -> None:
    good = _Fixed(
        MarketSnapshot(taken_ms=900, quotes=(_quote(Venue.BINANCE),), unavailable=(), source="b", notes=("n",))
    )
    bad = _Fixed(RuntimeError("boom"))
    live = LiveSnapshotSource(
        {Venue.BINANCE: good, Venue.DRIFT: bad},
        total_timeout_s=1.0,
        clock_ms=lambda: 500,
        unavailable={Venue.HYPERLIQUID: "not built"},
    )
    snap = asyncio.run(live.snapshot(tuple(Venue), (Coin.SOL,)))
    assert good.asked == [(Venue.BINANCE,)] and bad.asked == [(Venue.DRIFT,)]
    assert snap.quotes == (_quote(Venue.BINANCE),)
    assert snap.unavailable == (
        Unavailable(Venue.DRIFT, Coin.SOL, "RuntimeError: boom"),
        Unavailable(Venue.HYPERLIQUID, Coin.SOL, "not built"),
    )
    assert snap.taken_ms == 900 and snap.notes == ("n",)  # the latest of the parts' times: ages never flattered
