"""Bot and fleet configuration: ``config/bots/*.yaml`` -> validated, frozen ``BotConfig``.

One file per bot. Validation happens once, at load: unknown keys, wrong types, impossible numbers, sizes off the
market's step, a leverage cap beyond what the market allows, two bots on one subaccount. Every error is one line
``file:line: field: what is wrong``.

Most fields are the core's own integers in the units their names say (``_bps``, ``_s``, ``_x10000``). A few are
written in human units because nobody should type 1e9-scaled numbers by hand; they are converted exactly (an amount
finer than Drift's precision is an error, never rounded):

==========================================  ==================================  =======================
YAML                                        becomes                             unit in YAML
==========================================  ==================================  =======================
``capital_usdc``                            ``BotConfig.capital_quote``          USDC, e.g. ``"10000"``
``execution.base_size_per_level``           ``ExecutionPolicy.base_size_per_level``  base units, e.g. ``0.1``
``risk.max_leverage``                       ``RiskLimits.max_leverage_x10000``   x, e.g. ``3``
``risk.max_daily_loss_usd``                 ``RiskLimits.max_daily_loss_quote``  USD
``risk.max_notional_usd``                   ``RiskLimits.max_notional_quote``    USD
``strategy.band.min_base`` / ``max_base``   ``BandConfig.min_base`` / ``max_base``  base units, e.g. ``-5``
``live.confirm_above_usd``                  ``LiveSettings.confirm_above_quote``  USD
``live.max_order_notional_usd``             ``LiveSettings.max_order_notional_quote``  USD
``live.gas_reserve_sol``                    ``LiveSettings.gas_reserve_lamports``  SOL, e.g. ``0.017``
``live.settle_threshold_usd``               ``LiveSettings.settle_threshold_quote``  USD
==========================================  ==================================  =======================
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any, assert_never

import msgspec

from botrunner.config.live import LiveSettings
from botrunner.core.catalogue import UnknownMarketError, load_catalogue
from botrunner.core.markets import PerpMarketSpec
from botrunner.core.policy import ExecutionPolicy
from botrunner.core.precision import (
    BASE_PRECISION,
    LAMPORTS_PER_SOL,
    LEVERAGE_PRECISION,
    MARGIN_PRECISION,
    QUOTE_PRECISION,
    to_fixed,
)
from botrunner.yamlconf import ConfigError, decode, field_line, parse_yaml
from governors.risk_limits import RiskLimits
from strategies.band import BandConfig, FixedBandStrategy
from strategies.base import Strategy
from strategies.config import GridConfig
from strategies.grid import GridStrategy


class BotMode(enum.Enum):
    PAPER = "paper"  # simulated venue, real prices
    LIVE = "live"  # Drift through driftpy; signing key from the environment only
    MONITOR = "monitor"  # read-only: watch a Drift subaccount, never trade, no key


class StrategyKind(enum.Enum):
    GRID = "grid"  # strategies.grid: Pionex-style grid/curve
    BAND = "band"  # strategies.band: hold anywhere in a fixed band, the connector's ladder works it


class ShutdownPolicy(enum.Enum):
    """What a bot does with its resting orders when the runner stops it (Ctrl-C, SIGTERM, ``ctl stop``)."""

    CANCEL_ALL = "cancel_all"  # nothing rests unattended
    LEAVE_RESTING = "leave_resting"  # the ladder keeps working; the next start adopts it


class AccountRef(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Which Drift subaccount the bot owns. In paper mode ``authority`` is any label."""

    authority: str
    subaccount_id: int


class StrategyConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    kind: StrategyKind
    grid: GridConfig = GridConfig()
    band: BandConfig | None = None  # required for kind: band

    def build(self) -> Strategy[Any]:
        """The configured strategy."""
        match self.kind:
            case StrategyKind.GRID:
                return GridStrategy(self.grid)
            case StrategyKind.BAND:
                if self.band is None:
                    raise ValueError("strategy.band is required for kind: band")
                return FixedBandStrategy(self.band)
            case _ as unreachable:
                assert_never(unreachable)

    @property
    def warmup_s(self) -> int:
        """History the strategy needs before it can decide well (its longest lookback)."""
        return max(self.grid.lookbacks_s) if self.kind is StrategyKind.GRID else 0


class BotConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One bot = one Drift subaccount = one perp market. Frozen once loaded."""

    name: str
    mode: BotMode
    account: AccountRef
    market: str  # perp symbol in the bundled catalogue, e.g. "SOL-PERP"
    capital_quote: int  # USDC (1e6) the bot's subaccount is funded with
    strategy: StrategyConfig
    execution: ExecutionPolicy = ExecutionPolicy()
    risk: RiskLimits = RiskLimits()
    on_shutdown: ShutdownPolicy = ShutdownPolicy.CANCEL_ALL
    live: LiveSettings = LiveSettings()  # connection and safety limits (live and monitor modes)
    source: str = ""  # the file it came from, for messages

    @property
    def market_spec(self) -> PerpMarketSpec:
        return load_catalogue().perp(self.market)

    def without_source(self) -> BotConfig:
        """The configuration without the path it was read from: moving a file is not a change of the bot."""
        return msgspec.structs.replace(self, source="")


# (section path, YAML key, struct field, precision): human-unit keys converted exactly before typing
_HUMAN_UNITS: tuple[tuple[tuple[str, ...], str, str, int], ...] = (
    ((), "capital_usdc", "capital_quote", QUOTE_PRECISION),
    (("execution",), "base_size_per_level", "base_size_per_level", BASE_PRECISION),
    (("risk",), "max_leverage", "max_leverage_x10000", LEVERAGE_PRECISION),
    (("risk",), "max_daily_loss_usd", "max_daily_loss_quote", QUOTE_PRECISION),
    (("risk",), "max_notional_usd", "max_notional_quote", QUOTE_PRECISION),
    (("strategy", "band"), "min_base", "min_base", BASE_PRECISION),
    (("strategy", "band"), "max_base", "max_base", BASE_PRECISION),
    (("live",), "confirm_above_usd", "confirm_above_quote", QUOTE_PRECISION),
    (("live",), "max_order_notional_usd", "max_order_notional_quote", QUOTE_PRECISION),
    (("live",), "gas_reserve_sol", "gas_reserve_lamports", LAMPORTS_PER_SOL),
    (("live",), "settle_threshold_usd", "settle_threshold_quote", QUOTE_PRECISION),
)
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")
RESERVED_NAME = "supervisor"  # logs/supervisor.log is the runner's own


def _convert_human_units(data: Any, lines: dict[str, int], source: str) -> None:
    if not isinstance(data, dict):
        return  # the typed decode reports "Expected `object`"
    for section, key, field, precision in _HUMAN_UNITS:
        holder: Any = data
        for part in section:
            holder = holder.get(part) if isinstance(holder, dict) else None
        if not isinstance(holder, dict) or key not in holder:
            continue
        path = (*section, key)
        line = field_line(lines, *path)
        dotted = ".".join(path)
        value = holder.pop(key)
        if field != key and field in holder:
            raise ConfigError(source, line, dotted, f"give either {key} or {field}, not both")
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ConfigError(source, line, dotted, f"expected a number, got {value!r}")
        try:
            fixed = to_fixed(str(value), precision, what=dotted)
        except ValueError as exc:
            raise ConfigError(source, line, dotted, str(exc).removeprefix(f"{dotted}: ")) from exc
        holder[field] = fixed


def parse_bot(text: str, source: str) -> BotConfig:
    """Parse and fully validate one bot's YAML text."""
    data, lines = parse_yaml(text, source)
    _convert_human_units(data, lines, source)
    bot = decode(data, lines, source, BotConfig)
    bot = msgspec.structs.replace(bot, source=source)
    _validate_semantics(bot, lines, source)
    return bot


def _validate_semantics(bot: BotConfig, lines: dict[str, int], source: str) -> None:
    def fail(message: str, *path: str) -> ConfigError:
        return ConfigError(source, field_line(lines, *path), ".".join(path), message)

    if not bot.name or not set(bot.name) <= _NAME_CHARS:
        raise fail(f"{bot.name!r} must be non-empty lowercase letters, digits, '-' or '_'", "name")
    if bot.name == RESERVED_NAME:
        raise fail(f"{RESERVED_NAME!r} is reserved for the runner's own log", "name")
    if not 0 <= bot.account.subaccount_id <= 65_535:  # Drift sub_account_id is a u16
        raise fail(f"{bot.account.subaccount_id} is not a Drift subaccount id (0..65535)", "account", "subaccount_id")
    if not bot.account.authority:
        raise fail("must not be empty", "account", "authority")
    try:
        market = load_catalogue().perp(bot.market)
    except UnknownMarketError as exc:
        raise fail(str(exc).strip("'\""), "market") from exc
    if bot.capital_quote <= 0:
        raise fail(f"must be > 0, got {bot.capital_quote / QUOTE_PRECISION}", "capital_usdc")
    if bot.strategy.kind is StrategyKind.BAND and bot.strategy.band is None:
        raise fail("kind: band needs a band: {min_base, max_base} section", "strategy", "kind")
    band_check = bot.strategy.band.validate if bot.strategy.band is not None else (lambda: None)
    checks: tuple[tuple[str, Callable[[], object]], ...] = (
        ("strategy", bot.strategy.grid.validate),
        ("strategy", band_check),
        ("execution", bot.execution.validate),
        ("risk", bot.risk.validate),
        ("live", bot.live.validate),
    )
    for section, check in checks:
        try:
            check()
        except ValueError as exc:
            raise _section_error(source, lines, section, str(exc)) from exc
    if bot.mode is not BotMode.PAPER:
        _validate_pubkey(bot.account.authority, fail)
    size = bot.execution.base_size_per_level
    if size % market.step_size:
        raise fail(
            f"{Decimal(size) / BASE_PRECISION} is not a multiple of {market.symbol}'s order step "
            f"{Decimal(market.step_size) / BASE_PRECISION}",
            "execution",
            "base_size_per_level",
        )
    if size < market.min_order_size:
        raise fail(
            f"{Decimal(size) / BASE_PRECISION} is below {market.symbol}'s minimum order size "
            f"{Decimal(market.min_order_size) / BASE_PRECISION}",
            "execution",
            "base_size_per_level",
        )
    # Drift's own cap: initial margin ratio 5 % means at most 20x (high-leverage mode is not used by bots)
    market_max = MARGIN_PRECISION * LEVERAGE_PRECISION // market.margin_ratio_initial
    if bot.risk.max_leverage_x10000 > market_max:
        raise fail(
            f"{Decimal(bot.risk.max_leverage_x10000) / LEVERAGE_PRECISION}x exceeds {market.symbol}'s maximum "
            f"{Decimal(market_max) / LEVERAGE_PRECISION}x (initial margin ratio "
            f"{Decimal(market.margin_ratio_initial) / 100}%)",
            "risk",
            "max_leverage",
        )


def _validate_pubkey(authority: str, fail: Any) -> None:
    """Live and monitor bots name a real Solana wallet: a base58 32-byte public key."""
    from solders.pubkey import Pubkey

    try:
        Pubkey.from_string(authority)
    except ValueError as exc:
        raise fail(
            f"{authority!r} is not a base58 Solana public key (live and monitor bots)", "account", "authority"
        ) from exc


def _section_error(source: str, lines: dict[str, int], section: str, message: str) -> ConfigError:
    """Map a struct's own ``validate()`` message (``"RiskLimits.cool_down_s must ..."``) to the field's line."""
    head = message.split(" ", 1)[0]
    field = head.split(".", 1)[1] if "." in head else ""
    path: tuple[str, ...] = (section, "grid", field) if section == "strategy" else (section, field)
    path = tuple(p for p in path if p)
    return ConfigError(source, field_line(lines, *path), ".".join(path), message)


def load_bot(path: Path) -> BotConfig:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(str(path), None, "", f"cannot read: {exc.strerror}") from exc
    return parse_bot(text, str(path))


def fleet_files(path: Path) -> list[Path]:
    """The YAML files of a fleet: a directory's ``*.yaml``/``*.yml`` (sorted), or one file."""
    if path.is_dir():
        files = sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
        if not files:
            raise ConfigError(str(path), None, "", "no *.yaml bot files in this directory")
        return files
    if not path.exists():
        raise ConfigError(str(path), None, "", "no such file or directory")
    return [path]


def load_fleet(path: Path) -> tuple[BotConfig, ...]:
    """Load every bot; reject duplicate names and two bots on one (authority, subaccount)."""
    return check_fleet(load_bot(p) for p in fleet_files(path))


def check_fleet(bots: Iterable[BotConfig]) -> tuple[BotConfig, ...]:
    by_name: dict[str, BotConfig] = {}
    by_account: dict[tuple[str, int], BotConfig] = {}
    out: list[BotConfig] = []
    for bot in bots:
        if bot.name in by_name:
            raise ConfigError(bot.source, None, "name", f"{bot.name!r} is already used by {by_name[bot.name].source}")
        key = (bot.account.authority, bot.account.subaccount_id)
        if key in by_account:
            other = by_account[key]
            raise ConfigError(
                bot.source,
                None,
                "account",
                f"subaccount {key[1]} of {key[0]} is already bot {other.name!r} ({other.source}); 1 bot = 1 subaccount",
            )
        by_name[bot.name] = bot
        by_account[key] = bot
        out.append(bot)
    return tuple(out)
