"""``AccountMarginView``: the Risk Governor's ``MarginProjection`` for one perp market of an account.

Built once per account snapshot; ``project`` re-evaluates only the positions on the market's oracle (see
``OracleScenario``), so a governor's binary search over position sizes stays cheap. Each projected position is
prepared once (``PositionPricer``) and then priced at the oracle, at the stressed price and along its liquidation
search without redoing the work that does not depend on the price.
"""

from __future__ import annotations

import msgspec

from botrunner.core.margin_view import MarginSnapshot
from botrunner.core.markets import ContractType
from botrunner.core.precision import BASE_PRECISION, MARGIN_PRECISION, QUOTE_SPOT_MARKET_INDEX
from botrunner.margin.calculation import calculate_margin
from botrunner.margin.liquidation import find_boundary, nearest
from botrunner.margin.metrics import health_from
from botrunner.margin.model import Account, BalanceType, MarginCategory, Markets, PerpMarketStatus, PerpPosition
from botrunner.margin.scenario import OracleScenario, PositionPricer, market_margin_ratio
from botrunner.margin.what_if import apply_perp_fill

# One step of position must carry at least this much maintenance requirement (quote 1e6) for the view to vouch for
# monotone safety: far above the few units of integer rounding in a margin figure (see ``monotone_in_position``).
MONOTONE_MIN_STEP_REQUIREMENT = 1_000
# Prepared positions kept per view; a governor step asks for a few dozen at most.
_MAX_PRICERS = 512
# Liquidation-cache key of the current position when it has open orders (the projections strip them, so it is then
# a different position from every projected one).
_CURRENT_WITH_ORDERS = "current-with-orders"


class AccountMarginView:
    """Implements ``botrunner.core.margin_view.MarginProjection`` for perp market ``market_index``."""

    __slots__ = (
        "_account",
        "_current",
        "_liquidation",
        "_markets",
        "_monotone",
        "_one_entry",
        "_position",
        "_pricers",
        "_scenario",
        "_settled",
        "_unordered",
        "market_index",
    )

    def __init__(
        self,
        account: Account,
        markets: Markets,
        market_index: int,
        *,
        known: tuple[int | None, int | None] | None = None,
    ) -> None:
        """``known``: the boundaries (below, above) of the account as it is, from an earlier search of the same
        account (the paper venue's liquidation watch); ``current()`` confirms each in two evaluations instead of
        searching, and searches when one does not confirm."""
        self._account = account
        self._markets = markets
        self.market_index = market_index
        self._scenario = OracleScenario(account, markets, market_index)
        self._settled = self._scenario.market().status is PerpMarketStatus.SETTLEMENT
        self._position = account.perp_position(market_index) or PerpPosition(market_index=market_index)
        # The projection starts from the position without its open orders (the governor sizes the position).
        self._unordered = msgspec.structs.replace(self._position, open_bids=0, open_asks=0, open_orders=0)
        self._current: MarginSnapshot | None = None
        # Liquidation price found per position and side: the Risk Governor projects each candidate position at
        # the oracle and again at the stressed price, and the boundary does not depend on where the search starts.
        # Keyed by the projected base (one base, one position: the fill is deterministic), the current position
        # with open orders under its own key, and the side searched (True: below the price).
        self._liquidation: dict[tuple[int | str, bool], int] = {}
        # Prepared positions per projected base.
        self._pricers: dict[int, PositionPricer] = {}
        self._monotone = _only_quote_and_this_perp(account, markets, market_index)
        # at most one live slot in this market: the scenario then accounts for every position of the account
        self._one_entry = (
            sum(1 for pp in account.perp_positions if pp.market_index == market_index and not pp.is_available) <= 1
        )
        if known is not None:
            for long, bound in zip((True, False), known, strict=True):
                if bound is not None:
                    self._liquidation[(self._current_key(), long)] = bound

    @property
    def account(self) -> Account:
        """The account this view projects (the two-leg risk check's what-if starts from it)."""
        return self._account

    @property
    def markets(self) -> Markets:
        """The markets it is valued on."""
        return self._markets

    def current(self) -> MarginSnapshot:
        """The account as it is, open orders included: the full margin calculation's figures."""
        if self._current is None:
            position = self._position
            pricer = self._scenario.pricer(position)
            key = self._current_key()
            price = self._scenario.oracle_price
            # figures' leverage and pnl are pricer.leverage(price) and pricer.unrealized_pnl(price), in one pass
            figures = pricer.figures(price)
            if not self._one_entry:
                # calculate_margin is a sum over positions; with one entry in this market the scenario holds every
                # one of them and figures' totals are the same integers, otherwise run the whole account
                initial = calculate_margin(self._account, self._markets, MarginCategory.INITIAL)
                maintenance = calculate_margin(self._account, self._markets, MarginCategory.MAINTENANCE)
                figures = (
                    initial.total_collateral,
                    initial.margin_requirement,
                    maintenance.total_collateral,
                    maintenance.margin_requirement,
                    *figures[4:],
                )
            self._current = self._snapshot(pricer, key, price, figures)
        return self._current

    def _current_key(self) -> int | str:
        """The liquidation-cache key of the current position (see ``_liquidation``)."""
        position = self._position
        return position.base_asset_amount if position == self._unordered else _CURRENT_WITH_ORDERS

    def project(self, position_base: int, oracle_price: int) -> MarginSnapshot:
        """The account if the position became ``position_base`` (filled at the current oracle, no open orders in
        this market) and the oracle then moved to ``oracle_price``."""
        if oracle_price <= 0:
            raise ValueError(f"project: oracle price {oracle_price} must be > 0")
        pricer = self._pricers.get(position_base)
        if pricer is None:
            pricer = self._prepare(position_base)
        return self._snapshot(pricer, position_base, oracle_price, pricer.figures(oracle_price))

    def monotone_in_position(self, side_sign: int, oracle_price: int, *, max_base: int, step: int) -> bool:
        """Whether safety is provably non-increasing in |position| on side ``side_sign`` (+1 long, -1 short) for
        every position up to ``max_base`` in multiples of ``step``, priced at ``oracle_price`` or beyond it in the
        adverse direction (``botrunner.core.margin_view.MonotoneMarginProjection``).

        True when the account holds only quote (USDC) deposits and no perp position but this market's (so every
        other figure is a constant), the market is an ordinary active one, ``oracle_price`` is not on the side of
        the fill price that favours this side (above it, an account under water wins back more with a bigger long;
        the tests hold such a case), and
        the margin ratio up to ``max_base`` stays below the weight of unrealized profit (so more size never makes
        free collateral rise with the price). Then, for a fixed price, collateral falls and the requirement rises
        with |position| on that side, so health, leverage, notional and the liquidation distance all worsen. The
        last condition keeps that true in integers: one step adds at least ``MONOTONE_MIN_STEP_REQUIREMENT`` of
        requirement, far more than the few units of rounding in any margin figure.
        """
        if not self._monotone or side_sign not in (1, -1) or step <= 0 or max_base < 0:
            return False
        fill_price = self._scenario.oracle_price
        if side_sign * (oracle_price - fill_price) > 0:
            return False  # the projected price favours this side: a bigger position gains more from it
        market = self._scenario.market()
        hlm = self._account.is_high_leverage_mode(MarginCategory.MAINTENANCE)
        # the ratio grows with the size: checked at the largest size, at the smallest for the step's requirement
        if market_margin_ratio(market, max_base, False, hlm) >= market.spec.unrealized_pnl_maintenance_asset_weight:
            return False
        step_ratio = market_margin_ratio(market, step, False, hlm)
        step_requirement = step * min(oracle_price, fill_price) // BASE_PRECISION * step_ratio // MARGIN_PRECISION
        return step_requirement >= MONOTONE_MIN_STEP_REQUIREMENT

    def _prepare(self, position_base: int) -> PositionPricer:
        sc = self._scenario
        delta = position_base - self._unordered.base_asset_amount
        pos = apply_perp_fill(self._unordered, sc.market(), delta, sc.oracle_price) if delta else self._unordered
        if len(self._pricers) >= _MAX_PRICERS:
            self._pricers.clear()
        pricer = self._pricers[position_base] = sc.pricer(pos)
        return pricer

    def _snapshot(
        self, pricer: PositionPricer, key: int | str, price: int, figures: tuple[int, int, int, int, int, int]
    ) -> MarginSnapshot:
        """The snapshot of ``pricer``'s position at ``price`` from its ``figures`` (initial collateral and
        requirement, maintenance collateral and requirement, leverage, unrealized PnL); ``key`` names the position
        in the liquidation-price cache."""
        tc_i, mr_i, tc_m, mr_m, leverage, upnl = figures
        liq: int | None = None
        if pricer.base != 0 or pricer.has_open_orders:
            liq = self._liquidation_price(pricer, key, price, free_here=tc_m - mr_m)
        return MarginSnapshot(
            oracle_price=price,
            position_base=pricer.base,
            entry_price=pricer.entry_price,
            total_collateral_initial=tc_i,
            total_collateral_maintenance=tc_m,
            margin_requirement_initial=mr_i,
            margin_requirement_maintenance=mr_m,
            free_collateral_initial=max(0, tc_i - mr_i),
            free_collateral_maintenance=max(0, tc_m - mr_m),
            health=0 if self._account.being_liquidated else health_from(tc_m, mr_m),
            leverage=leverage,
            liquidation_price=liq,
            unrealized_pnl=upnl,
        )

    def _liquidation_price(self, pricer: PositionPricer, key: int | str, price: int, *, free_here: int) -> int | None:
        """The nearest oracle price at which the position seen at ``price`` reaches maintenance (None: none): the
        nearer of the boundaries on both sides, as ``margin.liquidation.liquidation_price`` and the paper venue's
        watch (``PaperVenue.liquidation_bounds``) find them, so what the Risk Governor and every report read is
        the price that would actually liquidate the account. Both sides: Drift's maintenance requirement takes the
        worst case of open orders filling, and that can be a position of the other sign (a small long with a
        large resting ask is liquidated by a rise; a flat account with orders either way)."""
        if self._settled:
            return None  # a settled market is valued at its fixed expiry price: no oracle move liquidates it
        if free_here <= 0:
            return price  # already at or past maintenance: find_boundary's convention
        if free_here >= MONOTONE_MIN_STEP_REQUIREMENT and pricer.one_sided():
            # Free collateral only rises on the favourable side, up to a few units of rounding per evaluation,
            # and it is far above that here: no price on that side reaches maintenance, so that search would
            # find none. Skipping it keeps the Risk Governor's projections (never with open orders) at one search.
            return self._boundary(pricer, key, price, long=pricer.base > 0)
        below = self._boundary(pricer, key, price, long=True)
        return nearest(price, below, self._boundary(pricer, key, price, long=False))

    def _boundary(self, pricer: PositionPricer, key: int | str, price: int, *, long: bool) -> int | None:
        """``find_boundary`` on one side of ``price`` (``long``: below it), reusing a boundary found before for the
        same position and side once two evaluations confirm it is still the boundary on this side of ``price``
        (free <= 0 there, > 0 one tick nearer to ``price``); anything else runs the full search. A boundary above
        is reused even from a price whose own search would stop short of it (``liquidation.MAX_PRICE_MULTIPLE``
        says why no limit can tell); the paper venue passes ``known`` bounds only while its search would find them.
        """
        free = pricer.free_maintenance
        known = self._liquidation.get((key, long))
        if known is not None and (known < price if long else known > price):
            nearer = known + 1 if long else known - 1
            if free(known) <= 0 and (nearer == price or free(nearer) > 0):
                return known
        if long and pricer.solvent_at_floor():
            # find_boundary's answer: solvent here and at the lowest price, a long has no liquidation price
            return None
        found = find_boundary(free, price, long=long)
        if found is not None:
            self._liquidation[(key, long)] = found
        return found


def _only_quote_and_this_perp(account: Account, markets: Markets, market_index: int) -> bool:
    """Quote deposits, at most one perp position and that in ``market_index`` on an ordinary active market."""
    market = markets.perp_market(market_index)
    if market.status is not PerpMarketStatus.ACTIVE or market.spec.contract_type is ContractType.PREDICTION:
        return False
    if market.spec.quote_spot_market_index != QUOTE_SPOT_MARKET_INDEX:
        return False
    for sp in account.spot_positions:
        if sp.is_available:
            continue
        if sp.market_index != QUOTE_SPOT_MARKET_INDEX or sp.balance_type is not BalanceType.DEPOSIT:
            return False
    return all(pp.is_available or pp.market_index == market_index for pp in account.perp_positions)
