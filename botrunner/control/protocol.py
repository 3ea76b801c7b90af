"""The control socket's wire format: JSON lines, validated against a closed command table. Pure: no I/O.

Request: ``{"id": <str|int>, "cmd": <str>, "args": {...}}`` (``args`` optional, default ``{}``).
Reply: ``{"id": ..., "ok": true, "result": ...}`` or ``{"id": ..., "ok": false, "error": {"code", "message"}}``.
Event (after a ``subscribe`` reply, until the client disconnects): ``{"event": {...}}``.

A reply to a line whose ``id`` could not be read, or a line the server sends on its own (busy, idle timeout,
overflow), carries ``"id": null``.
"""

from __future__ import annotations

import decimal
import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, TypeGuard, assert_never

import msgspec

RequestId = str | int

# Error messages quote client data; a quoted value is cut so that a 64 KiB key cannot make a 64 KiB reply.
_QUOTE_CHARS = 60


class ErrorCode(enum.StrEnum):
    """The closed set of error codes a reply can carry."""

    BAD_JSON = "bad_json"  # the line is not JSON (or not UTF-8)
    BAD_REQUEST = "bad_request"  # JSON, but not a request object (id, cmd, args)
    UNKNOWN_COMMAND = "unknown_command"
    BAD_ARGS = "bad_args"  # missing, unknown or wrongly typed argument; the message names the field
    LINE_TOO_LONG = "line_too_long"  # the connection is closed after this reply
    NOT_FOUND = "not_found"  # e.g. no bot with that name
    CONFLICT = "conflict"  # the command does not apply in the current state
    TIMEOUT = "timeout"  # no answer within the reply timeout, or an idle client is being disconnected
    BUSY = "busy"  # too many clients; the connection is closed after this reply
    OVERFLOW = "overflow"  # a subscriber fell too far behind the event stream and is disconnected
    INTERNAL = "internal"  # a bug on the server's side; the server keeps serving


class Command(enum.StrEnum):
    """The closed set of commands."""

    STATUS = "status"
    BOT = "bot"
    PAUSE = "pause"
    RESUME = "resume"
    REDUCE_ONLY = "reduce-only"
    FLATTEN = "flatten"
    STOP = "stop"
    START = "start"
    RELOAD = "reload"
    SHUTDOWN = "shutdown"
    SUBSCRIBE = "subscribe"
    DEPOSIT = "deposit"
    WITHDRAW = "withdraw"
    TRANSFER = "transfer"
    CONFIRM = "confirm"


class ArgType(enum.Enum):
    """The JSON type an argument must have."""

    STR = "str"  # a non-empty string
    STR_LIST = "list[str]"  # a list of non-empty strings
    AMOUNT = "amount"  # a positive decimal string, e.g. "12.5" (exact: never a float)
    ASSET = "asset"  # "usdc" or "sol"
    INT = "int"  # a non-negative integer


class ArgSpec(msgspec.Struct, frozen=True):
    """One argument of a command."""

    name: str
    type: ArgType
    required: bool = True


class CommandSpec(msgspec.Struct, frozen=True):
    """A command's arguments and one line of help; ``streams``: the reply is followed by events."""

    args: tuple[ArgSpec, ...]
    help: str
    streams: bool = False

    def takes_name(self) -> bool:
        """Whether the command addresses one bot by its ``name``."""
        return any(a.name == "name" for a in self.args)


_NAME = (ArgSpec("name", ArgType.STR),)
_MONEY = (*_NAME, ArgSpec("amount", ArgType.AMOUNT), ArgSpec("asset", ArgType.ASSET))
ASSETS = ("usdc", "sol")

COMMANDS: Mapping[Command, CommandSpec] = MappingProxyType(
    {
        Command.STATUS: CommandSpec((), "fleet summary: one row per bot"),
        Command.BOT: CommandSpec(_NAME, "one bot in detail: position, margin, PnL, risk, band, grid, orders"),
        Command.PAUSE: CommandSpec(_NAME, "pause the bot: no new decisions"),
        Command.RESUME: CommandSpec(_NAME, "resume a paused, reduce-only or flattened bot"),
        Command.REDUCE_ONLY: CommandSpec(_NAME, "let the bot only reduce its position"),
        Command.FLATTEN: CommandSpec(_NAME, "close the position reduce-only, then pause"),
        Command.STOP: CommandSpec(_NAME, "stop the bot (its shutdown policy applies to its orders)"),
        Command.START: CommandSpec(_NAME, "start a stopped bot"),
        Command.RELOAD: CommandSpec((), "re-read the fleet YAML and apply it to the bots that changed"),
        Command.SHUTDOWN: CommandSpec((), "shut the runner down gracefully"),
        Command.SUBSCRIBE: CommandSpec(
            (ArgSpec("bots", ArgType.STR_LIST, required=False),),
            "stream events until Ctrl-C (no NAME: all bots)",
            streams=True,
        ),
        Command.DEPOSIT: CommandSpec(_MONEY, "live: deposit AMOUNT of ASSET (usdc|sol) from the wallet"),
        Command.WITHDRAW: CommandSpec(_MONEY, "live: withdraw AMOUNT of ASSET to the wallet (never a borrow)"),
        Command.TRANSFER: CommandSpec(
            (*_MONEY, ArgSpec("to_subaccount", ArgType.INT)), "live: move AMOUNT of ASSET to subaccount TO"
        ),
        Command.CONFIRM: CommandSpec(
            (*_NAME, ArgSpec("token", ArgType.STR)), "live: approve orders whose terms hash to TOKEN (5 min)"
        ),
    }
)


class ControlError(Exception):
    """Raised by a dispatcher to answer with an error reply of ``code`` (e.g. ``not_found``) and ``message``."""

    def __init__(self, code: ErrorCode | str, message: str) -> None:
        super().__init__(message)
        self.code = ErrorCode(code)  # an unknown code is a bug in the raiser: ValueError here, not on the wire
        self.message = message


class Request(msgspec.Struct, frozen=True):
    """A validated request: ``args`` holds exactly the command's arguments, each of its declared type."""

    id: RequestId
    cmd: Command
    args: Mapping[str, Any]


class ErrorReply(msgspec.Struct, frozen=True):
    """An error reply ready to send; ``id`` is None when the request's id could not be read."""

    id: RequestId | None
    code: ErrorCode
    message: str

    def wire(self) -> dict[str, Any]:
        """The reply as its JSON object."""
        return {"id": self.id, "ok": False, "error": {"code": self.code.value, "message": self.message}}


class Reply(msgspec.Struct, frozen=True):
    """A reply as a client reads it: ``result`` when ``ok``, else ``code`` and ``message``."""

    id: RequestId | None
    ok: bool
    result: Any = None
    code: str = ""
    message: str = ""


class Event(msgspec.Struct, frozen=True):
    """One streamed event as a client reads it."""

    data: dict[str, Any]


class ProtocolError(ValueError):
    """A line from the server that is not a reply or an event."""


def _quote(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _QUOTE_CHARS else text[: _QUOTE_CHARS - 3] + "..."


def _type_name(value: object) -> str:  # noqa: PLR0911  <why: one flat exhaustive match, a return per JSON type>
    match value:
        case None:
            return "null"
        case bool():
            return "boolean"
        case int() | float():
            return "number"
        case str():
            return "string"
        case list():
            return "array"
        case dict():
            return "object"
        case _:
            return type(value).__name__


def _is_id(value: object) -> TypeGuard[RequestId]:
    # JSON true/false decode to bool, a subclass of int: not an id.
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _decode(line: bytes) -> tuple[Any, str | None]:
    """The JSON value of ``line``, or an error message. Never raises."""
    try:
        return msgspec.json.decode(line), None
    except UnicodeDecodeError:
        return None, "the line is not valid UTF-8"
    except RecursionError:
        return None, "JSON nested too deeply"
    except (msgspec.DecodeError, ValueError) as exc:
        return None, str(exc)


def check_arg(  # noqa: PLR0911, PLR0912  <why: one flat exhaustive match over the argument types>
    cmd: Command, spec: ArgSpec, value: object
) -> str | None:
    """Why ``value`` is not a valid argument ``spec`` of ``cmd`` (a message naming the field), or None."""
    where = f"{cmd.value}: argument {spec.name!r}"
    match spec.type:
        case ArgType.STR:
            if not isinstance(value, str):
                return f"{where} must be a string, got {_type_name(value)}"
            if not value:
                return f"{where} must not be empty"
            return None
        case ArgType.STR_LIST:
            if not isinstance(value, list):
                return f"{where} must be a list of strings, got {_type_name(value)}"
            for i, item in enumerate(value):
                if not isinstance(item, str):
                    return f"{where}[{i}] must be a string, got {_type_name(item)}"
                if not item:
                    return f"{where}[{i}] must not be empty"
            return None
        case ArgType.AMOUNT:
            if not isinstance(value, str):
                return f'{where} must be a decimal string like "12.5", got {_type_name(value)}'
            try:
                number = decimal.Decimal(value)
            except decimal.InvalidOperation:
                return f"{where} must be a decimal number, got {_quote(value)}"
            if not number.is_finite() or number <= 0:
                return f"{where} must be a positive number, got {_quote(value)}"
            return None
        case ArgType.ASSET:
            if value not in ASSETS:
                return f"{where} must be one of {', '.join(ASSETS)}, got {_quote(str(value))}"
            return None
        case ArgType.INT:
            if type(value) is not int or value < 0:
                return f"{where} must be a non-negative integer, got {_type_name(value)}"
            return None
        case unreachable:
            assert_never(unreachable)


def validate_args(cmd: Command, args: Mapping[str, Any]) -> str | None:
    """Why ``args`` are not valid for ``cmd`` (a message naming the field), or None."""
    specs = COMMANDS[cmd].args
    known = {s.name for s in specs}
    for key in args:
        if key not in known:
            takes = ", ".join(sorted(known)) if known else "no arguments"
            return f"{cmd.value}: unknown argument {_quote(key)} ({cmd.value} takes {takes})"
    for spec in specs:
        if spec.name not in args:
            if spec.required:
                return f"{cmd.value}: missing argument {spec.name!r} ({spec.type.value})"
            continue
        problem = check_arg(cmd, spec, args[spec.name])
        if problem is not None:
            return problem
    return None


_REQUEST_KEYS = frozenset({"id", "cmd", "args"})


def _request_id(value: Any) -> RequestId | ErrorReply:
    """The id of a decoded request line, or the reply (with no id) refusing a line that is not an object with one."""
    if not isinstance(value, dict):
        return ErrorReply(None, ErrorCode.BAD_REQUEST, f"a request is a JSON object, got {_type_name(value)}")
    raw_id = value.get("id")
    if _is_id(raw_id):
        return raw_id
    got = "no id" if "id" not in value else _type_name(raw_id)
    return ErrorReply(None, ErrorCode.BAD_REQUEST, f"'id' must be a string or an integer, got {got}")


def _command(value: dict[str, Any], rid: RequestId) -> Command | ErrorReply:
    """The command a request (an object with an id) names, or the reply refusing it."""
    for key in value:
        if key not in _REQUEST_KEYS:
            return ErrorReply(rid, ErrorCode.BAD_REQUEST, f"unknown key {_quote(key)} (a request has id, cmd, args)")
    raw_cmd = value.get("cmd")
    if not isinstance(raw_cmd, str):
        got = "no cmd" if "cmd" not in value else _type_name(raw_cmd)
        return ErrorReply(rid, ErrorCode.BAD_REQUEST, f"'cmd' must be a string, got {got}")
    try:
        return Command(raw_cmd)
    except ValueError:
        known = ", ".join(c.value for c in Command)
        return ErrorReply(rid, ErrorCode.UNKNOWN_COMMAND, f"unknown command {_quote(raw_cmd)} (commands: {known})")


def parse_request(line: bytes) -> Request | ErrorReply:
    """Validate one request line (without its newline): a ``Request``, or the ``ErrorReply`` to send back.

    The reply carries the request's id whenever the line is a JSON object with a valid ``id``."""
    value, problem = _decode(line)
    if problem is not None:
        return ErrorReply(None, ErrorCode.BAD_JSON, problem)
    rid = _request_id(value)
    if isinstance(rid, ErrorReply):
        return rid
    cmd = _command(value, rid)
    if isinstance(cmd, ErrorReply):
        return cmd
    args = value.get("args", {})
    if not isinstance(args, dict):
        return ErrorReply(rid, ErrorCode.BAD_ARGS, f"{cmd.value}: 'args' must be an object, got {_type_name(args)}")
    problem = validate_args(cmd, args)
    if problem is not None:
        return ErrorReply(rid, ErrorCode.BAD_ARGS, problem)
    return Request(rid, cmd, args)


def encode_line(value: Any) -> bytes:
    """``value`` as one compact JSON line. Decimals become strings; raises ``TypeError`` if not serializable."""
    return msgspec.json.encode(value) + b"\n"


def ok_line(rid: RequestId, result: Any) -> bytes:
    """A success reply line. Raises ``TypeError`` when ``result`` is not JSON-serializable."""
    return encode_line({"id": rid, "ok": True, "result": result})


def error_line(reply: ErrorReply) -> bytes:
    """An error reply line."""
    return encode_line(reply.wire())


def event_line(event: Mapping[str, Any]) -> bytes:
    """An event line. Raises ``TypeError`` when ``event`` is not JSON-serializable."""
    return encode_line({"event": event})


def request_line(rid: RequestId, cmd: str, args: Mapping[str, Any] | None = None) -> bytes:
    """A request line, as a client sends it (``args`` omitted when empty; ``cmd`` a ``Command`` or any string)."""
    body: dict[str, Any] = {"id": rid, "cmd": str(cmd)}
    if args:
        body["args"] = dict(args)
    return encode_line(body)


def parse_server_line(line: bytes) -> Reply | Event:
    """A line the server sent: a ``Reply`` or an ``Event``. Raises ``ProtocolError`` on anything else."""
    value, problem = _decode(line)
    if problem is not None:
        raise ProtocolError(problem)
    if not isinstance(value, dict):
        raise ProtocolError(f"expected a JSON object from the server, got {_type_name(value)}")
    if "event" in value:
        event = value["event"]
        if not isinstance(event, dict):
            raise ProtocolError(f"an event must be an object, got {_type_name(event)}")
        return Event(event)
    rid, ok = value.get("id"), value.get("ok")
    if not (rid is None or _is_id(rid)) or not isinstance(ok, bool):
        raise ProtocolError(f"not a reply: {_quote(value)}")
    if ok:
        return Reply(rid, True, result=value.get("result"))
    error = value.get("error")
    if not isinstance(error, dict) or not isinstance(error.get("code"), str):
        raise ProtocolError(f"error reply without an error code: {_quote(value)}")
    return Reply(rid, False, code=error["code"], message=str(error.get("message", "")))
