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
import re
from collections.abc import Callable, Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any, assert_never

import msgspec

from botrunner.config.live import LiveSettings
from botrunner.config.paper import PaperSettings
from botrunner.core.catalogue import UnknownMarketError, load_catalogue
from botrunner.core.invalid import InvalidField
from botrunner.core.markets import PerpMarketSpec
from botrunner.core.policy import ExecutionPolicy
from botrunner.core.precision import (
    BASE_PRECISION,
    LAMPORTS_PER_SOL,
    LEVERAGE_PRECISION,
    MARGIN_PRECISION,
    QUOTE_PRECISION,
    to_decimal,
    to_fixed,
)
from botrunner.marketdata.venue_data import Coin
from botrunner.yamlconf import (
    ConfigError,
    Position,
    Positions,
    decode,
    field_position,
    parse_yaml,
    position_of,
    read_text,
    where,
)
from governors.arb_breaker import BreakerConfig
from governors.leg_out import LegOutConfig
from governors.legs_gates import CostGateConfig
from governors.risk_legs import LegsLimits
from governors.risk_limits import RiskLimits
from strategies.band import BandConfig, FixedBandStrategy
from strategies.base import Strategy
from strategies.carry_settings import CarrySettings
from strategies.config import GridConfig
from strategies.delta_neutral import DeltaNeutralConfig
from strategies.funding_arb import FundingArbSettings
from strategies.grid import GridStrategy, side_levels


class BotMode(enum.Enum):
    PAPER = "paper"  # simulated venue, real prices
    LIVE = "live"  # Drift through driftpy; signing key from the environment only
    MONITOR = "monitor"  # read-only: watch a Drift subaccount, never trade, no key


class StrategyKind(enum.Enum):
    GRID = "grid"  # strategies.grid: Pionex-style grid/curve
    BAND = "band"  # strategies.band: hold anywhere in a fixed band, the connector's ladder works it
    DELTA_NEUTRAL = "delta_neutral"  # strategies.delta_neutral: spot SOL + short SOL-PERP (botrunner.bot.legs)
    FUNDING_ARB = "funding_arb"  # strategies.funding_arb: Drift perp vs another venue's perp (backtest only)


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
    delta_neutral: DeltaNeutralConfig = DeltaNeutralConfig()  # kind: delta_neutral only
    carry: CarrySettings = CarrySettings()  # kind: delta_neutral only
    legs_risk: LegsLimits = LegsLimits()  # kind: delta_neutral only: the two-leg risk check's limits
    cost_gate: CostGateConfig = CostGateConfig()  # kind: delta_neutral only
    funding_arb: FundingArbSettings = FundingArbSettings()  # kind: funding_arb only
    leg_out: LegOutConfig = LegOutConfig()  # kind: funding_arb only: the two venues' leg-out bound
    arb_breaker: BreakerConfig = BreakerConfig()  # kind: funding_arb only

    @property
    def two_legs(self) -> bool:
        """A two-leg bot (spot + perp on one subaccount): the bot layer runs it on its two-leg path."""
        return self.kind is StrategyKind.DELTA_NEUTRAL

    def build(self) -> Strategy[Any]:
        """The configured perp-band strategy (a two-leg kind is built by the bot layer, ``botrunner.bot.legs``)."""
        match self.kind:
            case StrategyKind.GRID:
                return GridStrategy(self.grid)
            case StrategyKind.BAND:
                if self.band is None:
                    raise ValueError("strategy.band is required for kind: band")
                return FixedBandStrategy(self.band)
            case StrategyKind.DELTA_NEUTRAL:
                raise ValueError("kind: delta_neutral is a two-leg bot: build it with botrunner.bot.legs")
            case StrategyKind.FUNDING_ARB:
                raise ValueError(FUNDING_ARB_BACKTEST_ONLY)
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
    paper: PaperSettings = PaperSettings()  # the paper venue's per-bot settings (paper mode and backtests)
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
    (("strategy", "delta_neutral"), "target_sol", "target_base", BASE_PRECISION),
    (("strategy", "delta_neutral"), "min_trade_sol", "min_trade_base", BASE_PRECISION),
    (("strategy", "delta_neutral"), "mismatch_usd", "mismatch_quote", QUOTE_PRECISION),
    (("strategy", "delta_neutral"), "max_leverage", "max_leverage_x10000", LEVERAGE_PRECISION),
    (("strategy", "legs_risk"), "max_leverage", "max_leverage_x10000", LEVERAGE_PRECISION),
    (("strategy", "funding_arb"), "min_position_usd", "min_position_quote", QUOTE_PRECISION),
    (("strategy", "funding_arb"), "max_position_usd", "max_position_quote", QUOTE_PRECISION),
    (("strategy", "funding_arb"), "depth_usd", "depth_quote", QUOTE_PRECISION),
    (("strategy", "funding_arb", "exits"), "take_profit_usd", "take_profit_quote", QUOTE_PRECISION),
    (("strategy", "funding_arb", "exits"), "profit_target_usd", "profit_target_quote", QUOTE_PRECISION),
    (("live",), "confirm_above_usd", "confirm_above_quote", QUOTE_PRECISION),
    (("live",), "max_order_notional_usd", "max_order_notional_quote", QUOTE_PRECISION),
    (("live",), "gas_reserve_sol", "gas_reserve_lamports", LAMPORTS_PER_SOL),
    (("live",), "settle_threshold_usd", "settle_threshold_quote", QUOTE_PRECISION),
)
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")
RESERVED_NAME = "supervisor"  # logs/supervisor.log is the runner's own


class LoadedBot(msgspec.Struct, frozen=True):
    """A validated bot and where each of its keys is in its file (for messages about it after loading)."""

    config: BotConfig
    positions: Positions


def _words(data: Any) -> dict[str, str]:
    """Struct path -> the YAML path this file writes it as (``capital_quote`` -> ``capital_usdc``): the human key,
    unless the file wrote the raw field itself."""
    words: dict[str, str] = {}
    for section, key, field, _ in _HUMAN_UNITS:
        holder: Any = data
        for part in section:
            holder = holder.get(part) if isinstance(holder, dict) else None
        raw = isinstance(holder, dict) and field in holder and key not in holder
        words[".".join((*section, field))] = ".".join((*section, field if raw else key))
    return words


def _human_precision(yaml_path: str) -> int | None:
    """The precision a human-unit YAML key is converted with, or ``None`` for a key in the struct's own units."""
    for section, key, _, precision in _HUMAN_UNITS:
        if yaml_path == ".".join((*section, key)):
            return precision
    return None


def _convert_human_units(data: Any, positions: Positions, source: str) -> None:
    if not isinstance(data, dict):
        return  # the typed decode reports "Expected `object`"
    for section, key, field, precision in _HUMAN_UNITS:
        holder: Any = data
        for part in section:
            holder = holder.get(part) if isinstance(holder, dict) else None
        if not isinstance(holder, dict) or key not in holder:
            continue
        path = (*section, key)
        at = field_position(positions, *path)
        dotted = ".".join(path)
        value = holder.pop(key)
        if field != key and field in holder:
            raise ConfigError.at(source, at, dotted, f"give either {key} or {field}, not both")
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ConfigError.at(source, at, dotted, f"expected a number, got {value!r}")
        try:
            fixed = to_fixed(str(value), precision, what=dotted)
        except ValueError as exc:
            raise ConfigError.at(source, at, dotted, str(exc).removeprefix(f"{dotted}: ")) from exc
        holder[field] = fixed


def read_bot(text: str, source: str) -> LoadedBot:
    """Parse and fully validate one bot's YAML text; keep the positions of its keys."""
    data, positions = parse_yaml(text, source)
    words = _words(data)
    _convert_human_units(data, positions, source)
    bot = decode(data, positions, source, BotConfig, words)
    bot = msgspec.structs.replace(bot, source=source)
    _validate_semantics(bot, positions, words, source)
    return LoadedBot(bot, positions)


def parse_bot(text: str, source: str) -> BotConfig:
    """Parse and fully validate one bot's YAML text."""
    return read_bot(text, source).config


def _amount(value: int, precision: int) -> str:
    """An exact human amount: ``_amount(250_000_000, BASE_PRECISION) == "0.25"``."""
    text = f"{to_decimal(value, precision):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _validate_semantics(  # noqa: PLR0912  a flat list of independent checks, each naming its own YAML field
    bot: BotConfig, positions: Positions, words: dict[str, str], source: str
) -> None:
    def fail(message: str, *path: str) -> ConfigError:
        return ConfigError.at(source, field_position(positions, *path), ".".join(path), message)

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
    capital = words["capital_quote"]
    if bot.capital_quote <= 0:
        amount = _amount(bot.capital_quote, QUOTE_PRECISION) if capital == "capital_usdc" else bot.capital_quote
        raise fail(f"must be > 0, got {amount}", capital)
    if bot.strategy.kind is StrategyKind.BAND and bot.strategy.band is None:
        raise fail("kind: band needs a band: {min_base, max_base} section", "strategy", "kind")
    _validate_two_legs(bot, fail)
    band = bot.strategy.band
    sections: tuple[tuple[tuple[str, ...], Any, Callable[[], object]], ...] = (
        (("strategy", "grid"), bot.strategy.grid, bot.strategy.grid.validate),
        (("strategy", "band"), band, band.validate if band is not None else (lambda: None)),
        (("strategy", "delta_neutral"), bot.strategy.delta_neutral, bot.strategy.delta_neutral.validate),
        (("strategy", "carry"), bot.strategy.carry, bot.strategy.carry.validate),
        (("strategy", "legs_risk"), bot.strategy.legs_risk, bot.strategy.legs_risk.validate),
        (("strategy", "cost_gate"), bot.strategy.cost_gate, bot.strategy.cost_gate.validate),
        (("strategy", "funding_arb"), bot.strategy.funding_arb, bot.strategy.funding_arb.validate),
        (("strategy", "leg_out"), bot.strategy.leg_out, bot.strategy.leg_out.validate),
        (("strategy", "arb_breaker"), bot.strategy.arb_breaker, bot.strategy.arb_breaker.validate),
        (("execution",), bot.execution, bot.execution.validate),
        (("risk",), bot.risk, bot.risk.validate),
        (("live",), bot.live, bot.live.validate),
        (("paper",), bot.paper, bot.paper.validate),
    )
    for section, struct, check in sections:
        try:
            check()
        except InvalidField as exc:
            raise _field_error(exc, struct, section, source=source, positions=positions, words=words) from exc
        except ValueError as exc:
            raise _section_error(source, positions, section, str(exc)) from exc
    if bot.mode is not BotMode.PAPER:
        _validate_pubkey(bot.account.authority, fail)
    size = bot.execution.base_size_per_level
    if size % market.step_size:
        raise fail(
            f"{_amount(size, BASE_PRECISION)} is not a multiple of {market.symbol}'s order step "
            f"{_amount(market.step_size, BASE_PRECISION)}",
            "execution",
            "base_size_per_level",
        )
    if size < market.min_order_size:
        raise fail(
            f"{_amount(size, BASE_PRECISION)} is below {market.symbol}'s minimum order size "
            f"{_amount(market.min_order_size, BASE_PRECISION)}",
            "execution",
            "base_size_per_level",
        )
    # Drift's own cap: initial margin ratio 5 % means at most 20x (high-leverage mode is not used by bots)
    market_max = MARGIN_PRECISION * LEVERAGE_PRECISION // market.margin_ratio_initial
    if bot.risk.max_leverage_x10000 > market_max:
        leverage = words["risk.max_leverage_x10000"]
        raise fail(
            f"{_amount(bot.risk.max_leverage_x10000, LEVERAGE_PRECISION)}x exceeds {market.symbol}'s maximum "
            f"{_amount(market_max, LEVERAGE_PRECISION)}x (initial margin ratio "
            f"{Decimal(market.margin_ratio_initial) / 100}%)",
            *leverage.split("."),
        )


DELTA_NEUTRAL_MARKET = "SOL-PERP"  # the hedge: SOL spot (market 1) against SOL-PERP on one subaccount
# the fleet (botrunner run / validate / demo) refuses these bots; botrunner backtest runs them (botrunner.backtest.arb)
FUNDING_ARB_BACKTEST_ONLY = "backtest only in this release"


_DEFAULT_STRATEGY = StrategyConfig(kind=StrategyKind.GRID)


def _validate_two_legs(bot: BotConfig, fail: Any) -> None:
    """A delta-neutral bot trades SOL-PERP and SOL spot; its sections belong to that kind only."""
    owned = {
        StrategyKind.DELTA_NEUTRAL: ("delta_neutral", "carry", "legs_risk", "cost_gate"),
        StrategyKind.FUNDING_ARB: ("funding_arb", "leg_out", "arb_breaker"),
    }
    if bot.strategy.kind is StrategyKind.DELTA_NEUTRAL:
        if bot.market != DELTA_NEUTRAL_MARKET:
            raise fail(f"kind: delta_neutral hedges SOL spot with {DELTA_NEUTRAL_MARKET}, not {bot.market}", "market")
        if bot.mode is BotMode.LIVE:
            fulfillment = bot.live.spot_fulfillment
            if fulfillment is None:
                # without an external venue Drift's spot taker order finds no maker and fills nothing: the perp
                # leg would trade alone (docs/delta-neutral.md, "Live")
                raise fail(
                    "a live kind: delta_neutral bot needs live.spot_fulfillment (venue and config_account): "
                    "Drift fills its spot leg on that external book",
                    "live",
                )
            _validate_pubkey(fulfillment.config_account, fail, ("live", "spot_fulfillment", "config_account"))
    if bot.strategy.kind is StrategyKind.FUNDING_ARB:
        if bot.mode is not BotMode.PAPER:
            raise fail(f"kind: funding_arb is {FUNDING_ARB_BACKTEST_ONLY}: use mode: paper", "mode")
        coin = bot.market.removesuffix("-PERP")
        if coin not in {c.value for c in Coin}:
            raise fail(f"kind: funding_arb trades SOL, BTC or ETH perps, not {bot.market}", "market")
    for kind, sections in owned.items():
        if kind is bot.strategy.kind:
            continue
        for section in sections:
            if getattr(bot.strategy, section) != getattr(_DEFAULT_STRATEGY, section):
                raise fail(f"belongs to kind: {kind.value}, not kind: {bot.strategy.kind.value}", "strategy", section)


def _field_error(
    exc: InvalidField,
    struct: Any,
    section: tuple[str, ...],
    *,
    source: str,
    positions: Positions,
    words: dict[str, str],
) -> ConfigError:
    """A struct's ``InvalidField`` in the file's words and units: ``risk.max_leverage: must be > 0, got 0``."""

    def yaml_path(field: str) -> str:
        internal = ".".join((*section, field))
        return words.get(internal, internal)

    def value(field: str) -> str:
        raw: Any = struct
        for part in field.split("."):
            raw = getattr(raw, part)
        precision = _human_precision(yaml_path(field))
        if isinstance(raw, tuple):
            text = f"[{', '.join(str(v) for v in raw)}]"
        elif precision is not None and isinstance(raw, int):
            text = _amount(raw, precision)
        else:
            text = str(raw)
        return text if "." + yaml_path(field) in positions else f"{text} (the default)"

    subject = yaml_path(exc.field)
    rule = exc.rule
    for other in exc.related:
        rule = re.sub(rf"\b{re.escape(other)}\b", yaml_path(other).rsplit(".", 1)[-1], rule)
    message = f"{rule}, got {value(exc.field)}"
    for other in exc.related:
        shown = value(other)
        if _human_precision(subject) is None and _human_precision(yaml_path(other)) is not None:
            raw: Any = struct
            for part in other.split("."):
                raw = getattr(raw, part)
            shown += f" (= {raw} in {exc.field}'s units)"
        message += f", while {yaml_path(other).rsplit('.', 1)[-1]} is {shown}"
    written = [p for p in (subject, *map(yaml_path, exc.related)) if "." + p in positions]
    at = positions["." + written[0]] if written else position_of(positions, "." + subject)
    return ConfigError.at(source, at, subject, message)


def _validate_pubkey(authority: str, fail: Any, where: tuple[str, ...] = ("account", "authority")) -> None:
    """Live and monitor bots name real Solana accounts (the wallet; a fulfilment config): base58 32-byte keys."""
    from solders.pubkey import Pubkey

    try:
        Pubkey.from_string(authority)
    except ValueError as exc:
        raise fail(f"{authority!r} is not a base58 Solana public key (live and monitor bots)", *where) from exc


def _section_error(source: str, positions: Positions, section: tuple[str, ...], message: str) -> ConfigError:
    """Map a plain ``validate()`` message that names its field in the file's words (``"LiveSettings.refresh_s
    must ..."``) to the field's position, without the struct's name."""
    head, _, rule = message.partition(" ")
    field = head.split(".", 1)[1] if "." in head else ""
    path = tuple(p for p in (*section, field) if p)
    return ConfigError.at(source, field_position(positions, *path), ".".join(path), rule if field else message)


def load_bot(path: Path) -> BotConfig:
    """Read and fully validate one bot file."""
    return read_bot(read_text(path), str(path)).config


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


class FleetError(ConfigError):
    """Every problem of a fleet at once: ``errors`` holds one ``ConfigError`` per bad file or fleet rule, and
    ``str()`` is one line per error (the first error's attributes are this one's)."""

    def __init__(self, errors: tuple[ConfigError, ...]) -> None:
        first = errors[0]
        super().__init__(first.source, first.line, first.field, first.message, first.column)
        self.errors = errors
        self.args = ("\n".join(str(e) for e in errors),)


class FleetCheck(msgspec.Struct, frozen=True):
    """The outcome of checking a fleet: the bots that passed, and an error for each file or rule that did not."""

    bots: tuple[LoadedBot, ...]
    errors: tuple[ConfigError, ...]
    files: int
    # valid bots the fleet cannot run (kind: funding_arb, backtest only): refused with the reason, the rest run
    refused: tuple[ConfigError, ...] = ()


def check_fleet_files(path: Path) -> FleetCheck:
    """Check every file of a fleet, and the fleet rules over those that load; never stop at the first error."""
    files = fleet_files(path)
    loaded: list[LoadedBot] = []
    errors: list[ConfigError] = []
    for file in files:
        try:
            loaded.append(read_bot(read_text(file), str(file)))
        except ConfigError as exc:
            errors.append(exc)
    runnable: list[LoadedBot] = []
    refused: list[ConfigError] = []
    for bot in loaded:
        if bot.config.strategy.kind is StrategyKind.FUNDING_ARB:
            refused.append(
                ConfigError.at(
                    bot.config.source,
                    field_position(bot.positions, "strategy", "kind"),
                    "strategy.kind",
                    f"kind: funding_arb is {FUNDING_ARB_BACKTEST_ONLY}: the fleet cannot run it yet; "
                    f"use botrunner backtest {bot.config.source}",
                )
            )
        else:
            runnable.append(bot)
    bots, clashes = _fleet_rules(runnable)
    if refused and not path.is_dir():  # the one file given cannot run: that is an error, not a note
        return FleetCheck(bots, (*errors, *refused, *clashes), len(files))
    return FleetCheck(bots, (*errors, *clashes), len(files), tuple(refused))


def _raise_all(errors: tuple[ConfigError, ...]) -> None:
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise FleetError(errors)


def load_fleet(path: Path) -> tuple[BotConfig, ...]:
    """Load every bot; reject duplicate names and two bots on one (authority, subaccount). Raises one
    ``ConfigError`` for a single problem, a ``FleetError`` listing all of them for several. A backtest-only bot in a
    fleet directory is left out (``check_fleet_files(path).refused`` says which and why); a fleet of nothing but
    such bots is refused with their reasons."""
    checked = check_fleet_files(path)
    _raise_all(checked.errors)
    if checked.refused and not checked.bots:
        _raise_all(checked.refused)
    return tuple(b.config for b in checked.bots)


def check_fleet(bots: Iterable[BotConfig]) -> tuple[BotConfig, ...]:
    """The fleet rules over already loaded bots (see ``load_fleet``)."""
    ok, errors = _fleet_rules([LoadedBot(b, {}) for b in bots])
    _raise_all(errors)
    return tuple(b.config for b in ok)


def _fleet_rules(bots: Iterable[LoadedBot]) -> tuple[tuple[LoadedBot, ...], tuple[ConfigError, ...]]:
    """Split ``bots`` into those that may run together and an error for each later one that clashes with an
    earlier one (same name, or same authority and subaccount)."""
    by_name: dict[str, BotConfig] = {}
    by_account: dict[tuple[str, int], BotConfig] = {}
    ok: list[LoadedBot] = []
    errors: list[ConfigError] = []
    for loaded in bots:
        bot, positions = loaded.config, loaded.positions
        if bot.name in by_name:
            errors.append(
                ConfigError.at(
                    bot.source,
                    field_position(positions, "name") if positions else None,
                    "name",
                    f"{bot.name!r} is already used by {by_name[bot.name].source}",
                )
            )
            continue
        key = (bot.account.authority, bot.account.subaccount_id)
        if key in by_account:
            other = by_account[key]
            errors.append(
                ConfigError.at(
                    bot.source,
                    field_position(positions, "account") if positions else None,
                    "account",
                    f"subaccount {key[1]} of {key[0]} is already bot {other.name!r} ({other.source}); "
                    "1 bot = 1 subaccount",
                )
            )
            continue
        by_name[bot.name] = bot
        by_account[key] = bot
        ok.append(loaded)
    return tuple(ok), tuple(errors)


class ReferencePrice(msgspec.Struct, frozen=True):
    """A price (1e6) to size a bot's ladder in dollars with, and where it came from (for the message)."""

    price: int
    origin: str  # "SOL-PERP's last close in the bundled history (2025-10-13)", "--price"


class ConfigWarning(msgspec.Struct, frozen=True):
    """A configuration that is valid but probably not what its author meant; ``str()`` like a ``ConfigError``."""

    source: str
    position: Position | None
    field: str
    message: str

    def __str__(self) -> str:
        at = self.position
        place = where(self.source, at.line if at else None, at.column if at else None)
        return f"{place}: {self.field}: {self.message}" if self.field else f"{place}: {self.message}"


def worst_position_base(bot: BotConfig) -> tuple[int, str]:
    """The largest |position| (base 1e9) the strategy itself can ask for, and how: a grid with every rung of its
    larger side filled (bias moves rungs to the favoured side), or a band's farther edge."""
    market = bot.market_spec
    asset = bot.market.removesuffix("-PERP")
    if bot.strategy.kind is StrategyKind.BAND and bot.strategy.band is not None:
        band = bot.strategy.band
        worst = max(-band.min_base, band.max_base)
        return worst, f"the band's edge is {_amount(worst, BASE_PRECISION)} {asset}"
    grid, policy = bot.strategy.grid, bot.execution
    n_bid, n_ask = side_levels(policy.grid_levels, grid.bias, grid.bias_skew_bps)
    rungs = max(n_bid, n_ask)
    side = "bids" if n_bid >= n_ask else "asks"
    level = market.round_base_down(policy.base_size_per_level)
    worst = rungs * level
    return worst, (
        f"the full ladder is {rungs} {side} x {_amount(level, BASE_PRECISION)} {asset} = "
        f"{_amount(worst, BASE_PRECISION)} {asset}"
    )


def exposure_warnings(loaded: LoadedBot, reference: ReferencePrice) -> list[ConfigWarning]:
    """Warn when the position a bot's own strategy can build is larger than its risk limits allow at
    ``reference``: the Risk Governor would clamp it, so rungs the author sized will never work (a $100 bot with
    5 x 5 SOL rungs asks for ~37x). Monitor bots trade nothing and get none."""
    bot, positions = loaded.config, loaded.positions
    if bot.mode is BotMode.MONITOR:
        return []
    worst, how = worst_position_base(bot)
    notional = worst * reference.price // BASE_PRECISION  # base 1e9 x price 1e6 -> quote 1e6
    if bot.strategy.kind is StrategyKind.BAND:
        field: tuple[str, ...] = ("strategy", "band")
        advice = "narrow the band or raise capital_usdc"
    else:
        field = ("execution", "base_size_per_level")
        advice = "lower grid_levels or base_size_per_level, or raise capital_usdc"
    at = field_position(positions, *field)
    priced = f"{how} ~ ${_dollars(notional)} at ${_dollars(reference.price)} ({reference.origin})"
    out: list[ConfigWarning] = []
    allowed = bot.capital_quote * bot.risk.max_leverage_x10000 // LEVERAGE_PRECISION
    if notional > allowed:
        leverage = Decimal(notional) / Decimal(bot.capital_quote)
        out.append(
            ConfigWarning(
                bot.source,
                at,
                ".".join(field),
                f"{priced}: {leverage:.1f}x the ${_dollars(bot.capital_quote)} capital, above max_leverage "
                f"{_amount(bot.risk.max_leverage_x10000, LEVERAGE_PRECISION)}x (${_dollars(allowed)}); the risk "
                f"governor will clamp it, so part of it never works: {advice}",
            )
        )
    cap = bot.risk.max_notional_quote
    if cap is not None and notional > cap:
        out.append(
            ConfigWarning(
                bot.source,
                at,
                ".".join(field),
                f"{priced}: above max_notional_usd ${_dollars(cap)}; the risk governor will clamp it: {advice}",
            )
        )
    return out


def _dollars(quote: int) -> str:
    """``12_345_670_000`` -> ``"12,345.67"``: a quote amount rounded down to the cent, for messages."""
    cents = quote // (QUOTE_PRECISION // 100)
    return f"{cents // 100:,}.{cents % 100:02d}"
