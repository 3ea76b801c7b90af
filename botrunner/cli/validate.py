"""``botrunner validate [PATH] [--price MARKET=USD]``: check a fleet's bot files and report every problem at once."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from botrunner.backtest.data import BUNDLED_DIR, candle_candidates
from botrunner.cli import CliError
from botrunner.config import ConfigWarning, ReferencePrice, check_fleet_files, exposure_warnings
from botrunner.core.catalogue import UnknownMarketError, load_catalogue
from botrunner.core.precision import BASE_PRECISION, LEVERAGE_PRECISION, PRICE_PRECISION, QUOTE_PRECISION, to_fixed
from botrunner.marketdata.candles import DataError, load_candles
from botrunner.yamlconf import ConfigError

DESCRIPTION = """\
Check bot files the way `botrunner run` loads them: unknown or duplicate keys, types, units, market limits
(order step, minimum size, maximum leverage), and the fleet rules (unique names, one bot per subaccount). Every
bad file is reported, one line each as FILE:LINE:COLUMN: FIELD: PROBLEM, and the exit status is 2 if any is bad.

Warnings do not fail the check: a bot whose own ladder (every rung of its larger side filled) or band edge
would exceed its max_leverage or max_notional_usd at the market's reference price is valid, but the risk
governor would clamp it. The reference price is the last close in the bundled history unless --price gives one.
"""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "validate",
        help="check bot YAML files; report every error and warning of the fleet",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "path", type=Path, nargs="?", default=Path("config/bots"), help="a directory of bot files, or one file"
    )
    p.add_argument(
        "--price",
        action="append",
        default=[],
        metavar="MARKET=USD",
        help="reference price for the size warnings, e.g. SOL-PERP=180 (repeatable)",
    )
    p.set_defaults(handler=run_validate)


def _prices(given: list[str]) -> dict[str, ReferencePrice]:
    prices: dict[str, ReferencePrice] = {}
    for item in given:
        market, sep, usd = item.partition("=")
        try:
            if not sep:
                raise ValueError("expected MARKET=USD")
            load_catalogue().perp(market)
            price = to_fixed(usd, PRICE_PRECISION, what="price")
            if price <= 0:
                raise ValueError("the price must be > 0")
        except (ValueError, UnknownMarketError) as exc:
            raise CliError(f"--price {item}: {str(exc).strip(chr(39) + chr(34))}") from exc
        prices[market] = ReferencePrice(price, "--price")
    return prices


def _bundled_price(market: str) -> ReferencePrice | None:
    """The last close of the bundled history for ``market``, if it has one."""
    for path in candle_candidates(BUNDLED_DIR, market.removesuffix("-PERP")):
        if path.is_file():
            try:
                last = load_candles(path).bars[-1]
            except (DataError, OSError, IndexError):
                return None
            day = datetime.fromtimestamp(last.ts, UTC).date().isoformat()
            return ReferencePrice(last.close, f"{market}'s last close in the bundled history, {day}")
    return None


def run_validate(args: argparse.Namespace) -> int:
    prices = _prices(args.price)
    try:
        checked = check_fleet_files(args.path)
    except ConfigError as exc:
        raise CliError(str(exc)) from exc
    warnings: list[ConfigWarning | str] = []
    for loaded in checked.bots:
        bot = loaded.config
        reference = prices.get(bot.market) or _bundled_price(bot.market)
        if reference is None:
            warnings.append(
                f"{bot.source}: no reference price for {bot.market}, so its ladder's size was not checked "
                f"(pass --price {bot.market}=USD)"
            )
            continue
        warnings.extend(exposure_warnings(loaded, reference))
    for loaded in checked.bots:
        bot, g = loaded.config, loaded.config.strategy.grid
        if bot.strategy.two_legs:  # spot + perp: no ladder; its hedge size says what it trades
            target = bot.strategy.delta_neutral.target_base
            what = "delta_neutral  " + (
                "hedge by capital" if target is None else f"hedge {Decimal(target) / BASE_PRECISION} SOL"
            )
        else:
            what = (
                f"{g.curve.value}/{g.bias.value}/{g.mode.value}  "
                f"{bot.execution.grid_levels}x{Decimal(bot.execution.base_size_per_level) / BASE_PRECISION}"
            )
        print(
            f"ok  {bot.name:<24} {bot.mode.value:<5} {bot.market:<9} subaccount {bot.account.subaccount_id:<3} "
            f"{what} "
            f"capital ${Decimal(bot.capital_quote) / QUOTE_PRECISION:,}  "
            f"max leverage {Decimal(bot.risk.max_leverage_x10000) / LEVERAGE_PRECISION}x  ({bot.source})"
        )
    for error in checked.errors:
        print(f"botrunner validate: error: {error}", file=sys.stderr)
    for refusal in checked.refused:
        print(f"botrunner validate: refused: {refusal}", file=sys.stderr)
    for warning in warnings:
        print(f"botrunner validate: warning: {warning}", file=sys.stderr)
    bad_files = len({e.source for e in checked.errors})
    summary = f"{len(checked.bots)} bot(s) valid"
    if checked.errors:
        summary += f", {bad_files} of {checked.files} file(s) invalid ({len(checked.errors)} error(s))"
    if checked.refused:
        summary += f", {len(checked.refused)} backtest-only bot(s) refused (botrunner run leaves them out)"
    if warnings:
        summary += f", {len(warnings)} warning(s)"
    print(summary)
    return 2 if checked.errors else 0
