"""``AccountMarginView``: the Risk Governor's ``MarginProjection`` for one perp market of an account.

Built once per account snapshot; ``project`` re-evaluates only the positions on the market's oracle (see
``OracleScenario``), so a governor's binary search over position sizes stays cheap.
"""

from __future__ import annotations

import msgspec

from botrunner.core.margin_view import MarginSnapshot
from botrunner.margin.calculation import calculate_margin
from botrunner.margin.liquidation import find_boundary
from botrunner.margin.metrics import health, health_from
from botrunner.margin.model import Account, MarginCategory, Markets, PerpMarketStatus, PerpPosition
from botrunner.margin.perp_position import unrealized_pnl
from botrunner.margin.scenario import OracleScenario
from botrunner.margin.what_if import apply_perp_fill, entry_price


class AccountMarginView:
    """Implements ``botrunner.core.margin_view.MarginProjection`` for perp market ``market_index``."""

    __slots__ = (
        "_account",
        "_current",
        "_liquidation",
        "_markets",
        "_position",
        "_scenario",
        "_unordered",
        "market_index",
    )

    def __init__(self, account: Account, markets: Markets, market_index: int) -> None:
        self._account = account
        self._markets = markets
        self.market_index = market_index
        self._scenario = OracleScenario(account, markets, market_index)
        self._position = account.perp_position(market_index) or PerpPosition(market_index=market_index)
        # The projection starts from the position without its open orders (the governor sizes the position).
        self._unordered = msgspec.structs.replace(self._position, open_bids=0, open_asks=0, open_orders=0)
        self._current: MarginSnapshot | None = None
        # Liquidation price found per position: the Risk Governor projects each candidate position at the oracle
        # and again at the stressed price, and the boundary does not depend on where the search starts.
        self._liquidation: dict[PerpPosition, int] = {}

    def current(self) -> MarginSnapshot:
        """The account as it is, open orders included, from the full margin calculation."""
        if self._current is None:
            initial = calculate_margin(self._account, self._markets, MarginCategory.INITIAL)
            maintenance = calculate_margin(self._account, self._markets, MarginCategory.MAINTENANCE)
            price = self._scenario.oracle_price
            self._current = self._snapshot(
                self._position,
                price,
                tc_i=initial.total_collateral,
                mr_i=initial.margin_requirement,
                tc_m=maintenance.total_collateral,
                mr_m=maintenance.margin_requirement,
                h=health(self._account, maintenance),
            )
        return self._current

    def project(self, position_base: int, oracle_price: int) -> MarginSnapshot:
        """The account if the position became ``position_base`` (filled at the current oracle, no open orders in
        this market) and the oracle then moved to ``oracle_price``."""
        if oracle_price <= 0:
            raise ValueError(f"project: oracle price {oracle_price} must be > 0")
        sc = self._scenario
        delta = position_base - self._unordered.base_asset_amount
        pos = apply_perp_fill(self._unordered, sc.market(), delta, sc.oracle_price) if delta else self._unordered
        ini = sc.totals(pos, oracle_price, MarginCategory.INITIAL)
        mnt = sc.totals(pos, oracle_price, MarginCategory.MAINTENANCE)
        h = 0 if self._account.being_liquidated else health_from(mnt.total_collateral, mnt.margin_requirement)
        return self._snapshot(
            pos,
            oracle_price,
            tc_i=ini.total_collateral,
            mr_i=ini.margin_requirement,
            tc_m=mnt.total_collateral,
            mr_m=mnt.margin_requirement,
            h=h,
        )

    def _snapshot(
        self,
        pos: PerpPosition,
        price: int,
        *,
        tc_i: int,
        mr_i: int,
        tc_m: int,
        mr_m: int,
        h: int,
    ) -> MarginSnapshot:
        sc = self._scenario
        market = sc.market(price)
        liq: int | None = None
        if pos.base_asset_amount != 0:
            liq = self._liquidation_price(pos, price, free_here=tc_m - mr_m)
        return MarginSnapshot(
            oracle_price=price,
            position_base=pos.base_asset_amount,
            entry_price=entry_price(pos),
            total_collateral_initial=tc_i,
            total_collateral_maintenance=tc_m,
            margin_requirement_initial=mr_i,
            margin_requirement_maintenance=mr_m,
            free_collateral_initial=max(0, tc_i - mr_i),
            free_collateral_maintenance=max(0, tc_m - mr_m),
            health=h,
            leverage=sc.leverage(pos, price),
            liquidation_price=liq,
            unrealized_pnl=unrealized_pnl(pos, market) if not pos.is_available else 0,
        )

    def _liquidation_price(self, pos: PerpPosition, price: int, *, free_here: int) -> int | None:
        """``find_boundary`` for ``pos`` seen at ``price``, reusing a boundary found before for the same position
        once two evaluations confirm it is still the boundary on this side of ``price`` (free <= 0 there, > 0 one
        tick nearer to ``price``); anything else runs the full search."""
        sc = self._scenario
        if sc.market().status is PerpMarketStatus.SETTLEMENT:
            return None  # a settled market is valued at its fixed expiry price: no oracle move liquidates it
        if free_here <= 0:
            return price  # already at or past maintenance: find_boundary's convention
        long = pos.base_asset_amount > 0

        def free(p: int) -> int:
            return sc.totals(pos, p, MarginCategory.MAINTENANCE).free

        known = self._liquidation.get(pos)
        if known is not None and (known < price if long else known > price):
            nearer = known + 1 if long else known - 1
            if free(known) <= 0 and (nearer == price or free(nearer) > 0):
                return known
        found = find_boundary(free, price, long=long)
        if found is not None:
            self._liquidation[pos] = found
        return found
