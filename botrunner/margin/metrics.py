"""Account-level figures built on the margin calculation: free collateral, health, leverage.

Health and leverage are not on-chain quantities; their definitions are Drift's SDK ones (``User.getHealth``,
``User.getLeverage`` in protocol-v2 ``sdk/src/user.ts``), computed here in exact integer/rational arithmetic.
"""

from __future__ import annotations

import msgspec

from botrunner.core.precision import LEVERAGE_PRECISION, OPEN_ORDER_MARGIN_REQUIREMENT, PRICE_PRECISION
from botrunner.margin.calculation import MarginCalculation, calculate_margin, spot_fill
from botrunner.margin.model import Account, MarginCategory, Markets
from botrunner.margin.perp_position import perp_liability_value, unrealized_pnl, valuation_price


def health(account: Account, maintenance: MarginCalculation) -> int:
    """Drift's health, 0..100: 0 when being liquidated or collateral <= 0, 100 with no requirement, else
    ``round(100 * (1 - requirement / collateral))`` with halves to even (as the SDK's ``round``)."""
    if maintenance.category is not MarginCategory.MAINTENANCE:
        raise ValueError(f"health needs the maintenance calculation, got {maintenance.category.value}")
    if account.being_liquidated:
        return 0
    return health_from(maintenance.total_collateral, maintenance.margin_requirement)


def health_from(total_collateral: int, requirement: int) -> int:
    """Health from maintenance totals alone (the account is not being liquidated), in integers:
    ``round(100 * (tc - mr) / tc)`` with halves to even, clamped to 0..100."""
    tc, mr = total_collateral, requirement
    if mr == 0 and tc >= 0:
        return 100
    if tc <= 0:
        return 0
    num = 100 * (tc - mr)
    if num <= 0:
        return 0
    q, r = divmod(num, tc)
    if 2 * r > tc or (2 * r == tc and q % 2 == 1):
        q += 1
    return min(q, 100)


class LeverageComponents(msgspec.Struct, frozen=True, kw_only=True):
    """The SDK's leverage inputs (quote 1e6, unweighted, open orders included)."""

    perp_liability: int
    perp_pnl: int
    spot_asset_value: int
    spot_liability_value: int

    @property
    def leverage(self) -> int:
        """(perp liability + spot liability) / net assets, LEVERAGE_PRECISION (1e4 = 1x); 0 with no net assets."""
        net = self.spot_asset_value + self.perp_pnl - self.spot_liability_value
        if net == 0:
            return 0
        return (self.perp_liability + self.spot_liability_value) * LEVERAGE_PRECISION // net


def leverage_components(account: Account, markets: Markets) -> LeverageComponents:
    """The SDK's ``getLeverageComponents(includeOpenOrders=true)`` on our model."""
    perp_liability = 0
    perp_pnl = 0
    for pp in account.perp_positions:
        if pp.is_available:
            continue
        market = markets.perp_market(pp.market_index)
        price = valuation_price(market)
        ct = market.spec.contract_type
        bids = perp_liability_value(pp.base_asset_amount + pp.open_bids, price, ct)
        asks = perp_liability_value(pp.base_asset_amount + pp.open_asks, price, ct)
        perp_liability += max(bids, asks)
        quote = markets.spot_market(market.spec.quote_spot_market_index).oracle_price
        perp_pnl += unrealized_pnl(pp, market) * quote // PRICE_PRECISION
    assets = 0
    liabilities = 0
    net_quote = 0
    for sp in account.spot_positions:
        if sp.is_available:
            continue
        sim = spot_fill(sp, markets.spot_market(sp.market_index), MarginCategory.MAINTENANCE, 0, False)
        if sp.market_index == 0:
            net_quote += sim.token_value
            continue
        if sim.token_value > 0:
            assets += sim.token_value
        elif sim.token_value < 0:
            liabilities += -sim.token_value
        net_quote += sim.orders_value
        liabilities += sp.open_orders * OPEN_ORDER_MARGIN_REQUIREMENT
    if net_quote > 0:
        assets += net_quote
    else:
        liabilities += -net_quote
    return LeverageComponents(
        perp_liability=perp_liability,
        perp_pnl=perp_pnl,
        spot_asset_value=assets,
        spot_liability_value=liabilities,
    )


class AccountMargin(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a report or a governor asks about an account's margin, in Drift precisions."""

    initial: MarginCalculation
    maintenance: MarginCalculation
    health: int
    leverage: int  # 1e4 = 1x

    @property
    def free_collateral_initial(self) -> int:
        return self.initial.free_collateral

    @property
    def free_collateral_maintenance(self) -> int:
        return self.maintenance.free_collateral


def account_margin(account: Account, markets: Markets, *, strict: bool = False) -> AccountMargin:
    """Initial and maintenance calculations, health and leverage of ``account``."""
    initial = calculate_margin(account, markets, MarginCategory.INITIAL, strict=strict)
    maintenance = calculate_margin(account, markets, MarginCategory.MAINTENANCE, strict=strict)
    return AccountMargin(
        initial=initial,
        maintenance=maintenance,
        health=health(account, maintenance),
        leverage=leverage_components(account, markets).leverage,
    )
