"""``botrunner run [--fleet PATH] [--speed X]``: run the fleet, one actor per bot, until Ctrl-C.

In paper mode the market is the bundled real history (or ``--data``), replayed at ``--speed`` times real time; a
restart resumes where the previous run stopped (or was killed). While it runs, the terminal shows the fleet
(positions, PnL, risk states) when it is a TTY, and ``botrunner ctl`` talks to it through the run directory's
control socket. Ctrl-C or SIGTERM shuts down gracefully: each bot applies its ``on_shutdown`` policy.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from botrunner.cli import CliError
from botrunner.control import SocketPathError, resolve_run_dir
from botrunner.control.server import ControlServerError
from botrunner.runner import Runner, RunnerError, RunOptions
from botrunner.runtime.pacer import parse_speed
from botrunner.runtime.snapshots import StatusSnapshot
from botrunner.store import StoreError


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("run", help="run the fleet (paper: on replayed real history) until Ctrl-C")
    p.add_argument("--fleet", type=Path, default=Path("config/bots"), help="a directory of bot YAML files, or one")
    p.add_argument("--run-dir", type=Path, default=None, help="store, logs and control socket (default ./run)")
    p.add_argument("--speed", default="6000", help="replay speed: market seconds per wall second, or 'max'")
    p.add_argument("--data", type=Path, default=None, help="market data directory (default: the bundled slice)")
    p.add_argument("--exit-at-end", action="store_true", help="shut down when the replayed data ends")
    p.add_argument("--snapshot-every", type=int, default=60, help="margin snapshot cadence, market seconds")
    p.add_argument("--log-retention-days", type=int, default=30, help="keep rotated logs this many days")
    p.add_argument("--quiet", action="store_true", help="no live table")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="live bots build and simulate every transaction but send none (paper bots are unaffected)",
    )
    p.set_defaults(handler=run_fleet)


def _table(status: StatusSnapshot) -> Table:
    fleet = status.fleet
    table = Table(
        title=f"botrunner · {fleet.bots} bots · market time {fleet.market_time or '-'} · speed {fleet.speed}×",
        caption="botrunner ctl status · botrunner ctl bot NAME · Ctrl-C stops",
    )
    for col in ("bot", "market", "state", "risk", "position", "mark", "equity", "PnL", "orders", "fills"):
        table.add_column(col, justify="right" if col not in ("bot", "market", "state", "risk") else "left")
    for row in status.bots:
        table.add_row(
            row.name,
            row.market or "",
            (row.state or "") + (" ⚑" if row.flagged else ""),
            row.risk_state or "-",
            _short(row.position, 4),
            _short(row.mark, 2),
            _short(row.equity, 2),
            _short(row.pnl, 2),
            "" if row.open_orders is None else str(row.open_orders),
            "" if row.fills is None else str(row.fills),
        )
    return table


def _short(value: str | None, places: int) -> str:
    if value is None:
        return "-"
    whole, _, frac = value.partition(".")
    return f"{whole}.{frac[:places]}" if frac else whole


def run_fleet(args: argparse.Namespace) -> int:
    try:
        speed = parse_speed(args.speed)
        run_dir = resolve_run_dir(args.run_dir)
    except (ValueError, SocketPathError) as exc:
        raise CliError(str(exc)) from exc
    if args.snapshot_every <= 0 or args.log_retention_days <= 0:
        raise CliError("--snapshot-every and --log-retention-days must be positive")
    runner = Runner(
        RunOptions(
            fleet=args.fleet,
            run_dir=run_dir,
            speed=speed,
            data_dir=args.data,
            exit_at_end=args.exit_at_end,
            snapshot_every_s=args.snapshot_every,
            retention_days=args.log_retention_days,
            dry_run=args.dry_run,
        )
    )

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        runner.shutdown_requested.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    console = Console()
    try:
        try:
            runner.start()
        except (RunnerError, StoreError, ControlServerError, SocketPathError) as exc:
            raise CliError(str(exc)) from exc
        except OSError as exc:  # the run directory's files (logs, store) cannot be made: say which and why
            raise CliError(f"{exc.filename or run_dir}: {exc.strerror or exc}") from exc
        console.print(
            f"[bold]botrunner[/] running {len(runner.configs)} bots in {run_dir} "
            f"(speed {args.speed}×). In another terminal:\n"
            f"  botrunner ctl status{_dir_flag(args)}\n  botrunner ctl bot {runner.configs[0].name}{_dir_flag(args)}\n"
            f"  botrunner ctl subscribe{_dir_flag(args)}\nCtrl-C stops the fleet gracefully."
        )
        if args.quiet or not sys.stdout.isatty():
            runner.wait()
        else:
            with Live(_table(runner.status()), console=console, refresh_per_second=2) as live:
                runner.wait(tick=lambda: live.update(_table(runner.status())))
        final = runner.status()
    finally:
        runner.shutdown()
    console.print(_table(final))
    if runner.store_failure is not None:
        root: BaseException = runner.store_failure
        while root.__cause__ is not None:  # the OS's or SQLite's own words: "database or disk is full"
            root = root.__cause__
        raise CliError(
            f"the store {runner.db_path} could not be written ({root}), so the fleet was stopped: each bot applied "
            "its shutdown policy on its venue. Fix that and run again: every bot resumes from its last stored step "
            "and reconciles with its venue"
        )
    return 0


def _dir_flag(args: argparse.Namespace) -> str:
    return f" --run-dir {args.run_dir}" if args.run_dir is not None else ""
