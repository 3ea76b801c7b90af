"""``botrunner run [--fleet PATH] [--speed X] [--fresh | --resume]``: run the fleet, one actor per bot, until Ctrl-C.

In paper mode the market is the bundled real history (or ``--data``), replayed at ``--speed`` times real time. A
run resumes where the previous one in its run directory stopped (or was killed), and its first lines say what it
resumed: each bot's market time and operator mode, and whether the replay had already ended; ``--fresh`` starts
over instead, moving the previous run directory aside (never deleting it; refused while it holds a live bot).

While it runs, a terminal shows the fleet as a live table (positions, PnL, risk states); when standard output is
not a terminal (``| tee``, a log file) one status line per bot is printed every ``--status-every`` seconds
instead. ``botrunner ctl`` talks to it through the run directory's control socket; the first lines say exactly
what to type. Ctrl-C or SIGTERM shuts down gracefully: each bot applies its ``on_shutdown`` policy.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shlex
import shutil
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import msgspec
from rich.console import Console
from rich.live import Live
from rich.table import Table

from botrunner.cli import CliError
from botrunner.config import check_fleet_files
from botrunner.config.fleet import FleetSettings, default_path, load_fleet_settings
from botrunner.control import SocketPathError, resolve_run_dir
from botrunner.control.server import ControlServerError
from botrunner.logsetup import MIN_SECRET_LEN, register_secret
from botrunner.notify import urls_from_env
from botrunner.runner import Runner, RunnerError, RunOptions, StartReport
from botrunner.runtime.pacer import parse_speed
from botrunner.store import StoreError
from botrunner.web.server import DashboardError, DashboardOptions, is_loopback
from botrunner.yamlconf import ConfigError


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("run", help="run the fleet (paper: on replayed real history) until Ctrl-C")
    p.add_argument("--fleet", type=Path, default=Path("config/bots"), help="a directory of bot YAML files, or one")
    p.add_argument("--run-dir", type=Path, default=None, help="store, logs and control socket (default ./run)")
    p.add_argument("--speed", default="6000", help="replay speed: market seconds per wall second, or 'max'")
    p.add_argument("--data", type=Path, default=None, help="market data directory (default: the bundled slice)")
    p.add_argument("--exit-at-end", action="store_true", help="shut down when the replayed data ends")
    p.add_argument("--snapshot-every", type=int, default=60, help="margin snapshot cadence, market seconds")
    p.add_argument("--log-retention-days", type=int, default=30, help="keep rotated logs this many days")
    p.add_argument("--quiet", action="store_true", help="no live table and no status lines")
    p.add_argument(
        "--status-every",
        type=float,
        default=5.0,
        help="when standard output is not a terminal: print the fleet's status lines every this many seconds",
    )
    start = p.add_mutually_exclusive_group()
    start.add_argument(
        "--fresh",
        action="store_true",
        help="start over: move the run directory's previous run aside to RUN_DIR.YYYYMMDDTHHMMSS (never deleted; "
        "refused while it holds a live bot)",
    )
    start.add_argument(
        "--resume",
        action="store_true",
        help="continue the run directory's previous run, each bot from its last stored step (the default)",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="live bots build and simulate every transaction but send none (paper bots are unaffected)",
    )
    ui = p.add_argument_group("dashboard and notifications (docs/dashboard.md)")
    ui.add_argument(
        "--ui-port",
        type=int,
        default=int(os.environ.get("BOTRUNNER_UI_PORT", "8765")),
        help="the dashboard's port (default 8765, or $BOTRUNNER_UI_PORT; 0: any free port)",
    )
    ui.add_argument("--ui-host", default="127.0.0.1", help="the dashboard's address (default 127.0.0.1)")
    ui.add_argument(
        "--ui-allow-remote",
        action="store_true",
        help="allow a non-loopback --ui-host (needs $BOTRUNNER_UI_TOKEN of at least 32 characters; put TLS in front)",
    )
    ui.add_argument("--no-ui", action="store_true", help="serve no dashboard (nor /metrics)")
    ui.add_argument(
        "--notify-url",
        action="append",
        default=[],
        help="an apprise URL for notifications (repeatable; also $BOTRUNNER_NOTIFY_URLS and the fleet file's "
        "notify.urls)",
    )
    ui.add_argument(
        "--fleet-config",
        type=Path,
        default=None,
        help="the fleet's settings file (notifications; docs/configuration.md); default: fleet.yaml beside the "
        "--fleet directory, when it exists",
    )
    p.set_defaults(handler=run_fleet)


def read_fleet_settings(fleet: Path, named: Path | None) -> FleetSettings:
    """The fleet's settings: the file ``--fleet-config`` names (it must exist), else ``fleet.yaml`` beside the bot
    directory when there is one."""
    path = named if named is not None else default_path(fleet)
    if path is None:
        return FleetSettings()
    try:
        return load_fleet_settings(path, required=named is not None)
    except ConfigError as exc:
        raise CliError(str(exc)) from exc


def merged_notify_urls(*sources: Sequence[str]) -> tuple[str, ...]:
    """Every notification URL of the flag, the environment and the fleet file, once each, in that order; each is
    registered as a secret (scrubbed from every log line) the moment it is read."""
    urls = tuple(dict.fromkeys(u.strip() for source in sources for u in source if u.strip()))
    for url in urls:
        # the whole URL, and each long piece of it alone (a token may be logged without its URL); a short piece
        # cannot be scrubbed without mangling other text
        pieces = re.split(r"[/:@?&=]+", url.split("://", 1)[-1])
        for secret in {url, *(p for p in pieces if len(p) >= TOKEN_PIECE)}:
            if len(secret) >= MIN_SECRET_LEN:
                register_secret(secret)
    return urls


TOKEN_PIECE = 16


UI_TOKEN_ENV = "BOTRUNNER_UI_TOKEN"
MIN_REMOTE_TOKEN = 32


def dashboard_options(args: argparse.Namespace, environ: dict[str, str] | None = None) -> DashboardOptions | None:
    """The dashboard's options from the flags: a random token unless ``$BOTRUNNER_UI_TOKEN`` gives one; a
    non-loopback host only with ``--ui-allow-remote`` and a configured token of at least 32 characters."""
    if args.no_ui:
        return None
    env = environ if environ is not None else dict(os.environ)
    if not 0 <= args.ui_port <= 65_535:
        raise CliError(f"--ui-port must be in 0..65535, got {args.ui_port}")
    configured = env.get(UI_TOKEN_ENV, "")
    if not is_loopback(args.ui_host):
        if not args.ui_allow_remote:
            raise CliError(
                f"--ui-host {args.ui_host} is not a loopback address: the dashboard moves funds, so serving it beyond "
                f"this machine needs --ui-allow-remote and ${UI_TOKEN_ENV} (at least {MIN_REMOTE_TOKEN} characters)"
            )
        if len(configured) < MIN_REMOTE_TOKEN:
            raise CliError(
                f"--ui-host {args.ui_host} with --ui-allow-remote needs ${UI_TOKEN_ENV} set to a token of at least "
                f"{MIN_REMOTE_TOKEN} characters (got {len(configured)})"
            )
    token = configured or secrets.token_urlsafe(32)
    register_secret(token)  # never in a log line or a WebSocket message
    return DashboardOptions(host=args.ui_host, port=args.ui_port, token=token, allow_remote=args.ui_allow_remote)


# What an operator counts first, in this order, always shown; the transient states only when a bot is in one.
_COUNTED = ("running", "reduce_only", "paused", "flattening", "stopped", "failed")
_TRANSIENT = ("starting", "restarting")


def fleet_counts(rows: Sequence[dict[str, Any]]) -> str:
    """``3 bots: 1 running · 1 reduce-only · 1 paused · 0 flattening · 0 stopped · 0 failed`` (+ ``1 restarting``,
    ``⚑ 1`` flagged, when there are any)."""
    states = [row.get("state", "") for row in rows]
    parts = [f"{states.count(s)} {s.replace('_', '-')}" for s in _COUNTED]
    parts += [f"{states.count(s)} {s}" for s in _TRANSIENT if s in states]
    flagged = sum(1 for row in rows if row.get("flagged"))
    if flagged:
        parts.append(f"⚑ {flagged}")
    return f"{len(rows)} bots: " + " · ".join(parts)


def _market_time(fleet: dict[str, Any]) -> str:
    ended = " (replay ended)" if fleet.get("replay_finished") and fleet.get("market_time") else ""
    return f"market time {fleet.get('market_time') or '-'}{ended}"


def _risk(row: dict[str, Any]) -> str:
    """The Risk Governor's answer and why: ``REDUCE_ONLY (operator)``."""
    state = row.get("risk_state") or "-"
    reasons = row.get("risk_reasons") or []
    return f"{state} ({','.join(reasons)})" if reasons else state


def _state(row: dict[str, Any]) -> str:
    return str(row.get("state", "")) + (" ⚑" if row.get("flagged") else "")


def _table(status: dict[str, Any], speed: str, ctl: str) -> Table:
    fleet = status["fleet"]
    table = Table(
        title=f"botrunner · {_market_time(fleet)} · speed {speed}×\n{fleet_counts(status['bots'])}",
        caption=f"{ctl} ctl status · {ctl} ctl bot NAME · Ctrl-C stops",
    )
    for col in ("bot", "market", "state", "risk", "position", "mark", "equity", "PnL", "orders", "fills"):
        table.add_column(col, justify="right" if col not in ("bot", "market", "state", "risk") else "left")
    for row in status["bots"]:
        table.add_row(
            row["name"],
            row.get("market", ""),
            _state(row),
            _risk(row),
            _short(row.get("position"), 4),
            _short(row.get("mark"), 2),
            _short(row.get("equity"), 2),
            _short(row.get("pnl"), 2),
            str(row.get("open_orders", "")),
            str(row.get("fills", "")),
        )
    return table


def status_lines(status: dict[str, Any], now: str) -> list[str]:
    """The fleet as plain lines for a log or a pipe: a header with the counts, then one ``key=value`` line per
    bot (its state as ``ctl status`` shows it, risk and why, position, mark, equity, PnL, orders, fills)."""
    fleet = status["fleet"]
    lines = [f"[{now}] {_market_time(fleet)} · {fleet_counts(status['bots'])}"]
    width = max((len(row["name"]) for row in status["bots"]), default=0)
    for row in status["bots"]:
        fields = {
            "state": _state(row).replace(" ", ""),
            "risk": _risk(row).replace(" ", ""),
            "position": _short(row.get("position"), 4),
            "mark": _short(row.get("mark"), 2),
            "equity": _short(row.get("equity"), 2),
            "pnl": _short(row.get("pnl"), 2),
            "orders": row.get("open_orders", "-"),
            "fills": row.get("fills", "-"),
            "restarts": row.get("restarts", 0),
        }
        lines.append(f"  {row['name']:<{width}}  " + " ".join(f"{k}={v}" for k, v in fields.items()))
    return lines


def _short(value: str | None, places: int) -> str:
    if value is None:
        return "-"
    whole, _, frac = value.partition(".")
    return f"{whole}.{frac[:places]}" if frac else whole


def ctl_command(argv0: str | None = None, which: Callable[[str], str | None] = shutil.which) -> str:
    """How an operator types this ``botrunner`` in another terminal, from how this process was started:
    ``botrunner`` when that is what ``PATH`` finds, else the path it was started by (``.venv/bin/botrunner``),
    or ``PYTHON -m botrunner`` when it runs as a module."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    path = Path(argv0)
    if path.name == "__main__.py":  # python -m botrunner
        return f"{shlex.quote(sys.executable)} -m botrunner"
    if "/" not in argv0:  # found on PATH
        return shlex.quote(argv0)
    on_path = which(path.name)
    if on_path is not None and Path(on_path).resolve() == path.resolve():
        return shlex.quote(path.name)
    return shlex.quote(argv0)


def banner(report: StartReport, *, bots: int, run_dir: Path, speed: str, ctl: str, dir_flag: str, first: str) -> str:
    """The first lines of a run: what it started from (fresh, or what it resumed: bots, market time, operator
    modes, a replay that has ended) and exactly what to type to talk to it."""
    lines = [f"botrunner: {bots} bots in {run_dir} (speed {speed}×)."]
    paused: list[str] = []
    if report.resumed:
        lines.append(f"Resumed the previous run in {run_dir} (to start over: `{ctl} run --fresh`, or `make run`):")
        width = max(len(b.name) for b in report.resumed)
        for bot in report.resumed:
            flags = "" if bot.state == "running" else ": an operator's, kept from the previous run"
            lines.append(f"  {bot.name:<{width}}  at market time {bot.market_time or '-'}  {bot.state}{flags}")
            if bot.state != "running":
                paused.append(bot.name)
    elif report.set_aside is not None:
        lines.append(f"Started fresh; the previous run is kept in {report.set_aside}.")
    else:
        lines.append("Started fresh (nothing to resume).")
    if report.replay_ended:
        lines.append(
            f"The replay has ended ({', '.join(report.replay_ended)}): its bots will not trade again in this run "
            "directory;\n  a fresh start replays the history from the beginning."
        )
    lines.append("In another terminal:")
    lines.append(f"  {ctl} ctl status{dir_flag}")
    lines.append(f"  {ctl} ctl bot {first}{dir_flag}")
    lines += [f"  {ctl} ctl resume {name}{dir_flag}" for name in paused]
    lines.append(f"  {ctl} ctl subscribe{dir_flag}")
    lines.append("Ctrl-C stops the fleet gracefully.")
    return "\n".join(lines)


def _print_refused(fleet: Path) -> None:
    """Say which bots of the fleet directory will not run and why (kind: funding_arb is backtest only); a file that
    cannot load is the runner's own error, reported when it loads the fleet."""
    try:
        refused = check_fleet_files(fleet).refused
    except ConfigError:
        return
    for refusal in refused:
        print(f"botrunner run: refused: {refusal}", file=sys.stderr)


def run_fleet(args: argparse.Namespace) -> int:
    try:
        speed = parse_speed(args.speed)
        run_dir = resolve_run_dir(args.run_dir)
    except (ValueError, SocketPathError) as exc:
        raise CliError(str(exc)) from exc
    if args.snapshot_every <= 0 or args.log_retention_days <= 0 or not args.status_every > 0:
        raise CliError("--snapshot-every, --log-retention-days and --status-every must be positive")
    fleet_settings = read_fleet_settings(args.fleet, args.fleet_config)
    notify_urls = merged_notify_urls(args.notify_url, urls_from_env(), fleet_settings.notify.urls)
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
            fresh=args.fresh,
            ui=dashboard_options(args),
            notify_urls=notify_urls,
            notify_dedup_s=fleet_settings.notify.dedup_s,
            notify_rate_per_minute=fleet_settings.notify.rate_per_minute,
        )
    )

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        runner.shutdown_requested.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    console = Console()
    tty = sys.stdout.isatty()
    speed_label = "max" if speed == float("inf") else args.speed
    ctl = ctl_command()
    try:
        try:
            runner.start()
        except (RunnerError, StoreError, ControlServerError, SocketPathError, DashboardError) as exc:
            raise CliError(str(exc)) from exc
        except OSError as exc:  # the run directory's files (logs, store) cannot be made: say which and why
            raise CliError(f"{exc.filename or run_dir}: {exc.strerror or exc}") from exc
        text = banner(
            runner.start_report,
            bots=len(runner.configs),
            run_dir=run_dir,
            speed=speed_label,
            ctl=ctl,
            dir_flag=_dir_flag(args),
            first=runner.configs[0].name,
        )
        _print_refused(args.fleet)  # once the fleet runs: a start that fails says only why it failed
        _emit(text + _dashboard_line(runner))  # plain: a pipe or a log gets it as it is
        if args.quiet:
            runner.wait()
        elif not tty:
            runner.wait(tick=_every(args.status_every, lambda: _print_lines(status_of(runner))))
        else:
            with Live(_table(status_of(runner), speed_label, ctl), console=console, refresh_per_second=2) as live:
                runner.wait(tick=lambda: live.update(_table(status_of(runner), speed_label, ctl)))
        final = status_of(runner)
    finally:
        runner.shutdown()
    if tty:
        console.print(_table(final, speed_label, ctl))
    else:
        _print_lines(final)
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


def _dashboard_line(runner: Runner) -> str:
    """Jupyter-style: the dashboard's URL with its token, once, on the terminal only (never in a log)."""
    return f"\nDashboard: {runner.dashboard.url}" if runner.dashboard is not None else ""


def status_of(runner: Runner) -> dict[str, Any]:
    """The fleet's status as ``ctl --json status`` prints it, less what a bot has not reported yet (the table and the
    status lines read that shape)."""
    status: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(runner.status()))
    status["bots"] = [{k: v for k, v in row.items() if v is not None} for row in status["bots"]]
    return status


def _every(interval_s: float, action: Callable[[], None]) -> Callable[[], None]:
    """``action`` at most once per ``interval_s`` (on a monotonic clock), the first time at once."""
    due = [time.monotonic()]

    def tick() -> None:
        now = time.monotonic()
        if now >= due[0]:
            due[0] = now + interval_s
            action()

    return tick


def _print_lines(status: dict[str, Any]) -> None:
    _emit("\n".join(status_lines(status, time.strftime("%H:%M:%S"))))


def _emit(text: str) -> None:
    """Print ``text`` at once (a pipe is block-buffered). A reader that went away (``| head``) costs the fleet
    nothing: the rest of the output goes to /dev/null and the fleet runs on until it is stopped."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that no later write or the exit's flush fails again
        os.close(devnull)


def _dir_flag(args: argparse.Namespace) -> str:
    return f" --run-dir {shlex.quote(str(args.run_dir))}" if args.run_dir is not None else ""
