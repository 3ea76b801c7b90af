"""Fast re-evaluation of an account when one oracle moves and one perp position changes.

Positions priced by other oracles contribute constants to collateral, requirement and leverage, so they are
computed once; each evaluation then touches only the positions on the moving oracle (the bot's perp position
and, for a delta-neutral bot, the spot position on the same oracle). The totals equal ``calculate_margin`` on the
modified account exactly (tests check this).

``PositionPricer`` goes one step further for one fixed position: everything about it that does not depend on the
oracle (unsettled funding, margin ratios, weights, the quote price) is computed once, so pricing it at another
oracle (a liquidation search, a stress move) costs a handful of integer operations.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from botrunner.core.fixed import tdiv
from botrunner.core.markets import ContractType
from botrunner.core.precision import (
    BASE_PRECISION,
    LEVERAGE_PRECISION,
    MARGIN_PRECISION,
    OPEN_ORDER_MARGIN_REQUIREMENT,
    PRICE_PRECISION,
    SPOT_WEIGHT_PRECISION,
)
from botrunner.margin.calculation import (
    MAX_POSITIVE_UPNL_FOR_INITIAL_MARGIN,
    MarginCalculation,
    calculate_margin,
    perp_contribution,
    quote_strict_price,
    spot_fill,
)
from botrunner.margin.model import (
    Account,
    BalanceType,
    MarginCategory,
    Markets,
    PerpMarketState,
    PerpMarketStatus,
    PerpPosition,
    SpotMarketState,
    SpotPosition,
)
from botrunner.margin.perp_position import (
    open_orders_margin_requirement,
    perp_liability_value,
    unrealized_pnl,
    unsettled_funding,
    valuation_price,
)
from botrunner.margin.spot_balance import StrictPrice
from botrunner.margin.weights import perp_margin_ratio, unrealized_pnl_asset_weight
from botrunner.margin.what_if import entry_price


class Totals(msgspec.Struct, frozen=True):
    """Collateral and requirement for one category (quote 1e6)."""

    total_collateral: int
    margin_requirement: int

    @property
    def free(self) -> int:
        """Collateral minus requirement (may be negative)."""
        return self.total_collateral - self.margin_requirement


class _Lev(msgspec.Struct, frozen=True):
    perp_liability: int = 0
    perp_pnl: int = 0
    assets: int = 0
    liabilities: int = 0
    net_quote: int = 0

    def plus(self, o: _Lev) -> _Lev:
        return _Lev(
            self.perp_liability + o.perp_liability,
            self.perp_pnl + o.perp_pnl,
            self.assets + o.assets,
            self.liabilities + o.liabilities,
            self.net_quote + o.net_quote,
        )

    def folded(self) -> tuple[int, int, int, int]:
        """(perp liability, perp pnl, assets, liabilities) with the net quote balance folded into the assets (a
        deposit) or the liabilities (a borrow), as the SDK's leverage counts it; the leverage is then
        ``(perp liability + liabilities) * LEVERAGE_PRECISION // (assets + perp pnl - liabilities)`` (0 if the
        divisor is 0)."""
        assets, liabilities = self.assets, self.liabilities
        if self.net_quote > 0:
            assets += self.net_quote
        else:
            liabilities -= self.net_quote
        return self.perp_liability, self.perp_pnl, assets, liabilities


def _weigh(total_pnl: int, weight: int, q_min: int, q_max: int) -> int:
    """A perp's pnl as collateral before the initial-margin cap (the tail of ``perp_contribution``): a gain times
    ``weight`` at the quote's min price ``q_min``, a loss in full at its max price ``q_max``. Each factor of one is
    skipped: it would not change the truncated result."""
    if total_pnl > 0:
        if weight != SPOT_WEIGHT_PRECISION:
            total_pnl = tdiv(total_pnl * weight, SPOT_WEIGHT_PRECISION)
        if q_min != PRICE_PRECISION:
            total_pnl = tdiv(total_pnl * q_min, PRICE_PRECISION)
        return total_pnl
    if total_pnl < 0:
        return total_pnl if q_max == PRICE_PRECISION else tdiv(total_pnl * q_max, PRICE_PRECISION)
    return 0


def _spot_totals(sp: SpotPosition, market: SpotMarketState, category: MarginCategory, custom: int) -> tuple[int, int]:
    sim = spot_fill(sp, market, category, custom, False)
    tc = 0
    mr = sp.open_orders * OPEN_ORDER_MARGIN_REQUIREMENT if sp.market_index != 0 else 0
    if sim.token_value > 0:
        tc += sim.weighted_token_value
    elif sim.token_value < 0:
        mr -= sim.weighted_token_value
    if sim.orders_value > 0:
        tc += sim.orders_value
    elif sim.orders_value < 0:
        mr -= sim.orders_value
    return tc, mr


def _spot_lev(sp: SpotPosition, market: SpotMarketState) -> _Lev:
    sim = spot_fill(sp, market, MarginCategory.MAINTENANCE, 0, False)
    if sp.market_index == 0:
        return _Lev(net_quote=sim.token_value)
    return _Lev(
        assets=max(sim.token_value, 0),
        liabilities=max(-sim.token_value, 0) + sp.open_orders * OPEN_ORDER_MARGIN_REQUIREMENT,
        net_quote=sim.orders_value,
    )


def _perp_lev(pp: PerpPosition, market: PerpMarketState, quote_price: int) -> _Lev:
    price = valuation_price(market)
    ct = market.spec.contract_type
    liability = max(
        perp_liability_value(pp.base_asset_amount + pp.open_bids, price, ct),
        perp_liability_value(pp.base_asset_amount + pp.open_asks, price, ct),
    )
    return _Lev(perp_liability=liability, perp_pnl=unrealized_pnl(pp, market) * quote_price // PRICE_PRECISION)


# What a scenario computes that does not depend on its oracle, memoised: a bot builds a scenario per decision and
# per account change, while this part (the figures of every position NOT on the moving oracle - its USDC balance,
# in the common case - and the settings read from the account, the market and its quote market) rarely changes.
# The key holds everything ``_compute_constants`` reads: the rest of the account (its positions and account-level
# settings), the market state of each of its positions (with each perp's quote market), this market's spec, status
# and expiry price, its quote market's state, and whether anything else moves with the oracle. All frozen values:
# equal keys, equal inputs, equal results. Bounded: cleared when full.
_CONSTANTS: dict[tuple[object, ...], _Pricing] = {}
_CONSTANTS_MAX = 1024


def _constants(rest: Account, markets: Markets, market: PerpMarketState, static: bool) -> _Pricing:
    """The oracle-free part of a scenario on ``market`` whose other positions are ``rest`` (see ``_CONSTANTS``);
    shared between scenarios: read-only. The markets are looked up in ``__init__``'s original order, so a missing
    one raises the same ``KeyError``."""
    spot_states = tuple([markets.spot_market(sp.market_index) for sp in rest.spot_positions])
    perp_states = []
    for pp in rest.perp_positions:
        pm = markets.perp_market(pp.market_index)
        perp_states.append((pm, markets.spot_market(pm.spec.quote_spot_market_index)))
    quote = markets.spot_market(market.spec.quote_spot_market_index)
    key = (rest, spot_states, tuple(perp_states), market.spec, market.status, market.expiry_price, quote, static)
    hit = _CONSTANTS.get(key)
    if hit is None:
        hit = _compute_constants(rest, markets, market, static)
        if len(_CONSTANTS) >= _CONSTANTS_MAX:
            _CONSTANTS.clear()
        _CONSTANTS[key] = hit
    return hit


def _compute_constants(rest: Account, markets: Markets, market: PerpMarketState, static: bool) -> _Pricing:
    lev = _Lev()
    for sp in rest.spot_positions:
        lev = lev.plus(_spot_lev(sp, markets.spot_market(sp.market_index)))
    for pp in rest.perp_positions:
        pm = markets.perp_market(pp.market_index)
        lev = lev.plus(_perp_lev(pp, pm, markets.spot_market(pm.spec.quote_spot_market_index).oracle_price))
    # the account-level settings are the account's own: ``rest`` only has fewer positions
    return _Pricing(
        market,
        static=static,
        q=quote_strict_price(markets, market, False),
        quote_price=markets.spot_market(market.spec.quote_spot_market_index).oracle_price,
        custom=rest.max_margin_ratio,
        hlm_initial=rest.is_high_leverage_mode(MarginCategory.INITIAL),
        hlm_maintenance=rest.is_high_leverage_mode(MarginCategory.MAINTENANCE),
        const_initial=calculate_margin(rest, markets, MarginCategory.INITIAL),
        const_maintenance=calculate_margin(rest, markets, MarginCategory.MAINTENANCE),
        lev=lev,
    )


class OracleScenario:
    """An account seen from perp market ``market_index``: evaluate it for any position in that market and any
    price of that market's oracle. Not strict (twap-free) pricing, like the governors' what-if."""

    __slots__ = (
        "_market",
        "_moving_perps",
        "_moving_spots",
        "_pricing",
        "market_index",
        "oracle_price",
    )

    def __init__(self, account: Account, markets: Markets, market_index: int) -> None:
        market = markets.perp_market(market_index)
        oracle = market.spec.oracle
        self.market_index = market_index
        self.oracle_price = market.oracle_price
        self._market = market
        moving_spots: list[tuple[SpotPosition, SpotMarketState]] = []
        moving_perps: list[tuple[PerpPosition, PerpMarketState]] = []
        const_spots: list[SpotPosition] = []
        const_perps: list[PerpPosition] = []
        for sp in account.spot_positions:
            if sp.is_available:
                continue
            sm = markets.spot_market(sp.market_index)
            if markets.moves_with_perp_oracle(market_index, sm):
                moving_spots.append((sp, sm))
            else:
                const_spots.append(sp)
        for pp in account.perp_positions:
            if pp.is_available or pp.market_index == market_index:
                continue
            pm = markets.perp_market(pp.market_index)
            if pm.spec.oracle == oracle:
                moving_perps.append((pp, pm))
            else:
                const_perps.append(pp)
        rest = msgspec.structs.replace(account, spot_positions=tuple(const_spots), perp_positions=tuple(const_perps))
        self._moving_spots = tuple(moving_spots)
        self._moving_perps = tuple(moving_perps)
        # static: no other position moves with this market's oracle (no spot SOL hedge, no sister perp), so the
        # rest of the account contributes constants only
        self._pricing = _constants(rest, markets, market, not moving_spots and not moving_perps)

    def moving_totals(self, price: int, category: MarginCategory) -> tuple[int, int]:
        """Collateral and requirement of everything but the position in this market, with the oracle at ``price``."""
        pr = self._pricing
        if category is MarginCategory.INITIAL:
            tc, mr, custom, hlm = pr.tc_i, pr.mr_i, pr.custom, pr.hlm_initial
        elif category is MarginCategory.MAINTENANCE:
            tc, mr, custom, hlm = pr.tc_m, pr.mr_m, 0, pr.hlm_maintenance
        else:
            raise ValueError("OracleScenario evaluates initial and maintenance margin only")
        for sp, sm in self._moving_spots:
            t, m = _spot_totals(sp, sm.with_oracle_price(price), category, custom)
            tc += t
            mr += m
        for pp, pm in self._moving_perps:
            c = perp_contribution(
                pp,
                pm.with_oracle_price(price),
                pr.strict_quote,
                category,
                custom_margin_ratio=max(custom, pp.max_margin_ratio) if category is MarginCategory.INITIAL else 0,
                high_leverage=hlm,
            )
            tc += c.weighted_pnl
            mr += c.margin_requirement
        return tc, mr

    def moving_leverage(self, price: int) -> _Lev:
        """The leverage inputs of everything but the position in this market, with the oracle at ``price``."""
        pr = self._pricing
        lev = pr.lev
        for sp, sm in self._moving_spots:
            lev = lev.plus(_spot_lev(sp, sm.with_oracle_price(price)))
        for pp, pm in self._moving_perps:
            lev = lev.plus(_perp_lev(pp, pm.with_oracle_price(price), pr.quote_price))
        return lev

    def pricer(self, position: PerpPosition | None) -> PositionPricer:
        """``position`` (None: none) in this market, prepared for pricing at many oracle prices."""
        return PositionPricer(self, position)

    def totals(self, position: PerpPosition | None, price: int, category: MarginCategory) -> Totals:
        """Collateral and requirement with ``position`` in this market and the oracle at ``price``."""
        tc, mr = PositionPricer(self, position).totals(price, category)
        return Totals(tc, mr)

    def market(self, price: int | None = None) -> PerpMarketState:
        """This perp market, optionally with its oracle moved."""
        return self._market if price is None else self._market.with_oracle_price(price)


# perp_margin_ratio memo: (id of the market spec, settled?, size, initial?, high leverage?) -> (spec, ratio). The
# ratio is a pure function of those (of the status, only whether the market is settled matters); the stored spec
# keeps its id from being reused while the entry lives.
_RATIOS: dict[tuple[int, bool, int, bool, bool], tuple[object, int]] = {}
_RATIOS_MAX = 4096


def market_margin_ratio(market: PerpMarketState, size: int, initial: bool, high_leverage: bool) -> int:
    """``perp_margin_ratio`` (initial or maintenance) for |worst-case base| ``size``, memoised: a governor step asks
    for the same few sizes again and again, and the size premium costs a square root."""
    spec = market.spec
    key = (id(spec), market.status is PerpMarketStatus.SETTLEMENT, size, initial, high_leverage)
    hit = _RATIOS.get(key)
    if hit is not None and hit[0] is spec:
        return hit[1]
    category = MarginCategory.INITIAL if initial else MarginCategory.MAINTENANCE
    ratio = perp_margin_ratio(market, size, category, high_leverage=high_leverage)
    if len(_RATIOS) >= _RATIOS_MAX:
        _RATIOS.clear()
    _RATIOS[key] = (spec, ratio)
    return ratio


class _Pricing:
    """The oracle-free part of a scenario (see ``_CONSTANTS``): what its ``OracleScenario`` and every
    ``PositionPricer`` of it share, computed once. Read-only."""

    __slots__ = (
        "custom",
        "expiry_price",
        "hlm_initial",
        "hlm_maintenance",
        "lev",
        "lev_assets",
        "lev_liabilities",
        "lev_perp_liability",
        "lev_perp_pnl",
        "mr_i",
        "mr_m",
        "prediction",
        "q_max",
        "q_min",
        "quote_price",
        "settled",
        "simple",
        "static",
        "strict_quote",
        "tc_i",
        "tc_m",
        "w_maint",
    )

    def __init__(
        self,
        market: PerpMarketState,
        *,
        static: bool,
        q: StrictPrice,
        quote_price: int,
        custom: int,
        hlm_initial: bool,
        hlm_maintenance: bool,
        const_initial: MarginCalculation,
        const_maintenance: MarginCalculation,
        lev: _Lev,
    ) -> None:
        # reads nothing of ``market`` that moves with its oracle: one instance serves every oracle price
        spec = market.spec
        self.settled = market.status is PerpMarketStatus.SETTLEMENT
        self.prediction = spec.contract_type is ContractType.PREDICTION
        # nothing else moves with the oracle, the market is ordinary and active: the fast paths apply
        self.static = static
        self.simple = self.static and not self.settled and not self.prediction
        self.expiry_price = market.expiry_price
        self.strict_quote = q
        self.q_max, self.q_min = q.max_price(), q.min_price()
        self.quote_price = quote_price
        self.custom = custom
        self.hlm_initial = hlm_initial
        self.hlm_maintenance = hlm_maintenance
        self.w_maint = spec.unrealized_pnl_maintenance_asset_weight
        self.tc_i, self.mr_i = const_initial.total_collateral, const_initial.margin_requirement
        self.tc_m, self.mr_m = const_maintenance.total_collateral, const_maintenance.margin_requirement
        self.lev = lev  # the rest of the account's leverage inputs; moving positions add to them before folding
        self.lev_perp_liability, self.lev_perp_pnl, self.lev_assets, self.lev_liabilities = lev.folded()


class PositionPricer:
    """One position in an ``OracleScenario``'s market, priced at any oracle price: exactly the integers that
    ``calculate_margin``, the SDK leverage and ``unrealized_pnl`` give on the account holding that position with the
    oracle moved (tests check this), with every part that does not depend on the price computed once.

    What depends on the price: the position's value and pnl, its liability, the sign-dependent pnl weight and quote
    price, and whatever else moves with the oracle (``OracleScenario.moving_totals``). What does not: funding (the
    cumulative rates do not move with the oracle), margin ratios (they depend on the size only), the quote price,
    the open-order requirement and every position on another oracle.
    """

    __slots__ = (
        "_abs_base",
        "_active",
        "_all_asks",
        "_all_bids",
        "_base",
        "_custom_i",
        "_fast",
        "_floor_solvent",
        "_free",
        "_market",
        "_oo_req",
        "_pr",
        "_quote_funding",
        "_ratio_i",
        "_ratio_m",
        "_sc",
        "_side_ratios",
        "_unordered",
        "entry_price",
    )

    def __init__(self, scenario: OracleScenario, position: PerpPosition | None) -> None:
        self._sc = scenario
        self._pr = scenario._pricing
        self._market = scenario._market
        if position is None:
            position = PerpPosition(market_index=scenario.market_index)
        # OracleScenario.totals ignores an empty slot, as calculate_margin does
        self._active = not position.is_available
        base = position.base_asset_amount
        self._base = base
        self._abs_base = abs(base)
        self._quote_funding = position.quote_asset_amount + unsettled_funding(position, self._market)
        self._all_bids = base + position.open_bids
        self._all_asks = base + position.open_asks
        self._unordered = position.open_bids == 0 and position.open_asks == 0
        # the fast paths: an ordinary active market, nothing else moving with the oracle
        self._fast = self._pr.simple
        self.entry_price = entry_price(position)
        self._oo_req = open_orders_margin_requirement(position.open_orders)
        self._custom_i = max(self._pr.custom, position.max_margin_ratio)
        self._ratio_i = -1  # ratios at |base| (the worst case without open orders), computed on first use
        self._ratio_m = -1
        self._side_ratios: tuple[int, int, int, int] | None = None  # (initial, maintenance) if all bids, all asks
        self._free: Callable[[int], int] | None = None
        self._floor_solvent: bool | None = None

    @property
    def base(self) -> int:
        """The position's signed base (1e9); 0 for none."""
        return self._base

    @property
    def has_open_orders(self) -> bool:
        """Whether open orders make the worst case differ from the position itself."""
        return not self._unordered

    def one_sided(self) -> bool:
        """Whether only a move against the position can bring it to maintenance, up to integer rounding: a live
        position without open orders on an ordinary market with nothing else on its oracle, whose maintenance
        ratio (at the quote's max price) is below its pnl's weight (at the quote's min price; a loss weighs fully).
        Then free collateral rises with every move in the position's favour: its pnl gains faster than its
        requirement grows (a long's as the price rises; a short's requirement even falls as the price falls)."""
        pr = self._pr
        if not (self._fast and self._active and self._unordered) or self._base == 0:
            return False
        # both ratio and weight are 1e4-scaled, the quote prices 1e6
        return self._base_ratios()[1] * pr.q_max < pr.w_maint * pr.q_min

    def _ratio(self, size: int, initial: bool) -> int:
        """``max(custom, perp_margin_ratio)`` for |worst-case base| ``size``: a function of the size alone."""
        pr = self._pr
        if initial:
            return max(self._custom_i, market_margin_ratio(self._market, size, True, pr.hlm_initial))
        return market_margin_ratio(self._market, size, False, pr.hlm_maintenance)

    def _base_ratios(self) -> tuple[int, int]:
        """(initial, maintenance) ratio at |base| (0 and 0 when flat: nothing to weigh)."""
        if self._ratio_m < 0:
            if self._abs_base == 0:
                self._ratio_i = self._ratio_m = 0
            else:
                self._ratio_i = self._ratio(self._abs_base, True)
                self._ratio_m = self._ratio(self._abs_base, False)
        return self._ratio_i, self._ratio_m

    def _worst_case(self, price: int) -> tuple[int, int, int]:
        """``worst_case_liability`` on an ordinary market at ``price`` > 0, with the ratios of the worst side:
        (liability, initial ratio, maintenance ratio). All bids filling or all asks, the larger liability; a tie
        goes to the asks, as in Rust."""
        if self._unordered:
            ratio_i, ratio_m = self._base_ratios()
            return self._abs_base * price // BASE_PRECISION, ratio_i, ratio_m
        ratios = self._sides()
        bids_value = abs(self._all_bids) * price // BASE_PRECISION
        asks_value = abs(self._all_asks) * price // BASE_PRECISION
        if asks_value >= bids_value:
            return asks_value, ratios[2], ratios[3]
        return bids_value, ratios[0], ratios[1]

    def _sides(self) -> tuple[int, int, int, int]:
        """(initial, maintenance) ratios if all bids filled, then if all asks filled; computed once."""
        if self._side_ratios is None:
            bids, asks = abs(self._all_bids), abs(self._all_asks)
            self._side_ratios = (
                self._ratio(bids, True),
                self._ratio(bids, False),
                self._ratio(asks, True),
                self._ratio(asks, False),
            )
        return self._side_ratios

    def _liability(self, base: int, price: int) -> int:
        """``perp_liability_value`` inlined for the ordinary contract types."""
        if self._pr.prediction:
            return perp_liability_value(base, price, ContractType.PREDICTION)
        if base == 0:
            return 0
        return abs(base) * max(price, 0) // BASE_PRECISION

    def _pnl(self, price: int) -> int:
        """Unrealized pnl at ``price`` with funding (``unrealized_pnl`` of the position on the moved market)."""
        base = self._base
        if base == 0:
            return self._quote_funding
        pr = self._pr
        vp = pr.expiry_price if pr.settled else price
        return tdiv(base * max(vp, 0), BASE_PRECISION) + self._quote_funding

    def _weighted(self, total_pnl: int, initial: bool, price: int) -> int:
        """The pnl as collateral: weight, quote price, initial cap (the tail of ``perp_contribution``). A gain's
        initial weight depends on its size (and the market at ``price``); the cap only bounds a gain."""
        pr = self._pr
        if initial and total_pnl > 0:
            market = self._market.with_oracle_price(price)
            weight = unrealized_pnl_asset_weight(market, total_pnl, MarginCategory.INITIAL)
            return min(_weigh(total_pnl, weight, pr.q_min, pr.q_max), MAX_POSITIVE_UPNL_FOR_INITIAL_MARGIN)
        return _weigh(total_pnl, pr.w_maint, pr.q_min, pr.q_max)

    def contribution(self, price: int, category: MarginCategory) -> tuple[int, int]:
        """(weighted pnl, margin requirement) of the position alone, as ``perp_contribution`` on the moved market."""
        if category is MarginCategory.FILL:
            raise ValueError("PositionPricer evaluates initial and maintenance margin only")
        initial = category is MarginCategory.INITIAL
        # worst_case_liability reads the oracle, even on a settled market
        bids_value = self._liability(self._all_bids, price)
        if self._all_asks == self._all_bids:
            worst, liability = self._all_asks, bids_value
        else:
            asks_value = self._liability(self._all_asks, price)
            if asks_value >= bids_value:
                worst, liability = self._all_asks, asks_value
            else:
                worst, liability = self._all_bids, bids_value
        liability = liability * self._pr.q_max // PRICE_PRECISION
        requirement = 0 if self._pr.settled else liability * self._ratio(abs(worst), initial) // MARGIN_PRECISION
        return self._weighted(self._pnl(price), initial, price), requirement + self._oo_req

    def totals(self, price: int, category: MarginCategory) -> tuple[int, int]:
        """(total collateral, margin requirement) of the account with the oracle at ``price``."""
        tc, mr = self._sc.moving_totals(price, category)
        if self._active:
            weighted, requirement = self.contribution(price, category)
            tc += weighted
            mr += requirement
        return tc, mr

    def figures(self, price: int) -> tuple[int, int, int, int, int, int]:
        """Everything a snapshot needs at ``price`` in one pass: (initial collateral, initial requirement,
        maintenance collateral, maintenance requirement, leverage, unrealized pnl)."""
        pr = self._pr
        if not (self._fast and self._active):
            tc_i, mr_i = self.totals(price, MarginCategory.INITIAL)
            tc_m, mr_m = self.totals(price, MarginCategory.MAINTENANCE)
            return tc_i, mr_i, tc_m, mr_m, self.leverage(price), self.unrealized_pnl(price)
        # The common case, everything at once: an ordinary active market (valued at the oracle), nothing else on
        # this oracle. ``value`` is |tdiv(base * price)|; ``worst`` the worst-case liability, for the margin and
        # (the larger of all bids or all asks filling) for the leverage alike.
        worst, ratio_i, ratio_m = self._worst_case(price)
        value = self._abs_base * price // BASE_PRECISION
        total_pnl = (value if self._base >= 0 else -value) + self._quote_funding
        weighted_m = _weigh(total_pnl, pr.w_maint, pr.q_min, pr.q_max)
        # a loss (or nothing) weighs the same in both categories: in full at the quote's max price, no cap
        weighted_i = self._weighted(total_pnl, True, price) if total_pnl > 0 else weighted_m
        liability = worst * pr.q_max // PRICE_PRECISION
        oo_req = self._oo_req
        # _perp_lev and the leverage of _Lev.folded with the constant rest of the account
        perp_pnl = pr.lev_perp_pnl + total_pnl * pr.quote_price // PRICE_PRECISION
        net = pr.lev_assets + perp_pnl - pr.lev_liabilities
        lev = 0 if net == 0 else (pr.lev_perp_liability + worst + pr.lev_liabilities) * LEVERAGE_PRECISION // net
        return (
            pr.tc_i + weighted_i,
            pr.mr_i + liability * ratio_i // MARGIN_PRECISION + oo_req,
            pr.tc_m + weighted_m,
            pr.mr_m + liability * ratio_m // MARGIN_PRECISION + oo_req,
            lev,
            total_pnl,
        )

    @property
    def free_maintenance(self) -> Callable[[int], int]:
        """``price -> total collateral - requirement`` for maintenance margin (what a liquidation search asks)."""
        if self._free is None:
            self._free = self._fast_free() or self._general_free
        return self._free

    @property
    def cheap_free(self) -> bool:
        """Whether ``free_maintenance`` is ``_fast_free``'s closure over precomputed integers (a handful of integer
        operations per price) rather than the general totals (every position on the oracle priced again)."""
        return self._fast and self._active

    def solvent_at_floor(self) -> bool:
        """Whether maintenance free collateral is still positive at a price of 1 (1e-6), the lowest a long's
        liquidation search looks at (``liquidation.find_boundary``); computed once."""
        if self._floor_solvent is None:
            self._floor_solvent = self.free_maintenance(1) > 0
        return self._floor_solvent

    def _general_free(self, price: int) -> int:
        tc, mr = self.totals(price, MarginCategory.MAINTENANCE)
        return tc - mr

    def _fast_free(self) -> Callable[[int], int] | None:
        """Maintenance free collateral as a closure over precomputed integers in the common case (see ``figures``)
        for a live slot, flat with orders included; each step mirrors one of ``contribution``. None outside that
        case."""
        pr = self._pr
        if not (self._fast and self._active):
            return None
        size = self._abs_base
        long = self._base > 0
        quote_funding = self._quote_funding
        q_max, q_min, w_maint = pr.q_max, pr.q_min, pr.w_maint
        const_free = pr.tc_m - pr.mr_m - self._oo_req
        if self._unordered:
            # the worst case is the position itself: its value is the liability (one product per price, the path
            # every Risk Governor projection and most liquidation searches take)
            ratio = self._base_ratios()[1]

            def free(price: int) -> int:
                value = size * price // BASE_PRECISION  # |tdiv(base * price)| for price > 0
                requirement = value * q_max // PRICE_PRECISION * ratio // MARGIN_PRECISION
                return (
                    const_free
                    + _weigh((value if long else -value) + quote_funding, w_maint, q_min, q_max)
                    - requirement
                )

            return free
        # the worst case of all bids or all asks filling
        bids_size, asks_size = abs(self._all_bids), abs(self._all_asks)
        if self._side_ratios is not None:
            _, bids_ratio, _, asks_ratio = self._side_ratios
        else:  # the maintenance ratios alone (the initial ones are not needed here)
            bids_ratio, asks_ratio = self._ratio(bids_size, False), self._ratio(asks_size, False)

        def free_with_orders(price: int) -> int:
            value = size * price // BASE_PRECISION
            # _worst_case inlined: the larger liability of all bids or all asks filling, a tie to the asks
            bids_value = bids_size * price // BASE_PRECISION
            asks_value = asks_size * price // BASE_PRECISION
            if asks_value >= bids_value:
                requirement = asks_value * q_max // PRICE_PRECISION * asks_ratio // MARGIN_PRECISION
            else:
                requirement = bids_value * q_max // PRICE_PRECISION * bids_ratio // MARGIN_PRECISION
            return const_free + _weigh((value if long else -value) + quote_funding, w_maint, q_min, q_max) - requirement

        return free_with_orders

    def maintenance_parts(self) -> tuple[Callable[[int], int], Callable[[int], int], Callable[[int], int]] | None:
        """``free_maintenance`` split into monotone parts, for a caller that must bound it over a price range (the
        paper venue's liquidation watch): ``(rising, falling, requirement)`` such that, for every price ``p > 0``,
        ``free_maintenance(p) >= rising(p) + falling(p) - requirement(p)``, where ``rising`` and ``requirement`` are
        non-decreasing in ``p`` and ``falling`` is non-increasing. None where no such split is derived here: a
        settled or prediction market, an empty slot, another perp on this oracle, or a spot position on it with
        open orders (whose worst case picks a side by value).

        Why each part is monotone (every factor is >= 0, and a floor or a truncation toward zero of a monotone
        integer function is monotone):
        * the position's collateral ``_weigh(pnl)`` (``contribution``'s weighted pnl, maintenance): its value
          ``size * p // BASE`` is non-decreasing, so its pnl (plus that for a long, minus it for a short, plus a
          constant) moves with the base's sign; ``_weigh`` is non-decreasing in the pnl (a gain: floors of products
          with non-negative weights; a loss: truncation toward zero of a product with the quote's max price; 0
          between them). It is in ``rising`` for a long, in ``falling`` for a short; flat, it is constant.
        * each spot position on this oracle without open orders (``_spot_totals``): a deposit adds its value times
          its maintenance asset weight (a function of its size, not of the price) to collateral, a borrow its value
          times its liability weight to the requirement; the balance's sign does not depend on the price, and its
          value is non-decreasing in it. Both go in ``rising`` / ``requirement``.
        * the position's requirement: the side whose worst-case value is larger (a tie to the asks) is charged at
          that side's ratio. Each side's charge ``size_side * p // BASE * q_max // PRICE * ratio // MARGIN`` is
          non-decreasing, but which side is charged can flip back on a tie of the floors (the smaller side at its
          smaller ratio), so ``requirement`` takes the larger of the two charges: at least what is charged, hence
          the inequality (an equality without open orders, where the position is the only side).
        Everything else (the balances not on this oracle, the open orders' count) is a constant of the scenario.
        """
        pr = self._pr
        sc = self._sc
        if not self._active or pr.settled or pr.prediction or sc._moving_perps:
            return None
        spots = sc._moving_spots
        if any(sp.open_bids or sp.open_asks for sp, _ in spots):
            return None
        size = self._abs_base
        base = self._base
        quote_funding = self._quote_funding
        q_max, q_min, w_maint = pr.q_max, pr.q_min, pr.w_maint
        const_collateral = pr.tc_m
        const_requirement = pr.mr_m + self._oo_req
        maintenance = MarginCategory.MAINTENANCE
        # A deposit moves only its collateral (its requirement is its open-order count's), a borrow only its
        # requirement (its collateral is its orders' value: none without orders): the part that does not move is
        # taken once, at the scenario's oracle, so each evaluation prices only what moves.
        deposits: list[tuple[SpotPosition, SpotMarketState]] = []
        borrows: list[tuple[SpotPosition, SpotMarketState]] = []
        for sp, sm in sc._moving_spots:
            tc, mr = _spot_totals(sp, sm, maintenance, 0)
            if sp.balance_type is BalanceType.DEPOSIT:
                deposits.append((sp, sm))
                const_requirement += mr
            else:
                borrows.append((sp, sm))
                const_collateral += tc

        def position_collateral(price: int) -> int:
            value = size * price // BASE_PRECISION
            return _weigh((value if base > 0 else -value) + quote_funding, w_maint, q_min, q_max)

        def spot_collateral(price: int) -> int:
            return sum(_spot_totals(sp, sm.with_oracle_price(price), maintenance, 0)[0] for sp, sm in deposits)

        def spot_requirement(price: int) -> int:
            return sum(_spot_totals(sp, sm.with_oracle_price(price), maintenance, 0)[1] for sp, sm in borrows)

        if base >= 0:

            def rising(price: int) -> int:
                collateral = const_collateral + position_collateral(price)
                return collateral + spot_collateral(price) if deposits else collateral

            def falling(price: int) -> int:
                return 0

        else:

            def rising(price: int) -> int:
                return const_collateral + spot_collateral(price) if deposits else const_collateral

            falling = position_collateral

        if self._unordered:
            ratio = self._base_ratios()[1]

            def position_requirement(price: int) -> int:
                return size * price // BASE_PRECISION * q_max // PRICE_PRECISION * ratio // MARGIN_PRECISION

        else:
            bids_size, asks_size = abs(self._all_bids), abs(self._all_asks)
            bids_ratio, asks_ratio = self._ratio(bids_size, False), self._ratio(asks_size, False)

            def position_requirement(price: int) -> int:
                bids = bids_size * price // BASE_PRECISION * q_max // PRICE_PRECISION * bids_ratio // MARGIN_PRECISION
                asks = asks_size * price // BASE_PRECISION * q_max // PRICE_PRECISION * asks_ratio // MARGIN_PRECISION
                return max(bids, asks)

        def requirement(price: int) -> int:
            charged = const_requirement + position_requirement(price)
            return charged + spot_requirement(price) if borrows else charged

        return rising, falling, requirement

    def leverage(self, price: int) -> int:
        """The SDK leverage (1e4 = 1x) with the oracle at ``price``."""
        pr = self._pr
        if pr.static:
            perp_liability, perp_pnl = pr.lev_perp_liability, pr.lev_perp_pnl
            assets, liabilities = pr.lev_assets, pr.lev_liabilities
        else:
            perp_liability, perp_pnl, assets, liabilities = self._sc.moving_leverage(price).folded()
        if self._active:
            # _perp_lev: the liability at the valuation price (the expiry price once settled), the pnl in quote
            vp = pr.expiry_price if pr.settled else price
            if self._unordered:
                perp_liability += self._liability(self._base, vp)
            else:
                perp_liability += max(self._liability(self._all_bids, vp), self._liability(self._all_asks, vp))
            perp_pnl += self._pnl(price) * pr.quote_price // PRICE_PRECISION
        net = assets + perp_pnl - liabilities
        if net == 0:
            return 0
        return (perp_liability + liabilities) * LEVERAGE_PRECISION // net

    def unrealized_pnl(self, price: int) -> int:
        """``unrealized_pnl`` of the position with the oracle at ``price`` (0 for an empty slot)."""
        return self._pnl(price) if self._active else 0
