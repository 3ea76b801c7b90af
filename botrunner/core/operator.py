"""The operator's vocabulary: every command a human (``botrunner ctl``) or a dashboard can give the runner, as one
closed union of frozen structs, decoded once at the edge and matched exhaustively inside.

Each command is tagged by its ``cmd`` field, so the same values decode from any framing: the control socket wraps
them as ``{"id", "cmd", "args"}`` (``botrunner.control.protocol``); a dashboard's WebSocket can send the flat form
``{"cmd": "pause", "name": "sol-grid"}`` and call :func:`decode_command`. msgspec checks every field while decoding
and says where a value is wrong (``- at `$.name```), so no command re-checks its arguments by hand.

Amounts stay exact decimal strings here (``"12.5"``): what they are in integers depends on the asset's decimals,
which the runner resolves before any bot sees them. Pure: no I/O.
"""

from __future__ import annotations

import enum
from decimal import Decimal, InvalidOperation
from typing import Annotated, ClassVar, Final

import msgspec

# Quoted back in replies ("no bot named ..."): bounded so that a request cannot make a reply as long as itself.
BotName = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
Token = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
AmountText = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
SubaccountId = Annotated[int, msgspec.Meta(ge=0, le=65_535)]  # Drift's sub_account_id is a u16


class Asset(enum.StrEnum):
    """What capital commands move (the catalogue's spot markets a bot's subaccount holds)."""

    USDC = "usdc"
    SOL = "sol"


class Command(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True, tag_field="cmd"):
    """One operator command; a subclass per command, tagged with its wire name."""

    help: ClassVar[str] = ""

    @property
    def cmd(self) -> str:
        """The command's wire name (its tag)."""
        return command_name(type(self))


class Status(Command, frozen=True, tag="status"):
    help: ClassVar[str] = "fleet summary: one row per bot"


class ShowBot(Command, frozen=True, tag="bot"):
    help: ClassVar[str] = "one bot in detail: position, margin, PnL, risk, band, grid, orders"
    name: BotName


class Pause(Command, frozen=True, tag="pause"):
    help: ClassVar[str] = "pause the bot: cancel its orders, leave its position"
    name: BotName


class Resume(Command, frozen=True, tag="resume"):
    help: ClassVar[str] = "resume a paused, reduce-only or flattened bot"
    name: BotName


class ReduceOnly(Command, frozen=True, tag="reduce-only"):
    help: ClassVar[str] = "let the bot only reduce its position"
    name: BotName


class Flatten(Command, frozen=True, tag="flatten"):
    help: ClassVar[str] = "close the position reduce-only, then pause"
    name: BotName


class Stop(Command, frozen=True, tag="stop"):
    help: ClassVar[str] = "stop the bot (its shutdown policy applies to its orders)"
    name: BotName


class EngineMode(enum.StrEnum):
    """The mode a dashboard's ``START_ENGINE`` names: it must be the bot's configured mode (a bot never changes mode
    at start; a mismatch is refused, so a click meant for a paper bot can never start a live one unawares)."""

    PAPER = "paper"
    LIVE = "live"


class Start(Command, frozen=True, tag="start"):
    help: ClassVar[str] = "start a stopped or failed bot ([MODE]: paper|live, refused unless it is the bot's)"
    name: BotName
    mode: EngineMode | None = None


class Reload(Command, frozen=True, tag="reload"):
    help: ClassVar[str] = "re-read the fleet YAML and apply it to the bots that changed"


class Shutdown(Command, frozen=True, tag="shutdown"):
    help: ClassVar[str] = "shut the runner down gracefully"


class Subscribe(Command, frozen=True, tag="subscribe"):
    """Stream the bots' events; ``bots`` empty or absent: every bot."""

    help: ClassVar[str] = "stream events until Ctrl-C (no NAME: all bots)"
    bots: tuple[BotName, ...] | None = None


def _positive_amount(text: str, field: str = "amount") -> None:
    """Raise ``ValueError`` naming ``field`` unless ``text`` is a positive decimal number (never a float)."""
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(f'{field} must be a decimal number like "12.5", got {text[:24]!r}') from None
    if not number.is_finite() or number <= 0:
        raise ValueError(f"{field} must be a positive number, got {text[:24]!r}")


class DepositFunds(Command, frozen=True, tag="deposit"):
    help: ClassVar[str] = "live: deposit AMOUNT of ASSET (usdc|sol) from the wallet"
    name: BotName
    amount: AmountText  # exact: a decimal string, e.g. "12.5"
    asset: Asset

    def __post_init__(self) -> None:
        _positive_amount(self.amount)


class WithdrawFunds(Command, frozen=True, tag="withdraw"):
    help: ClassVar[str] = "live: withdraw AMOUNT of ASSET to the wallet (never a borrow)"
    name: BotName
    amount: AmountText
    asset: Asset

    def __post_init__(self) -> None:
        _positive_amount(self.amount)


class TransferFunds(Command, frozen=True, tag="transfer"):
    help: ClassVar[str] = "live: move AMOUNT of ASSET to subaccount TO_SUBACCOUNT of the same wallet"
    name: BotName
    amount: AmountText
    asset: Asset
    to_subaccount: SubaccountId

    def __post_init__(self) -> None:
        _positive_amount(self.amount)


class PositionSide(enum.StrEnum):
    LONG = "long"
    SHORT = "short"


class OpenPosition(Command, frozen=True, tag="open"):
    """Open (or resize) the bot's position to SIZE through its own step and governors (``botrunner.bot.
    operator_position``): a target the Risk Governor sees like any band, never an order sent around it.

    A delta-neutral bot holds SIZE SOL hedged (spot +SIZE, SOL-PERP -SIZE, one two-leg decision) and takes no
    side; a perp bot works its position to SIDE x SIZE and needs the side. The size is checked against the bot's
    market (step, minimum order) by the bot, which knows it."""

    help: ClassVar[str] = "open/resize to SIZE (base) through the governors; perp bots: SIDE long|short"
    name: BotName
    size: AmountText  # exact: a decimal string of base units, e.g. "1.5"
    side: PositionSide | None = None

    def __post_init__(self) -> None:
        _positive_amount(self.size, "size")


class ClosePosition(Command, frozen=True, tag="close"):
    help: ClassVar[str] = "close the position exactly (both legs of a two-leg bot), settle PnL, then pause"
    name: BotName


class Confirm(Command, frozen=True, tag="confirm"):
    help: ClassVar[str] = "live: approve orders whose terms hash to TOKEN (5 min)"
    name: BotName
    token: Token


ModeCommand = Pause | Resume | ReduceOnly | Flatten
"""What sets a bot's operator mode (the flags its Risk Governor reads); the bot's own actor applies it."""

PositionCommand = OpenPosition | ClosePosition
"""What opens or closes a bot's position: the bot's own step applies it, through its governors."""

CapitalCommand = DepositFunds | WithdrawFunds | TransferFunds
"""What moves a live bot's funds."""

ControlCommand = (
    Status
    | ShowBot
    | Pause
    | Resume
    | ReduceOnly
    | Flatten
    | Stop
    | Start
    | Reload
    | Shutdown
    | Subscribe
    | DepositFunds
    | WithdrawFunds
    | TransferFunds
    | OpenPosition
    | ClosePosition
    | Confirm
)
"""Every operator command: the closed union the runner dispatches with ``match`` and ``assert_never``."""

COMMAND_TYPES: Final[tuple[type[ControlCommand], ...]] = (
    Status,
    ShowBot,
    Pause,
    Resume,
    ReduceOnly,
    Flatten,
    Stop,
    Start,
    Reload,
    Shutdown,
    Subscribe,
    DepositFunds,
    WithdrawFunds,
    TransferFunds,
    OpenPosition,
    ClosePosition,
    Confirm,
)
"""The union's members in the order ``ctl --help`` lists them."""

READ_ONLY: Final[tuple[type[ControlCommand], ...]] = (Status, ShowBot, Subscribe)
"""Commands that change nothing (not audited)."""


def command_name(kind: type[Command]) -> str:
    """The wire name (tag) of a command type, e.g. ``"reduce-only"``."""
    tag = kind.__struct_config__.tag
    assert isinstance(tag, str), kind  # every command sets its tag
    return tag


def command_type(name: str) -> type[ControlCommand] | None:
    """The command type with wire name ``name``, or None."""
    return _BY_NAME.get(name)


_BY_NAME: Final[dict[str, type[ControlCommand]]] = {command_name(kind): kind for kind in COMMAND_TYPES}

_DECODER: Final = msgspec.json.Decoder(ControlCommand)


def decode_command(data: bytes | str) -> ControlCommand:
    """The command in a flat JSON object ``{"cmd": ..., <fields>}`` (a dashboard's form). Raises
    ``msgspec.ValidationError`` naming the field (``- at `$.amount```) or ``msgspec.DecodeError`` for bad JSON."""
    return _DECODER.decode(data)


def convert_command(fields: dict[str, object]) -> ControlCommand:
    """The command in ``fields`` (``{"cmd": ..., ...}``) already parsed from JSON or gathered from a command line;
    strings are converted where a field wants a number (``strict=False``). Raises ``msgspec.ValidationError``."""
    command: ControlCommand = msgspec.convert(fields, ControlCommand, strict=False)
    return command
