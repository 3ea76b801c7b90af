"""The dashboard's WebSocket protocol: the source spec's envelope mapped onto the ONE operator vocabulary
(``botrunner.core.operator``). Pure: no I/O.

A command is a JSON object ``{"id": "c1", "type": "START_ENGINE", "bot": "sol-grid", "mode": "paper"}``: its
``type`` names the command, its ``id`` (a string of at most 64 characters, or an integer) is echoed in the answer,
its parameters stand beside them. :func:`parse_command` decodes it with msgspec into one envelope struct and
:func:`to_command` maps that to the operator command the runner's ``dispatch`` matches, so the WebSocket is one more
front end of the same vocabulary, never a second dispatcher:

    START_ENGINE -> start (with its mode: refused unless it is the bot's)   STOP_ENGINE -> stop
    DRIFT_DEPOSIT -> deposit      DRIFT_WITHDRAW -> withdraw                 DRIFT_CLOSE_POSITION -> close
    DRIFT_OPEN_POSITION -> open (through the bot's step and governors; ``side`` for a perp bot only)
    PAUSE, RESUME, REDUCE_ONLY, FLATTEN, CONFIRM, RELOAD, STATUS, GET_BOT -> what ctl sends

The answer is ``{"type": "COMMAND_RESULT", "id": ..., "ok": true, "status": "done", "result": {...}}``, or
``"status": "accepted"`` first when the command takes longer than ``ACCEPT_AFTER_S`` (its outcome follows as another
COMMAND_RESULT), or ``"ok": false, "error": {"code", "message"}``. Broadcasts are ``{"type": NAME, "data": {...}}``.
"""

from __future__ import annotations

import enum
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Final, assert_never

import msgspec

from botrunner.core.operator import (
    AmountText,
    Asset,
    BotName,
    ClosePosition,
    Confirm,
    ControlCommand,
    DepositFunds,
    EngineMode,
    Flatten,
    OpenPosition,
    Pause,
    PositionSide,
    ReduceOnly,
    Reload,
    Resume,
    ShowBot,
    Start,
    Status,
    Stop,
    Token,
    WithdrawFunds,
)

MAX_ID_CHARS: Final = 64
MAX_MESSAGE_BYTES: Final = 64 * 1024  # a command is a few hundred bytes; anything larger is refused unread
ACCEPT_AFTER_S: Final = 1.0  # a command still running after this is answered "accepted"; its outcome follows
CONFIRM_ABOVE_USD: Final = Decimal(100)  # a trade or capital move above this needs the page's confirm step

CommandId = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID_CHARS)] | int


class WsError(enum.StrEnum):
    """Error codes only the WebSocket front end gives (the runner's own — ``not_found``, ``conflict``,
    ``mode_mismatch``, ``unsupported``, ``timeout`` … — pass through as the control socket gives them)."""

    BAD_JSON = "bad_json"
    BAD_REQUEST = "bad_request"  # not an object, or no usable id
    UNKNOWN_COMMAND = "unknown_command"
    BAD_ARGS = "bad_args"
    TOO_LARGE = "too_large"
    CONFIRMATION_REQUIRED = "confirmation_required"  # above CONFIRM_ABOVE_USD without ``"confirm": true``
    INTERNAL = "internal"


class CommandFailed(Exception):
    """A command's structured error: ``code`` (a ``WsError`` or the runner's control error code) and ``message``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Envelope(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag_field="type"):
    id: CommandId


class StartEngine(Envelope, frozen=True, tag="START_ENGINE"):
    bot: BotName
    mode: EngineMode


class StopEngine(Envelope, frozen=True, tag="STOP_ENGINE"):
    bot: BotName


class DriftDeposit(Envelope, frozen=True, tag="DRIFT_DEPOSIT"):
    bot: BotName
    amount: AmountText
    asset: Asset = Asset.USDC
    confirm: bool = False


class DriftWithdraw(Envelope, frozen=True, tag="DRIFT_WITHDRAW"):
    bot: BotName
    amount: AmountText
    asset: Asset = Asset.USDC
    confirm: bool = False


class DriftOpenPosition(Envelope, frozen=True, tag="DRIFT_OPEN_POSITION"):
    bot: BotName
    size: AmountText  # base units: a perp bot's target |position|, or the SOL a two-leg bot holds hedged
    side: PositionSide | None = None  # a perp bot's (long|short); a two-leg bot takes none
    confirm: bool = False


class DriftClosePosition(Envelope, frozen=True, tag="DRIFT_CLOSE_POSITION"):
    bot: BotName


class PauseBot(Envelope, frozen=True, tag="PAUSE"):
    bot: BotName


class ResumeBot(Envelope, frozen=True, tag="RESUME"):
    bot: BotName


class ReduceOnlyBot(Envelope, frozen=True, tag="REDUCE_ONLY"):
    bot: BotName


class FlattenBot(Envelope, frozen=True, tag="FLATTEN"):
    bot: BotName


class ConfirmOrders(Envelope, frozen=True, tag="CONFIRM"):
    bot: BotName
    token: Token


class ReloadFleet(Envelope, frozen=True, tag="RELOAD"):
    pass


class FleetStatus(Envelope, frozen=True, tag="STATUS"):
    pass


class GetBot(Envelope, frozen=True, tag="GET_BOT"):
    bot: BotName


WsCommand = (
    StartEngine
    | StopEngine
    | DriftDeposit
    | DriftWithdraw
    | DriftOpenPosition
    | DriftClosePosition
    | PauseBot
    | ResumeBot
    | ReduceOnlyBot
    | FlattenBot
    | ConfirmOrders
    | ReloadFleet
    | FleetStatus
    | GetBot
)
COMMAND_NAMES: Final = tuple(kind.__struct_config__.tag for kind in WsCommand.__args__)


def _usd(amount: str, usd_per_unit: Decimal | None) -> Decimal | None:
    """``amount`` in USD (None when the price is unknown: treated as above the limit)."""
    try:
        value = Decimal(amount)
    except InvalidOperation:
        return None  # the command's own check names the bad amount
    return None if usd_per_unit is None else value * usd_per_unit


def needs_confirmation(command: WsCommand, price: Any, held: Any) -> bool:
    """Whether ``command`` moves more than ``CONFIRM_ABOVE_USD`` without the page's ``"confirm": true``.
    ``price(bot, asset_or_none) -> Decimal | None`` gives USD per unit (USDC is 1; a position's size uses the bot's
    mark); ``held(bot) -> (spot SOL | None, perp base | None)`` what the bot holds (base units). An open counts
    the trade it makes, not the size it names: a perp bot's |target - position|, a two-leg bot's both legs (spot
    to +SIZE and perp to -SIZE, summed as the live safety gate sums them). An unknown price or holding counts as
    above the limit."""
    match command:
        case DriftDeposit() | DriftWithdraw():
            if command.confirm:
                return False
            rate = Decimal(1) if command.asset is Asset.USDC else price(command.bot, command.asset.value)
            usd = _usd(command.amount, rate)
        case DriftOpenPosition():
            if command.confirm:
                return False
            moved = _open_moves(command, held(command.bot))
            usd = None if moved is None else _usd(str(moved), price(command.bot, None))
        case _:
            return False
    return usd is None or usd > CONFIRM_ABOVE_USD


def _open_moves(command: DriftOpenPosition, held: tuple[Decimal | None, Decimal | None]) -> Decimal | None:
    """The base an open trades (None: unknown, or a size that is not a number)."""
    try:
        size = Decimal(command.size)
    except InvalidOperation:
        return None
    if size.is_finite() and size <= 0:
        return Decimal(0)  # nothing to trade: the command's own check refuses the size
    spot, perp = held
    if perp is None or not size.is_finite():
        return None
    if command.side is None:  # a two-leg bot's open (a perp bot's needs a side): spot to +SIZE, perp to -SIZE
        return None if spot is None else abs(size - spot) + abs(size + perp)
    target = size if command.side == PositionSide.LONG else -size
    return abs(target - perp)


def to_command(command: WsCommand) -> ControlCommand:  # noqa: PLR0911, PLR0912  <why: one flat exhaustive match over the envelope>
    """The operator command an envelope stands for. Raises ``ValueError`` (an amount that is not positive)."""
    match command:
        case StartEngine(bot=bot, mode=mode):
            return Start(name=bot, mode=mode)
        case StopEngine(bot=bot):
            return Stop(name=bot)
        case DriftDeposit(bot=bot, amount=amount, asset=asset):
            return DepositFunds(name=bot, amount=amount, asset=asset)
        case DriftWithdraw(bot=bot, amount=amount, asset=asset):
            return WithdrawFunds(name=bot, amount=amount, asset=asset)
        case DriftOpenPosition(bot=bot, side=side, size=size):
            return OpenPosition(name=bot, size=size, side=side)
        case DriftClosePosition(bot=bot):
            return ClosePosition(name=bot)
        case FlattenBot(bot=bot):
            return Flatten(name=bot)
        case PauseBot(bot=bot):
            return Pause(name=bot)
        case ResumeBot(bot=bot):
            return Resume(name=bot)
        case ReduceOnlyBot(bot=bot):
            return ReduceOnly(name=bot)
        case ConfirmOrders(bot=bot, token=token):
            return Confirm(name=bot, token=token)
        case ReloadFleet():
            return Reload()
        case FleetStatus():
            return Status()
        case GetBot(bot=bot):
            return ShowBot(name=bot)
        case _ as unreachable:
            assert_never(unreachable)


_COMMAND: Final = msgspec.json.Decoder(WsCommand)
_ANY: Final = msgspec.json.Decoder()
_ID: Final = msgspec.json.Decoder(CommandId)


def parse_command(raw: str | bytes) -> tuple[CommandId, WsCommand]:
    """The id and envelope in one WebSocket message. Raises ``ParseError`` carrying the id it could read (None when
    it could not: such an answer echoes no id), the error code and a message naming what is wrong."""
    if len(raw) > MAX_MESSAGE_BYTES:
        raise ParseError(None, WsError.TOO_LARGE, f"a command is at most {MAX_MESSAGE_BYTES} bytes")
    try:
        obj = _ANY.decode(raw)
    except msgspec.DecodeError as exc:
        raise ParseError(None, WsError.BAD_JSON, f"not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ParseError(None, WsError.BAD_REQUEST, "a command is a JSON object with an id and a type")
    try:
        ident: CommandId = msgspec.convert(obj.get("id"), CommandId)
    except msgspec.ValidationError:
        why = f"every command carries an id: a string of 1..{MAX_ID_CHARS} characters or an integer"
        raise ParseError(None, WsError.BAD_REQUEST, why) from None
    kind = obj.get("type")
    if kind not in COMMAND_NAMES:
        shown = kind[:40] if isinstance(kind, str) else kind
        known = ", ".join(COMMAND_NAMES)
        raise ParseError(ident, WsError.UNKNOWN_COMMAND, f"unknown command type {shown!r}; one of {known}")
    try:
        return ident, msgspec.convert(obj, WsCommand)
    except msgspec.ValidationError as exc:
        raise ParseError(ident, WsError.BAD_ARGS, f"{kind}: {str(exc)[:200]}") from None


class ParseError(Exception):
    """A message that is not a command: the id it carried (None: unreadable), the code and the message."""

    def __init__(self, ident: CommandId | None, code: WsError, message: str) -> None:
        super().__init__(message)
        self.ident = ident
        self.code = code.value
        self.message = message


# -- what the server sends ---------------------------------------------------------------------------------------


class ErrorBody(msgspec.Struct, frozen=True):
    code: str
    message: str


class CommandResult(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=False):
    """The answer to one command: ``status`` ``done`` (with ``result`` or ``error``) or ``accepted`` (the outcome
    follows as another COMMAND_RESULT with the same id)."""

    type: str = "COMMAND_RESULT"
    id: CommandId | None
    ok: bool
    status: str  # "done" | "accepted"
    result: Any = None
    error: ErrorBody | None = None


class Broadcast(msgspec.Struct, frozen=True):
    type: str  # ENGINE_STATUS | FUNDING_UPDATE | BOT_EVENT | SNAPSHOT
    data: Any


_ENCODER: Final = msgspec.json.Encoder()


def encode(message: CommandResult | Broadcast) -> str:
    return _ENCODER.encode(message).decode()


def failure(ident: CommandId | None, code: str, message: str) -> CommandResult:
    return CommandResult(id=ident, ok=False, status="done", error=ErrorBody(code=code, message=message[:300]))
