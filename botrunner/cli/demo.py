"""``botrunner demo``: what ``make run`` shows until the paper venue and the runtime exist.

For each example bot it replays the bundled real prices through the bot's own pure pipeline (strategy -> Risk
Governor -> Execution Governor -> connector) and prints the band, the verdict with its reasons and the ladder it would
work. No order goes anywhere: a stand-in venue accepts every command and fills nothing, so positions stay flat.
Then it inspects a real Drift mainnet account with the margin engine.
"""

from __future__ import annotations

import argparse
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from botrunner.cli import CliError
from botrunner.config import load_fleet
from botrunner.connector import WorkingOrder
from botrunner.core.precision import BASE_PRECISION, PRICE_PRECISION
from botrunner.core.side import Side
from botrunner.marketdata.candles import bundled_path, load_candles
from botrunner.marketdata.funding import load_drift_funding
from botrunner.replay import ReplayResult, replay
from botrunner.yamlconf import ConfigError

# Bundled real data per market: (candles, Drift funding records or None)
DEMO_DATA: dict[str, tuple[str, str | None]] = {
    "SOL-PERP": ("SOL-USDT-PERP_binance_5m.csv.gz", "SOL-PERP_drift_funding_1h.csv.gz"),
    "BTC-PERP": ("BTC-USDT-PERP_binance_1h.csv.gz", "BTC-PERP_drift_funding_1h.csv.gz"),
    "ETH-PERP": ("ETH-USDT-PERP_binance_1h.csv.gz", None),
}
DEMO_ACCOUNT = "accounts/liquidate_dust_spot_market_user.json"


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("demo", help="replay bundled real prices through the example bots' decision pipeline")
    p.add_argument("--fleet", type=Path, default=Path("config/bots"), help="bot YAML directory or file")
    p.add_argument("--days", type=int, default=2, help="days of decisions to run at the end of the bundled data")
    p.add_argument("--every-hours", type=int, default=6, help="print one row per this many hours")
    p.set_defaults(handler=run_demo)


def _price(v: int) -> str:
    return f"{Decimal(v) / PRICE_PRECISION:,.2f}"


def _base(v: int) -> str:
    return f"{Decimal(v) / BASE_PRECISION:+.4f}".rstrip("0").rstrip(".")


def _working(orders: tuple[WorkingOrder, ...]) -> str:
    """``3b 180.31 | 5a 181.76``: the orders the connector works per side, and the nearest price of each."""
    bids = [o.price for o in orders if o.side is Side.BUY]
    asks = [o.price for o in orders if o.side is Side.SELL]
    bid = f"{len(bids)}b {_price(max(bids))}" if bids else "0b"
    ask = f"{len(asks)}a {_price(min(asks))}" if asks else "0a"
    return f"{bid} | {ask}"


def _table(result: ReplayResult) -> Table:
    bot = result.bot
    g = bot.strategy.grid
    title = (
        f"{bot.name}  {bot.market}  {g.curve.value} {g.bias.value} {g.mode.value} grid  "
        f"{bot.execution.grid_levels} levels × {_base(bot.execution.base_size_per_level).lstrip('+')} "
        f"@ {bot.execution.step_bps} bps"
    )
    t = Table(title=title, title_justify="left")
    for col in ("time UTC", "mark", "range", "band (preferred)", "verdict", "mode", "working orders", "cmds"):
        t.add_column(col, justify="right" if col in ("mark", "cmds") else "left", no_wrap=True)
    for d, orders in result.rows:
        s = d.strategy
        rng = f"{_price(s.range_low)}-{_price(s.range_high)}" if s.range_low else "(warming up)"
        band = d.verdict.band
        reasons = ",".join(r.value for r in d.verdict.reasons)
        t.add_row(
            time.strftime("%m-%d %H:%M", time.gmtime(d.ts)),
            _price(d.mark),
            rng + ("" if s.in_range else " out"),
            f"{_base(band.min_base)} {_base(band.max_base)} ({_base(band.preferred_base)})",
            d.verdict.action.value + (f" {reasons}" if reasons else ""),
            d.directive.mode.value,
            _working(orders),
            str(len(d.commands)),
        )
    return t


def run_demo(args: argparse.Namespace) -> int:
    # A pipe or CI log gets a fixed wide layout; a terminal keeps its own width.
    console = Console() if Console().is_terminal else Console(width=150)
    try:
        bots = load_fleet(args.fleet)
    except ConfigError as exc:
        raise CliError(str(exc)) from exc
    if args.days < 1 or args.every_hours < 1:
        raise CliError("--days and --every-hours must be >= 1")
    console.print(
        "[bold]botrunner decision demo[/bold] — bundled real prices (Binance perp candles, Drift hourly funding) "
        "through each example bot's own pipeline.\n"
        "[yellow]No order is sent anywhere.[/yellow] A stand-in venue accepts every command and fills nothing, so "
        "positions stay flat; the Drift-faithful paper venue and backtests are the next milestone.\n"
    )
    for bot in bots:
        if bot.market not in DEMO_DATA:
            console.print(f"[red]{bot.name}: no bundled data for {bot.market}; skipped[/red]")
            continue
        candle_file, funding_file = DEMO_DATA[bot.market]
        candles = load_candles(bundled_path(candle_file))
        funding = load_drift_funding(bundled_path(funding_file)).records if funding_file else ()
        result = replay(bot, candles, funding, args.days, args.every_hours * 3600)
        console.print(_table(result))
        per = result.decide_s / max(1, result.decisions) * 1e6
        actions = ", ".join(f"{k} {v}" for k, v in sorted(result.actions.items()))
        console.print(
            f"  {result.decisions} decisions on {candles.interval_s // 60}-minute bars ({actions}); "
            f"{result.placed} orders placed, {result.cancelled} cancelled; {per:,.0f} µs per decision"
            + ("" if funding_file else "; no Drift funding bundled for this market (funding rate 0)")
            + "\n"
        )
    console.print(
        "[bold]A real Drift mainnet account[/bold] (protocol-v2 liquidation test user), through the margin engine:"
    )
    from botrunner.cli.account import inspect_path

    inspect_path(bundled_path(DEMO_ACCOUNT), strict=False, as_json=False)
    console.print(
        "\nNext: [bold].venv/bin/botrunner account inspect SNAPSHOT.json[/bold] for any account; "
        "edit config/bots/*.yaml and run [bold]make run[/bold] again."
    )
    return 0
