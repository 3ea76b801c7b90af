"""Control protocol: requests decoded once into the operator's typed commands, error replies naming the field,
line encoding."""

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
    MAX_ID_CHARS,
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
from botrunner.core.operator import (
    COMMAND_TYPES,
    Asset,
    ControlCommand,
    DepositFunds,
    Pause,
    ReduceOnly,
    Status,
    Subscribe,
    TransferFunds,
    WithdrawFunds,
    command_name,
    decode_command,
)


def _line(value: Any) -> bytes:
    return msgspec.json.encode(value)


def _error(line: bytes) -> ErrorReply:
    parsed = parse_request(line)
    assert isinstance(parsed, ErrorReply), parsed
    return parsed


def _request(line: bytes) -> Request:
    parsed = parse_request(line)
    assert isinstance(parsed, Request), parsed
    return parsed


def _fields(kind: type[ControlCommand]) -> list[tuple[str, bool]]:
    """(name, required) of each field of a command."""
    return [(f.name, f.required) for f in msgspec.structs.fields(kind)]


# -- the vocabulary ----------------------------------------------------------------------------------------------


def test_the_command_union_is_closed_and_every_wire_name_is_unique() -> None:
    assert [command_name(kind) for kind in COMMAND_TYPES] == [
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
        "open",
        "close",
        "confirm",
    ]
    assert set(COMMAND_TYPES) == set(ControlCommand.__args__)  # type: ignore[attr-defined]  # a runtime union


def test_bot_commands_take_exactly_a_name_and_fleet_commands_take_nothing() -> None:
    by_name = {command_name(kind): kind for kind in COMMAND_TYPES}
    for name in ("bot", "pause", "resume", "reduce-only", "flatten", "stop"):
        assert _fields(by_name[name]) == [("name", True)]
    assert _fields(by_name["start"]) == [("name", True), ("mode", False)]  # a dashboard's START_ENGINE names a mode
    for name in ("status", "reload", "shutdown"):
        assert _fields(by_name[name]) == []
    assert _fields(Subscribe) == [("bots", False)]
    assert all(kind.help for kind in COMMAND_TYPES)


def test_a_dashboard_decodes_the_flat_form_of_the_same_commands() -> None:
    assert decode_command(b'{"cmd": "pause", "name": "sol"}') == Pause(name="sol")
    assert decode_command('{"cmd": "deposit", "name": "b", "amount": "12.5", "asset": "usdc"}') == DepositFunds(
        name="b", amount="12.5", asset=Asset.USDC
    )
    with pytest.raises(msgspec.ValidationError, match=r"at `\$\.name`"):
        decode_command(b'{"cmd": "pause", "name": 5}')
    with pytest.raises(msgspec.ValidationError, match="Invalid value 'explode'"):
        decode_command(b'{"cmd": "explode"}')


# -- valid requests ----------------------------------------------------------------------------------------------


def test_a_valid_request_decodes_into_its_typed_command_with_its_id() -> None:
    request = _request(b'{"id": 7, "cmd": "pause", "args": {"name": "sol"}}')
    assert (request.id, request.args) == (7, Pause(name="sol"))
    request = _request(b'{"id": "a-1", "cmd": "reduce-only", "args": {"name": "btc"}}')
    assert (request.id, request.args) == ("a-1", ReduceOnly(name="btc"))
    transfer = _request(
        b'{"id": 2, "cmd": "transfer", "args": {"name": "b", "amount": "1.5", "asset": "sol", "to_subaccount": 3}}'
    )
    assert transfer.args == TransferFunds(name="b", amount="1.5", asset=Asset.SOL, to_subaccount=3)


def test_args_may_be_omitted_for_commands_without_required_arguments() -> None:
    assert _request(b'{"id": 1, "cmd": "status"}').args == Status()
    assert _request(b'{"id": 1, "cmd": "subscribe"}').args == Subscribe()
    assert _request(b'{"id": 1, "cmd": "subscribe", "args": {"bots": []}}').args == Subscribe(bots=())


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


def test_a_nesting_bomb_is_refused_without_recursing() -> None:
    assert _error(b"[" * 100_000).code is ErrorCode.BAD_REQUEST
    assert _error(b'{"id": 1, "cmd": "status", "args": {"x": ' + b"[" * 100_000).code in (
        ErrorCode.BAD_ARGS,
        ErrorCode.BAD_JSON,
    )


@pytest.mark.parametrize(
    "body",
    [
        {"cmd": "status"},
        {"id": None, "cmd": "status"},
        {"id": True, "cmd": "status"},
        {"id": 1.5, "cmd": "status"},
        {"id": "x" * (MAX_ID_CHARS + 1), "cmd": "status"},
        {"id": 2**63, "cmd": "status"},
    ],
)
def test_a_request_without_a_usable_id_is_bad_request_with_a_null_id(body: dict[str, Any]) -> None:
    reply = _error(_line(body))
    assert (reply.code, reply.id) == (ErrorCode.BAD_REQUEST, None)
    assert "`id`" in reply.message


def test_a_long_id_is_refused_and_not_echoed() -> None:
    long_id = "k" * 10_000
    reply = _error(_line({"id": long_id, "cmd": "pause", "args": {"name": "sol"}}))
    assert (reply.code, reply.id) == (ErrorCode.BAD_REQUEST, None)
    assert "k" * (MAX_ID_CHARS + 1) not in error_line(reply).decode()
    assert _request(_line({"id": "k" * MAX_ID_CHARS, "cmd": "status"})).id == "k" * MAX_ID_CHARS


def test_errors_after_the_id_is_read_carry_the_id() -> None:
    reply = _error(b'{"id": 9, "cmd": 5}')
    assert (reply.id, reply.code) == (9, ErrorCode.BAD_REQUEST) and "`cmd`" in reply.message
    assert _error(b'{"id": 9}').code is ErrorCode.BAD_REQUEST
    unknown_key = _error(b'{"id": "x", "cmd": "status", "jsonrpc": "2.0"}')
    assert (unknown_key.id, unknown_key.code) == ("x", ErrorCode.BAD_REQUEST)
    assert "`jsonrpc`" in unknown_key.message


def test_an_unknown_command_is_unknown_command_and_lists_the_commands() -> None:
    reply = _error(b'{"id": 3, "cmd": "rm-rf"}')
    assert (reply.id, reply.code) == (3, ErrorCode.UNKNOWN_COMMAND)
    assert "'rm-rf'" in reply.message and "reduce-only" in reply.message


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"cmd": "pause"}, "pause takes name"),  # missing
        ({"cmd": "pause", "args": {}}, "`name`"),
        ({"cmd": "pause", "args": {"name": 3}}, "`$.args.name`"),  # wrong type
        ({"cmd": "pause", "args": {"name": ["sol"]}}, "`$.args.name`"),
        ({"cmd": "pause", "args": {"name": ""}}, "`$.args.name`"),  # empty
        ({"cmd": "pause", "args": {"name": "sol", "force": True}}, "`force`"),  # unknown
        ({"cmd": "status", "args": {"verbose": True}}, "`verbose`"),
        ({"cmd": "subscribe", "args": {"bots": "sol"}}, "`$.args.bots`"),
        ({"cmd": "subscribe", "args": {"bots": ["sol", 2]}}, "`$.args.bots[1]`"),
        ({"cmd": "subscribe", "args": {"bots": [""]}}, "`$.args.bots[0]`"),
        ({"cmd": "status", "args": []}, "`$.args`"),
        ({"cmd": "status", "args": None}, "`$.args`"),
    ],
)
def test_bad_arguments_are_bad_args_naming_the_field(body: dict[str, Any], field: str) -> None:
    reply = _error(_line({"id": 42, **body}))
    assert (reply.id, reply.code) == (42, ErrorCode.BAD_ARGS)
    assert field in reply.message, reply.message
    assert reply.message.startswith(f"{body['cmd']}: "), reply.message


def test_quoted_client_data_in_messages_is_cut_short() -> None:
    assert len(_error(_line({"id": 1, "cmd": "x" * 50_000})).message) < 400
    assert len(_error(_line({"id": 1, "cmd": "status", "k" * 50_000: 1})).message) < 400
    assert len(_error(_line({"id": 1, "cmd": "pause", "args": {"name": "n" * 50_000}})).message) < 400


# -- properties --------------------------------------------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=4,
)
_request_like = st.fixed_dictionaries(
    {},
    optional={
        "id": st.none() | st.booleans() | st.integers() | st.text(max_size=70) | st.floats(allow_nan=False),
        "cmd": st.sampled_from([command_name(kind) for kind in COMMAND_TYPES]) | st.text(max_size=6) | st.integers(),
        "args": st.dictionaries(st.sampled_from(["name", "bots", "amount", "asset", "x"]), _json, max_size=3) | _json,
        "extra": st.integers(),
    },
)


def _valid_id(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    return isinstance(value, str) and len(value) <= MAX_ID_CHARS


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
def test_any_object_gives_a_typed_command_or_an_error_echoing_only_a_valid_id(body: dict[str, Any]) -> None:
    parsed = parse_request(_line(body))
    if isinstance(parsed, Request):
        assert isinstance(parsed.args, COMMAND_TYPES)
        assert parsed.args.cmd == body["cmd"]
        assert parsed.id == body["id"]
    else:
        assert parsed.id == (body["id"] if _valid_id(body.get("id")) else None)


_ids = st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.text(max_size=MAX_ID_CHARS)
_names = st.text(min_size=1, max_size=20)
_amounts = st.decimals(min_value=Decimal("0.000001"), max_value=Decimal(10**9), places=6).map(str)
_commands = st.one_of(
    *(
        st.builds(kind, name=_names) if _fields(kind) == [("name", True)] else st.just(kind())
        for kind in COMMAND_TYPES
        if _fields(kind) in ([], [("name", True)])
    ),
    st.builds(Subscribe, bots=st.none() | st.lists(_names, max_size=4).map(tuple)),
    st.builds(DepositFunds, name=_names, amount=_amounts, asset=st.sampled_from(Asset)),
    st.builds(
        TransferFunds, name=_names, amount=_amounts, asset=st.sampled_from(Asset), to_subaccount=st.integers(0, 65_535)
    ),
)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_commands, _ids)
def test_a_request_line_of_any_command_decodes_back_to_the_same_command(
    command: ControlCommand, rid: int | str
) -> None:
    line = request_line(rid, command)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    request = _request(line.rstrip(b"\n"))
    assert (request.id, request.args) == (rid, command)


# -- replies and events ------------------------------------------------------------------------------------------


def test_reply_and_event_lines_round_trip_through_the_client_parser() -> None:
    ok = ok_line(5, {"equity": Decimal("1234.50"), "pos": None})
    assert ok.endswith(b"\n") and b"\n" not in ok[:-1]
    reply = parse_server_line(ok)
    assert isinstance(reply, Reply) and (reply.id, reply.ok) == (5, True)
    assert msgspec.json.decode(reply.result) == {"equity": "1234.50", "pos": None}
    err = error_line(ErrorReply("q", ErrorCode.NOT_FOUND, "no bot 'x'"))
    assert msgspec.json.decode(err) == {
        "id": "q",
        "ok": False,
        "error": {"code": "not_found", "message": "no bot 'x'"},
    }
    assert parse_server_line(err) == Reply("q", False, code="not_found", message="no bot 'x'")
    event = parse_server_line(event_line({"bot": "sol", "kind": "fill"}))
    assert isinstance(event, Event) and msgspec.json.decode(event.data) == {"bot": "sol", "kind": "fill"}


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
        ({"name": "b", "amount": 12.5, "asset": "usdc"}, "Expected `str`, got `float` - at `$.args.amount`"),
        ({"name": "b", "amount": "abc", "asset": "usdc"}, "amount must be a decimal number"),
        ({"name": "b", "amount": "-1", "asset": "usdc"}, "amount must be a positive number"),
        ({"name": "b", "amount": "0", "asset": "usdc"}, "amount must be a positive number"),
        ({"name": "b", "amount": "NaN", "asset": "usdc"}, "amount must be a positive number"),
        ({"name": "b", "amount": "1", "asset": "btc"}, "Invalid enum value 'btc' - at `$.args.asset`"),
        ({"name": "b", "amount": "1"}, "missing required field `asset`"),
    ],
)
def test_deposit_when_bad_arguments_then_the_field_is_named(args: dict[str, Any], problem: str) -> None:
    reply = _error(_line({"id": 1, "cmd": "deposit", "args": args}))
    assert reply.code is ErrorCode.BAD_ARGS
    assert problem in reply.message, reply.message


def test_transfer_when_subaccount_not_an_int_then_refused() -> None:
    args = {"name": "b", "amount": "1", "asset": "sol", "to_subaccount": "2"}
    reply = _error(_line({"id": 1, "cmd": "transfer", "args": args}))
    assert "Expected `int`, got `str` - at `$.args.to_subaccount`" in reply.message
    args["to_subaccount"] = 70_000  # Drift's sub_account_id is a u16
    assert "`$.args.to_subaccount`" in _error(_line({"id": 1, "cmd": "transfer", "args": args})).message


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=30) | st.decimals(allow_nan=True, allow_infinity=True).map(str) | st.integers().map(str))
def test_a_capital_amount_reaches_the_runner_only_as_a_positive_finite_exact_decimal(amount: str) -> None:
    """What protects capital: a deposit, withdrawal or transfer never carries a float, a zero, a negative, a NaN or
    an infinity past the socket; anything else is refused naming the amount."""
    for cmd, extra in (("deposit", {}), ("withdraw", {}), ("transfer", {"to_subaccount": 1})):
        args = {"name": "b", "amount": amount, "asset": "usdc", **extra}
        parsed = parse_request(_line({"id": 1, "cmd": cmd, "args": args}))
        if isinstance(parsed, Request):
            assert isinstance(parsed.args, DepositFunds | WithdrawFunds | TransferFunds)
            value = Decimal(parsed.args.amount)
            assert value.is_finite() and value > 0
        else:
            assert parsed.code is ErrorCode.BAD_ARGS and "amount" in parsed.message, parsed.message
    float_amount = parse_request(
        _line({"id": 1, "cmd": "deposit", "args": {"name": "b", "amount": 1.5, "asset": "sol"}})
    )
    assert isinstance(float_amount, ErrorReply) and "`$.args.amount`" in float_amount.message
