"""Hypothesis properties of the margin engine on the real SOL-PERP / SOL / USDC parameters."""

from __future__ import annotations

import msgspec
from hypothesis import assume, given, settings
from hypothesis import strategies as st

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
    health,
    liquidation_price,
)
from tests.support.margin import SOL, USDC, account, bases, catalogue_markets, perp_at, sol_deposit, usdc_deposit

prices = st.integers(min_value=5 * USDC, max_value=800 * USDC)
usdc_amounts = st.integers(min_value=0, max_value=500_000 * USDC)
sol_amounts = st.integers(min_value=0, max_value=2_000 * SOL)


@st.composite
def accounts(draw: st.DrawFn) -> tuple[Account, Markets]:
    oracle = draw(prices)
    m = catalogue_markets(oracle)
    spots = [usdc_deposit(m, draw(usdc_amounts))]
    sol = draw(sol_amounts)
    if sol:
        spots.append(sol_deposit(m, sol))
    base = draw(bases)
    perps: tuple[PerpPosition, ...] = ()
    if base:
        pos = perp_at(base, draw(prices))
        if draw(st.booleans()):
            pos = msgspec.structs.replace(
                pos,
                open_bids=draw(st.integers(0, 500)) * SOL // 10,
                open_asks=-draw(st.integers(0, 500)) * SOL // 10,
                open_orders=draw(st.integers(1, 32)),
            )
        perps = (pos,)
    return account(*spots, perps=perps), m


@st.composite
def leveraged_accounts(draw: st.DrawFn) -> tuple[Account, Markets]:
    """An account with a non-zero SOL-PERP position entered near the oracle and collateral between 4 % and 200 %
    of its notional (mostly solvent), sometimes with a spot SOL hedge and open orders."""
    oracle = draw(prices)
    m = catalogue_markets(oracle)
    base = draw(bases.filter(lambda b: b != 0))
    entry = oracle * draw(st.integers(90, 110)) // 100
    notional = abs(base) * oracle // SOL
    spots = [usdc_deposit(m, notional * draw(st.integers(4, 200)) // 100)]
    if draw(st.booleans()):
        spots.append(sol_deposit(m, draw(sol_amounts)))
    pos = perp_at(base, entry)
    if draw(st.booleans()):
        pos = msgspec.structs.replace(
            pos,
            open_bids=draw(st.integers(0, 200)) * SOL // 10,
            open_asks=-draw(st.integers(0, 200)) * SOL // 10,
            open_orders=draw(st.integers(1, 32)),
        )
    return account(*spots, perps=(pos,)), m


@settings(max_examples=200, deadline=None)
@given(accounts())
def test_health_when_any_account_then_between_0_and_100(am: tuple[Account, Markets]) -> None:
    a, m = am
    assert 0 <= account_margin(a, m).health <= 100


@settings(max_examples=200, deadline=None)
@given(accounts(), st.integers(min_value=1, max_value=100_000 * USDC))
def test_health_when_more_usdc_deposited_then_never_lower(am: tuple[Account, Markets], extra: int) -> None:
    a, m = am
    usdc = a.spot_positions[0]
    richer = msgspec.structs.replace(
        a,
        spot_positions=(usdc_deposit(m, usdc.scaled_balance // 1000 + extra), *a.spot_positions[1:]),
    )
    before = calculate_margin(a, m, MarginCategory.MAINTENANCE)
    after = calculate_margin(richer, m, MarginCategory.MAINTENANCE)
    assert health(richer, after) >= health(a, before)
    assert after.free_collateral >= before.free_collateral


@settings(max_examples=200, deadline=None)
@given(leveraged_accounts())
def test_liquidation_price_when_healthy_then_on_the_losing_side_and_at_the_maintenance_boundary(
    am: tuple[Account, Markets],
) -> None:
    a, m = am
    pos = a.perp_positions[0]
    sc = OracleScenario(a, m, 0)
    oracle = m.perp_market(0).oracle_price

    def free(price: int) -> int:
        return sc.totals(pos, price, MarginCategory.MAINTENANCE).free

    assume(free(oracle) > 0)
    liq = liquidation_price(a, m, 0)
    unordered = pos.open_bids == 0 and pos.open_asks == 0
    # The losing side is where free collateral falls. That is the perp's side unless a SOL deposit on the same
    # oracle outweighs a short (net long: it loses as the price falls); without open orders free collateral is
    # monotone in the price, so one comparison tells the side.
    loses_down = free(max(1, oracle // 2)) < free(oracle)
    if liq is None:
        # none only when even the far end is solvent: price -> 0 when it loses downward, 10_000x when upward; with
        # open orders (whose worst case can be either sign) both far ends
        fars = (1 if loses_down else oracle * 10_000,) if unordered else (1, oracle * 10_000)
        assert all(free(far) > 0 for far in fars)
        return
    if unordered:  # on the losing side; with open orders on either side, the nearer one
        assert liq < oracle if loses_down else liq > oracle
    toward_oracle = 1 if liq < oracle else -1
    assert free(liq) <= 0 < free(liq + toward_oracle)
    # at the boundary collateral equals the requirement within one price tick's worth of value (+ rounding)
    spot_sol = sum(s.scaled_balance for s in a.spot_positions if s.market_index == 1)
    assert (
        -free(liq) <= 2 * (abs(pos.base_asset_amount) + abs(pos.open_bids) + abs(pos.open_asks) + spot_sol) // SOL + 4
    )
    # and projecting the account to that price puts it at the maintenance requirement the same way
    moved = calculate_margin(a, m.with_perp_oracle_price(0, liq), MarginCategory.MAINTENANCE)
    assert moved.total_collateral - moved.margin_requirement == free(liq)


@settings(max_examples=200, deadline=None)
@given(accounts(), bases, prices)
def test_projection_when_fill_and_move_then_equals_full_recalculation(
    am: tuple[Account, Markets], target: int, new_price: int
) -> None:
    a, m = am
    view = AccountMarginView(a, m, 0)
    snap = view.project(target, new_price)
    pos = a.perp_position(0)
    unordered = (
        a
        if pos is None
        else msgspec.structs.replace(
            a,
            perp_positions=(msgspec.structs.replace(pos, open_bids=0, open_asks=0, open_orders=0),),
        )
    )
    current = 0 if pos is None else pos.base_asset_amount
    filled = (
        apply_fill(unordered, m, 0, target - current, m.perp_market(0).oracle_price) if target != current else unordered
    )
    moved = m.with_perp_oracle_price(0, new_price)
    full = account_margin(filled, moved)
    assert snap.position_base == target
    assert snap.total_collateral_initial == full.initial.total_collateral
    assert snap.total_collateral_maintenance == full.maintenance.total_collateral
    assert snap.margin_requirement_initial == full.initial.margin_requirement
    assert snap.margin_requirement_maintenance == full.maintenance.margin_requirement
    assert snap.health == full.health
    assert snap.leverage == full.leverage
    assert snap.liquidation_price == liquidation_price(filled, moved, 0)
