"""``botrunner backtest BOT.yaml [--from DATE] [--to DATE] [--data DIR] [--out DIR] [--latency-slots N]``: replay
history through the bot's own step and the paper venue; print the summary table and write the report files."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from botrunner.backtest.data import DataNotFound, check_funding_covers, resolve
from botrunner.backtest.engine import BacktestError, BacktestInputs, run_backtest
from botrunner.backtest.output import iso, summary, write_outputs
from botrunner.bot.validity import DecisionMismatch
from botrunner.cli import CliError
from botrunner.config import BotConfig, StrategyKind, load_bot
from botrunner.config.live import transaction_cost_lamports
from botrunner.config.paper import check_latency_slots
from botrunner.funding import ONE_DAY_S
from botrunner.marketdata._text import DataError
from botrunner.paper.config import PaperConfig, with_bot_settings
from botrunner.paper.fees import FeeSchedule, drift_fee_tier
from botrunner.yamlconf import ConfigError


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("backtest", help="replay history through a bot and the paper venue; write a report")
    p.add_argument("bot", type=Path, help="bot YAML file, e.g. config/bots/sol-neutral-grid.yaml")
    p.add_argument("--from", dest="start", help="first day traded (YYYY-MM-DD or ISO time, UTC)")
    p.add_argument("--to", dest="end", help="last day traded, inclusive (YYYY-MM-DD), or an ISO time (exclusive)")
    p.add_argument("--data", type=Path, help="data directory (shared layout or bundled layout; default: bundled)")
    p.add_argument("--candles", type=Path, help="candle CSV(.gz) to use instead of the one found in --data")
    p.add_argument("--funding", type=Path, help="Drift funding CSV(.gz) to use instead of the one found in --data")
    p.add_argument("--funding-formula", action="store_true", help="ignore funding records; use Drift's formula")
    p.add_argument("--out", type=Path, help="output directory (default: out/backtest/BOT_NAME)")
    p.add_argument("--fee-tier", type=int, default=1, help="Drift perp fee tier 1..4 (default 1)")
    p.add_argument("--taker-fee-ppm", type=int, help="override the taker fee, ppm of notional (350 = 0.035 %%)")
    p.add_argument("--maker-fee-ppm", type=int, help="override the maker fee, ppm (negative = rebate)")
    p.add_argument(
        "--latency-slots",
        metavar="N",
        help="Solana slots (400 ms each, 0..150) before a command lands and a report arrives (default: the bot's "
        "paper.latency_slots, else 0: at once)",
    )
    p.add_argument(
        "--decision-check",
        action="store_true",
        help="prove the event-driven decisions: every bar that reuses the last decision is also decided in full, "
        "and the first difference stops the run naming the bar and the field (slower)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=run_backtest_command)


def parse_when(text: str, *, end: bool) -> int:
    """A UTC day (``2025-09-20``; as an end: the day is included) or an ISO-8601 time, as unix seconds."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            ts = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
            return ts + ONE_DAY_S if end else ts
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise CliError(f"{'--to' if end else '--from'} {text!r}: not a date (YYYY-MM-DD) or ISO time") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


class _Progress:
    """A one-line progress bar on stderr, drawn only on a terminal (logs and CI stay clean)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        width = 40
        filled = width * done // total
        sys.stderr.write(f"\r  [{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} bars")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def _latency_slots(text: str | None, bot: BotConfig) -> int:
    """``--latency-slots`` (the bot's ``paper.latency_slots`` when absent), or a one-line error."""
    if text is None:
        return bot.paper.latency_slots
    try:
        slots = int(text.strip())
    except ValueError:
        raise CliError(f"--latency-slots {text!r}: not an integer number of slots") from None
    try:
        return check_latency_slots(slots, "--latency-slots")
    except ValueError as exc:
        raise CliError(str(exc)) from exc


def _paper_config(args: argparse.Namespace, bot: BotConfig) -> PaperConfig:
    slots = _latency_slots(args.latency_slots, bot)
    try:
        tier = drift_fee_tier(args.fee_tier)
        fees = FeeSchedule(
            taker_ppm=tier.taker_ppm if args.taker_fee_ppm is None else args.taker_fee_ppm,
            maker_ppm=tier.maker_ppm if args.maker_fee_ppm is None else args.maker_fee_ppm,
        )
        # a two-leg bot's trades are transactions the backtest charges (base fee, priority fee, Jito tip)
        tx_cost = transaction_cost_lamports(bot.live) if bot.strategy.two_legs else 0
        paper = PaperConfig(fees=fees, latency_slots=slots, interest=bot.paper.interest, tx_cost_lamports=tx_cost)
        return with_bot_settings(paper, bot.paper).validate()  # paper: fill_model, queue_depth_share_bps
    except ValueError as exc:
        raise CliError(str(exc)) from exc


def run_backtest_command(args: argparse.Namespace) -> int:
    try:
        bot = load_bot(args.bot)
    except ConfigError as exc:
        raise CliError(str(exc)) from exc
    if bot.strategy.kind is StrategyKind.FUNDING_ARB:
        from botrunner.cli.backtest_arb import run_arb_backtest_command

        return run_arb_backtest_command(args, bot)
    paper = _paper_config(args, bot)
    try:
        data = resolve(
            bot.market, args.data, candles=args.candles, funding=args.funding, formula_funding=args.funding_formula
        )
    except (DataNotFound, DataError, OSError) as exc:
        raise CliError(str(exc)) from exc
    data_start, data_end = data.span()
    start = parse_when(args.start, end=False) if args.start else data.default_start(bot.strategy.warmup_s)
    if not args.start and data.funding:
        # No --from: start where Drift's funding records begin when the candles begin earlier (the shared data's
        # Binance candles start a week before its Drift records); an explicit --from is never moved, it is refused
        # the bar of the first record (records land seconds after their hour: rounded down to the bar); the hour
        # that record closes is not traded, so no position can owe it
        interval = data.candles.interval_s
        first_hour = data.funding[0].ts // interval * interval
        if start < first_hour:
            print(f"window starts at {iso(first_hour)}: the first Drift funding record (the candles start earlier)")
            start = first_hour
    end = parse_when(args.end, end=True) if args.end else data_end
    if start >= data_end or end <= data_start:
        raise CliError(
            f"no data for the window {iso(start)}..{iso(end)}: {data.candles_path} covers "
            f"{iso(data_start)}..{iso(data_end)}"
        )
    if end <= start:
        raise CliError(f"empty window: --to {iso(end)} is not after --from {iso(start)}")
    if data.funding is not None and data.funding_path is not None:
        try:
            check_funding_covers(data.funding, max(start, data_start), min(end, data_end), data.funding_path)
        except DataNotFound as exc:
            raise CliError(str(exc)) from exc
    inputs = BacktestInputs(
        bot=bot,
        candles=data.candles,
        funding=data.funding,
        start=start,
        end=end,
        paper=paper,
        decision_check=args.decision_check,
    )
    print(
        f"backtest {bot.name} ({bot.market}) on {data.candles_path.name}, "
        f"funding: {data.funding_path.name if data.funding_path else 'Drift formula'}",
        file=sys.stderr,
    )
    try:
        result = run_backtest(inputs, progress=_Progress(not args.quiet))
    except BacktestError as exc:
        raise CliError(str(exc)) from exc
    except DecisionMismatch as exc:  # only with --decision-check: a reused decision differed from a full one
        raise CliError(f"decision check failed: {exc}") from exc
    doc = summary(result, data)
    out = args.out if args.out is not None else Path("out") / "backtest" / bot.name
    try:
        written = write_outputs(result, out, doc)
    except OSError as exc:
        raise CliError(f"cannot write the report to {out}: {exc.strerror or exc}; nothing in it was changed") from exc
    _print_table(doc)
    print(f"wrote {', '.join(p.name for p in written)} to {out}")
    return 0


def _print_table(doc: dict[str, Any]) -> None:
    rows: list[tuple[str, str]] = []
    for key, value in doc.items():
        if key in ("data", "paper_venue"):
            continue
        if isinstance(value, dict):
            rows.extend((f"{key}.{k}", str(v)) for k, v in value.items())
        else:
            rows.append((key, "-" if value is None else str(value)))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")
