"""The margin view's fast paths give exactly what the full calculation and the full liquidation search give.

``PositionPricer`` prices one position at any oracle with its price-independent parts computed once, and
``AccountMarginView`` runs ``find_boundary`` on it (reusing a boundary it verified). The references here are the
slow, obvious ones: ``calculate_margin`` / the SDK leverage on the account actually filled and moved, and
``find_boundary`` over a ``free`` built from ``calculate_margin``. And when the view vouches that safety is monotone
in the position (``monotone_in_position``), the Risk Governor's interior probes could not have failed: the sizing
answer with the probes skipped equals the answer with them run.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from botrunner.core.margin_view import MarginSnapshot, vouches_monotone
from botrunner.margin import (
    Account,
    AccountMarginView,
    MarginCategory,
    Markets,
    OracleScenario,
    PerpPosition,
    account_margin,
    apply_fill,
    calculate_margin,
    entry_price,
    liquidation_price,
    unrealized_pnl,
)
from botrunner.margin.liquidation import find_boundary
from botrunner.margin.model import MarginMode, PerpMarketStatus
from governors.risk_limits import RiskLimits
from governors.risk_sizing import max_safe_size
from tests.support.margin import SOL, USDC, account, bases, catalogue_markets, perp_at, sol_deposit, usdc_deposit

prices = st.integers(min_value=1 * USDC, max_value=800 * USDC)


@st.composite
def markets(draw: st.DrawFn) -> Markets:
    """Catalogue SOL-PERP / BTC-PERP / USDC / SOL, sometimes with funding accrued, a settled SOL-PERP, an AMM
    imbalance (initial upnl weight), or USDC off its peg."""
    m = catalogue_markets(draw(prices))
    sol_perp = m.perp[0]
    if draw(st.booleans()):
        sol_perp = msgspec.structs.replace(
            sol_perp,
            cumulative_funding_rate_long=draw(st.integers(-(10**10), 10**10)),
            cumulative_funding_rate_short=draw(st.integers(-(10**10), 10**10)),
        )
    if draw(st.integers(0, 9)) == 0:
        sol_perp = msgspec.structs.replace(sol_perp, status=PerpMarketStatus.SETTLEMENT, expiry_price=draw(prices))
    if draw(st.integers(0, 4)) == 0:
        sol_perp = msgspec.structs.replace(
            sol_perp,
            amm_net_base_asset_amount=draw(st.integers(-(10**15), 10**15)),
            amm_net_user_cost_basis=draw(st.integers(-(10**12), 10**12)),
        )
    usdc = m.spot[0]
    if draw(st.integers(0, 4)) == 0:
        usdc = msgspec.structs.replace(
            usdc,
            oracle_price=draw(st.integers(990_000, 1_010_000)),
            oracle_price_twap_5min=draw(st.integers(990_000, 1_010_000)),
        )
    return Markets(perp={**m.perp, 0: sol_perp}, spot={**m.spot, 0: usdc})


@st.composite
def accounts(draw: st.DrawFn, *, hedges: bool = True) -> tuple[Account, Markets]:
    """A SOL-PERP account: USDC (any amount), and when ``hedges`` maybe spot SOL or a BTC-PERP position; a SOL-PERP
    position entered anywhere near the oracle, maybe with open orders, funding owed or a custom margin ratio;
    sometimes high-leverage mode or being liquidated."""
    m = draw(markets())
    oracle = m.perp[0].oracle_price
    spots = [usdc_deposit(m, draw(st.integers(0, 500_000 * USDC)))]
    perps: list[PerpPosition] = []
    if hedges and draw(st.booleans()):
        spots.append(sol_deposit(m, draw(st.integers(1, 2_000 * SOL))))
    base = draw(bases)
    if base:
        pos = perp_at(
            base,
            oracle * draw(st.integers(50, 150)) // 100,
            last_cumulative_funding_rate=draw(st.integers(-(10**10), 10**10)),
            max_margin_ratio=draw(st.sampled_from((0, 0, 1_000))),
        )
        if draw(st.booleans()):
            pos = msgspec.structs.replace(
                pos,
                open_bids=draw(st.integers(0, 500)) * SOL // 10,
                open_asks=-draw(st.integers(0, 500)) * SOL // 10,
                open_orders=draw(st.integers(1, 32)),
            )
        perps.append(pos)
    if hedges and draw(st.integers(0, 4)) == 0:
        perps.append(perp_at(draw(bases) // 100 or SOL // 100, 60_000 * USDC, market_index=1))
    mode = draw(st.sampled_from((MarginMode.DEFAULT, MarginMode.DEFAULT, MarginMode.HIGH_LEVERAGE)))
    being_liquidated = draw(st.integers(0, 19)) == 0
    return account(*spots, perps=tuple(perps), margin_mode=mode, being_liquidated=being_liquidated), m


@st.composite
def quote_only_accounts(draw: st.DrawFn) -> tuple[Account, Markets]:
    """USDC and one SOL-PERP position of up to 15x the collateral, entered up to 30 % away from the oracle (so
    often deep in profit or under water), sometimes with funding owed, open orders or high-leverage mode."""
    m = draw(markets())
    oracle = m.perp[0].oracle_price
    collateral = draw(st.integers(1 * USDC, 200_000 * USDC))
    notional = collateral * draw(st.integers(0, 150)) // 10
    base = draw(st.sampled_from((1, -1))) * (notional * SOL // oracle) // (SOL // 100) * (SOL // 100)
    perps: tuple[PerpPosition, ...] = ()
    if base:
        pos = perp_at(
            base,
            oracle * draw(st.integers(70, 130)) // 100,
            last_cumulative_funding_rate=draw(st.integers(-(10**9), 10**9)),
        )
        if draw(st.booleans()):
            pos = msgspec.structs.replace(pos, open_bids=SOL, open_asks=-SOL, open_orders=2)
        perps = (pos,)
    mode = draw(st.sampled_from((MarginMode.DEFAULT, MarginMode.DEFAULT, MarginMode.HIGH_LEVERAGE)))
    return account(usdc_deposit(m, collateral), perps=perps, margin_mode=mode), m


def _projected_account(a: Account, m: Markets, target: int) -> Account:
    """What ``AccountMarginView.project`` models: the SOL-PERP position without its open orders, filled to
    ``target`` at the current oracle."""
    pos = a.perp_position(0)
    unordered = (
        a
        if pos is None
        else msgspec.structs.replace(
            a,
            perp_positions=tuple(
                msgspec.structs.replace(p, open_bids=0, open_asks=0, open_orders=0) if p is pos else p
                for p in a.perp_positions
            ),
        )
    )
    current = 0 if pos is None else pos.base_asset_amount
    if target == current:
        return unordered
    return apply_fill(unordered, m, 0, target - current, m.perp_market(0).oracle_price)


def _reference_free(a: Account, m: Markets) -> Callable[[int], int]:
    def free(price: int) -> int:
        calc = calculate_margin(a, m.with_perp_oracle_price(0, price), MarginCategory.MAINTENANCE)
        return calc.total_collateral - calc.margin_requirement

    return free


def _reference_side(free: Callable[[int], int], price: int, long: bool, known: int | None) -> int | None:
    """The view's search on one side as it was written before the fast paths, on the reference ``free``."""
    if known is not None and (known < price if long else known > price):
        nearer = known + 1 if long else known - 1
        if free(known) <= 0 and (nearer == price or free(nearer) > 0):
            return known
    return find_boundary(free, price, long=long)


def _reference_liquidation(
    free: Callable[[int], int], price: int, known: dict[bool, int]
) -> tuple[int | None, dict[bool, int]]:
    """The view's liquidation rule without its shortcuts, on the reference ``free``: the nearer boundary of both
    sides (a tie goes below), each side remembering the boundary it found; (answer, remembered afterwards)."""
    if free(price) <= 0:
        return price, known
    found = {side: _reference_side(free, price, side, known.get(side)) for side in (True, False)}
    remembered = {**known, **{side: b for side, b in found.items() if b is not None}}
    distances = [(abs(price - b), b) for b in found.values() if b is not None]
    return (min(distances)[1] if distances else None), remembered


def _expected_snapshot(a: Account, m: Markets, target: int, price: int, liq: int | None) -> MarginSnapshot:
    moved_markets = m.with_perp_oracle_price(0, price)
    full = account_margin(a, moved_markets)
    pos = a.perp_position(0) or PerpPosition(market_index=0)
    return MarginSnapshot(
        oracle_price=price,
        position_base=target,
        entry_price=entry_price(pos),
        total_collateral_initial=full.initial.total_collateral,
        total_collateral_maintenance=full.maintenance.total_collateral,
        margin_requirement_initial=full.initial.margin_requirement,
        margin_requirement_maintenance=full.maintenance.margin_requirement,
        free_collateral_initial=full.initial.free_collateral,
        free_collateral_maintenance=full.maintenance.free_collateral,
        health=full.health,
        leverage=full.leverage,
        liquidation_price=liq,
        unrealized_pnl=0 if pos.is_available else unrealized_pnl(pos, moved_markets.perp_market(0)),
    )


@settings(max_examples=300, deadline=None)
@given(accounts(), st.lists(st.tuples(bases, st.integers(20, 300)), min_size=1, max_size=4))
def test_projection_when_fast_paths_then_every_figure_and_liquidation_price_equal_the_full_search(
    am: tuple[Account, Markets], asks: list[tuple[int, int]]
) -> None:
    a, m = am
    oracle = m.perp_market(0).oracle_price
    view = AccountMarginView(a, m, 0)
    settled = m.perp_market(0).status is PerpMarketStatus.SETTLEMENT
    known: dict[int, dict[bool, int]] = {}
    for target, pct in asks:
        price = max(1, oracle * pct // 100)
        snap = view.project(target, price)
        projected = _projected_account(a, m, target)
        free = _reference_free(projected, m)
        if target == 0 or settled:
            liq: int | None = None
        else:
            liq, known[target] = _reference_liquidation(free, price, known.get(target, {}))
        assert snap == _expected_snapshot(projected, m, target, price, liq)
        # the maintenance free collateral the view reports is the one its liquidation search starts from
        assert snap.total_collateral_maintenance - snap.margin_requirement_maintenance == free(price)


@settings(max_examples=300, deadline=None)
@given(accounts(), prices)
def test_scenario_pricer_when_any_position_and_price_then_equals_calculate_margin_on_the_moved_account(
    am: tuple[Account, Markets], price: int
) -> None:
    a, m = am
    sc = OracleScenario(a, m, 0)
    pos = a.perp_position(0)
    pricer = sc.pricer(pos)
    moved = m.with_perp_oracle_price(0, price)
    full = account_margin(a, moved)
    tc_i, mr_i, tc_m, mr_m, lev, _ = pricer.figures(price)
    assert (tc_i, mr_i) == (full.initial.total_collateral, full.initial.margin_requirement)
    assert (tc_m, mr_m) == (full.maintenance.total_collateral, full.maintenance.margin_requirement)
    assert lev == full.leverage
    assert pricer.free_maintenance(price) == tc_m - mr_m
    assert sc.totals(pos, price, MarginCategory.MAINTENANCE).free == tc_m - mr_m


@settings(max_examples=200, deadline=None)
@given(accounts())
def test_liquidation_price_when_pricer_free_then_equals_find_boundary_over_calculate_margin(
    am: tuple[Account, Markets],
) -> None:
    a, m = am
    pos = a.perp_position(0)
    assume(pos is not None and pos.base_asset_amount != 0)
    assert pos is not None
    if m.perp_market(0).status is PerpMarketStatus.SETTLEMENT:
        assert liquidation_price(a, m, 0) is None
        return
    oracle = m.perp_market(0).oracle_price
    free = _reference_free(a, m)
    # the nearer boundary of both sides (a tie goes below): open orders' worst case can be either sign, and a
    # short hedged by spot SOL can be liquidated by a fall (its SOL collateral shrinks) while no rise reaches it
    found = [
        (abs(oracle - b), b) for b in (find_boundary(free, oracle, long=s) for s in (True, False)) if b is not None
    ]
    expected = min(found)[1] if found else None
    assert liquidation_price(a, m, 0) == expected


def test_liquidation_price_when_boundary_reused_then_still_the_boundary_on_this_side() -> None:
    m = catalogue_markets(150 * USDC)
    a = account(usdc_deposit(m, 2_000 * USDC), perps=(perp_at(40 * SOL, 150 * USDC),))
    view = AccountMarginView(a, m, 0)
    first = view.project(40 * SOL, 150 * USDC).liquidation_price
    assert first is not None and first < 150 * USDC
    again = view.project(40 * SOL, 140 * USDC).liquidation_price
    free = _reference_free(_projected_account(a, m, 40 * SOL), m)
    assert again == first == find_boundary(free, 140 * USDC, long=True)
    assert free(first) <= 0 < free(first + 1)


class _Silent:
    """The same projection, without its monotonicity vouching: the governor then runs its interior probes."""

    def __init__(self, view: AccountMarginView) -> None:
        self._view = view

    def current(self) -> MarginSnapshot:
        return self._view.current()

    def project(self, position_base: int, oracle_price: int) -> MarginSnapshot:
        return self._view.project(position_base, oracle_price)


limits_strategy = st.builds(
    RiskLimits,
    min_liq_distance_bps=st.integers(0, 5_000),
    min_health_after_trade=st.integers(50, 100),
    min_health_under_stress=st.integers(20, 100),
    max_leverage_x10000=st.integers(2_500, 200_000),
    stress_move_bps=st.integers(0, 9_000),
    max_notional_quote=st.one_of(st.none(), st.integers(1, 10**12)),
)


@settings(max_examples=500, deadline=None)
@given(
    quote_only_accounts(),
    st.sampled_from((1, -1)),
    st.integers(1, 4_000),
    st.integers(0, 9_999),
    st.integers(-15, 15),
    limits_strategy,
)
def test_max_safe_size_when_view_vouches_monotone_then_same_answer_as_with_the_interior_probes(  # noqa: PLR0917
    am: tuple[Account, Markets], side: int, steps: int, stress_bps: int, move_pct: int, limits: RiskLimits
) -> None:
    a, m = am
    view = AccountMarginView(a, m, 0)
    oracle = m.perp_market(0).oracle_price * (100 + move_pct) // 100  # the governor's oracle, around the fill price
    step = m.perp_market(0).spec.step_size
    cap_base = steps * step
    kwargs = {"step": step, "oracle": oracle, "stress_bps": stress_bps, "limits": limits}
    probed = max_safe_size(side, cap_base, projection=_Silent(AccountMarginView(a, m, 0)), **kwargs)  # type: ignore[arg-type]
    answer = max_safe_size(side, cap_base, projection=view, **kwargs)  # type: ignore[arg-type]
    assert answer == probed
    if view.monotone_in_position(side, oracle, max_base=cap_base, step=step):
        assert not probed.non_monotone


def test_monotone_vouching_when_hedged_settled_favourable_or_tiny_then_refused() -> None:
    price = 150 * USDC
    m = catalogue_markets(price)
    step = m.perp_market(0).spec.step_size
    plain = account(usdc_deposit(m, 10_000 * USDC), perps=(perp_at(-5 * SOL, price),))
    view = AccountMarginView(plain, m, 0)
    assert view.monotone_in_position(1, price, max_base=10 * SOL, step=step)
    assert view.monotone_in_position(-1, price, max_base=10 * SOL, step=step)
    # a price that favours the side: a bigger position gains more from it
    assert not view.monotone_in_position(1, price + 1, max_base=10 * SOL, step=step)
    assert not view.monotone_in_position(-1, price - 1, max_base=10 * SOL, step=step)
    assert view.monotone_in_position(1, price - 1, max_base=10 * SOL, step=step)
    # spot SOL hedges a short: a bigger short can be safer
    hedged = account(usdc_deposit(m, 10_000 * USDC), sol_deposit(m, 50 * SOL), perps=(perp_at(-5 * SOL, price),))
    assert not AccountMarginView(hedged, m, 0).monotone_in_position(-1, price, max_base=10 * SOL, step=step)
    # another perp position
    other = account(usdc_deposit(m, 10_000 * USDC), perps=(perp_at(SOL // 100, 60_000 * USDC, market_index=1),))
    assert not AccountMarginView(other, m, 0).monotone_in_position(1, price, max_base=10 * SOL, step=step)
    # a settled market is valued at its expiry price, whatever the position
    settled = msgspec.structs.replace(
        m, perp={**m.perp, 0: msgspec.structs.replace(m.perp[0], status=PerpMarketStatus.SETTLEMENT)}
    )
    assert not AccountMarginView(plain, settled, 0).monotone_in_position(1, price, max_base=10 * SOL, step=step)
    # an account under water, seen at a price above its fill: a bigger long wins back more, so the probes fire
    under_water = account(usdc_deposit(m, 100 * USDC), perps=(perp_at(50 * SOL, 180 * USDC),))
    above = price * 110 // 100
    lenient = RiskLimits(min_liq_distance_bps=0, stress_move_bps=0, max_leverage_x10000=10**6)
    fresh = AccountMarginView(under_water, m, 0)
    probed = max_safe_size(
        1, 1_000 * SOL, step=step, oracle=above, stress_bps=0, limits=lenient, projection=_Silent(fresh)
    )
    assert probed.non_monotone
    assert not AccountMarginView(under_water, m, 0).monotone_in_position(1, above, max_base=1_000 * SOL, step=step)
    # one step's requirement lost in the rounding of the margin figures
    assert not view.monotone_in_position(1, price, max_base=10 * SOL, step=1)
    # a projection that does not say is taken as not vouching
    assert not vouches_monotone(_Silent(view), 1, price, max_base=10 * SOL, step=step)
    assert vouches_monotone(view, 1, price, max_base=10 * SOL, step=step)
