"""The delta-neutral strategy: spot SOL held as a deposit, SOL-PERP shorted against it, one subaccount.

Pure: no I/O, no clock (``LegsView.now`` is the injected time), integers in Drift precisions (token/base 1e9,
price 1e6, quote 1e6, bps 1e4, leverage 1e4 = 1x).

Entry point (what the bot step calls once per step)::

    state = initial_state()
    state, decision, numbers = decide_legs(config, state, view)
    state = clear_halt(state)              # the operator's explicit clear (ctl), nothing else clears a halt

``decision`` is a ``TwoLegDecision``: ``band`` is the perp target and ``spot_band`` the spot SOL target, each an
exact band (min = max = preferred). ``decision.note`` is one ``LegsNote`` value; ``numbers`` (``LegsNumbers``) are
the figures the step records and shows.

Definitions (the source spec's rules, made exact):

* ``net_delta = spot_base + perp_base`` (signed; a short perp is negative).
* ``hedgeable_spot = max(spot_base, 0)``: the SOL deposit the short hedges (a SOL borrow is not spot to hedge).
* ``drift_bps = net_delta * 1e4 / hedgeable_spot`` truncated toward zero (100 bps = 1 %). With no hedgeable spot
  the ratio is undefined: ``drift_bps`` is None, which counts as beyond any tolerance when ``net_delta != 0`` and
  as 0 when ``net_delta == 0``. Never a division by zero. The tolerance test itself is exact
  (``|net_delta| * 1e4 > tolerance_bps * hedgeable_spot``), so truncation never decides a trade.

Decision order (first that applies wins):

1. ``halted_leg_mismatch``: the state is halted, or ``|net_delta|`` exceeds the leg-mismatch bound
   (``mismatch_bound_base``): hold both legs as they are; the state stays halted until ``clear_halt``.
2. Carry stance out of the market: ``exit`` (both legs to exactly 0) when either leg is at least its market's
   minimum order, else ``out_of_market`` (hold; dust below a minimum order cannot be traded).
3. In the market with both legs below their minimum orders: ``enter`` (spot bought with USDC, perp shorted by the
   same base), sized by ``entry_base``; ``below_min_size`` when that size is under the minimum.
4. Over the leverage cap by more than ``delever_margin_bps`` (the market moved, equity fell; leverage estimated by
   ``leverage_liabilities``): ``delever``, both legs cut by the same base (at least the minimum orders, on both
   steps) back within the cap. Not held by the cooldown: it removes risk. A hedged size below the target is never
   topped up (an entry happens only from flat).
5. Rebalance: ``within_tolerance`` when ``|drift| <= tolerance``; ``cooldown`` while ``view.last_rebalance_ts +
   cooldown_s > now`` (the bot step sets that time only when a rebalance's fills arrive, so a failed rebalance never
   starts it); ``below_min_size`` when the correction rounded to the perp step is under ``min_trade_base``, the
   perp's minimum order or one step; ``leverage_cap`` when the cap leaves nothing of an expansion; else
   ``rebalance_expand_short`` (net long) or ``rebalance_reduce_short`` (net short), perp target = ``-spot_base``
   rounded to the step, correction = ``|net_delta|``. The spot leg is not traded by a rebalance.

The cooldown gates rebalances only: an entry, an exit or a delever is never delayed by it.

Targets are absolute: a spot balance off the spot step (interest accrues in any amount) makes the spot trade off
the step by the same amount; the execution layer rounds the order, not this module.

The operator's ``ctl close`` can use ``exit_decision()``; the two-leg risk check (``governors.risk_legs``) and the
cost gate (``governors.legs_gates``) still judge every trade this module asks for.
"""

from __future__ import annotations

import enum
import math

import msgspec

from botrunner.core.intents import ExposureBand, TwoLegDecision
from botrunner.core.invalid import InvalidField
from botrunner.core.markets import PerpMarketSpec, SpotMarketSpec
from botrunner.core.precision import (
    BASE_PRICE_TO_QUOTE,
    BPS_PRECISION,
    LEVERAGE_PRECISION,
    MARGIN_PRECISION,
    QUOTE_PRECISION,
)


class DeltaNeutralConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The delta-neutral strategy's knobs; defaults are the source spec's. All integers.

    Entry size: ``target_base`` (SOL, 1e9) when set, else ``target_capital_bps`` of the equity, valued at the
    oracle; both capped by the leverage cap. The leg-mismatch bound is
    ``max(mismatch_min_orders * perp min order, mismatch_quote at the oracle)`` (see ``mismatch_bound_base``).
    """

    drift_tolerance_bps: int = 100  # 1.0 %
    cooldown_s: int = 1_800  # 30 min since the last SUCCESSFUL rebalance
    min_trade_base: int = 5_000_000  # 0.005 SOL; the market's minimum order and step apply on top
    max_leverage_x10000: int = 50_000  # 5x; never above the market's own maximum
    mismatch_min_orders: int = 5
    mismatch_quote: int = 500 * QUOTE_PRECISION  # $500 of unhedged delta at the oracle
    target_base: int | None = None  # entry size in SOL (1e9); None = use target_capital_bps
    target_capital_bps: int = 9_000  # entry spot notional as a fraction of equity (leaves room for fees)
    # delever only once the estimated leverage exceeds the cap by this fraction (fees and slippage after an entry or
    # expansion sized at the cap must not trigger an immediate cut), then back to the cap itself
    delever_margin_bps: int = 500

    def validate(self) -> None:
        """Raise ``InvalidField`` naming the first impossible field."""
        checks: tuple[tuple[bool, str, str, tuple[str, ...]], ...] = (
            (0 < self.drift_tolerance_bps <= BPS_PRECISION, "drift_tolerance_bps", "must be in (0, 10000]", ()),
            (self.cooldown_s >= 0, "cooldown_s", "must be >= 0", ()),
            (self.min_trade_base > 0, "min_trade_base", "must be > 0", ()),
            (self.max_leverage_x10000 > 0, "max_leverage_x10000", "must be > 0", ()),
            (self.mismatch_min_orders >= 1, "mismatch_min_orders", "must be >= 1", ()),
            (self.mismatch_quote >= 0, "mismatch_quote", "must be >= 0", ()),
            (self.target_base is None or self.target_base > 0, "target_base", "must be > 0 when set", ()),
            (0 < self.target_capital_bps <= 10 * BPS_PRECISION, "target_capital_bps", "must be in (0, 100000]", ()),
            (0 <= self.delever_margin_bps <= BPS_PRECISION, "delever_margin_bps", "must be in [0, 10000]", ()),
        )
        for ok, field, rule, related in checks:
            if not ok:
                raise InvalidField("DeltaNeutralConfig", field, rule, related)


class CarryInput(msgspec.Struct, frozen=True, kw_only=True):
    """The carry engine's stance, as this strategy reads it (fed from ``strategies.carry`` by the step).

    ``in_market`` already carries the carry engine's hysteresis and minimum hold; this strategy only follows it.
    The figures are carried through to ``LegsNumbers`` for records and ctl.
    """

    in_market: bool
    reason: str = ""
    carry_apr_now_bps: int = 0  # expected carry APR now (signed, bps)
    carry_apr_smoothed_bps: int = 0  # on the smoothed funding rate (signed, bps)
    break_even_hours: int | None = None  # None: never breaks even (carry <= 0)


class LegsView(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the strategy reads for one decision.

    ``spot_base``: signed SOL token amount of the subaccount's spot position (1e9; negative = borrow).
    ``perp_base``: signed SOL-PERP base (1e9; short < 0). ``oracle``/``mark``: 1e6. ``now``: unix s (injected).
    ``last_rebalance_ts``: unix s of the last SUCCESSFUL rebalance (fills arrived), None if never.
    ``equity_quote``: the subaccount's net value (1e6), for the capital fraction and the leverage cap.
    """

    spot_base: int
    perp_base: int
    oracle: int
    mark: int
    now: int
    last_rebalance_ts: int | None
    equity_quote: int
    market: PerpMarketSpec
    spot_market: SpotMarketSpec
    carry: CarryInput

    def validate(self) -> LegsView:
        """Reject impossible inputs with a ``ValueError`` naming the field; return ``self``."""
        if self.oracle <= 0:
            raise ValueError(f"LegsView.oracle must be > 0, got {self.oracle}")
        if self.mark <= 0:
            raise ValueError(f"LegsView.mark must be > 0, got {self.mark}")
        if self.now < 0:
            raise ValueError(f"LegsView.now must be >= 0, got {self.now}")
        if self.market.step_size <= 0:
            raise ValueError(f"LegsView.market.step_size must be > 0, got {self.market.step_size}")
        return self


class DeltaNeutralState(msgspec.Struct, frozen=True, kw_only=True):
    """What the strategy remembers: only the leg-mismatch halt (the cooldown's clock is the step's)."""

    halted: bool = False
    halted_at: int = 0  # unix s when the halt began
    halted_net_delta: int = 0  # base 1e9 that tripped it
    halted_bound: int = 0  # base 1e9, the bound it exceeded


class LegsNote(enum.Enum):
    """Why a decision is what it is (``TwoLegDecision.note`` holds the value)."""

    ENTER = "enter"
    EXIT = "exit"
    OUT_OF_MARKET = "out_of_market"
    WITHIN_TOLERANCE = "within_tolerance"
    COOLDOWN = "cooldown"
    BELOW_MIN_SIZE = "below_min_size"
    LEVERAGE_CAP = "leverage_cap"
    REBALANCE_EXPAND_SHORT = "rebalance_expand_short"
    REBALANCE_REDUCE_SHORT = "rebalance_reduce_short"
    DELEVER = "delever"
    HALTED_LEG_MISMATCH = "halted_leg_mismatch"


class LegsNumbers(msgspec.Struct, frozen=True, kw_only=True):
    """The figures behind one decision (base 1e9, bps, seconds, leverage 1e4), for records and ctl."""

    note: LegsNote
    net_delta_base: int
    hedgeable_spot_base: int
    drift_bps: int | None  # None: no hedgeable spot (undefined ratio)
    correction_base: int  # |perp target - perp| actually asked for (0 when holding)
    cooldown_remaining_s: int  # 0 outside the cooldown
    mismatch_bound_base: int
    leverage_cap_x10000: int
    target_perp_base: int
    target_spot_base: int
    carry: CarryInput


# --------------------------------------------------------------------------------------------------- the maths


def net_delta(spot_base: int, perp_base: int) -> int:
    """Net SOL exposure (1e9): spot plus signed perp."""
    return spot_base + perp_base


def hedgeable_spot(spot_base: int) -> int:
    """The spot SOL the short hedges: the deposit, never a borrow (1e9, >= 0)."""
    return max(spot_base, 0)


def drift_bps(net: int, hedgeable: int) -> int | None:
    """``net / hedgeable`` in bps, truncated toward zero; None when ``hedgeable`` is 0 (undefined)."""
    if hedgeable < 0:
        raise ValueError(f"hedgeable spot must be >= 0, got {hedgeable}")
    if hedgeable == 0:
        return None
    magnitude = abs(net) * BPS_PRECISION // hedgeable
    return magnitude if net >= 0 else -magnitude


def beyond_tolerance(net: int, hedgeable: int, tolerance_bps: int) -> bool:
    """Exactly ``|net / hedgeable| > tolerance``; with no hedgeable spot, any nonzero net delta is beyond."""
    if hedgeable == 0:
        return net != 0
    return abs(net) * BPS_PRECISION > tolerance_bps * hedgeable


def leverage_cap_x10000(config: DeltaNeutralConfig, market: PerpMarketSpec) -> int:
    """The configured cap, never above the market's maximum (1 / initial margin ratio)."""
    market_max = LEVERAGE_PRECISION * MARGIN_PRECISION // market.margin_ratio_initial
    return min(config.max_leverage_x10000, market_max)


def mismatch_bound_base(config: DeltaNeutralConfig, market: PerpMarketSpec, oracle: int) -> int:
    """Largest tolerated |net delta| (1e9) before the strategy halts.

    ``max(mismatch_min_orders * min order, mismatch_quote / oracle)``: the larger, because the bound must sit above
    ordinary rebalances (the spec's 1 SOL correction) and only catch a broken hedge; the order-size floor keeps a
    low-priced market from halting on dust.
    """
    by_orders = config.mismatch_min_orders * market.min_order_size
    by_quote = config.mismatch_quote * BASE_PRICE_TO_QUOTE // oracle
    return max(by_orders, by_quote)


def round_to_step(base: int, step: int) -> int:
    """Nearest multiple of ``step``, halves away from zero, sign kept."""
    magnitude = (abs(base) + step // 2) // step * step
    return magnitude if base >= 0 else -magnitude


def leverage_liabilities(spot_base: int, perp_base: int, equity_quote: int, oracle: int) -> int:
    """Drift's leverage numerator (SDK ``getLeverage``: perp liability + spot liabilities, quote 1e6) of a
    USDC + SOL + SOL-PERP account, estimated from the legs and the equity alone: the USDC balance is taken as
    ``equity - spot value`` (a negative one is a borrow) and the perp's unrealised PnL is ignored. Rounded up.
    The two-leg risk check computes the exact figure with the margin engine; this only sizes the strategy's asks."""
    perp_notional = -(-abs(perp_base) * oracle // BASE_PRICE_TO_QUOTE)
    spot_value = spot_base * oracle // BASE_PRICE_TO_QUOTE  # floored: an asset down, a borrow up
    usdc = equity_quote - max(spot_value, 0)
    return perp_notional + max(0, -usdc) + max(0, -spot_value)


def within_leverage(spot_base: int, perp_base: int, equity_quote: int, oracle: int, cap_x10000: int) -> bool:
    """Exactly ``leverage_liabilities / equity <= cap``; never with no equity."""
    if equity_quote <= 0:
        return False
    return (
        leverage_liabilities(spot_base, perp_base, equity_quote, oracle) * LEVERAGE_PRECISION
        <= cap_x10000 * equity_quote
    )


def max_short_within_cap(spot_base: int, equity_quote: int, oracle: int, cap_x10000: int, step: int) -> int:
    """Largest short |perp| (1e9, on ``step``) that keeps ``within_leverage`` with the spot leg as it is."""
    if equity_quote <= 0:
        return 0
    other = leverage_liabilities(spot_base, 0, equity_quote, oracle)
    room = cap_x10000 * equity_quote - other * LEVERAGE_PRECISION
    if room <= 0:
        return 0
    size = room * BASE_PRICE_TO_QUOTE // (LEVERAGE_PRECISION * oracle) // step * step
    while size > 0 and not within_leverage(spot_base, -size, equity_quote, oracle, cap_x10000):
        size -= step  # the closed form above can sit one rounding unit over
    return size


def max_entry_base(cap_x10000: int, equity_quote: int, oracle: int, step: int) -> int:
    """Largest entry (spot bought with USDC, perp shorted the same; 1e9, on ``step``) within the leverage cap.

    Buying S SOL with U USDC of equity borrows ``S*p - U`` USDC when ``S*p > U``; the leverage is then
    ``(S*p + S*p - U) / U``, so ``S*p <= (cap + 1) * U / 2``. Under 1x no borrow is allowed: ``S*p <= cap * U``.
    """
    if equity_quote <= 0:
        return 0
    if cap_x10000 <= LEVERAGE_PRECISION:
        notional_x10000 = cap_x10000 * equity_quote
    else:
        notional_x10000 = (cap_x10000 + LEVERAGE_PRECISION) * equity_quote // 2
    size = notional_x10000 * BASE_PRICE_TO_QUOTE // (LEVERAGE_PRECISION * oracle) // step * step
    while size > 0 and not within_leverage(size, -size, equity_quote, oracle, cap_x10000):
        size -= step
    return size


def delever_cut(
    spot_base: int, perp_base: int, *, equity_quote: int, oracle: int, cap_x10000: int, step: int, minimum: int
) -> int:
    """The base (1e9, on ``step``) to take off both legs so the account is back within the cap: the smallest such
    cut, raised to ``minimum`` (rounded up to the step), never more than the hedged size."""
    held = min(max(spot_base, 0), max(-perp_base, 0)) // step * step
    lo, hi = 1, held // step
    while lo < hi:  # within_leverage only improves as both legs shrink together
        mid = (lo + hi) // 2
        if within_leverage(spot_base - mid * step, perp_base + mid * step, equity_quote, oracle, cap_x10000):
            hi = mid
        else:
            lo = mid + 1
    cut = max(lo * step, -(-minimum // step) * step)
    return min(cut, held)


def leg_step(market: PerpMarketSpec, spot_market: SpotMarketSpec) -> int:
    """A size both legs can trade exactly: the least common multiple of the two steps."""
    spot_step = spot_market.order_step_size or 1
    return math.lcm(market.step_size, spot_step)


def entry_base(config: DeltaNeutralConfig, view: LegsView) -> int:
    """The entry size (1e9): the configured target, capped by the leverage cap, rounded down to both steps."""
    if config.target_base is not None:
        wanted = config.target_base
    else:
        notional = view.equity_quote * config.target_capital_bps // BPS_PRECISION
        wanted = max(0, notional) * BASE_PRICE_TO_QUOTE // view.oracle
    step = leg_step(view.market, view.spot_market)
    most = max_entry_base(leverage_cap_x10000(config, view.market), view.equity_quote, view.oracle, step)
    return max(0, min(wanted, most)) // step * step


def exit_decision() -> TwoLegDecision:
    """Flatten both legs exactly (the operator's close goes through this too)."""
    return TwoLegDecision(band=_exact(0), spot_band=_exact(0), note=LegsNote.EXIT.value)


def initial_state() -> DeltaNeutralState:
    return DeltaNeutralState()


def clear_halt(state: DeltaNeutralState) -> DeltaNeutralState:
    """The operator's explicit clear. If the legs are still beyond the bound, the next decision halts again."""
    del state  # the whole state is the halt; clearing it is the initial state
    return DeltaNeutralState()


# --------------------------------------------------------------------------------------------------- the decision


def _exact(base: int) -> ExposureBand:
    return ExposureBand(base, base, base)


def decide_legs(  # noqa: PLR0911, PLR0912  <why: one early return per rule, in the documented order>
    config: DeltaNeutralConfig, state: DeltaNeutralState, view: LegsView
) -> tuple[DeltaNeutralState, TwoLegDecision, LegsNumbers]:
    """One decision: (state', the two-leg decision, its numbers). See the module docstring for the rules."""
    view.validate()
    spot, perp = view.spot_base, view.perp_base
    net = net_delta(spot, perp)
    hedgeable = hedgeable_spot(spot)
    bound = mismatch_bound_base(config, view.market, view.oracle)
    cap = leverage_cap_x10000(config, view.market)

    def out(
        note: LegsNote,
        perp_target: int = perp,
        spot_target: int = spot,
        remaining: int = 0,
        new_state: DeltaNeutralState = state,
    ) -> tuple[DeltaNeutralState, TwoLegDecision, LegsNumbers]:
        decision = TwoLegDecision(band=_exact(perp_target), spot_band=_exact(spot_target), note=note.value)
        numbers = LegsNumbers(
            note=note,
            net_delta_base=net,
            hedgeable_spot_base=hedgeable,
            drift_bps=drift_bps(net, hedgeable),
            correction_base=abs(perp_target - perp),
            cooldown_remaining_s=remaining,
            mismatch_bound_base=bound,
            leverage_cap_x10000=cap,
            target_perp_base=perp_target,
            target_spot_base=spot_target,
            carry=view.carry,
        )
        return new_state, decision, numbers

    # 1. a broken hedge: never trade into it, wait for an operator
    if state.halted:
        return out(LegsNote.HALTED_LEG_MISMATCH)
    if abs(net) > bound:
        halted = DeltaNeutralState(halted=True, halted_at=view.now, halted_net_delta=net, halted_bound=bound)
        return out(LegsNote.HALTED_LEG_MISMATCH, new_state=halted)

    perp_dust = abs(perp) < view.market.min_order_size
    spot_dust = abs(spot) < max(view.spot_market.min_order_size, 1)
    # 2. the carry engine says out
    if not view.carry.in_market:
        if perp_dust and spot_dust:
            return out(LegsNote.OUT_OF_MARKET)
        return out(LegsNote.EXIT, perp_target=0, spot_target=0)

    # 3. in the market and flat: enter
    if perp_dust and spot_dust:
        size = entry_base(config, view)
        minimum = max(config.min_trade_base, view.market.min_order_size, view.spot_market.min_order_size)
        if size < minimum:
            return out(LegsNote.BELOW_MIN_SIZE)
        return out(LegsNote.ENTER, perp_target=-size, spot_target=size)

    # 4. over the leverage cap by more than the margin: cut both legs equally, keeping the net delta
    both = leg_step(view.market, view.spot_market)
    if not within_leverage(
        spot, perp, view.equity_quote, view.oracle, cap + cap * config.delever_margin_bps // BPS_PRECISION
    ):
        minimum = max(config.min_trade_base, view.market.min_order_size, view.spot_market.min_order_size)
        cut = delever_cut(
            spot, perp, equity_quote=view.equity_quote, oracle=view.oracle, cap_x10000=cap, step=both, minimum=minimum
        )
        if cut > 0:
            return out(LegsNote.DELEVER, perp_target=perp + cut, spot_target=spot - cut)

    # 5. rebalance the perp against the spot
    if not beyond_tolerance(net, hedgeable, config.drift_tolerance_bps):
        return out(LegsNote.WITHIN_TOLERANCE)
    if view.last_rebalance_ts is not None:
        remaining = view.last_rebalance_ts + config.cooldown_s - view.now
        if remaining > 0:
            return out(LegsNote.COOLDOWN, remaining=remaining)
    step = view.market.step_size
    target = round_to_step(-hedgeable, step)
    expanding = net > 0
    if expanding:
        # an expansion never takes the short beyond the cap, and the cap never turns it into a reduction
        limit = max_short_within_cap(spot, view.equity_quote, view.oracle, cap, step)
        target = min(max(target, -limit), perp)
        if target == perp and round_to_step(-hedgeable, step) != perp:
            return out(LegsNote.LEVERAGE_CAP)
    correction = abs(target - perp)
    minimum = max(config.min_trade_base, view.market.min_order_size, step)
    if correction < minimum:
        return out(LegsNote.BELOW_MIN_SIZE)
    note = LegsNote.REBALANCE_EXPAND_SHORT if expanding else LegsNote.REBALANCE_REDUCE_SHORT
    return out(note, perp_target=target)
