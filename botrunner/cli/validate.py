"""``botrunner validate [PATH]``: load a fleet (a directory of bot YAML files, or one file) and report."""

from __future__ import annotations

import argparse
from decimal import Decimal
from pathlib import Path
from typing import Any

from botrunner.cli import CliError
from botrunner.config import load_fleet
from botrunner.core.precision import BASE_PRECISION, LEVERAGE_PRECISION, QUOTE_PRECISION
from botrunner.yamlconf import ConfigError


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("validate", help="validate bot YAML files (unknown keys, units, market limits)")
    p.add_argument("path", type=Path, nargs="?", default=Path("config/bots"), help="directory or one YAML file")
    p.set_defaults(handler=run_validate)


def run_validate(args: argparse.Namespace) -> int:
    try:
        bots = load_fleet(args.path)
    except ConfigError as exc:
        raise CliError(str(exc)) from exc
    for bot in bots:
        g = bot.strategy.grid
        print(
            f"ok  {bot.name:<24} {bot.mode.value:<5} {bot.market:<9} subaccount {bot.account.subaccount_id:<3} "
            f"{g.curve.value}/{g.bias.value}/{g.mode.value}  "
            f"{bot.execution.grid_levels}x{Decimal(bot.execution.base_size_per_level) / BASE_PRECISION} "
            f"capital ${Decimal(bot.capital_quote) / QUOTE_PRECISION:,}  "
            f"max leverage {Decimal(bot.risk.max_leverage_x10000) / LEVERAGE_PRECISION}x  ({bot.source})"
        )
    print(f"{len(bots)} bot(s) valid")
    return 0
