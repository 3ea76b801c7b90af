"""``botrunner monitor AUTHORITY [--subaccount N]``: watch any Drift subaccount, read-only, no key.

Every ``--interval`` seconds (default 10) it reads the subaccount, its market and the oracles in one RPC call and
prints health, leverage, collateral, the position and the liquidation price; a WARNING line when health drops below
50 %, CRITICAL below 20 % or with the liquidation price within 20 % of the oracle (the bot risk limits'
``health_warning`` / ``health_critical``). ``--once`` prints one reading and exits (0, or 3 when CRITICAL).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import msgspec

from botrunner.cli import CliError
from botrunner.config import AccountRef, BotConfig, BotMode, StrategyConfig, StrategyKind
from botrunner.config.live import DEFAULT_RPC_ENV, LiveSettings
from botrunner.core.catalogue import UnknownMarketError, load_catalogue
from botrunner.core.records import QUOTE_DECIMALS, fixed
from botrunner.runtime.views import account_fields

EXIT_CRITICAL = 3


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "monitor",
        help="watch a Drift subaccount read-only: health, leverage, collateral, liquidation price, alerts",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("authority", metavar="AUTHORITY", help="the wallet (base58 public key) that owns the subaccount")
    p.add_argument("--subaccount", type=int, default=0, help="subaccount id (default 0)")
    p.add_argument("--market", default="SOL-PERP", help="the perp market to show (default SOL-PERP)")
    p.add_argument("--rpc", default=None, help=f"Solana RPC URL (default: ${DEFAULT_RPC_ENV})")
    p.add_argument("--interval", type=float, default=10.0, help="seconds between readings (default 10)")
    p.add_argument("--once", action="store_true", help="one reading, then exit")
    p.add_argument("--json", action="store_true", help="one JSON object per reading")
    p.set_defaults(handler=run_monitor)


def monitor_config(authority: str, subaccount: int, market: str, rpc_url: str) -> BotConfig:
    """A monitor-mode bot for ``authority``'s subaccount (validated like any bot's YAML)."""
    from solders.pubkey import Pubkey

    try:
        load_catalogue().perp(market)
    except UnknownMarketError as exc:
        raise CliError(f"--market: {exc}".replace("'", "")) from exc
    if not 0 <= subaccount <= 65_535:
        raise CliError(f"--subaccount: {subaccount} is not a Drift subaccount id (0..65535)")

    try:
        Pubkey.from_string(authority)
    except ValueError:
        raise CliError(f"AUTHORITY: {authority!r} is not a base58 Solana public key") from None
    return BotConfig(
        name="monitor",
        mode=BotMode.MONITOR,
        account=AccountRef(authority=authority, subaccount_id=subaccount),
        market=market,
        capital_quote=1,
        strategy=StrategyConfig(kind=StrategyKind.GRID),
        live=LiveSettings(rpc_url=rpc_url),
    )


def reading(venue: Any, alert: Any) -> dict[str, Any]:
    """One reading as exact decimal strings: ``ctl bot``'s position and margin block (the oracle is the mark, as
    for a live bot), the collateral figures and the alert."""
    snap = venue.snapshot
    report = snap.report
    return {
        "slot": snap.slot,
        "latency_ms": venue.latency_ms,
        **msgspec.structs.asdict(account_fields(report, mark=snap.oracle, oracle=snap.oracle)),
        "total_collateral": fixed(report.total_collateral, QUOTE_DECIMALS),
        "free_collateral": fixed(report.free_collateral, QUOTE_DECIMALS),
        "maintenance_requirement": fixed(report.maintenance_requirement, QUOTE_DECIMALS),
        "unsettled_pnl": fixed(report.unsettled_pnl, QUOTE_DECIMALS),
        "open_orders": report.open_orders,
        "alert": alert.level.value,
        "message": alert.message,
    }


def run_monitor(args: argparse.Namespace) -> int:
    import anyio

    from botrunner.live.connect import resolve_access, safe_url

    # an empty URL falls back to $BOTRUNNER_RPC_URL in resolve_access, as for any live bot
    config = monitor_config(args.authority, args.subaccount, args.market, args.rpc or "")
    if args.interval <= 0:
        raise CliError("--interval must be positive")
    try:
        url, _ = resolve_access(config)  # a monitor needs no key: the RPC URL, checked to answer
    except ValueError as exc:
        raise CliError(str(exc).replace("live.rpc_url is empty and", "no --rpc and")) from exc
    return anyio.run(_watch, config, url, args, safe_url(url))


async def _watch(config: BotConfig, url: str, args: argparse.Namespace, shown_url: str) -> int:
    import anyio
    from rich.console import Console
    from solana.rpc.async_api import AsyncClient

    from botrunner.live.alerts import AlertLevel, assess
    from botrunner.live.venue import DriftVenue, VenueError

    console = Console()
    async with AsyncClient(url, timeout=config.live.rpc_timeout_s) as rpc:
        venue = DriftVenue(config, rpc, wallet=None, pipeline=None)
        try:
            await venue.connect()
        except VenueError as exc:
            raise CliError(str(exc).removeprefix("monitor: ")) from exc
        while True:
            snapshot = venue.snapshot
            assert snapshot is not None  # connect() read it; a failed refresh keeps the last one
            # every reading is printed with its own level (a hysteresis tracker, as the runtime's alerts use, would
            # print "healthy" while holding a warning)
            alert = assess(snapshot.report, config.risk)
            row = reading(venue, alert)
            if args.json:
                print(json.dumps(row))
            else:
                _print(console, row, config, shown_url)
            if args.once:
                return EXIT_CRITICAL if alert.level is AlertLevel.CRITICAL else 0
            await anyio.sleep(args.interval)
            await venue.refresh()


def _print(console: Any, row: dict[str, Any], config: BotConfig, url: str) -> None:
    style = {"ok": "green", "warning": "yellow", "critical": "bold red"}.get(row["alert"], "")
    console.print(
        f"[dim]{url} slot {row['slot']} ({row['latency_ms']} ms)[/] {config.account.authority}/"
        f"{config.account.subaccount_id} {config.market}: position {row['position']} @ oracle {row['oracle']}, "
        f"health [{style}]{row['health']}[/], leverage {row['leverage']}x, equity {row['equity']}, "
        f"collateral {row['total_collateral']}, "
        f"free {row['free_collateral']}, liq {row['liq_price'] or '-'}"
        + (f" ({row['liq_distance_pct']} % away)" if row["liq_distance_pct"] is not None else "")
        + (f" [{style}]{row['alert'].upper()}: {row['message']}[/]" if row["alert"] != "ok" else "")
    )
