"""Total collateral and margin requirement of an account, exactly as protocol-v2
``math/margin.rs::calculate_margin_requirement_and_total_collateral_and_liability_info`` (cross margin).

``calculate_margin`` is the one entry point; ``MarginCalculation`` carries the totals plus the liquidation-buffer
variants of ``state/margin_calculation.rs``.
"""

from __future__ import annotations

import msgspec

from botrunner.core.fixed import tdiv
from botrunner.core.precision import MARGIN_PRECISION, PRICE_PRECISION, SPOT_WEIGHT_PRECISION
from botrunner.margin.model import (
    Account,
    MarginCategory,
    Markets,
    PerpMarketState,
    PerpMarketStatus,
    PerpPosition,
    SpotMarketState,
    SpotPosition,
)
from botrunner.margin.perp_position import (
    base_asset_value_and_pnl,
    open_orders_margin_requirement,
    unsettled_funding,
    valuation_price,
    worst_case_liability,
)
from botrunner.margin.spot_balance import StrictPrice, signed_token_amount, strict_token_value, token_value
from botrunner.margin.weights import (
    perp_margin_ratio,
    spot_asset_weight,
    spot_liability_weight,
    unrealized_pnl_asset_weight,
)

# Rust MAX_POSITIVE_UPNL_FOR_INITIAL_MARGIN: a position's weighted positive upnl counts at most $100 toward
# initial collateral, a guard against a badly configured market (driftpy skips it).
MAX_POSITIVE_UPNL_FOR_INITIAL_MARGIN = 100 * 10**6


class MarginCalculation(msgspec.Struct, frozen=True, kw_only=True):
    """Cross-margin totals for one margin category (quote 1e6)."""

    category: MarginCategory
    total_collateral: int
    margin_requirement: int
    total_collateral_buffer: int = 0  # <= 0: margin_buffer share of negative collateral items
    margin_requirement_plus_buffer: int = 0  # margin requirement + margin_buffer x liabilities (0 without buffer)
    margin_buffer: int = 0

    @property
    def free_collateral(self) -> int:
        """Rust ``get_free_collateral``: total collateral minus requirement, floored at 0."""
        return max(0, self.total_collateral - self.margin_requirement)

    @property
    def meets_margin_requirement(self) -> bool:
        return self.total_collateral >= self.margin_requirement

    @property
    def meets_margin_requirement_with_buffer(self) -> bool:
        """What liquidation checks (``MarginContext::liquidation(buffer)``): collateral plus buffer against the
        requirement plus buffer."""
        if self.margin_buffer == 0:
            return self.meets_margin_requirement
        return self.total_collateral + self.total_collateral_buffer >= self.margin_requirement_plus_buffer


class PerpContribution(msgspec.Struct, frozen=True, kw_only=True):
    """What one perp position adds to the totals (Rust ``calculate_perp_position_value_and_pnl``)."""

    margin_requirement: int
    weighted_pnl: int
    worst_case_liability_value: int
    base_asset_value: int
    unrealized_pnl: int  # unweighted, funding included


def _strict(price: int, twap_5min: int, strict: bool) -> StrictPrice:
    return StrictPrice(price, twap_5min if strict else None)


def quote_strict_price(markets: Markets, perp: PerpMarketState, strict: bool) -> StrictPrice:
    quote = markets.spot_market(perp.spec.quote_spot_market_index)
    return _strict(quote.oracle_price, quote.twap_5min, strict)


def perp_contribution(
    position: PerpPosition,
    market: PerpMarketState,
    strict_quote: StrictPrice,
    category: MarginCategory,
    *,
    custom_margin_ratio: int,
    high_leverage: bool,
) -> PerpContribution:
    """Rust ``calculate_perp_position_value_and_pnl``."""
    funding = unsettled_funding(position, market)
    base_value, pnl = base_asset_value_and_pnl(position, valuation_price(market))
    total_pnl = pnl + funding
    worst_base, liability = worst_case_liability(position, market)
    # a liability is valued at the higher of the quote price and its twap
    liability = liability * strict_quote.max_price() // PRICE_PRECISION
    if market.status is PerpMarketStatus.SETTLEMENT:
        requirement = 0
    else:
        ratio = max(
            custom_margin_ratio,
            perp_margin_ratio(market, abs(worst_base), category, high_leverage=high_leverage),
        )
        requirement = liability * ratio // MARGIN_PRECISION
    requirement += open_orders_margin_requirement(position.open_orders)
    weight = unrealized_pnl_asset_weight(market, total_pnl, category)
    if total_pnl > 0:
        quote_price = strict_quote.min_price()
    elif total_pnl < 0:
        quote_price = strict_quote.max_price()
    else:
        quote_price = strict_quote.current
    weighted = total_pnl
    if weight != SPOT_WEIGHT_PRECISION:
        weighted = tdiv(weighted * weight, SPOT_WEIGHT_PRECISION)
    if quote_price != PRICE_PRECISION:
        weighted = tdiv(weighted * quote_price, PRICE_PRECISION)
    if category is MarginCategory.INITIAL:
        weighted = min(weighted, MAX_POSITIVE_UPNL_FOR_INITIAL_MARGIN)
    return PerpContribution(
        margin_requirement=requirement,
        weighted_pnl=weighted,
        worst_case_liability_value=liability,
        base_asset_value=base_value,
        unrealized_pnl=total_pnl,
    )


def spot_fill(
    position: SpotPosition,
    market: SpotMarketState,
    category: MarginCategory,
    custom_margin_ratio: int,
    strict: bool,
) -> FillSimulation:
    """One spot position's worst case, weighted for ``category`` (the quote market is never weighted, as in Rust).

    ``custom_margin_ratio`` is the user's max margin ratio (initial margin only, 0 otherwise)."""
    price = _strict(market.oracle_price, market.twap_5min, strict)
    amount = signed_token_amount(position, market)
    if market.market_index == 0:
        value = strict_token_value(amount, market.spec.decimals, price)
        return FillSimulation(amount, 0, value, value, value)
    sim = worst_case_fill_simulation(position, market, price, amount, category)
    if custom_margin_ratio:
        sim = _apply_custom_margin_ratio(sim, market, price.current, custom_margin_ratio)
    return sim


class FillSimulation(msgspec.Struct, frozen=True):
    """Rust ``OrderFillSimulation``."""

    token_amount: int
    orders_value: int
    token_value: int
    weighted_token_value: int
    free_collateral_contribution: int


def _weighted_token_value(
    market: SpotMarketState, amount: int, value: int, oracle: int, category: MarginCategory
) -> int:
    if value > 0:
        return tdiv(value * spot_asset_weight(market, abs(amount), oracle, category), SPOT_WEIGHT_PRECISION)
    if value < 0:
        return tdiv(value * spot_liability_weight(market, abs(amount), category), SPOT_WEIGHT_PRECISION)
    return 0


def worst_case_fill_simulation(
    position: SpotPosition, market: SpotMarketState, price: StrictPrice, amount: int, category: MarginCategory
) -> FillSimulation:
    """Rust ``SpotPosition::get_worst_case_fill_simulation``: the riskier of all bids or all asks filling."""
    decimals = market.spec.decimals
    value = strict_token_value(amount, decimals, price)
    if position.open_bids == 0 and position.open_asks == 0:
        w = _weighted_token_value(market, amount, value, price.current, category)
        return FillSimulation(amount, 0, value, w, w)

    def side(open_amount: int) -> FillSimulation:
        order_value = token_value(-open_amount, decimals, price.max_price())
        amount_after = amount + open_amount
        value_after = value - order_value
        w = _weighted_token_value(market, amount_after, value_after, price.current, category)
        return FillSimulation(amount_after, order_value, value_after, w, w + order_value)

    bid = side(position.open_bids)
    ask = side(position.open_asks)
    return ask if ask.free_collateral_contribution <= bid.free_collateral_contribution else bid


def _apply_custom_margin_ratio(
    sim: FillSimulation, market: SpotMarketState, oracle: int, custom: int
) -> FillSimulation:
    """Rust ``OrderFillSimulation::apply_user_custom_margin_ratio`` (initial margin only)."""
    weighted = sim.weighted_token_value
    if weighted < 0:
        weight = max(
            spot_liability_weight(market, abs(sim.token_amount), MarginCategory.INITIAL),
            custom + SPOT_WEIGHT_PRECISION,
        )
        weighted = tdiv(sim.token_value * weight, SPOT_WEIGHT_PRECISION)
    elif weighted > 0:
        weight = min(
            spot_asset_weight(market, abs(sim.token_amount), oracle, MarginCategory.INITIAL),
            max(0, SPOT_WEIGHT_PRECISION - custom),
        )
        weighted = tdiv(sim.token_value * weight, SPOT_WEIGHT_PRECISION)
    return FillSimulation(sim.token_amount, sim.orders_value, sim.token_value, weighted, weighted + sim.orders_value)


def calculate_margin(
    account: Account,
    markets: Markets,
    category: MarginCategory,
    *,
    strict: bool = False,
    margin_buffer: int = 0,
) -> MarginCalculation:
    """Total collateral and margin requirement of ``account`` for ``category``.

    ``strict`` prices spot assets at min(oracle, 5-minute twap) and liabilities at the max (Rust
    ``MarginContext::strict``); ``margin_buffer`` (MARGIN_PRECISION) adds the liquidation buffer terms.
    Raises ``KeyError`` naming a market the account uses but ``markets`` lacks.
    """
    custom = account.max_margin_ratio if category is MarginCategory.INITIAL else 0
    tc = 0
    mr = 0
    tc_buffer = 0
    mr_plus_buffer = 0

    def add_tc(v: int) -> None:
        nonlocal tc, tc_buffer
        tc += v
        if margin_buffer and v < 0:
            tc_buffer += tdiv(v * margin_buffer, MARGIN_PRECISION)

    def add_mr(v: int, liability: int) -> None:
        nonlocal mr, mr_plus_buffer
        mr += v
        if margin_buffer:
            mr_plus_buffer += v + liability * margin_buffer // MARGIN_PRECISION

    for sp in account.spot_positions:
        if sp.is_available:
            continue
        sim = spot_fill(sp, markets.spot_market(sp.market_index), category, custom, strict)
        if sp.market_index == 0:
            if sim.token_value > 0:
                add_tc(sim.token_value)
            elif sim.token_value < 0:
                add_mr(-sim.token_value, -sim.token_value)
            continue
        add_mr(open_orders_margin_requirement(sp.open_orders), 0)
        # Rust branches on the unweighted worst-case value and adds the weighted one.
        if sim.token_value > 0:
            add_tc(sim.weighted_token_value)
        elif sim.token_value < 0:
            add_mr(abs(sim.weighted_token_value), abs(sim.token_value))
        if sim.orders_value > 0:
            add_tc(sim.orders_value)
        elif sim.orders_value < 0:
            add_mr(-sim.orders_value, -sim.orders_value)

    for pp in account.perp_positions:
        if pp.is_available:
            continue
        market = markets.perp_market(pp.market_index)
        strict_quote = quote_strict_price(markets, market, strict)
        position_custom = max(custom, pp.max_margin_ratio) if category is MarginCategory.INITIAL else 0
        c = perp_contribution(
            pp,
            market,
            strict_quote,
            category,
            custom_margin_ratio=position_custom,
            high_leverage=account.is_high_leverage_mode(category),
        )
        add_mr(c.margin_requirement, c.worst_case_liability_value)
        add_tc(c.weighted_pnl)

    return MarginCalculation(
        category=category,
        total_collateral=tc,
        margin_requirement=mr,
        total_collateral_buffer=tc_buffer,
        margin_requirement_plus_buffer=mr_plus_buffer,
        margin_buffer=margin_buffer,
    )
