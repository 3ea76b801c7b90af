"""The exit pipeline of a funding-arbitrage position, by priority (the funding-bot seed's "Exit Evaluation Pipeline",
``../shared/seeds/funding-bot-technical-documentation.md``). Pure: no I/O, no clock (``now_s`` comes in).

Layers, highest priority first; the first rule that applies decides and nothing below it is looked at:

1. **Emergency** (overrides every gate): liquidation distance under ``min_liq_distance_bps`` (15 %) on either leg;
   delta breach (the legs' notionals differ by more than ``max_delta_bps``, 3 %, of the larger); funding flip (the
   position's net funding has been against it for ``flip_debounce_s`` without a break: one bad hour is noise, not
   a flip).
2. **Early** (bypass the minimum hold): take-profit (net PnL if closed now >= ``take_profit_quote``); edge collapse
   (after ``edge_collapse_after_s``, 2 h, the net funding edge has fallen below ``edge_collapse_share_bps`` of the
   edge at entry).
3. **Minimum-hold gate**: a position younger than ``min_hold_s`` (48 h) stops here: no standard or
   opportunity-cost exit (the entry fees need time to be earned back).
4. **Standard**: profit target (net PnL >= ``profit_target_quote``); max hold (age >= ``max_hold_s``); basis
   convergence (an entry price spread of at least ``min_entry_basis_bps`` has closed by ``basis_convergence_bps``,
   80 %: the spread gain is in hand); net expected value negative (the average net funding rate over the recent
   window, projected over ``ev_horizon_s``, would lose money).
5. **Opportunity cost**: another opportunity's APR beats this position's by ``rotation_margin_apr_bps`` and the last
   rotation is at least ``rotation_cooldown_s`` ago.

Each exit carries its ``ExitReason`` (a closed enum) and its layer. Rates are 1e12 fractions of price per hour,
positive = the position EARNS (the caller turns the venues' "positive = longs pay" rates into the position's net:
``short leg's rate - long leg's rate``). Money is quote 1e6, distances bps (1e4).

The only state is the funding-flip debounce (``ExitMemory``), passed in and returned, never mutated.
"""

from __future__ import annotations

import enum
from typing import Final, assert_never

import msgspec

from botrunner.core.invalid import InvalidField
from botrunner.core.precision import BPS_PRECISION, QUOTE_PRECISION
from botrunner.funding import ONE_HOUR_S
from botrunner.marketdata.funding import FUNDING_FRACTION_PRECISION

HOURS_PER_YEAR: Final = 24 * 365


class ExitLayer(enum.IntEnum):
    """Priority: a lower value wins."""

    EMERGENCY = 1
    EARLY = 2
    STANDARD = 3
    OPPORTUNITY = 4


class ExitReason(enum.StrEnum):
    LIQUIDATION_DISTANCE = "liquidation_distance"
    DELTA_BREACH = "delta_breach"
    FUNDING_FLIP = "funding_flip"
    TAKE_PROFIT = "take_profit"
    EDGE_COLLAPSE = "edge_collapse"
    PROFIT_TARGET = "profit_target"
    MAX_HOLD = "max_hold"
    BASIS_CONVERGENCE = "basis_convergence"
    NEGATIVE_EV = "negative_ev"
    BETTER_OPPORTUNITY = "better_opportunity"

    @property
    def layer(self) -> ExitLayer:
        match self:
            case ExitReason.LIQUIDATION_DISTANCE | ExitReason.DELTA_BREACH | ExitReason.FUNDING_FLIP:
                return ExitLayer.EMERGENCY
            case ExitReason.TAKE_PROFIT | ExitReason.EDGE_COLLAPSE:
                return ExitLayer.EARLY
            case ExitReason.PROFIT_TARGET | ExitReason.MAX_HOLD | ExitReason.BASIS_CONVERGENCE | ExitReason.NEGATIVE_EV:
                return ExitLayer.STANDARD
            case ExitReason.BETTER_OPPORTUNITY:
                return ExitLayer.OPPORTUNITY
            case _ as unreachable:
                assert_never(unreachable)


class ExitConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The pipeline's thresholds (the seeds' defaults where they give one)."""

    min_liq_distance_bps: int = 1_500  # 15 %
    max_delta_bps: int = 300  # 3 %
    flip_debounce_s: int = 3 * ONE_HOUR_S  # net funding against the position this long, unbroken
    take_profit_quote: int = 4 * QUOTE_PRECISION  # the funding-bot seed's $4.00 net
    edge_collapse_after_s: int = 2 * ONE_HOUR_S
    edge_collapse_share_bps: int = 2_000  # the edge fell below 20 % of its value at entry
    min_hold_s: int = 48 * ONE_HOUR_S
    profit_target_quote: int = 1 * QUOTE_PRECISION  # after the minimum hold, any net profit of $1 is taken
    max_hold_s: int = 14 * 24 * ONE_HOUR_S
    min_entry_basis_bps: int = 10  # a basis smaller than this at entry is noise: no convergence exit
    basis_convergence_bps: int = 8_000  # the entry basis has closed by 80 %
    ev_horizon_s: int = 24 * ONE_HOUR_S
    rotation_margin_apr_bps: int = 8_000  # the seed's "APY diff > 80 %" (absolute APR points, bps)
    rotation_cooldown_s: int = 24 * ONE_HOUR_S

    def validate(self) -> ExitConfig:
        durations = ("flip_debounce_s", "edge_collapse_after_s", "min_hold_s", "max_hold_s", "ev_horizon_s")
        for name in durations:
            if getattr(self, name) < 0:
                raise InvalidField("ExitConfig", name, "must be >= 0 seconds")
        for name in ("min_liq_distance_bps", "max_delta_bps", "edge_collapse_share_bps", "basis_convergence_bps"):
            if not 0 <= getattr(self, name) <= BPS_PRECISION:
                raise InvalidField("ExitConfig", name, "must be in [0, 10000]")
        for name in ("min_entry_basis_bps", "rotation_margin_apr_bps", "rotation_cooldown_s"):
            if getattr(self, name) < 0:
                raise InvalidField("ExitConfig", name, "must be >= 0")
        if self.max_hold_s < self.min_hold_s:
            raise InvalidField("ExitConfig", "max_hold_s", "must be >= min_hold_s", ("min_hold_s",))
        return self


class ExitInputs(msgspec.Struct, frozen=True, kw_only=True):
    """What the pipeline looks at for one open position at ``now_s``."""

    now_s: int
    opened_s: int
    drift_liq_distance_bps: int | None  # |mark - liquidation price| / mark; None: no liquidation price
    external_liq_distance_bps: int | None
    drift_notional: int  # quote 1e6, >= 0
    external_notional: int
    net_rate_now: int  # the position's net funding per hour (1e12 fraction), positive = earns
    net_rate_avg: int  # its average over the recent window (the caller's window)
    entry_net_rate: int  # at entry
    net_pnl_quote: int  # if closed now: funding + basis PnL - fees paid - the estimated close cost
    entry_basis_bps: int  # short leg's price over the long leg's at entry (signed)
    basis_bps: int  # now
    best_alternative_apr_bps: int | None  # the best other opportunity's net APR; None: none known
    last_rotation_s: int | None  # when the portfolio last rotated out for a better opportunity


class ExitMemory(msgspec.Struct, frozen=True):
    """The funding-flip debounce: since when the net rate has been against the position (None: it is not)."""

    adverse_since_s: int | None = None


class ExitDecision(msgspec.Struct, frozen=True):
    reason: ExitReason
    detail: str

    @property
    def layer(self) -> ExitLayer:
        return self.reason.layer


def apr_bps(rate_per_hour: int) -> int:
    """A 1e12 per-hour fraction as an annual rate in bps (floored)."""
    return rate_per_hour * HOURS_PER_YEAR * BPS_PRECISION // FUNDING_FRACTION_PRECISION


def remember(memory: ExitMemory, inputs: ExitInputs) -> ExitMemory:
    """The debounce after seeing ``inputs``: the adverse run starts at the first adverse observation and breaks at the
    first one that is not."""
    if inputs.net_rate_now >= 0:
        return ExitMemory(None)
    return memory if memory.adverse_since_s is not None else ExitMemory(inputs.now_s)


def _emergency(config: ExitConfig, inputs: ExitInputs, memory: ExitMemory) -> ExitDecision | None:
    for leg, distance in (("drift", inputs.drift_liq_distance_bps), ("external", inputs.external_liq_distance_bps)):
        if distance is not None and distance < config.min_liq_distance_bps:
            return ExitDecision(
                ExitReason.LIQUIDATION_DISTANCE,
                f"{leg} leg {distance} bps from liquidation < {config.min_liq_distance_bps}",
            )
    larger = max(inputs.drift_notional, inputs.external_notional)
    delta = abs(inputs.drift_notional - inputs.external_notional)
    if larger > 0 and delta * BPS_PRECISION > config.max_delta_bps * larger:
        return ExitDecision(
            ExitReason.DELTA_BREACH, f"legs differ by {delta * BPS_PRECISION // larger} bps > {config.max_delta_bps}"
        )
    since = memory.adverse_since_s
    if since is not None and inputs.now_s - since >= config.flip_debounce_s:
        return ExitDecision(ExitReason.FUNDING_FLIP, f"net funding against the position since {since}")
    return None


def _early(config: ExitConfig, inputs: ExitInputs) -> ExitDecision | None:
    if inputs.net_pnl_quote >= config.take_profit_quote:
        return ExitDecision(ExitReason.TAKE_PROFIT, f"net PnL {inputs.net_pnl_quote} >= {config.take_profit_quote}")
    age = inputs.now_s - inputs.opened_s
    if (
        age >= config.edge_collapse_after_s
        and inputs.entry_net_rate > 0
        and inputs.net_rate_avg * BPS_PRECISION < inputs.entry_net_rate * config.edge_collapse_share_bps
    ):
        return ExitDecision(
            ExitReason.EDGE_COLLAPSE,
            f"edge {inputs.net_rate_avg} < {config.edge_collapse_share_bps} bps of entry {inputs.entry_net_rate}",
        )
    return None


def _standard(config: ExitConfig, inputs: ExitInputs) -> ExitDecision | None:
    age = inputs.now_s - inputs.opened_s
    if inputs.net_pnl_quote >= config.profit_target_quote:
        return ExitDecision(ExitReason.PROFIT_TARGET, f"net PnL {inputs.net_pnl_quote} >= {config.profit_target_quote}")
    if age >= config.max_hold_s:
        return ExitDecision(ExitReason.MAX_HOLD, f"held {age} s >= {config.max_hold_s}")
    entry = abs(inputs.entry_basis_bps)
    if entry >= config.min_entry_basis_bps and abs(inputs.basis_bps) * BPS_PRECISION <= entry * (
        BPS_PRECISION - config.basis_convergence_bps
    ):
        return ExitDecision(ExitReason.BASIS_CONVERGENCE, f"basis {inputs.basis_bps} bps from {inputs.entry_basis_bps}")
    if inputs.net_rate_avg * config.ev_horizon_s < 0:
        return ExitDecision(ExitReason.NEGATIVE_EV, f"average net funding {inputs.net_rate_avg} per hour < 0")
    return None


def _opportunity(config: ExitConfig, inputs: ExitInputs) -> ExitDecision | None:
    best = inputs.best_alternative_apr_bps
    if best is None:
        return None
    cooled = inputs.last_rotation_s is None or inputs.now_s - inputs.last_rotation_s >= config.rotation_cooldown_s
    current = apr_bps(inputs.net_rate_avg)
    if cooled and best - current >= config.rotation_margin_apr_bps:
        return ExitDecision(ExitReason.BETTER_OPPORTUNITY, f"alternative APR {best} bps vs {current} bps")
    return None


def evaluate(config: ExitConfig, inputs: ExitInputs, memory: ExitMemory) -> tuple[ExitDecision | None, ExitMemory]:
    """The highest-priority exit that applies (None: hold), and the debounce memory after ``inputs``."""
    memory = remember(memory, inputs)
    decision = _emergency(config, inputs, memory) or _early(config, inputs)
    if decision is None and inputs.now_s - inputs.opened_s >= config.min_hold_s:  # the minimum-hold gate
        decision = _standard(config, inputs) or _opportunity(config, inputs)
    return decision, memory
