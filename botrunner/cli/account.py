"""``botrunner account inspect SNAPSHOT.json [--strict] [--json]``: decode a Drift account snapshot and report its
margin (collateral, requirement, free collateral, health, leverage, positions and liquidation prices)."""

from __future__ import annotations

import argparse
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from botrunner.cli import CliError
from botrunner.core.precision import (
    BASE_PRECISION,
    LEVERAGE_PRECISION,
    PRICE_PRECISION,
    QUOTE_PRECISION,
    to_decimal,
)


def register(subparsers: Any) -> None:
    """Add ``account inspect`` to the CLI."""
    account = subparsers.add_parser("account", help="inspect Drift accounts")
    sub = account.add_subparsers(dest="account_command", metavar="SUBCOMMAND")
    sub.required = True
    inspect = sub.add_parser("inspect", help="margin report of a raw account snapshot (JSON of base64 accounts)")
    inspect.add_argument("snapshot", type=Path, metavar="SNAPSHOT.json")
    inspect.add_argument(
        "--strict",
        action="store_true",
        help="Drift's strict oracle pricing: assets at min(oracle, 5-min twap), liabilities at the max",
    )
    inspect.add_argument("--json", action="store_true", help="print the report as JSON (Drift integer precisions)")
    inspect.set_defaults(handler=run_inspect)


def build_report(raw: bytes, *, strict: bool) -> dict[str, Any]:
    """The ``--json`` report for snapshot bytes ``raw``. Raises ``CliError`` on a bad snapshot."""
    # The driftpy-backed decoder is imported here so the rest of the CLI starts without it.
    from botrunner.drift.snapshot import SnapshotError, parse_snapshot
    from botrunner.margin import account_margin, entry_price, liquidation_price, unrealized_pnl
    from botrunner.margin.spot_balance import signed_token_amount

    try:
        snap = parse_snapshot(raw)
    except SnapshotError as exc:
        raise CliError(str(exc)) from exc
    account, markets = snap.account, snap.markets
    try:
        margin = account_margin(account, markets, strict=strict)
        perps = [
            {
                "market_index": p.market_index,
                "base": p.base_asset_amount,
                "quote": p.quote_asset_amount,
                "entry_price": entry_price(p),
                "unrealized_pnl": unrealized_pnl(p, markets.perp_market(p.market_index)),
                "liquidation_price": liquidation_price(account, markets, p.market_index),
            }
            for p in account.perp_positions
            if not p.is_available
        ]
        spots = [
            {
                "market_index": s.market_index,
                "token_amount": signed_token_amount(s, markets.spot_market(s.market_index)),
            }
            for s in account.spot_positions
            if not s.is_available
        ]
    except (KeyError, ValueError) as exc:
        raise CliError(f"cannot compute margin: {exc}") from exc
    return {
        "sub_account_id": account.sub_account_id,
        "margin_mode": account.margin_mode.value,
        "total_collateral": {
            "initial": margin.initial.total_collateral,
            "maintenance": margin.maintenance.total_collateral,
        },
        "margin_requirement": {
            "initial": margin.initial.margin_requirement,
            "maintenance": margin.maintenance.margin_requirement,
        },
        "free_collateral": {
            "initial": margin.free_collateral_initial,
            "maintenance": margin.free_collateral_maintenance,
        },
        "health": margin.health,
        "leverage_x10000": margin.leverage,
        "perp_positions": perps,
        "spot_positions": spots,
    }


def _usd(v: int) -> str:
    return f"${to_decimal(v, QUOTE_PRECISION):,}"


def _render(report: dict[str, Any], source: Path, strict: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    mode = "strict" if strict else "oracle"
    console.print(
        f"[bold]{source.name}[/bold]  sub-account {report['sub_account_id']}  margin mode "
        f"{report['margin_mode']}  pricing {mode}"
    )
    t = Table(title="Margin (USDC)")
    for col in ("", "initial", "maintenance"):
        t.add_column(col, justify="right")
    for key, label in (
        ("total_collateral", "total collateral"),
        ("margin_requirement", "margin requirement"),
        ("free_collateral", "free collateral"),
    ):
        t.add_row(label, _usd(report[key]["initial"]), _usd(report[key]["maintenance"]))
    console.print(t)
    lev = Decimal(report["leverage_x10000"]) / LEVERAGE_PRECISION
    console.print(f"health {report['health']}/100   leverage {lev:.4f}x")
    if report["perp_positions"]:
        pt = Table(title="Perp positions")
        for col in ("market", "base", "entry", "unrealized pnl", "liquidation price"):
            pt.add_column(col, justify="right")
        for p in report["perp_positions"]:
            liq = p["liquidation_price"]
            pt.add_row(
                str(p["market_index"]),
                str(to_decimal(p["base"], BASE_PRECISION)),
                str(to_decimal(p["entry_price"], PRICE_PRECISION)),
                _usd(p["unrealized_pnl"]),
                "none" if liq is None else str(to_decimal(liq, PRICE_PRECISION)),
            )
        console.print(pt)
    if report["spot_positions"]:
        st = Table(title="Spot positions (token units)")
        st.add_column("market", justify="right")
        st.add_column("token amount", justify="right")
        for s in report["spot_positions"]:
            st.add_row(str(s["market_index"]), str(s["token_amount"]))
        console.print(st)


def inspect_path(path: Path, *, strict: bool, as_json: bool) -> None:
    """Read a SNAPSHOT.json and print its report (raises ``CliError`` with one line on bad input)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CliError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    report = build_report(raw, strict=strict)
    if as_json:
        print(json.dumps(report))
    else:
        _render(report, path, strict)


def run_inspect(args: argparse.Namespace) -> int:
    """Handler of ``account inspect``."""
    inspect_path(args.snapshot, strict=args.strict, as_json=args.json)
    return 0
