"""Fast re-evaluation of an account when one oracle moves and one perp position changes.

Positions priced by other oracles contribute constants to collateral, requirement and leverage, so they are
computed once; each evaluation then touches only the positions on the moving oracle (the bot's perp position
and, for a delta-neutral bot, the spot position on the same oracle). The totals equal ``calculate_margin`` on the
modified account exactly (tests check this).
"""

from __future__ import annotations

import msgspec

from botrunner.core.precision import LEVERAGE_PRECISION, OPEN_ORDER_MARGIN_REQUIREMENT, PRICE_PRECISION
from botrunner.margin.calculation import (
    calculate_margin,
    perp_contribution,
    quote_strict_price,
    spot_fill,
)
from botrunner.margin.model import (
    Account,
    MarginCategory,
    Markets,
    PerpMarketState,
    PerpPosition,
    SpotMarketState,
    SpotPosition,
)
from botrunner.margin.perp_position import perp_liability_value, unrealized_pnl, valuation_price


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

    def leverage(self) -> int:
        assets, liabilities = self.assets, self.liabilities
        if self.net_quote > 0:
            assets += self.net_quote
        else:
            liabilities -= self.net_quote
        net = assets + self.perp_pnl - liabilities
        if net == 0:
            return 0
        return (self.perp_liability + liabilities) * LEVERAGE_PRECISION // net


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


class OracleScenario:
    """An account seen from perp market ``market_index``: evaluate it for any position in that market and any
    price of that market's oracle. Not strict (twap-free) pricing, like the governors' what-if."""

    __slots__ = (
        "_account",
        "_const",
        "_const_lev",
        "_custom",
        "_hlm",
        "_market",
        "_moving_perps",
        "_moving_spots",
        "_quote_price",
        "_strict_quote",
        "market_index",
        "oracle_price",
    )

    def __init__(self, account: Account, markets: Markets, market_index: int) -> None:
        market = markets.perp_market(market_index)
        oracle = market.spec.oracle
        self.market_index = market_index
        self.oracle_price = market.oracle_price
        self._market = market
        self._account = account
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
        self._const = {
            c: calculate_margin(rest, markets, c) for c in (MarginCategory.INITIAL, MarginCategory.MAINTENANCE)
        }
        lev = _Lev()
        for sp in const_spots:
            lev = lev.plus(_spot_lev(sp, markets.spot_market(sp.market_index)))
        for pp in const_perps:
            pm = markets.perp_market(pp.market_index)
            lev = lev.plus(_perp_lev(pp, pm, markets.spot_market(pm.spec.quote_spot_market_index).oracle_price))
        self._const_lev = lev
        self._moving_spots = tuple(moving_spots)
        self._moving_perps = tuple(moving_perps)
        self._custom = account.max_margin_ratio
        self._hlm = {c: account.is_high_leverage_mode(c) for c in MarginCategory}
        self._strict_quote = quote_strict_price(markets, market, False)
        self._quote_price = markets.spot_market(market.spec.quote_spot_market_index).oracle_price

    def totals(self, position: PerpPosition | None, price: int, category: MarginCategory) -> Totals:
        """Collateral and requirement with ``position`` in this market and the oracle at ``price``."""
        if category is MarginCategory.FILL:
            raise ValueError("OracleScenario evaluates initial and maintenance margin only")
        const = self._const[category]
        tc = const.total_collateral
        mr = const.margin_requirement
        custom = self._custom if category is MarginCategory.INITIAL else 0
        for sp, sm in self._moving_spots:
            t, m = _spot_totals(sp, sm.with_oracle_price(price), category, custom)
            tc += t
            mr += m
        hlm = self._hlm[category]
        for pp, pm in self._moving_perps:
            c = perp_contribution(
                pp,
                pm.with_oracle_price(price),
                self._strict_quote,
                category,
                custom_margin_ratio=max(custom, pp.max_margin_ratio) if category is MarginCategory.INITIAL else 0,
                high_leverage=hlm,
            )
            tc += c.weighted_pnl
            mr += c.margin_requirement
        if position is not None and not position.is_available:
            pos_custom = max(custom, position.max_margin_ratio) if category is MarginCategory.INITIAL else 0
            c = perp_contribution(
                position,
                self._market.with_oracle_price(price),
                self._strict_quote,
                category,
                custom_margin_ratio=pos_custom,
                high_leverage=hlm,
            )
            tc += c.weighted_pnl
            mr += c.margin_requirement
        return Totals(tc, mr)

    def leverage(self, position: PerpPosition | None, price: int) -> int:
        """The SDK leverage (1e4 = 1x) with ``position`` and the oracle at ``price``."""
        lev = self._const_lev
        for sp, sm in self._moving_spots:
            lev = lev.plus(_spot_lev(sp, sm.with_oracle_price(price)))
        for pp, pm in self._moving_perps:
            lev = lev.plus(_perp_lev(pp, pm.with_oracle_price(price), self._quote_price))
        if position is not None and not position.is_available:
            lev = lev.plus(_perp_lev(position, self._market.with_oracle_price(price), self._quote_price))
        return lev.leverage()

    def market(self, price: int | None = None) -> PerpMarketState:
        """This perp market, optionally with its oracle moved."""
        return self._market if price is None else self._market.with_oracle_price(price)

    @property
    def account(self) -> Account:
        return self._account
