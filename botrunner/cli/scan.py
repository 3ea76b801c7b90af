"""``botrunner scan``: rank cross-venue funding-arbitrage opportunities, as a table or JSON; offline from ``--data DIR
--at TIME``, or ``--live`` (Drift from the chain, Binance USD-M through ccxt, read-only)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from botrunner.cli import CliError
from botrunner.cli.backtest import parse_when
from botrunner.config.live import DEFAULT_RPC_ENV
from botrunner.core.precision import QUOTE_PRECISION, to_fixed
from botrunner.logsetup import scrub
from botrunner.marketdata._text import DataError
from botrunner.marketdata.funding import FUNDING_FRACTION_PRECISION
from botrunner.marketdata.venue_data import Coin, Venue
from botrunner.scan.offline import OutsideDataError, offline_snapshot
from botrunner.scan.rank import Opportunity, ScanReport, rank
from botrunner.scan.snapshot import MarketSnapshot, SnapshotSource, Unavailable

DESCRIPTION = """\
Rank funding-rate arbitrage opportunities across venues (drift, hyperliquid, binance) and markets (SOL, BTC,
ETH): for each pair of venues, long where funding is cheaper and short where it is richer. Per pair: the funding
delta per hour and per 8 h (% of price, positive = the short leg earns it), its simple APR, the price spread in bp
(short leg's price over the long leg's) and the confluence score 0..100 (docs/funding-arbitrage.md): hard
constraints first (depth >= 2x size near the touch, quotes under 200 ms old, delta > 0.01 % per 8 h; a failure
scores 0 with its reason), then soft metrics weighted 9/8/7/6/5/5, unavailable ones renormalised away.

Offline (--data DIR --at TIME) the scan reads history as it was at TIME: the last funding settlement and the last
closed 1-hour candle at or before it. History has no order book and no quote time, so the depth and freshness
constraints are "not checkable" and every score is provisional: the output says so. A venue/market the data does
not cover at TIME is listed as unavailable; a TIME no venue covers is refused.

Live (--live) the scan reads now: Drift's SOL/BTC/ETH-PERP accounts from the Solana RPC in $BOTRUNNER_RPC_URL (the
live runner's default; shown by host only), and Binance USD-M's funding and order book through ccxt, keyless and
read-only ($BINANCE_USDM_URL points it elsewhere, e.g. a testnet). Every read has a timeout and the whole scan
--timeout seconds; a venue that fails is listed as unavailable with the reason and the rest is still ranked.
Drift's quotes are its vAMM's (the DLOB is not read); Hyperliquid has no live source yet.

Funding sign convention: rate per hour as a fraction of price, positive = longs pay shorts (Binance's 8-hour rate
divided by 8; Drift's USDC-per-base rate divided by its oracle TWAP)."""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "scan",
        help="rank cross-venue funding-arbitrage opportunities (offline: --data DIR --at TIME; or --live)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data", type=Path, metavar="DIR", help="market data directory (as ../shared/data)")
    p.add_argument("--at", metavar="TIME", help="a UTC date (2025-06-01: its start) or ISO time (2025-06-01T12:00Z)")
    p.add_argument("--live", action="store_true", help="read the venues now (Drift RPC, Binance through ccxt)")
    p.add_argument(
        "--timeout",
        type=float,
        default=LIVE_TIMEOUT_S,
        metavar="S",
        help=f"--live: the whole scan's time limit in seconds (default {LIVE_TIMEOUT_S:g})",
    )
    p.add_argument("--size", default="1000", metavar="USD", help="position notional the score checks (default 1000)")
    p.add_argument("--top", type=int, default=20, metavar="N", help="rows to show (default 20)")
    p.add_argument("--venue", action="append", choices=[v.value for v in Venue], help="only these venues")
    p.add_argument("--coin", action="append", choices=[c.value for c in Coin], help="only these markets")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(handler=run_scan)


LIVE_TIMEOUT_S = 30.0  # Binance's market list alone may take most of it: ccxt parses every market of the venue
LIVE_READ_TIMEOUT_S = 5.0  # one RPC / REST read (at most half the whole scan's limit)
BINANCE_URL_ENV = "BINANCE_USDM_URL"


def _pct(fraction_1e12: int, digits: int = 4) -> str:
    return f"{Decimal(fraction_1e12 * 100) / FUNDING_FRACTION_PRECISION:.{digits}f}"


def _status(o: Opportunity) -> str:
    s = o.score
    if s.reason is not None:
        return f"0: {s.reason}"
    if s.provisional:
        return f"provisional ({', '.join(s.unchecked)} not checkable)"
    return "tradable"


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _as_json(report: ScanReport, top: int) -> dict[str, Any]:
    rows = []
    for i, o in enumerate(report.opportunities[:top], start=1):
        s = o.score
        rows.append(
            {
                "rank": i,
                "coin": o.coin.value,
                "long": o.long_venue.value,
                "short": o.short_venue.value,
                "long_rate_pct_per_hour": _pct(o.long_rate_per_hour, 6),
                "short_rate_pct_per_hour": _pct(o.short_rate_per_hour, 6),
                "delta_pct_per_hour": _pct(o.delta_per_hour, 6),
                "delta_pct_per_8h": _pct(o.delta_per_8h, 6),
                "apr_pct": f"{Decimal(o.apr_ppm) / 10_000:.2f}",
                "spread_bps": o.spread_bps,
                "delta_per_hour_1e12": o.delta_per_hour,
                "score": s.score,
                "tradable": s.tradable,
                "provisional": s.provisional,
                "reason": s.reason,
                "checks": [
                    {"constraint": c.constraint.value, "status": c.status.value, "detail": c.detail} for c in s.checks
                ],
                "metrics": [
                    {
                        "metric": m.metric.value,
                        "weight": m.weight,
                        "sub_score": m.sub_score,
                        "available": m.sub_score is not None,
                    }
                    for m in s.metrics
                ],
            }
        )
    return {
        "source": report.source,
        "at": _iso(report.taken_ms),
        "size_usd": str(Decimal(report.size) / QUOTE_PRECISION),
        "notes": list(report.notes),
        "pairs": len(report.opportunities),
        "opportunities": rows,
        "unavailable": [{"venue": u.venue.value, "coin": u.coin.value, "reason": u.reason} for u in report.unavailable],
    }


def _table(report: ScanReport, top: int) -> str:
    size = Decimal(report.size) / QUOTE_PRECISION
    lines = [f"funding-arbitrage scan: {report.source}, position ${size:,}", ""]
    lines += [f"note: {n}" for n in report.notes]
    lines.append("")
    header = ("#", "coin", "long", "short", "delta %/h", "delta %/8h", "APR %", "spread bp", "score", "status")
    rows = [
        (
            str(i),
            o.coin.value,
            o.long_venue.value,
            o.short_venue.value,
            _pct(o.delta_per_hour),
            _pct(o.delta_per_8h),
            f"{Decimal(o.apr_ppm) / 10_000:.2f}",
            str(o.spread_bps),
            str(o.score.score),
            _status(o),
        )
        for i, o in enumerate(report.opportunities[:top], start=1)
    ]
    widths = [max(len(r[k]) for r in [header, *rows]) for k in range(len(header) - 1)]
    for r in [header, *rows]:
        cells = [
            c.rjust(w) if k in {0, 4, 5, 6, 7, 8} else c.ljust(w)
            for k, (c, w) in enumerate(zip(r, widths, strict=False))
        ]
        lines.append("  ".join([*cells, r[-1]]).rstrip())
    shown = min(top, len(report.opportunities))
    lines.append(f"({shown} of {len(report.opportunities)} venue pairs shown)")
    if report.opportunities:
        weights = report.opportunities[0].score.metrics
        unavailable = [m.metric.value for m in weights if m.sub_score is None]
        if unavailable:
            lines.append(f"soft metrics unavailable for the top pair (weights renormalised): {', '.join(unavailable)}")
    for u in report.unavailable:
        lines.append(f"unavailable: {u.venue}/{u.coin}: {u.reason}")
    return "\n".join(lines)


def _options(args: argparse.Namespace) -> tuple[int, tuple[Venue, ...], tuple[Coin, ...]]:
    if args.top <= 0:
        raise CliError(f"--top must be > 0, got {args.top}")
    try:
        size = to_fixed(args.size, QUOTE_PRECISION, what="--size")
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    if size <= 0:
        raise CliError(f"--size must be > 0, got {args.size}")
    venues = tuple(Venue(v) for v in args.venue) if args.venue else tuple(Venue)
    coins = tuple(Coin(c) for c in args.coin) if args.coin else tuple(Coin)
    return size, venues, coins


def _offline(args: argparse.Namespace, venues: tuple[Venue, ...], coins: tuple[Coin, ...]) -> MarketSnapshot:
    if args.data is None or args.at is None:
        raise CliError("offline scanning needs both --data DIR and --at TIME (or scan the venues now with --live)")
    if not args.data.is_dir():
        raise CliError(f"--data {args.data}: not a directory")
    try:
        at = parse_when(args.at, end=False)
    except CliError:  # its message names --from/--to, the backtest's flags
        raise CliError(f"--at {args.at!r}: not a date (YYYY-MM-DD) or ISO time") from None
    try:
        return offline_snapshot(args.data, at, venues, coins)
    except (DataError, OutsideDataError) as exc:
        raise CliError(str(exc)) from exc


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class _Binance:
    """The ccxt source with its markets loaded first, and the connection closed after (one scan, one use)."""

    def __init__(self, base_url: str | None, read_timeout_s: float) -> None:
        # imported here, before the scan's clock runs: importing ccxt takes seconds on a busy machine
        from botrunner.live import ccxt_venue
        from botrunner.scan import live_ccxt

        self._venue_module = ccxt_venue
        self._source_module = live_ccxt
        self._base_url = base_url
        self._read_timeout_s = read_timeout_s

    async def snapshot(self, venues: tuple[Venue, ...], coins: tuple[Coin, ...]) -> MarketSnapshot:
        symbol = self._source_module.CCXT_SYMBOLS[Venue.BINANCE]
        adapter = self._venue_module.CcxtVenue.public(base_url=self._base_url, timeout_s=self._read_timeout_s)
        try:
            try:
                await adapter.load_markets(tuple(symbol(c) for c in coins))
            except self._venue_module.CcxtVenueError as exc:
                return MarketSnapshot(
                    taken_ms=_wall_ms(),
                    quotes=(),
                    unavailable=tuple(Unavailable(v, c, str(exc)) for v in venues for c in coins),
                    source="live ccxt (binance: markets not loaded)",
                )
            source = self._source_module.CcxtSnapshotSource({Venue.BINANCE: adapter}, clock_ms=_wall_ms)
            return await source.snapshot(venues, coins)
        finally:
            await adapter.close()


class _Drift:
    """The Drift source on its own RPC client, opened and closed around the one snapshot."""

    def __init__(self, url: str, read_timeout_s: float) -> None:
        from botrunner.scan import live_drift  # driftpy: imported before the scan's clock runs

        self._module = live_drift
        self._url = url
        self._read_timeout_s = read_timeout_s

    async def snapshot(self, venues: tuple[Venue, ...], coins: tuple[Coin, ...]) -> MarketSnapshot:
        from solana.rpc.async_api import AsyncClient

        from botrunner.live.connect import safe_url

        async with AsyncClient(self._url, timeout=self._read_timeout_s) as rpc:
            source = self._module.DriftSnapshotSource(
                rpc, rpc_label=safe_url(self._url), timeout_s=self._read_timeout_s, clock_ms=_wall_ms
            )
            return await source.snapshot(venues, coins)


def live_sources(
    environ: Mapping[str, str], read_timeout_s: float
) -> tuple[dict[Venue, SnapshotSource], dict[Venue, str]]:
    """The live sources the environment allows, and why each other venue has none (no network here)."""
    from botrunner.live.connect import checked_rpc_url

    parts: dict[Venue, SnapshotSource] = {}
    missing: dict[Venue, str] = {Venue.HYPERLIQUID: "no live source for this venue yet (its ccxt adapter is not built)"}
    url = environ.get(DEFAULT_RPC_ENV, "").strip()
    try:
        parts[Venue.DRIFT] = _Drift(checked_rpc_url(url, DEFAULT_RPC_ENV), read_timeout_s)
    except ValueError as exc:
        missing[Venue.DRIFT] = f"{DEFAULT_RPC_ENV} is not set: no Solana RPC to read" if not url else str(exc)
    try:
        parts[Venue.BINANCE] = _Binance(environ.get(BINANCE_URL_ENV, "").strip() or None, read_timeout_s)
    except ModuleNotFoundError as exc:  # ccxt is an optional extra: without it Binance is unavailable, not the scan
        if exc.name is None or exc.name.split(".")[0] != "ccxt":
            raise
        missing[Venue.BINANCE] = "ccxt is not installed (the optional extra: pip install -e '.[arb]')"
    return parts, missing


def _live(args: argparse.Namespace, venues: tuple[Venue, ...], coins: tuple[Coin, ...]) -> MarketSnapshot:
    from botrunner.scan.live import LiveSnapshotSource

    if args.data is not None or args.at is not None:
        raise CliError("--live reads the venues now: it takes neither --data nor --at")
    if not args.timeout > 0:
        raise CliError(f"--timeout must be > 0, got {args.timeout:g}")
    # one read gets at most half the whole scan: a read that hangs is reported as the read's own timeout
    parts, missing = live_sources(os.environ, min(LIVE_READ_TIMEOUT_S, args.timeout / 2))
    source = LiveSnapshotSource(parts, total_timeout_s=args.timeout, clock_ms=_wall_ms, unavailable=missing)
    snapshot = asyncio.run(source.snapshot(venues, coins))
    if not snapshot.quotes:
        why = "; ".join(sorted({f"{u.venue}: {u.reason}" for u in snapshot.unavailable}))
        raise CliError(scrub(f"live scan: no venue answered ({why})"))
    return snapshot


def run_scan(args: argparse.Namespace) -> int:
    size, venues, coins = _options(args)
    snapshot = _live(args, venues, coins) if args.live else _offline(args, venues, coins)
    report = rank(snapshot, size)
    # the RPC URL may hold an API key: nothing printed may carry it (reasons are scrubbed at the source too)
    if args.json:
        sys.stdout.write(scrub(msgspec.json.encode(_as_json(report, args.top)).decode()) + "\n")
    else:
        print(scrub(_table(report, args.top)))
    return 0
