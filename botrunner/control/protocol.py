"""The control socket's wire format: JSON lines framing the operator's commands (``botrunner.core.operator``).
Pure: no I/O.

Request: ``{"id": <str|int>, "cmd": <str>, "args": {...}}`` (``args`` optional when the command needs none).
Reply: ``{"id": ..., "ok": true, "result": ...}`` or ``{"id": ..., "ok": false, "error": {"code", "message"}}``.
Event (after a ``subscribe`` reply, until the client disconnects): ``{"event": {...}}``.

A request is decoded once, by msgspec, into a ``Request`` whose ``args`` is the typed command: the request types
are a tagged union on ``cmd`` built from the command union itself, so the socket cannot accept a command the
vocabulary does not have, or miss one it has. msgspec's error names the path of the bad value
(``- at `$.args.name```); :func:`parse_request` maps it to an error code. A reply to a line whose ``id`` could not
be read (or is longer than ``MAX_ID_CHARS``: it is not echoed), or a line the server sends on its own (busy, idle
timeout, overflow), carries ``"id": null``.
"""

from __future__ import annotations

import enum
import re
from typing import Annotated, Final, Union, cast

import msgspec

from botrunner.core.operator import COMMAND_TYPES, ControlCommand, command_name, command_type

MAX_ID_CHARS: Final = 64
# An id is echoed in the reply: bounded, so a request cannot make its reply as long as itself.
RequestId = (
    Annotated[str, msgspec.Meta(max_length=MAX_ID_CHARS)] | Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
)

# Error messages quote client data; a quoted value is cut so that a 64 KiB key cannot make a 64 KiB reply.
_QUOTE_CHARS = 60
_MESSAGE_CHARS = 200


class ErrorCode(enum.StrEnum):
    """The closed set of error codes a reply can carry."""

    BAD_JSON = "bad_json"  # the line is not JSON (or not UTF-8)
    BAD_REQUEST = "bad_request"  # JSON, but not a request object (id, cmd, args)
    UNKNOWN_COMMAND = "unknown_command"
    BAD_ARGS = "bad_args"  # missing, unknown or wrongly typed argument; the message names the field
    LINE_TOO_LONG = "line_too_long"  # the connection is closed after this reply
    NOT_FOUND = "not_found"  # e.g. no bot with that name
    CONFLICT = "conflict"  # the command does not apply in the current state
    MODE_MISMATCH = "mode_mismatch"  # ``start`` named a mode (paper|live) that is not the bot's configured one
    UNSUPPORTED = "unsupported"  # a command of the vocabulary the runner cannot honour (none today)
    REFUSED = "refused"  # a gate refused an operator's open; the message names the gate and its numbers
    TIMEOUT = "timeout"  # no answer within the reply timeout, or an idle client is being disconnected
    BUSY = "busy"  # too many clients: this connection is closed after this reply
    OVERFLOW = "overflow"  # a subscriber fell too far behind (or stopped reading) and is disconnected
    INTERNAL = "internal"  # a bug on the server's side; the server keeps serving


class ControlError(Exception):
    """Raised by a dispatcher to answer with an error reply of ``code`` (e.g. ``not_found``) and ``message``."""

    def __init__(self, code: ErrorCode | str, message: str) -> None:
        super().__init__(message)
        self.code = ErrorCode(code)  # an unknown code is a bug in the raiser: ValueError here, not on the wire
        self.message = message


class Request(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag_field="cmd"):
    """A decoded request: its id and its typed command (``args``). One subclass per command, tagged ``cmd``."""

    id: RequestId
    args: ControlCommand


def _request_type(kind: type[ControlCommand]) -> type[Request]:
    """The request type framing command ``kind``: ``args`` is that command, optional when it has no required
    field (``{"id": 1, "cmd": "status"}``)."""
    fields = msgspec.structs.fields(kind)
    optional = all(f.default is not msgspec.NODEFAULT or f.default_factory is not msgspec.NODEFAULT for f in fields)
    args: tuple[str, object] | tuple[str, object, object] = ("args", kind)
    if optional:
        args = ("args", kind, msgspec.convert({}, kind))
    request = msgspec.defstruct(
        f"{kind.__name__}Request",
        [args],
        bases=(Request,),
        tag=command_name(kind),
        frozen=True,
        forbid_unknown_fields=True,
    )
    return cast("type[Request]", request)  # defstruct is typed as making a plain Struct


_REQUEST_TYPES: Final = tuple(_request_type(kind) for kind in COMMAND_TYPES)
# The union is built at run time from the command union: statically it is "some Request".
_REQUESTS: Final = msgspec.json.Decoder(cast("type[Request]", Union[_REQUEST_TYPES]))  # noqa: UP007 (a runtime tuple)
_COMMAND_NAMES: Final = ", ".join(command_name(kind) for kind in COMMAND_TYPES)


class ErrorReply(msgspec.Struct, frozen=True):
    """An error reply ready to send; ``id`` is None when the request's id could not be read."""

    id: RequestId | None
    code: ErrorCode
    message: str


class _ErrorBody(msgspec.Struct, frozen=True):
    code: str
    message: str


class _ErrorLine(msgspec.Struct, frozen=True, kw_only=True):
    id: RequestId | None
    ok: bool = False
    error: _ErrorBody


class _OkLine(msgspec.Struct, frozen=True, kw_only=True):
    id: RequestId
    ok: bool = True
    result: object


class _EventLine(msgspec.Struct, frozen=True):
    event: object


class Reply(msgspec.Struct, frozen=True):
    """A reply as a client reads it: ``result`` (still JSON, to decode into the type the command answers with) when
    ``ok``, else ``code`` and ``message``."""

    id: RequestId | None
    ok: bool
    result: msgspec.Raw = msgspec.Raw(b"null")
    code: str = ""
    message: str = ""


class Event(msgspec.Struct, frozen=True):
    """One streamed event as a client reads it (its JSON object, to decode into ``runtime.snapshots.BotEvent``)."""

    data: msgspec.Raw


class ProtocolError(ValueError):
    """A line from the server that is not a reply or an event."""


def _quote(value: str) -> str:
    text = repr(value)
    return text if len(text) <= _QUOTE_CHARS else text[: _QUOTE_CHARS - 3] + "..."


def _cut(text: str, limit: int = _MESSAGE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- requests ----------------------------------------------------------------------------------------------------


class _Head(msgspec.Struct):
    """What is read of a request that does not decode: its id (to echo) and its command name (to say whose
    arguments are wrong). Unknown fields are ignored here."""

    id: msgspec.Raw = msgspec.Raw()  # empty: absent (msgspec.Raw cannot be part of a union)
    cmd: msgspec.Raw = msgspec.Raw()


_ID: Final = msgspec.json.Decoder(RequestId)
_AT = re.compile(r"^(?P<text>.*) - at `(?P<path>\$[^`]*)`$", re.DOTALL)


def _head(line: bytes) -> tuple[RequestId | None, str | None]:
    try:
        head = msgspec.json.decode(line, type=_Head)
    except (msgspec.DecodeError, RecursionError):
        return None, None
    rid: RequestId | None = None
    name: str | None = None
    if head.id:
        try:
            rid = _ID.decode(head.id)
        except msgspec.ValidationError:
            rid = None
    if head.cmd:
        try:
            name = msgspec.json.decode(head.cmd, type=str)
        except msgspec.ValidationError:
            name = None
    return rid, name


def _takes(name: str) -> str:
    kind = command_type(name)
    fields = [f.name for f in msgspec.structs.fields(kind)] if kind is not None else []
    return f"{name} takes {', '.join(fields)}" if fields else f"{name} takes no arguments"


def _bad_cmd(rid: RequestId | None, name: str | None, text: str) -> ErrorReply:
    if text.startswith("Invalid value"):
        given = name if name is not None else "?"
        return ErrorReply(
            rid, ErrorCode.UNKNOWN_COMMAND, f"unknown command {_quote(given)} (commands: {_COMMAND_NAMES})"
        )
    return ErrorReply(rid, ErrorCode.BAD_REQUEST, f"`cmd` must be a string, one of: {_COMMAND_NAMES}")


def _bad_args(rid: RequestId | None, name: str | None, text: str, path: str) -> ErrorReply:
    if name is None:  # the line is not whole JSON past the bad argument: its command cannot be read back
        return ErrorReply(rid, ErrorCode.BAD_ARGS, f"{_cut(text)} - at `{path}`")
    if path.startswith("$.args"):
        return ErrorReply(rid, ErrorCode.BAD_ARGS, f"{name}: {_cut(text)} - at `{path}`")
    return ErrorReply(rid, ErrorCode.BAD_ARGS, f"{name}: missing `args` ({_takes(name)})")


def _invalid(line: bytes, problem: str) -> ErrorReply:
    """The error reply for a JSON line that is not a valid request; ``problem``: msgspec's message, whose path
    (``- at `$.args.name```) says which part of the request is wrong, hence the code."""
    rid, name = _head(line)
    at = _AT.match(problem)
    text, path = (at["text"], at["path"]) if at else (problem, "$")
    if path == "$.id" or "required field `id`" in text:
        return ErrorReply(
            None, ErrorCode.BAD_REQUEST, f"`id` must be a string of at most {MAX_ID_CHARS} characters or an integer"
        )
    if path == "$.cmd" or "required field `cmd`" in text:
        return _bad_cmd(rid, name, text)
    if path.startswith("$.args") or (name is not None and "required field `args`" in text):
        return _bad_args(rid, name, text, path)
    if text.startswith("Expected `object`"):
        return ErrorReply(rid, ErrorCode.BAD_REQUEST, f"a request is a JSON object (id, cmd, args): {text}")
    return ErrorReply(rid, ErrorCode.BAD_REQUEST, f"{_cut(text)} (a request has id, cmd, args)")


def parse_request(line: bytes) -> Request | ErrorReply:
    """Decode one request line (without its newline): a ``Request`` carrying its typed command, or the
    ``ErrorReply`` to send back. The reply carries the request's id whenever it could be read."""
    try:
        return _REQUESTS.decode(line)
    except msgspec.ValidationError as exc:
        return _invalid(line, str(exc))
    except msgspec.DecodeError as exc:
        return ErrorReply(None, ErrorCode.BAD_JSON, _cut(str(exc)))
    except RecursionError:
        return ErrorReply(None, ErrorCode.BAD_JSON, "JSON nested too deeply")


def request_line(rid: RequestId, command: ControlCommand) -> bytes:
    """A request line, as a client sends it (``args`` left out when the command has no fields)."""
    fields = msgspec.to_builtins(command)
    assert isinstance(fields, dict)  # a command struct becomes an object
    del fields["cmd"]  # the tag frames the request; inside args it would only repeat it
    body: dict[str, object] = {"id": rid, "cmd": command.cmd}
    if fields:
        body["args"] = fields
    return encode_line(body)


# -- replies and events ------------------------------------------------------------------------------------------


def encode_line(value: object) -> bytes:
    """``value`` as one compact JSON line. Decimals become strings; raises ``TypeError`` if not serializable."""
    return msgspec.json.encode(value) + b"\n"


def ok_line(rid: RequestId, result: object) -> bytes:
    """A success reply line. Raises ``TypeError`` when ``result`` is not JSON-serializable."""
    return encode_line(_OkLine(id=rid, result=result))


def error_line(reply: ErrorReply) -> bytes:
    """An error reply line."""
    return encode_line(_ErrorLine(id=reply.id, error=_ErrorBody(reply.code.value, reply.message)))


def event_line(event: object) -> bytes:
    """An event line. Raises ``TypeError`` when ``event`` is not JSON-serializable."""
    return encode_line(_EventLine(event))


class _ErrorIn(msgspec.Struct, frozen=True):
    code: str
    message: str = ""


class _ServerLine(msgspec.Struct, frozen=True):
    """Every line the server sends: a reply (``id``, ``ok``, ``result`` | ``error``) or an event."""

    id: RequestId | None = None
    ok: bool | None = None
    result: msgspec.Raw = msgspec.Raw(b"null")
    error: _ErrorIn | None = None
    event: msgspec.Raw = msgspec.Raw()  # empty: not an event (msgspec.Raw cannot be part of a union)


_SERVER_LINES: Final = msgspec.json.Decoder(_ServerLine)


def parse_server_line(line: bytes) -> Reply | Event:
    """A line the server sent: a ``Reply`` or an ``Event``. Raises ``ProtocolError`` on anything else."""
    try:
        value = _SERVER_LINES.decode(line)
    except msgspec.DecodeError as exc:
        raise ProtocolError(_cut(str(exc))) from None
    except RecursionError:
        raise ProtocolError("JSON nested too deeply") from None
    if value.event:
        if not bytes(value.event).lstrip().startswith(b"{"):
            raise ProtocolError("an event must be a JSON object")
        return Event(value.event)
    if value.ok is None:
        raise ProtocolError(f"not a reply: {_quote(line.decode(errors='replace'))}")
    if value.ok:
        return Reply(value.id, True, result=value.result)
    if value.error is None:
        raise ProtocolError(f"error reply without an error code: {_quote(line.decode(errors='replace'))}")
    return Reply(value.id, False, code=value.error.code, message=value.error.message)
