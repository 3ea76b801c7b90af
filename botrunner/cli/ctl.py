"""``botrunner ctl [--run-dir DIR | --socket PATH] [--json] COMMAND [NAME]``: talk to a running runner over its
control socket — fleet status, one bot in detail, pause / resume / reduce-only / flatten / stop / start a bot,
reload the fleet, shut down, or follow the event stream.

Exit codes: 0 done; 1 the runner answered with an error (unknown bot, command not applicable, timeout...);
2 a usage error or no runner to talk to.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, assert_never

import msgspec
from rich.columns import Columns
from rich.console import Console
from rich.table import Table
from rich.text import Text

from botrunner.cli import CliError
from botrunner.control import control_socket_path, resolve_run_dir
from botrunner.control.client import ClientError, ConnectionFailed, ControlClient
from botrunner.core.operator import (
    COMMAND_TYPES,
    ClosePosition,
    Confirm,
    ControlCommand,
    DepositFunds,
    Flatten,
    OpenPosition,
    Pause,
    ReduceOnly,
    Reload,
    Resume,
    ShowBot,
    Shutdown,
    Start,
    Status,
    Stop,
    Subscribe,
    TransferFunds,
    WithdrawFunds,
    command_name,
    command_type,
    convert_command,
)
from botrunner.core.side import Side
from botrunner.runtime.snapshots import (
    Alert,
    BotEvent,
    BotSnapshot,
    BotState,
    CapitalResult,
    Confirmed,
    Failed,
    FillEvent,
    FundingEvent,
    Incident,
    Message,
    PositionResult,
    ReloadResult,
    Result,
    RiskStateChanged,
    SettlementEvent,
    Started,
    StateChanged,
    StatusSnapshot,
    Subscribed,
)

_MISSING = "-"


def register(subparsers: Any) -> None:
    """Add ``ctl`` to the CLI."""
    commands = "\n".join(f"  {command_name(kind):<12} {_usage(kind):<32} {kind.help}" for kind in COMMAND_TYPES)
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
    p.add_argument(
        "--json",
        action="store_true",
        help="print the result as JSON, amounts as exact decimal strings (events: one line each)",
    )
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for an answer (default 10)")
    choices = [command_name(kind) for kind in COMMAND_TYPES]
    p.add_argument("command_name", metavar="COMMAND", choices=choices, help="one of the commands below")
    p.add_argument("names", metavar="ARG", nargs="*", help="the bot NAME, then the command's values (see below)")
    p.set_defaults(handler=run_ctl)


def _usage(kind: type[ControlCommand]) -> str:
    if kind is Subscribe:
        return "[NAME ...]"
    return " ".join(
        field.name.upper() if field.required else f"[{field.name.upper()}]" for field in msgspec.structs.fields(kind)
    )


def _socket_path(args: argparse.Namespace) -> Path:
    if args.socket is not None:
        return Path(args.socket)
    return control_socket_path(resolve_run_dir(args.run_dir))


def build_command(name: str, values: list[str]) -> ControlCommand:
    """The command ``name`` with its positional ``values`` (the bot NAME, then the command's own), checked by the
    command's own types: a usage error (``CliError``) names the value that does not fit."""
    kind = command_type(name)
    if kind is None:
        raise CliError(f"unknown command {name!r}")
    if kind is Subscribe:
        return Subscribe(bots=tuple(values)) if values else Subscribe()
    all_fields = msgspec.structs.fields(kind)
    fields = [field.name for field in all_fields]
    required = sum(field.required for field in all_fields)  # optional fields come last (``start NAME [MODE]``)
    if not fields and values:
        raise CliError(f"{name} takes no NAME, got {' '.join(values)}")
    if not required <= len(values) <= len(fields):
        raise CliError(f"{name} takes {_usage(kind)}, got {len(values)} value(s)")
    given: dict[str, object] = {"cmd": name}
    for field, value in zip(fields, values, strict=False):
        given[field] = value.lower() if field == "asset" else value
    try:
        return convert_command(given)
    except msgspec.ValidationError as exc:
        text, _, path = str(exc).partition(" - at `$.")
        where = path.rstrip("`").upper()
        raise CliError(f"{name}: {where + ': ' if where else ''}{text}") from None


def result_type(command: ControlCommand) -> type[Result]:  # noqa: PLR0911  <why: one flat exhaustive match over the commands>
    """What the runner answers ``command`` with."""
    match command:
        case Status():
            return StatusSnapshot
        case ShowBot():
            return BotSnapshot
        case Pause() | Resume() | ReduceOnly() | Flatten() | Stop() | Start():
            return BotState
        case OpenPosition() | ClosePosition():
            return PositionResult
        case Reload():
            return ReloadResult
        case Shutdown():
            return Message
        case DepositFunds() | WithdrawFunds() | TransferFunds():
            return CapitalResult
        case Confirm():
            return Confirmed
        case Subscribe():
            raise CliError("subscribe streams events; it has no single result")
        case _ as unreachable:
            assert_never(unreachable)


def run_ctl(args: argparse.Namespace) -> int:
    command = build_command(args.command_name, args.names)
    if args.timeout <= 0:
        raise CliError("--timeout must be positive")
    client = ControlClient(_socket_path(args), timeout_s=args.timeout)
    try:
        if isinstance(command, Subscribe):
            return _follow(client, command, as_json=args.json)
        raw = client.call_raw(command)
    except ClientError as exc:
        raise CliError(f"{exc.code}: {exc.message}", exit_code=1) from exc
    except ConnectionFailed as exc:
        raise CliError(str(exc), exit_code=2) from exc
    finally:
        client.close()
    if args.json:
        print(msgspec.json.format(raw, indent=2).decode())
        return 0
    try:
        result = msgspec.json.decode(raw, type=result_type(command))
    except msgspec.ValidationError as exc:
        raise CliError(f"unexpected answer to {command.cmd} (is the runner another version?): {exc}") from exc
    render(result, _console())
    return 0


_EVENTS = msgspec.json.Decoder(BotEvent)


def _follow(client: ControlClient, command: Subscribe, *, as_json: bool) -> int:
    try:
        for raw in client.events(command):
            print(bytes(raw).decode() if as_json else format_raw_event(raw), flush=True)
    except KeyboardInterrupt:
        return 0
    print("the runner closed the event stream", file=sys.stderr)
    return 0


def format_raw_event(raw: msgspec.Raw) -> str:
    """One streamed event for people: typed when it is one this ``ctl`` knows, else its fields as they came."""
    try:
        return format_event(_EVENTS.decode(raw))
    except msgspec.ValidationError:
        value = msgspec.json.decode(raw)
        fields = value.items() if isinstance(value, dict) else ()
        return " ".join(f"{k}={_cell(v)}" for k, v in fields)


def _console() -> Console:
    # Piped output keeps whole rows instead of wrapping at 80 columns.
    return Console(highlight=False) if sys.stdout.isatty() else Console(highlight=False, width=200)


# -- rendering ---------------------------------------------------------------------------------------------------


def render(result: Result, console: Console) -> None:
    """Print ``result`` for people."""
    match result:
        case StatusSnapshot():
            render_status(result, console)
        case BotSnapshot():
            render_bot(result, console)
        case BotState():
            console.print(Text.assemble((result.name, "bold"), ": ", _styled(result.state, _RUN_STATE_STYLES)))
        case PositionResult():
            render_position(result, console)
        case ReloadResult() | Message() | Confirmed():
            console.print(_key_values("", msgspec.structs.asdict(result).items()))
        case CapitalResult():
            render_capital(result, console)
        case Subscribed():
            console.print(f"subscribed to {', '.join(result.bots) if result.bots else 'every bot'}")
        case _ as unreachable:
            assert_never(unreachable)


def _cell(value: object) -> str:
    if value is None:
        return _MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict | list | tuple):
        return msgspec.json.encode(value).decode()
    return str(value)


def _signed(value: str | None) -> Text:
    """A signed decimal string, red when negative, green when positive."""
    text = _cell(value)
    if not value:
        return Text(text)
    if value.startswith("-"):
        return Text(text, style="red")
    return Text(text, style="green") if value.strip("0.+") else Text(text)


def fee_row(value: str | None) -> tuple[str, Text]:
    """The net fees (``pnl.fees_paid``: + paid, − rebate, as in summary.json) as the pnl section's other rows are shown:
    by their effect on equity, under a name that says whether they cost or earned. ``4.000000`` paid shows as
    ``fees paid  -4.000000`` (red), ``-1.463960`` as ``rebates earned  +1.463960`` (green): the section reads as a
    sum, never as "minus a negative fee". The same rule as report.html's "PnL by source" table."""
    if value is None or not value.strip():
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


def _styled(value: str | None, styles: Mapping[str, str]) -> Text:
    text = _cell(value)
    return Text(text, style=styles.get(text, ""))


def _key_values(title: str, rows: Iterable[tuple[str, object]], *, numbers: bool = False) -> Table:
    table = Table(
        title=title, title_justify="left", title_style="bold", show_header=False, box=None, padding=(0, 2, 0, 0)
    )
    table.add_column(style="dim", no_wrap=True)
    table.add_column(no_wrap=True, justify="right" if numbers else "left")
    for key, value in rows:
        table.add_row(key, value if isinstance(value, Text) else _cell(value))
    return table


# (header, field of a ``status`` row, justification); a row's ``market_time`` is left out: the fleet line has it
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


def render_status(result: StatusSnapshot, console: Console) -> None:
    """Fleet line, then one row per bot."""
    fleet = result.fleet
    parts = [
        f"{fleet.bots} bots",
        f"{fleet.running} running",
        f"{fleet.paused} paused",
        f"{fleet.failed} failed",
        f"started {fleet.started_at}",
    ]
    if fleet.market_time is not None:
        parts.append(f"market time {fleet.market_time}")
    parts.append(f"speed {fleet.speed}x")
    parts.append(f"replay_finished {_cell(fleet.replay_finished)}")
    console.print("fleet: " + " · ".join(parts))
    if not result.bots:
        console.print("no bots")
        return
    table = Table(title_justify="left")
    for header, _field, justify in _STATUS_COLUMNS:
        table.add_column(header, justify="right" if justify == "right" else "left", no_wrap=True)
    for bot in result.bots:
        fields = msgspec.structs.asdict(bot)
        cells: list[Text | str] = []
        for _header, field, _justify in _STATUS_COLUMNS:
            value = fields[field]
            if field == "state":
                cells.append(_styled(bot.state, _RUN_STATE_STYLES))
            elif field == "risk_state":  # and why: ``REDUCE_ONLY (operator)`` when an operator decided
                why = f" ({','.join(bot.risk_reasons)})" if bot.risk_reasons else ""
                cells.append(_styled(bot.risk_state, _RISK_STATE_STYLES) + why)
            elif field == "pnl":
                cells.append(_signed(bot.pnl))
            elif field == "flagged":
                cells.append(Text("FLAGGED", style="bold red") if bot.flagged else Text(""))
            else:
                cells.append(_cell(value))
        table.add_row(*cells)
    console.print(table)
    for bot in result.bots:
        if bot.legs:  # a two-leg bot: its legs, drift, carry and last block on a line of its own
            console.print(f"{bot.name} legs: {bot.legs}")


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
    ("equity", "equity"),
)
_BOT_LIVE = (
    ("slot", "slot"),
    ("free collateral", "free_collateral"),
    ("wallet SOL", "wallet_sol"),
    ("latency ms", "latency_ms"),
    ("trading", "trading"),
    ("alert", "alert"),
)
_BOT_SUPERVISION = (
    ("supervision", "supervision"),
    ("restarts", "restarts"),
    ("flagged", "flagged"),
    ("last error", "last_error"),
)
_BOT_PNL = (
    ("unrealized", "unrealized"),
    ("realized", "realized"),
    ("funding", "funding"),
    ("fees paid", "fees_paid"),
    ("settled", "settled"),
    ("unsettled", "unsettled"),
    ("total", "total"),
    ("settled perp pnl", "settled_perp_pnl"),
    ("cumulative funding", "cumulative_funding"),
)
_ORDER_COLUMNS = ("uid", "side", "price", "base", "filled", "post_only", "reduce_only", "max_ts")


def render_bot(result: BotSnapshot, console: Console) -> None:
    """One bot: position and margin, PnL, risk, band, grid parameters, live readings, supervision, then its open
    orders."""
    fields = msgspec.structs.asdict(result)
    title = Text.assemble(
        "bot ", (result.name, "bold"), f" ({_cell(result.mode)}) ", _styled(result.state, _RUN_STATE_STYLES)
    )
    console.print(title)
    if result.risk is not None:
        reasons = "; ".join(result.risk.reasons)
        console.print(
            Text.assemble("risk ", _styled(result.risk.state, _RISK_STATE_STYLES), f"  {reasons}" if reasons else "")
        )
    sections: list[Table] = [
        _key_values("position", ((label, fields[key]) for label, key in _BOT_POSITION), numbers=True)
    ]
    if result.pnl is not None:
        pnl = msgspec.structs.asdict(result.pnl)
        rows = [
            fee_row(pnl[key]) if key == "fees_paid" else (label, _signed(pnl[key]))
            for label, key in _BOT_PNL
            if pnl[key] is not None
        ]
        sections.append(_key_values("pnl", rows, numbers=True))
    if result.band is not None:
        band = result.band
        sections.append(
            _key_values("band", (("min", band.min), ("max", band.max), ("preferred", band.preferred)), numbers=True)
        )
    if result.grid:
        sections.append(_key_values("grid", result.grid.items()))
    if result.legs:
        sections.append(_key_values("legs", result.legs.items()))
    if result.vault is not None:  # a two-leg bot's engine vault; spot_entry is our average cost of its spot fills
        sections.append(_key_values("vault", msgspec.structs.asdict(result.vault).items(), numbers=True))
    live = [(label, fields[key]) for label, key in _BOT_LIVE if fields[key] is not None]
    if live:
        sections.append(_key_values("live", live))
    if result.supervision is not None:
        sections.append(_key_values("supervisor", ((label, fields[key]) for label, key in _BOT_SUPERVISION)))
    console.print(Columns(sections, padding=(1, 4)))
    if result.orders is not None:
        _render_orders(result, console)


def _render_orders(result: BotSnapshot, console: Console) -> None:
    orders = result.orders or ()
    if not orders:
        console.print("no open orders")
        return
    table = Table(title=f"open orders ({len(orders)})", title_justify="left")
    for col in _ORDER_COLUMNS:
        right = col in ("price", "base", "filled", "max_ts")
        table.add_column(col, justify="right" if right else "left", no_wrap=True)
    for order in orders:
        fields = msgspec.structs.asdict(order)
        cells: list[Text | str] = [_cell(fields[c]) for c in _ORDER_COLUMNS]
        cells[1] = _styled(order.side, _SIDE_STYLES)
        table.add_row(*cells)
    console.print(table)


def render_position(result: PositionResult, console: Console) -> None:
    """``ctl open`` / ``ctl close``: the bot's state, the target in force and what the decision sent at once."""
    console.print(Text.assemble((result.name, "bold"), f" {result.action}: ", _styled(result.state, _RUN_STATE_STYLES)))
    target = result.target_base if result.target_base is not None else "none (the strategy's band)"
    sent = ", ".join(result.commands) if result.commands else "nothing yet (already there, or worked by the ladder)"
    console.print(_key_values("", [("target_base", target), ("sent", sent)]))


def render_capital(result: CapitalResult, console: Console) -> None:
    """A capital move: what was asked, then each event the venue reported."""
    console.print(Text.assemble((result.name, "bold"), f": {result.action} {result.amount} {result.asset}"))
    for event in result.events:
        if event.amount is not None:
            console.print(f"  {event.time} balance {event.amount} {event.asset}")
        elif event.reason is not None:
            detail = f" ({event.detail})" if event.detail else ""
            console.print(Text(f"  {event.time} refused: {event.reason}{detail}", style="red"))
        else:
            console.print(f"  {event.time} {event.event}")


def _fee(fees_paid: str) -> str:
    """A fill's fee as an operator reads it: a cost ``fee 2.03 paid``, an income ``rebate 0.03``."""
    if fees_paid.startswith("-"):
        return f"rebate {fees_paid[1:]}"
    return f"fee {fees_paid} paid"


def format_event(event: BotEvent) -> str:  # noqa: PLR0911  <why: one flat exhaustive match over the event kinds>
    """One event as one line: time (when it has one), bot and kind first, amounts in units."""
    match event:
        case FillEvent():
            reduce = " reduce-only" if event.reduce_only else ""
            return (
                f"{event.time} {event.bot} fill #{event.order_id} {event.side} {event.base} @ {event.price} "
                f"quote {event.quote} {_fee(event.fees_paid)} {event.liquidity}{reduce}"
            )
        case FundingEvent():
            flow = f"received {event.payment}" if not event.payment.startswith("-") else f"paid {event.payment[1:]}"
            return f"{event.time} {event.bot} funding {flow} on {event.position} at rate {event.rate}"
        case SettlementEvent():
            return f"{event.time} {event.bot} settled {event.amount} into USDC ({event.reason})"
        case RiskStateChanged():
            reasons = f" ({', '.join(event.reasons)})" if event.reasons else ""
            return f"{event.time} {event.bot} risk {event.state}{reasons}"
        case StateChanged():
            by = f" by {event.command}" if event.command else ""
            return f"{event.bot} state {event.state}{by}"
        case Started():
            return f"{event.bot} started {event.state} (generation {event.generation})"
        case Failed():
            return f"{event.bot} failed (generation {event.generation}): {event.error}"
        case Alert():
            return f"{event.bot} alert {event.level}: {event.message}"
        case Incident():
            return f"{event.time} {event.bot} {event.what}: {event.message}"
        case _ as unreachable:
            assert_never(unreachable)
