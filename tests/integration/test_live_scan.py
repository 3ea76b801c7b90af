"""`botrunner scan --live` against fakes only: the fake Solana RPC node (tests/support/fake_rpc.py) serving real
PerpMarket accounts (the bundled SOL-PERP snapshot; ETH/BTC-PERP from ../shared/data when present) with synthetic
oracles, and the fake Binance USD-M server (tests/support/fake_exchange.py) driven through ccxt's real code.

Failure modes: an RPC that never answers, answers HTTP 500, or serves an account that is not a PerpMarket; the
affected Drift coins are unavailable with the reason and everything else is still read and ranked."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgspec
import pytest

from botrunner.drift.codec import OracleReading, decode_account
from botrunner.marketdata.venue_data import Coin, Venue
from botrunner.scan.live import LiveSnapshotSource
from botrunner.scan.live_drift import DriftSnapshotSource, drift_quote
from botrunner.scan.rank import rank
from botrunner.scan.snapshot import MarketSnapshot, VenueQuote
from tests.support.drift import bundled_market_bytes, oracle_bytes
from tests.support.fake_exchange import FakeBinance
from tests.support.fake_rpc import FakeRpc, Fault

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL_V2 = ROOT.parent / "shared" / "data" / "drift-accounts" / "protocol_v2_accounts.json"
# The snapshots' TWAPs were last updated at 1773072629 (SOL) and 1773072688 (ETH): the slot is a minute later.
BLOCK_TIME = 1_773_072_700
SLOT = 405_287_100
RPC_SECRET = "k3y-0f-the-rpc-pr0vider-do-not-print"
NEXT_FUNDING_MS = 1_773_075_600_000
# Drift SOL-PERP's funding estimate from the bundled account's TWAPs (tests/unit/scan/test_live_drift.py derives it)
DRIFT_SOL_RATE = -12_441_144
BINANCE_SOL_RATE = 12_500_000  # 0.0001 per 8 h = 0.00125 %/h in 1e12


def _perp_accounts() -> dict[int, bytes]:
    """Real PerpMarket bytes by market index: SOL-PERP always (bundled), ETH/BTC-PERP from ../shared/data."""
    sol, _ = bundled_market_bytes()
    found = {0: sol}
    if PROTOCOL_V2.exists():
        picks = {("adjust_amm_with_market_config_flag_eth_perp", 654): 2, ("btc", 1567): 1}
        for entry in json.loads(PROTOCOL_V2.read_text())["accounts"]:
            index = picks.get((entry["fn"], entry["line"]))
            if index is not None:
                found[index] = base64.b64decode(entry["b64"])
    return found


def serve_drift(fake: FakeRpc, *, garbage: int | None = None) -> dict[int, Any]:
    """The perp markets (and an oracle at each one's last recorded oracle price) on the fake node; ``garbage``: the
    market index whose account holds bytes that are not a PerpMarket. Returns the decoded markets."""
    from driftpy.addresses import get_perp_market_public_key
    from driftpy.constants.config import DRIFT_PROGRAM_ID

    owner = str(DRIFT_PROGRAM_ID)
    accounts: dict[str, tuple[bytes, str]] = {}
    decoded: dict[int, Any] = {}
    for index, raw in _perp_accounts().items():
        pm = decode_account(raw, expect="PerpMarket", what=f"perp {index}")
        decoded[index] = pm
        key = str(get_perp_market_public_key(DRIFT_PROGRAM_ID, index))
        accounts[key] = (b"\x07" * len(raw), owner) if index == garbage else (raw, owner)
        price = int(pm.amm.historical_oracle_data.last_oracle_price)
        accounts[str(pm.amm.oracle)] = (oracle_bytes(price, slot=SLOT), owner)
    fake.set_accounts(accounts)
    fake.set_block_time(BLOCK_TIME)
    return decoded


def _book(fake: FakeBinance) -> None:
    fake.set_book("SOLUSDT", bids=[("85.00", "400"), ("84.99", "100")], asks=[("85.01", "350"), ("85.05", "50")])
    fake.set_book("BTCUSDT", bids=[("45400.0", "2")], asks=[("45400.1", "3")])
    fake.set_book("ETHUSDT", bids=[("2024.00", "10")], asks=[("2024.01", "10")])
    fake.set_funding("SOLUSDT", rate="0.00010000", mark="85.0", index="85.0", next_ms=NEXT_FUNDING_MS)
    fake.set_funding("BTCUSDT", rate="0.00002000", mark="45400", index="45400", next_ms=NEXT_FUNDING_MS)
    fake.set_funding("ETHUSDT", rate="-0.00001000", mark="2024", index="2024", next_ms=NEXT_FUNDING_MS)


@contextmanager
def binance_in_thread(setup: Callable[[FakeBinance], None] = _book) -> Iterator[FakeBinance]:
    """The aiohttp fake on its own loop in a thread, so a CLI process (or another loop) can reach it."""
    ready = threading.Event()
    held: dict[str, Any] = {}

    async def serve() -> None:
        async with FakeBinance() as fake:
            setup(fake)
            held["fake"], held["stop"], held["loop"] = fake, asyncio.Event(), asyncio.get_running_loop()
            ready.set()
            await held["stop"].wait()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    assert ready.wait(20), "the fake exchange did not start"
    try:
        yield held["fake"]
    finally:
        held["loop"].call_soon_threadsafe(held["stop"].set)
        thread.join(20)


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in {"BOTRUNNER_RPC_URL", "BINANCE_USDM_URL"}}
    return subprocess.run(
        [sys.executable, "-m", "botrunner", "scan", "--live", *args],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        env={**base, "PYTHONPATH": str(ROOT), **env},
    )


def _rows(out: str) -> list[list[str]]:
    return [line.split() for line in out.splitlines() if line[:1].isdigit()]


def test_live_scan_prints_a_ranked_table_and_parseable_json_without_the_rpc_key(fake: FakeRpc) -> None:
    serve_drift(fake)
    with binance_in_thread() as binance:
        env = {"BOTRUNNER_RPC_URL": f"{fake.url}/?api-key={RPC_SECRET}", "BINANCE_USDM_URL": binance.url}
        table = _cli(env=env)
        as_json = _cli("--json", env=env)
    for res in (table, as_json):
        assert res.returncode == 0, res.stderr
        assert RPC_SECRET not in res.stdout + res.stderr
    out = table.stdout
    host = fake.url.removeprefix("http://")
    assert f"funding-arbitrage scan: live: Drift (RPC http://{host}); ccxt (binance: binanceusdm)" in out
    assert "vAMM" in out and "DLOB" in out  # said plainly: Drift's side is the vAMM's
    rows = _rows(out)
    sol = [r for r in rows if r[1] == "SOL"]
    assert [r[2:4] for r in sol] == [["drift", "binance"]]  # long Drift (paid to be long), short Binance
    assert "unavailable: hyperliquid/SOL: no live source for this venue yet" in out
    report = json.loads(as_json.stdout)
    assert report["source"].startswith("live: ")
    (pair,) = [o for o in report["opportunities"] if o["coin"] == "SOL"]
    assert (pair["long"], pair["short"]) == ("drift", "binance")
    assert pair["delta_per_hour_1e12"] == BINANCE_SOL_RATE - DRIFT_SOL_RATE
    checks = {c["constraint"]: c for c in pair["checks"]}
    # live, the depth and freshness constraints are checked, not "not checkable"; the fake slot is months old
    assert checks["depth"]["status"] == "passed"
    assert checks["freshness"]["status"] == "failed" and pair["score"] == 0
    unavailable = {(u["venue"], u["coin"]) for u in report["unavailable"]}
    assert ("drift", "SOL") not in unavailable and ("binance", "SOL") not in unavailable
    if PROTOCOL_V2.exists():  # ETH ranked too; the 2024 BTC snapshot's TWAPs are two years before the slot
        assert {o["coin"] for o in report["opportunities"]} == {"SOL", "ETH"}
        (btc,) = [u for u in report["unavailable"] if (u["venue"], u["coin"]) == ("drift", "BTC")]
        assert "before the slot" in btc["reason"] or "oracle" in btc["reason"]
    assert binance.orders_received == [] and binance.unknown_paths == []


def test_a_timed_out_rpc_makes_drift_unavailable_with_the_reason_and_binance_is_still_read(fake: FakeRpc) -> None:
    serve_drift(fake)
    fake.inject("getMultipleAccounts", Fault.hang(30), times=None)
    with binance_in_thread() as binance:
        env = {"BOTRUNNER_RPC_URL": fake.url, "BINANCE_USDM_URL": binance.url}
        started = time.monotonic()
        res = _cli("--json", "--timeout", "10", env=env)  # one read: at most 5 s
        elapsed = time.monotonic() - started
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    why = {(u["venue"], u["coin"]): u["reason"] for u in report["unavailable"]}
    for coin in ("SOL", "BTC", "ETH"):
        assert "getMultipleAccounts: no answer within 5 s" in why[("drift", coin)]
        assert ("binance", coin) not in why  # Binance was read (no second venue to pair it with live)
    assert elapsed < 60  # bounded by the timeouts, not by the hanging node (30 s per call)


def test_rpc_garbage_is_a_clear_error_for_drift_only(fake: FakeRpc) -> None:
    serve_drift(fake)
    fake.inject("getMultipleAccounts", Fault.http(500), times=None)
    with binance_in_thread() as binance:
        env = {"BOTRUNNER_RPC_URL": fake.url, "BINANCE_USDM_URL": binance.url}
        res = _cli(env=env)
    assert res.returncode == 0, res.stderr
    assert "unavailable: drift/SOL: RPC http://127.0.0.1" in res.stdout
    assert "getMultipleAccounts failed: HTTP 500" in res.stdout
    assert "Traceback" not in res.stderr


def test_without_an_rpc_url_drift_is_unavailable_and_said_why() -> None:
    with binance_in_thread() as binance:
        res = _cli("--coin", "SOL", env={"BINANCE_USDM_URL": binance.url})
    assert res.returncode == 0, res.stderr
    assert "unavailable: drift/SOL: BOTRUNNER_RPC_URL is not set: no Solana RPC to read" in res.stdout


def test_live_refuses_offline_flags_and_an_unreachable_everything_is_an_error() -> None:
    both = _cli("--data", "x", env={})
    assert both.returncode == 2 and "takes neither --data nor --at" in both.stderr
    none = _cli(
        "--timeout", "2", env={"BOTRUNNER_RPC_URL": "http://127.0.0.1:1", "BINANCE_USDM_URL": "http://127.0.0.1:1"}
    )
    assert none.returncode == 2 and "live scan: no venue answered" in none.stderr
    assert "Traceback" not in none.stderr


# ---------------------------------------------------------------------------------------------------- in process


def _drift_source(url: str, timeout_s: float = 2.0) -> tuple[Any, DriftSnapshotSource]:
    from solana.rpc.async_api import AsyncClient

    rpc = AsyncClient(url, timeout=timeout_s)
    clock = lambda: (BLOCK_TIME + 1) * 1000  # noqa: E731  <why: a fixed clock, one second after the slot>
    return rpc, DriftSnapshotSource(rpc, rpc_label="http://fake", timeout_s=timeout_s, clock_ms=clock)


def test_the_drift_source_reads_one_slot_and_quotes_as_the_pure_maths_do(fake: FakeRpc) -> None:
    markets = serve_drift(fake)

    async def body() -> MarketSnapshot:
        rpc, source = _drift_source(fake.url)
        async with rpc:
            return await source.snapshot((Venue.DRIFT,), (Coin.SOL,))

    snap = asyncio.run(body())
    (quote,) = snap.quotes
    price = int(markets[0].amm.historical_oracle_data.last_oracle_price)
    expected = drift_quote(Coin.SOL, markets[0], OracleReading(price=price, confidence=0, slot=SLOT), BLOCK_TIME, None)
    assert quote == msgspec.structs.replace(expected, quote_ts_ms=BLOCK_TIME * 1000)
    assert quote.funding_rate_per_hour == DRIFT_SOL_RATE
    assert quote.quote_ts_ms == BLOCK_TIME * 1000 and snap.taken_ms - quote.quote_ts_ms == 1000
    assert quote.bid < price < quote.ask
    # getMultipleAccounts twice (markets, then markets + oracles in one slot), then getBlockTime of that slot
    assert fake.methods() == ["getMultipleAccounts", "getMultipleAccounts", "getBlockTime"]


def test_one_garbage_account_makes_only_that_coin_unavailable_and_no_block_time_makes_freshness_unknown(
    fake: FakeRpc,
) -> None:
    if not PROTOCOL_V2.exists():
        pytest.skip("../shared/data absent (ETH-PERP snapshot)")
    serve_drift(fake, garbage=2)
    fake.set_block_time(None)

    async def body() -> MarketSnapshot:
        rpc, source = _drift_source(fake.url)
        async with rpc:
            return await source.snapshot((Venue.DRIFT,), (Coin.SOL, Coin.ETH))

    snap = asyncio.run(body())
    (sol,) = snap.quotes
    assert sol.coin is Coin.SOL and sol.quote_ts_ms is None
    why = {u.coin: u.reason for u in snap.unavailable}
    assert why[Coin.ETH].startswith("perp market 2 at ") and "not a Drift PerpMarket account" in why[Coin.ETH]
    assert any("freshness not checkable" in n for n in snap.notes)


def test_a_slow_source_is_cut_at_the_total_timeout_and_the_rest_is_ranked(fake: FakeRpc) -> None:
    """The combined live source: Drift's RPC hangs past the scan's total limit; Binance (the fake, through ccxt) and
    a fixed Hyperliquid quote still make a ranked pair."""
    from botrunner.live.ccxt_venue import CcxtVenue
    from botrunner.scan.live_ccxt import CcxtSnapshotSource

    serve_drift(fake)
    fake.inject("getMultipleAccounts", Fault.hang(30), times=None)

    class FixedHyperliquid:
        async def snapshot(self, venues: tuple[Venue, ...], coins: tuple[Coin, ...]) -> MarketSnapshot:
            quote = VenueQuote(
                venue=Venue.HYPERLIQUID,
                coin=Coin.SOL,
                bid=85_000_000,
                ask=85_010_000,
                funding_rate_per_hour=30_000_000,
                funding_period_s=3600,
                next_funding_ts=NEXT_FUNDING_MS // 1000,
            )
            return MarketSnapshot(taken_ms=int(time.time() * 1000), quotes=(quote,), unavailable=(), source="fixed")

    async def body() -> MarketSnapshot:
        async with FakeBinance() as binance:
            _book(binance)
            adapter = CcxtVenue.public(base_url=binance.url, timeout_s=2.0)
            rpc, drift = _drift_source(fake.url, timeout_s=10.0)  # per read longer than the total: the total cuts
            try:
                await adapter.load_markets(("SOL/USDT:USDT",))
                ccxt_source = CcxtSnapshotSource({Venue.BINANCE: adapter}, clock_ms=lambda: time.time_ns() // 10**6)
                live = LiveSnapshotSource(
                    {Venue.DRIFT: drift, Venue.BINANCE: ccxt_source, Venue.HYPERLIQUID: FixedHyperliquid()},
                    total_timeout_s=1.0,
                    clock_ms=lambda: time.time_ns() // 10**6,
                )
                started = time.monotonic()
                snap = await live.snapshot(tuple(Venue), (Coin.SOL,))
                assert time.monotonic() - started < 5
                return snap
            finally:
                await adapter.close()
                await rpc.close()

    snap = asyncio.run(body())
    (drift_missing,) = snap.unavailable
    assert drift_missing.venue is Venue.DRIFT and "total timeout of 1 s" in drift_missing.reason
    (top,) = rank(snap, 1000 * 10**6).opportunities
    assert (top.long_venue, top.short_venue) == (Venue.BINANCE, Venue.HYPERLIQUID)
    assert top.delta_per_hour == 30_000_000 - BINANCE_SOL_RATE
