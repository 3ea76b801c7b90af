"""``botrunner demo``: what ``make run`` shows: the example fleet paper-trading the bundled real history.

For each bot in the fleet it runs the bot's own step (strategy -> Risk Governor -> Execution Governor -> connector)
against the Drift-faithful paper venue over the bundled slice (Binance perp candles as the price path, Drift hourly
funding where bundled), prints a row every few hours and the PnL summary, and writes the full backtest report to
``out/backtest/BOT/``. Then it inspects a real Drift mainnet account with the margin engine.
"""

from __future__ import annotations

import argparse
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from botrunner.backtest.data import DataNotFound, resolve
from botrunner.backtest.engine import BacktestInputs, BacktestResult, run_backtest
from botrunner.backtest.output import summary, write_outputs
from botrunner.cli import CliError
from botrunner.config import BotConfig, load_fleet
from botrunner.core.precision import BASE_PRECISION, PRICE_PRECISION, QUOTE_PRECISION
from botrunner.core.records import SnapshotRow
from botrunner.funding import ONE_DAY_S
from botrunner.marketdata.candles import bundled_path
from botrunner.yamlconf import ConfigError

DEMO_ACCOUNT = "accounts/liquidate_dust_spot_market_user.json"


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("demo", help="paper-trade the example fleet over the bundled real history")
    p.add_argument("--fleet", type=Path, default=Path("config/bots"), help="bot YAML directory or file")
    p.add_argument("--days", type=int, default=0, help="days to trade at the end of the data (0: all after warm-up)")
    p.add_argument("--every-hours", type=int, default=24, help="print one row per this many hours")
    p.add_argument("--out", type=Path, default=Path("out") / "backtest", help="reports go to OUT/BOT_NAME/")
    p.set_defaults(handler=run_demo)


def _price(v: int) -> str:
    return f"{Decimal(v) / PRICE_PRECISION:,.2f}"


def _base(v: int) -> str:
    return f"{Decimal(v) / BASE_PRECISION:+.4f}".rstrip("0").rstrip(".")


def _usd(v: int) -> str:
    return f"{Decimal(v) / QUOTE_PRECISION:+,.2f}"


def _table(bot: BotConfig, rows: list[SnapshotRow]) -> Table:
    g = bot.strategy.grid
    kind = f"{g.curve.value} {g.bias.value} {g.mode.value} grid" if bot.strategy.kind.value == "grid" else "band"
    if bot.strategy.two_legs:
        kind = "delta-neutral (spot SOL + short perp)"
    title = (
        f"{bot.name}  {bot.market}  {kind}  {bot.execution.grid_levels} levels × "
        f"{_base(bot.execution.base_size_per_level).lstrip('+')} @ {bot.execution.step_bps} bps"
    )
    t = Table(title=title, title_justify="left")
    for col in ("time UTC", "mark", "range", "approved band", "risk", "position", "equity", "ladder"):
        t.add_column(col, justify="right" if col in ("mark", "position", "equity") else "left", no_wrap=True)
    for r in rows:
        rng = f"{_price(r.range_low)}-{_price(r.range_high)}" if r.range_low else "(warming up)"
        ladder = f"{len(r.bid_prices)}b {_price(r.bid_prices[0]) if r.bid_prices else '-'} | "
        ladder += f"{len(r.ask_prices)}a {_price(r.ask_prices[0]) if r.ask_prices else '-'}"
        t.add_row(
            time.strftime("%m-%d %H:%M", time.gmtime(r.ts)),
            _price(r.mark),
            rng,
            f"{_base(r.band_min)} {_base(r.band_max)}",
            r.risk_state,
            _base(r.position_base),
            f"{Decimal(r.equity) / QUOTE_PRECISION:,.2f}",
            ladder,
        )
    return t


def _paper_trade(bot: BotConfig, days: int) -> tuple[BacktestResult, dict[str, Any], str]:
    data = resolve(bot.market)
    _, end = data.span()
    start = end - days * ONE_DAY_S if days else data.default_start(bot.strategy.warmup_s)
    result = run_backtest(BacktestInputs(bot=bot, candles=data.candles, funding=data.funding, start=start, end=end))
    return result, summary(result, data), data.funding_source


def run_demo(args: argparse.Namespace) -> int:
    # A pipe or CI log gets a fixed wide layout; a terminal keeps its own width.
    console = Console() if Console().is_terminal else Console(width=150)
    try:
        bots = load_fleet(args.fleet)
    except ConfigError as exc:
        raise CliError(str(exc)) from exc
    if args.days < 0 or args.every_hours < 1:
        raise CliError("--days must be >= 0 and --every-hours >= 1")
    console.print(
        "[bold]botrunner paper fleet[/bold] — each example bot trades the bundled real history (Binance perp "
        "candles as the price path, Drift hourly funding) against the Drift-faithful paper venue: Drift order "
        "rules, maker/taker fees, funding, margin and liquidation. Nothing is sent to any chain.\n"
    )
    for bot in bots:
        try:
            result, doc, source = _paper_trade(bot, args.days)
        except DataNotFound as exc:
            console.print(f"[red]{bot.name}: {exc}; skipped[/red]")
            continue
        step = max(1, args.every_hours * 3600 // max(1, result.inputs.candles.interval_s))
        console.print(_table(bot, result.snapshots[::step]))
        pnl, gross = doc["pnl"], doc["pnl_gross"]  # costs and incomes apart: no "− fees -1.46"
        console.print(
            f"  {doc['from'][:10]} → {doc['to'][:10]}: {doc['bars']:,} bars, {doc['orders']:,} orders, "
            f"{doc['fills']:,} fills ({Decimal(doc['maker_share']) * 100:.0f} % maker), "
            f"{doc['liquidations']} liquidations; min health {doc['min_health']}\n"
            f"  PnL {pnl['total']} USDC = realized {pnl['realized']} + unrealized {pnl['unrealized']} "
            f"+ funding received {gross['funding_received']} − funding paid {gross['funding_paid']} "
            f"− fees paid {gross['fees_paid']} + rebates earned {gross['rebates_earned']}\n"
            f"  (return {doc['return_pct']} %, max drawdown {doc['max_drawdown_pct']} %)"
            + ("" if source == "drift_records" else "; funding from Drift's formula (no records bundled)")
        )
        out = args.out / bot.name
        try:
            write_outputs(result, out, doc)
        except OSError as exc:  # a full disk is one line, as for `botrunner backtest`
            raise CliError(f"cannot write the report to {out}: {exc.strerror or exc}") from exc
        console.print(f"  report: {out / 'report.html'}\n")
    console.print(
        "[bold]A real Drift mainnet account[/bold] (protocol-v2 liquidation test user), through the margin engine:"
    )
    from botrunner.cli.account import inspect_path

    inspect_path(bundled_path(DEMO_ACCOUNT), strict=False, as_json=False)
    console.print(
        "\nNext: [bold].venv/bin/botrunner backtest config/bots/NAME.yaml --from DATE --to DATE[/bold]; "
        "[bold].venv/bin/botrunner account inspect SNAPSHOT.json[/bold] for any account; "
        "edit config/bots/*.yaml and run [bold]make run[/bold] again."
    )
    return 0
