"""Control protocol: request validation against the closed command table, error replies, line encoding."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botrunner.control import (
    MAX_SOCKET_PATH_BYTES,
    RUN_DIR_ENV,
    SocketPathError,
    check_socket_path,
    control_socket_path,
    resolve_run_dir,
)
from botrunner.control.protocol import (
    COMMANDS,
    ArgType,
    Command,
    ControlError,
    ErrorCode,
    ErrorReply,
    Event,
    ProtocolError,
    Reply,
    Request,
    error_line,
    event_line,
    ok_line,
    parse_request,
    parse_server_line,
    request_line,
)


def _line(value: Any) -> bytes:
    return msgspec.json.encode(value)


def _error(line: bytes) -> ErrorReply:
    parsed = parse_request(line)
    assert isinstance(parsed, ErrorReply), parsed
    return parsed


# -- the command table -------------------------------------------------------------------------------------------


def test_every_command_has_a_spec_and_the_table_is_closed() -> None:
    assert set(COMMANDS) == set(Command)
    assert {c.value for c in Command} == {
        "status",
        "bot",
        "pause",
        "resume",
        "reduce-only",
        "flatten",
        "stop",
        "start",
        "reload",
        "shutdown",
        "subscribe",
        "deposit",
        "withdraw",
        "transfer",
        "confirm",
    }


def test_bot_commands_take_exactly_a_name_and_fleet_commands_take_nothing() -> None:
    named = {Command.BOT, Command.PAUSE, Command.RESUME, Command.REDUCE_ONLY, Command.FLATTEN, Command.STOP}
    for cmd in (*named, Command.START):
        assert [(a.name, a.type, a.required) for a in COMMANDS[cmd].args] == [("name", ArgType.STR, True)]
    for cmd in (Command.STATUS, Command.RELOAD, Command.SHUTDOWN):
        assert COMMANDS[cmd].args == ()
    (bots,) = COMMANDS[Command.SUBSCRIBE].args
    assert (bots.name, bots.type, bots.required) == ("bots", ArgType.STR_LIST, False)
    assert [c for c, spec in COMMANDS.items() if spec.streams] == [Command.SUBSCRIBE]


# -- valid requests ----------------------------------------------------------------------------------------------


def test_a_valid_request_parses_with_its_id_command_and_args() -> None:
    assert parse_request(b'{"id": 7, "cmd": "pause", "args": {"name": "sol"}}') == Request(
        7, Command.PAUSE, {"name": "sol"}
    )
    assert parse_request(b'{"id": "a-1", "cmd": "reduce-only", "args": {"name": "btc"}}') == Request(
        "a-1", Command.REDUCE_ONLY, {"name": "btc"}
    )


def test_args_may_be_omitted_for_commands_without_required_arguments() -> None:
    assert parse_request(b'{"id": 1, "cmd": "status"}') == Request(1, Command.STATUS, {})
    assert parse_request(b'{"id": 1, "cmd": "subscribe"}') == Request(1, Command.SUBSCRIBE, {})
    assert parse_request(b'{"id": 1, "cmd": "subscribe", "args": {"bots": []}}') == Request(
        1, Command.SUBSCRIBE, {"bots": []}
    )


def test_trailing_carriage_return_and_spaces_are_accepted() -> None:
    assert isinstance(parse_request(b'  {"id": 1, "cmd": "status"}  \r'), Request)


# -- malformed lines ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"   ",
        b"{",
        b"{]",
        b"not json",
        b"\xff\xfe\x00garbage",
        b'{"id": 1, "cmd": "\xff"}',  # invalid UTF-8 inside a string
        b"[" * 100_000,  # nesting bomb
        b"NaN",
    ],
)
def test_a_line_that_is_not_json_is_bad_json_with_a_null_id(line: bytes) -> None:
    reply = _error(line)
    assert reply.code is ErrorCode.BAD_JSON
    assert reply.id is None
    assert reply.message


@pytest.mark.parametrize("value", [[1, 2], "status", 3, None, True])
def test_json_that_is_not_an_object_is_bad_request(value: Any) -> None:
    reply = _error(_line(value))
    assert (reply.code, reply.id) == (ErrorCode.BAD_REQUEST, None)


@pytest.mark.parametrize(
    "body",
    [{"cmd": "status"}, {"id": None, "cmd": "status"}, {"id": True, "cmd": "status"}, {"id": 1.5, "cmd": "status"}],
)
def test_a_request_without_a_usable_id_is_bad_request_with_a_null_id(body: dict[str, Any]) -> None:
    reply = _error(_line(body))
    assert (reply.code, reply.id) == (ErrorCode.BAD_REQUEST, None)
    assert "'id'" in reply.message


def test_errors_after_the_id_is_read_carry_the_id() -> None:
    assert _error(b'{"id": 9, "cmd": 5}') == ErrorReply(9, ErrorCode.BAD_REQUEST, "'cmd' must be a string, got number")
    assert _error(b'{"id": 9}').code is ErrorCode.BAD_REQUEST
    unknown_key = _error(b'{"id": "x", "cmd": "status", "jsonrpc": "2.0"}')
    assert (unknown_key.id, unknown_key.code) == ("x", ErrorCode.BAD_REQUEST)
    assert "'jsonrpc'" in unknown_key.message


def test_an_unknown_command_is_unknown_command_and_lists_the_commands() -> None:
    reply = _error(b'{"id": 3, "cmd": "rm-rf"}')
    assert (reply.id, reply.code) == (3, ErrorCode.UNKNOWN_COMMAND)
    assert "'rm-rf'" in reply.message and "reduce-only" in reply.message


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"cmd": "pause"}, "'name'"),  # missing
        ({"cmd": "pause", "args": {}}, "'name'"),
        ({"cmd": "pause", "args": {"name": 3}}, "'name'"),  # wrong type
        ({"cmd": "pause", "args": {"name": ["sol"]}}, "'name'"),
        ({"cmd": "pause", "args": {"name": ""}}, "'name'"),  # empty
        ({"cmd": "pause", "args": {"name": "sol", "force": True}}, "'force'"),  # unknown
        ({"cmd": "status", "args": {"verbose": True}}, "'verbose'"),
        ({"cmd": "subscribe", "args": {"bots": "sol"}}, "'bots'"),
        ({"cmd": "subscribe", "args": {"bots": ["sol", 2]}}, "'bots'[1]"),
        ({"cmd": "subscribe", "args": {"bots": [""]}}, "'bots'[0]"),
        ({"cmd": "status", "args": []}, "'args'"),
        ({"cmd": "status", "args": None}, "'args'"),
    ],
)
def test_bad_arguments_are_bad_args_naming_the_field(body: dict[str, Any], field: str) -> None:
    reply = _error(_line({"id": 42, **body}))
    assert (reply.id, reply.code) == (42, ErrorCode.BAD_ARGS)
    assert field in reply.message, reply.message


def test_quoted_client_data_in_messages_is_cut_short() -> None:
    reply = _error(_line({"id": 1, "cmd": "x" * 50_000}))
    assert len(reply.message) < 400


# -- properties --------------------------------------------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=4,
)
_request_like = st.fixed_dictionaries(
    {},
    optional={
        "id": st.none() | st.booleans() | st.integers() | st.text(max_size=5) | st.floats(allow_nan=False),
        "cmd": st.sampled_from([c.value for c in Command]) | st.text(max_size=6) | st.integers(),
        "args": st.dictionaries(st.sampled_from(["name", "bots", "x"]), _json, max_size=3) | _json,
        "extra": st.integers(),
    },
)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_any_bytes_give_a_request_or_an_error_reply_never_an_exception(line: bytes) -> None:
    parsed = parse_request(line)
    assert isinstance(parsed, Request | ErrorReply)
    if isinstance(parsed, ErrorReply):
        assert parse_server_line(error_line(parsed)) == Reply(
            parsed.id, False, code=parsed.code.value, message=parsed.message
        )


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_request_like)
def test_any_object_gives_a_valid_request_or_an_error_echoing_a_valid_id(body: dict[str, Any]) -> None:
    parsed = parse_request(_line(body))
    if isinstance(parsed, Request):
        spec = COMMANDS[parsed.cmd]
        assert set(parsed.args) <= {a.name for a in spec.args}
        assert all(a.name in parsed.args for a in spec.args if a.required)
        assert parsed.id == body["id"]
    else:
        valid_id = isinstance(body.get("id"), str | int) and not isinstance(body.get("id"), bool)
        assert parsed.id == (body["id"] if valid_id else None)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(list(Command)),
    st.integers() | st.text(max_size=10),
    st.text(min_size=1, max_size=20),
    st.none() | st.lists(st.text(min_size=1, max_size=8), max_size=4),
)
def test_a_request_line_from_the_table_parses_back_to_the_same_request(
    cmd: Command, rid: int | str, name: str, bots: list[str] | None
) -> None:
    args: dict[str, Any] = {}
    for spec in COMMANDS[cmd].args:
        match spec.type:
            case ArgType.STR:
                args[spec.name] = name
            case ArgType.AMOUNT:
                args[spec.name] = "1.5"
            case ArgType.ASSET:
                args[spec.name] = "sol"
            case ArgType.INT:
                args[spec.name] = 3
            case ArgType.STR_LIST if bots is not None:
                args[spec.name] = bots
    line = request_line(rid, cmd, args)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert parse_request(line.rstrip(b"\n")) == Request(rid, cmd, args)


# -- replies and events ------------------------------------------------------------------------------------------


def test_reply_and_event_lines_round_trip_through_the_client_parser() -> None:
    ok = ok_line(5, {"equity": Decimal("1234.50"), "pos": None})
    assert ok.endswith(b"\n") and b"\n" not in ok[:-1]
    assert parse_server_line(ok) == Reply(5, True, result={"equity": "1234.50", "pos": None})
    err = error_line(ErrorReply("q", ErrorCode.NOT_FOUND, "no bot 'x'"))
    assert msgspec.json.decode(err) == {
        "id": "q",
        "ok": False,
        "error": {"code": "not_found", "message": "no bot 'x'"},
    }
    assert parse_server_line(err) == Reply("q", False, code="not_found", message="no bot 'x'")
    assert parse_server_line(event_line({"bot": "sol", "type": "fill"})) == Event({"bot": "sol", "type": "fill"})


def test_a_result_that_is_not_json_serializable_raises_type_error() -> None:
    with pytest.raises(TypeError):
        ok_line(1, object())


@pytest.mark.parametrize(
    "line", [b"garbage", b"[1]", b'{"id": 1}', b'{"id": 1, "ok": false}', b'{"event": 3}', b'{"id": [], "ok": true}']
)
def test_a_server_line_that_is_not_a_reply_or_event_is_a_protocol_error(line: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_server_line(line)


def test_control_error_takes_a_code_or_its_name_and_rejects_unknown_codes() -> None:
    assert ControlError("not_found", "no such bot").code is ErrorCode.NOT_FOUND
    assert ControlError(ErrorCode.CONFLICT, "already paused").message == "already paused"
    with pytest.raises(ValueError):
        ControlError("oops", "not a code")


# -- run directory and socket path -------------------------------------------------------------------------------


def test_run_dir_is_explicit_then_environment_then_default() -> None:
    assert resolve_run_dir(Path("/x"), {RUN_DIR_ENV: "/env"}) == Path("/x")
    assert resolve_run_dir(None, {RUN_DIR_ENV: "/env"}) == Path("/env")
    assert resolve_run_dir(None, {RUN_DIR_ENV: ""}) == Path("run")
    assert resolve_run_dir(None, {}) == Path("run")
    assert control_socket_path(Path("/env")) == Path("/env/control.sock")


def test_a_socket_path_over_the_unix_limit_is_an_error_naming_it() -> None:
    fits = Path("/" + "a" * (MAX_SOCKET_PATH_BYTES - 1))
    check_socket_path(fits)
    too_long = Path("/" + "a" * MAX_SOCKET_PATH_BYTES)
    with pytest.raises(SocketPathError, match=str(too_long)):
        check_socket_path(too_long)
    with pytest.raises(SocketPathError, match="NUL"):
        check_socket_path(Path("/tmp/a\0b"))


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        ({"name": "b", "amount": 12.5, "asset": "usdc"}, "decimal string"),
        ({"name": "b", "amount": "abc", "asset": "usdc"}, "decimal number"),
        ({"name": "b", "amount": "-1", "asset": "usdc"}, "positive"),
        ({"name": "b", "amount": "NaN", "asset": "usdc"}, "positive"),
        ({"name": "b", "amount": "1", "asset": "btc"}, "one of usdc, sol"),
        ({"name": "b", "amount": "1"}, "missing argument 'asset'"),
    ],
)
def test_deposit_when_bad_arguments_then_the_field_is_named(args: dict[str, Any], problem: str) -> None:
    reply = _error(_line({"id": 1, "cmd": "deposit", "args": args}))
    assert problem in reply.message


def test_transfer_when_subaccount_not_an_int_then_refused() -> None:
    args = {"name": "b", "amount": "1", "asset": "sol", "to_subaccount": "2"}
    reply = _error(_line({"id": 1, "cmd": "transfer", "args": args}))
    assert "non-negative integer" in reply.message
