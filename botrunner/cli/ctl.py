"""``botrunner ctl [--run-dir DIR | --socket PATH] [--json] COMMAND [NAME]``: talk to a running runner over its
control socket — fleet status, one bot in detail, pause / resume / reduce-only / flatten / stop / start a bot,
reload the fleet, shut down, or follow the event stream.

Exit codes: 0 done; 1 the runner answered with an error (unknown bot, command not applicable, timeout...);
2 a usage error or no runner to talk to.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from rich.columns import Columns
from rich.console import Console
from rich.table import Table
from rich.text import Text

from botrunner.cli import CliError
from botrunner.control import control_socket_path, resolve_run_dir
from botrunner.control.client import ClientError, ConnectionFailed, ControlClient
from botrunner.control.protocol import COMMANDS, ArgType, Command, CommandSpec
from botrunner.core.side import Side

_MISSING = "-"


def register(subparsers: Any) -> None:
    """Add ``ctl`` to the CLI."""
    commands = "\n".join(f"  {c.value:<12} {_usage(spec):<28} {spec.help}" for c, spec in COMMANDS.items())
    p = subparsers.add_parser(
        "ctl",
        help="control a running runner over its socket (status, bot, pause, resume, flatten, ...)",
        description=f"Talk to a running `botrunner run` over its control socket.\n\ncommands:\n{commands}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--run-dir", type=Path, help="run directory holding control.sock (default: $BOTRUNNER_RUN_DIR, else ./run)"
    )
    where.add_argument("--socket", type=Path, help="path of the control socket itself")
    p.add_argument("--json", action="store_true", help="print the raw result as JSON (events: one JSON line each)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for an answer (default 10)")
    choices = [c.value for c in Command]
    p.add_argument("command_name", metavar="COMMAND", choices=choices, help="one of the commands below")
    p.add_argument("names", metavar="ARG", nargs="*", help="the bot NAME, then the command's values (see below)")
    p.set_defaults(handler=run_ctl)


def _usage(spec: CommandSpec) -> str:
    if spec.streams:
        return "[NAME ...]"
    return " ".join(a.name.upper() for a in spec.args)


def _socket_path(args: argparse.Namespace) -> Path:
    if args.socket is not None:
        return Path(args.socket)
    return control_socket_path(resolve_run_dir(args.run_dir))


def _command_args(cmd: Command, names: list[str]) -> dict[str, Any]:
    spec = COMMANDS[cmd]
    if spec.streams:
        return {"bots": names} if names else {}
    if spec.takes_name():
        wanted = [a.name for a in spec.args]
        if len(names) != len(wanted):
            usage = " ".join(w.upper() for w in wanted)
            raise CliError(f"{cmd.value} takes {usage}, got {len(names)} value(s)")
        out: dict[str, Any] = {}
        for arg, value in zip(spec.args, names, strict=True):
            if arg.type is ArgType.INT:
                try:
                    out[arg.name] = int(value)
                except ValueError:
                    raise CliError(f"{cmd.value}: {arg.name.upper()} must be an integer, got {value!r}") from None
            else:
                out[arg.name] = value.lower() if arg.type is ArgType.ASSET else value
        return out
    if names:
        raise CliError(f"{cmd.value} takes no NAME, got {' '.join(names)}")
    return {}


def run_ctl(args: argparse.Namespace) -> int:
    cmd = Command(args.command_name)
    call_args = _command_args(cmd, args.names)
    if args.timeout <= 0:
        raise CliError("--timeout must be positive")
    client = ControlClient(_socket_path(args), timeout_s=args.timeout)
    try:
        if COMMANDS[cmd].streams:
            return _follow(client, call_args.get("bots"), as_json=args.json)
        result = client.call(cmd, **call_args)
    except ClientError as exc:
        raise CliError(f"{exc.code}: {exc.message}", exit_code=1) from exc
    except ConnectionFailed as exc:
        raise CliError(str(exc), exit_code=2) from exc
    finally:
        client.close()
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        render(cmd, result, _console())
    return 0


def _follow(client: ControlClient, bots: list[str] | None, *, as_json: bool) -> int:
    try:
        for event in client.events(bots):
            print(json.dumps(event, separators=(",", ":")) if as_json else format_event(event), flush=True)
    except KeyboardInterrupt:
        return 0
    print("the runner closed the event stream", file=sys.stderr)
    return 0


def _console() -> Console:
    # Piped output keeps whole rows instead of wrapping at 80 columns.
    return Console(highlight=False) if sys.stdout.isatty() else Console(highlight=False, width=200)


# -- rendering ---------------------------------------------------------------------------------------------------


def render(cmd: Command, result: Any, console: Console) -> None:
    """Print ``result`` of ``cmd`` for people; any shape renders, the known ones as tables."""
    match cmd:
        case Command.STATUS if isinstance(result, dict):
            render_status(result, console)
        case Command.BOT if isinstance(result, dict):
            render_bot(result, console)
        case _:
            render_message(result, console)


def _cell(value: Any) -> str:
    if value is None:
        return _MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _signed(value: Any) -> Text:
    """A signed decimal string, red when negative, green when positive."""
    text = _cell(value)
    if not isinstance(value, str) or not value:
        return Text(text)
    if value.startswith("-"):
        return Text(text, style="red")
    return Text(text, style="green") if value.strip("0.+") else Text(text)


def fee_row(value: Any) -> tuple[str, Text]:
    """The net fees (``pnl.fees``: + paid, − rebate, as in summary.json) as the pnl section's other rows are shown:
    by their effect on equity, under a name that says whether they cost or earned. ``4.000000`` paid shows as
    ``fees paid  -4.000000`` (red), ``-1.463960`` as ``rebates earned  +1.463960`` (green): the section reads as a
    sum, never as "minus a negative fee". The same rule as report.html's "PnL by source" table."""
    if not isinstance(value, str) or not value.strip():
        return "fees", Text(_cell(value))
    text = value.strip()
    if text.startswith("-"):
        return "rebates earned", _signed("+" + text[1:])
    magnitude = text.lstrip("+")
    return "fees paid", _signed("-" + magnitude if magnitude.strip("0.") else magnitude)


# Keyed by the states the runner reports, so every one has a style: a bot's run state (``ctl status`` rows, the
# ``bot`` title, an action's answer) and the Risk Governor's last action (the ``risk`` column and line). The keys
# are the enums' values written out (``bot.lifecycle.BotRunState``, ``core.verdict.RiskAction``): importing the
# runtime would double ctl's start-up for two tables; a test holds the keys to the enums.
_RUN_STATE_STYLES: dict[str, str] = {
    "starting": "cyan",
    "running": "green",
    "paused": "yellow",
    "reduce_only": "yellow",
    "flattening": "magenta",
    "stopped": "dim",
    "restarting": "red",
    "failed": "bold red",
}
_RISK_STATE_STYLES: dict[str, str] = {"APPROVE": "green", "CLAMP": "cyan", "REDUCE_ONLY": "yellow", "PAUSE": "red"}
_SIDE_STYLES: dict[str, str] = {Side.BUY.value: "green", Side.SELL.value: "red"}


def _styled(value: Any, styles: Mapping[str, str]) -> Text:
    text = _cell(value)
    return Text(text, style=styles.get(text, ""))


def _key_values(title: str, rows: Iterable[tuple[str, Any]], *, numbers: bool = False) -> Table:
    table = Table(
        title=title, title_justify="left", title_style="bold", show_header=False, box=None, padding=(0, 2, 0, 0)
    )
    table.add_column(style="dim", no_wrap=True)
    table.add_column(no_wrap=True, justify="right" if numbers else "left")
    for key, value in rows:
        table.add_row(key, value if isinstance(value, Text) else _cell(value))
    return table


# (header, key of a ``status`` row, justification); a row's ``market_time`` is left out: the fleet line has it
_STATUS_COLUMNS = (
    ("bot", "name", "left"),
    ("market", "market", "left"),
    ("mode", "mode", "left"),
    ("state", "state", "left"),
    ("risk", "risk_state", "left"),
    ("position", "position", "right"),
    ("mark", "mark", "right"),
    ("equity", "equity", "right"),
    ("pnl", "pnl", "right"),
    ("orders", "open_orders", "right"),
    ("fills", "fills", "right"),
    ("restarts", "restarts", "right"),
    ("flagged", "flagged", "left"),
)


def _fleet_line(fleet: Mapping[str, Any]) -> str:
    """The status reply's fleet figures on one line (keys this version does not know about at the end)."""
    parts = [
        f"{_cell(fleet.get('bots'))} bots",
        f"{_cell(fleet.get('running'))} running",
        f"{_cell(fleet.get('paused'))} paused",
        f"{_cell(fleet.get('failed'))} failed",
        f"started {_cell(fleet.get('started_at'))}",
    ]
    if fleet.get("market_time") is not None:
        parts.append(f"market time {_cell(fleet['market_time'])}")
    if fleet.get("speed") is not None:
        parts.append(f"speed {_cell(fleet['speed'])}x")
    known = {"bots", "running", "paused", "failed", "started_at", "market_time", "speed"}
    parts.extend(f"{k} {_cell(v)}" for k, v in fleet.items() if k not in known)
    return "fleet: " + " · ".join(parts)


def _status_cell(key: str, value: Any, bot: Mapping[str, Any]) -> Text | str:
    """One cell of a bot's status row: states coloured (the risk state with its reasons, so an operator's
    reduce-only reads ``REDUCE_ONLY (operator)``), PnL signed, a flag spelled out."""
    if key == "state":
        return _styled(value, _RUN_STATE_STYLES)
    if key == "risk_state":
        reasons = bot.get("risk_reasons")
        why = f" ({','.join(map(str, reasons))})" if isinstance(reasons, list) and reasons else ""
        return _styled(value, _RISK_STATE_STYLES) + why
    if key == "pnl":
        return _signed(value)
    if key == "flagged":
        return Text("FLAGGED", style="bold red") if value else Text("")
    return _cell(value)


def render_status(result: Mapping[str, Any], console: Console) -> None:
    """Fleet line, then one row per bot."""
    fleet = result.get("fleet")
    if isinstance(fleet, dict):
        console.print(_fleet_line(fleet))
    bots = result.get("bots")
    if not isinstance(bots, list):
        return
    table = Table(title_justify="left")
    for header, _key, justify in _STATUS_COLUMNS:
        table.add_column(header, justify="right" if justify == "right" else "left", no_wrap=True)
    for bot in bots:
        if not isinstance(bot, dict):
            continue
        table.add_row(*(_status_cell(key, bot.get(key), bot) for _header, key, _justify in _STATUS_COLUMNS))
    if not bots:
        console.print("no bots")
        return
    console.print(table)


_BOT_POSITION = (
    ("market", "market"),
    ("subaccount", "subaccount"),
    ("position", "position"),
    ("entry", "entry"),
    ("mark", "mark"),
    ("oracle", "oracle"),
    ("leverage", "leverage"),
    ("liq. price", "liq_price"),
    ("liq. distance %", "liq_distance_pct"),
    ("health", "health"),
)
_BOT_PNL = ("unrealized", "realized", "funding", "fees", "settled", "unsettled", "total")
_BOT_KNOWN = {"name", "mode", "state", "pnl", "risk", "band", "grid", "orders"} | {k for _, k in _BOT_POSITION}
_ORDER_COLUMNS = ("uid", "side", "price", "base", "filled", "post_only", "reduce_only", "max_ts")


def render_bot(result: Mapping[str, Any], console: Console) -> None:
    """One bot: position and margin, PnL, risk, band, grid parameters, then its open orders."""
    name, mode = _cell(result.get("name")), _cell(result.get("mode"))
    title = Text.assemble("bot ", (name, "bold"), f" ({mode}) ", _styled(result.get("state"), _RUN_STATE_STYLES))
    console.print(title)
    risk = result.get("risk")
    if isinstance(risk, dict):
        reasons = risk.get("reasons")
        reason_text = "; ".join(str(r) for r in reasons) if isinstance(reasons, list) and reasons else ""
        console.print(
            Text.assemble(
                "risk ", _styled(risk.get("state"), _RISK_STATE_STYLES), f"  {reason_text}" if reason_text else ""
            )
        )
    sections: list[Table] = [
        _key_values("position", ((label, result.get(key)) for label, key in _BOT_POSITION), numbers=True)
    ]
    pnl = result.get("pnl")
    if isinstance(pnl, dict):
        rows = [fee_row(pnl.get(k)) if k == "fees" else (k, _signed(pnl.get(k))) for k in _BOT_PNL] + [
            (k, _signed(v)) for k, v in pnl.items() if k not in _BOT_PNL
        ]
        sections.append(_key_values("pnl", rows, numbers=True))
    band = result.get("band")
    if isinstance(band, dict):
        keys = ["min", "max", "preferred"] + [k for k in band if k not in ("min", "max", "preferred")]
        sections.append(_key_values("band", ((k, band.get(k)) for k in keys), numbers=True))
    grid = result.get("grid")
    if isinstance(grid, dict) and grid:
        sections.append(_key_values("grid", grid.items()))
    extra = [(k, v) for k, v in result.items() if k not in _BOT_KNOWN]
    if extra:
        sections.append(_key_values("other", extra))
    console.print(Columns(sections, padding=(1, 4)))
    orders = result.get("orders")
    if isinstance(orders, list):
        _render_orders(orders, console)


def _render_orders(orders: list[Any], console: Console) -> None:
    if not orders:
        console.print("no open orders")
        return
    table = Table(title=f"open orders ({len(orders)})", title_justify="left")
    for col in _ORDER_COLUMNS:
        right = col in ("price", "base", "filled", "max_ts")
        table.add_column(col, justify="right" if right else "left", no_wrap=True)
    for order in orders:
        if isinstance(order, dict):
            cells: list[Text | str] = [_cell(order.get(c)) for c in _ORDER_COLUMNS]
            cells[1] = _styled(order.get("side"), _SIDE_STYLES)
            table.add_row(*cells)
    console.print(table)


def render_message(result: Any, console: Console) -> None:
    """The answer to an action: ``NAME: STATE``, a message, or whatever came, as key/values."""
    if result is None:
        console.print("ok")
    elif isinstance(result, str):
        console.print(result)
    elif isinstance(result, dict) and "name" in result and "state" in result:
        line = Text.assemble((_cell(result["name"]), "bold"), ": ", _styled(result["state"], _RUN_STATE_STYLES))
        rest = [f"{k}={_cell(v)}" for k, v in result.items() if k not in ("name", "state")]
        if rest:
            line.append("  " + " ".join(rest))
        console.print(line)
    elif isinstance(result, dict):
        console.print(_key_values("", result.items()) if result else "ok")
    else:
        console.print(_cell(result))


_EVENT_LEAD = ("ts", "time", "market_time", "bot", "type", "kind")


def format_event(event: Mapping[str, Any]) -> str:
    """One event as one line: time, bot and type first, then ``key=value`` for the rest."""
    lead = [_cell(event[k]) for k in _EVENT_LEAD if k in event]
    rest = [f"{k}={_cell(v)}" for k, v in event.items() if k not in _EVENT_LEAD]
    return " ".join(lead + rest)
