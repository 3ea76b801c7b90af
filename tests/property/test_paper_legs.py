"""Hypothesis properties of ``PlaceLegs`` on the paper venue (``botrunner.paper.legs``) over random legs, limits,
balances, an existing perp position and oracle moves, on the real SOL-PERP and SOL spot specs.

After every PlaceLegs: either the whole command was refused (one ``CommandRejected``) and nothing changed, or both
legs were booked exactly as their fills say (the SOL and USDC balances move by the ``SpotFill``, the position by
the ``Fill``); capital is conserved: equity before - fees - slippage cost = equity after at the same oracle (up to
the valuation's own rounding, see ``test_place_legs_is_all_or_nothing_and_conserves_capital``); the SOL balance
never goes negative nor USDC into a borrow through a spot buy; a booked trade leaves the account meeting initial
margin or with more initial free collateral than before; the account's cached margin view is the fresh one.
"""

from __future__ import annotations

from fractions import Fraction

import msgspec
from hypothesis import event, given, settings
from hypothesis import strategies as st

from botrunner.connector.orders import OrderIntent, OrderType
from botrunner.core.catalogue import load_catalogue
from botrunner.core.policy import PostOnlyMode
from botrunner.core.precision import BASE_PRECISION, PRICE_PRECISION, QUOTE_PRECISION, SOL_SPOT_MARKET_INDEX
from botrunner.core.side import Side
from botrunner.margin.calculation import calculate_margin
from botrunner.margin.model import MarginCategory
from botrunner.paper.config import PaperConfig
from botrunner.paper.venue import PaperVenue
from botrunner.venue.port import CommandRejected, Deposit, Fill, PlaceLegs, SpotFill, SpotOrder

PERP = load_catalogue().perp("SOL-PERP")
SPOT = load_catalogue().spot(SOL_SPOT_MARKET_INDEX)
USD = PRICE_PRECISION
USDC = QUOTE_PRECISION
T0 = 1_000

sides = st.sampled_from((Side.BUY, Side.SELL))
# limits, in bp worse than the oracle: mostly wide enough to fill, sometimes better than the oracle (refused)
limit_offsets = st.one_of(st.integers(30, 300), st.integers(-300, 300))


def _limit(side: Side, oracle: int, offset_bps: int, tick: int) -> int:
    raw = oracle * (10_000 + side.sign * offset_bps) // 10_000
    return max(tick, raw // tick * tick)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[PaperVenue, PlaceLegs, int]:
    oracle = draw(st.integers(20, 400)) * USD + draw(st.integers(0, 9_999)) * 100
    config = PaperConfig(
        spot_taker_ppm=draw(st.sampled_from((0, 1_000, 2_500))),
        spot_impact_ppm=draw(st.sampled_from((0, 100, 5_000))),
        max_leverage_x10000=draw(st.sampled_from((10, 50))) * 10_000,
    )
    venue = PaperVenue(PERP, config, deposit_quote=draw(st.integers(1, 50_000)) * USDC, oracle_price=150 * USD, now=T0)
    sol = draw(st.integers(0, 500)) * SPOT.order_step_size * 1_000  # 0 .. 50 SOL in 0.1 steps
    if sol:
        venue.submit(Deposit(spot_market_index=SOL_SPOT_MARKET_INDEX, amount=sol), T0)
    start = draw(st.integers(-50, 50)) * PERP.step_size * 10  # an existing position, -5 .. 5 SOL (may be refused)
    if start:
        side = Side.BUY if start > 0 else Side.SELL
        venue.submit(
            PlaceLegs(spot=None, perp=_intent(side, abs(start), 200 * USD if start > 0 else USD, False), reason="x"),
            T0,
        )
    venue.on_price(T0 + 1, oracle, oracle)
    spot = None
    if draw(st.booleans()):
        side = draw(sides)
        spot = SpotOrder(
            spot_market_index=SOL_SPOT_MARKET_INDEX,
            side=side,
            base=draw(st.integers(1, 500)) * SPOT.order_step_size * 1_000,  # 0.1 .. 50 SOL
            limit_price=_limit(side, oracle, draw(limit_offsets), SPOT.order_tick_size),
        )
    perp = None
    if spot is None or draw(st.integers(0, 3)):
        side = draw(sides)
        perp = _intent(
            side,
            draw(st.integers(1, 5_000)) * PERP.step_size,  # 0.01 .. 50 SOL
            _limit(side, oracle, draw(limit_offsets), PERP.tick_size),
            draw(st.integers(0, 9)) == 5,  # reduce-only now and then (not 0: Hypothesis favours it)
        )
    return venue, PlaceLegs(spot=spot, perp=perp, reason="rebalance"), oracle


def _intent(side: Side, base: int, limit: int, reduce_only: bool) -> OrderIntent:
    return OrderIntent(
        user_order_id=9,
        side=side,
        price=limit,
        base=base,
        post_only=PostOnlyMode.NONE,
        reduce_only=reduce_only,
        max_ts=0,
        placed_at=T0,
        anchor_price=limit,
        order_type=OrderType.MARKET,
    )


@settings(max_examples=1_000, deadline=None)
@given(scenarios())
def test_place_legs_is_all_or_nothing_and_conserves_capital(case: tuple[PaperVenue, PlaceLegs, int]) -> None:
    venue, legs, oracle = case
    before = (venue.usdc, venue.sol, venue.position, msgspec.structs.asdict(venue.ledger), venue.account())
    equity_before = venue.equity()
    initial_before = calculate_margin(venue.account(), venue.markets(), MarginCategory.INITIAL)
    events = venue.submit(legs, T0 + 1)
    if isinstance(events[0], CommandRejected):
        event(f"refused: {events[0].reason.value} ({events[0].detail.split(':')[0]})")
        assert len(events) == 1 and events[0].command == "PlaceLegs"
        after = (venue.usdc, venue.sol, venue.position, msgspec.structs.asdict(venue.ledger), venue.account())
        assert after == before
        return
    event(f"booked: {'spot' if legs.spot else ''}{'+' if legs.spot and legs.perp else ''}{'perp' if legs.perp else ''}")
    fills = [e for e in events if isinstance(e, Fill)]
    spot_fills = [e for e in events if isinstance(e, SpotFill)]
    assert len(fills) == (legs.perp is not None) and len(spot_fills) == (legs.spot is not None)
    fees = Fraction(0)
    slippage = Fraction(0)  # what the fills cost against the oracle (>= 0: a taker never beats it here)
    base_delta = sol_delta = usdc_delta = 0
    for f in fills:
        assert legs.perp is not None and f.base == legs.perp.base and f.complete
        delta = f.base * f.side.sign
        base_delta += delta
        fees += f.fee
        slippage += -f.quote - Fraction(delta * oracle, BASE_PRECISION)
    for s in spot_fills:
        assert legs.spot is not None and s.base == legs.spot.base
        delta = s.base * s.side.sign
        sol_delta += delta
        usdc_delta += s.quote - s.fee
        fees += s.fee
        slippage += -s.quote - Fraction(delta * oracle, 10**SPOT.decimals)
    assert slippage >= 0
    # both balances moved exactly as the fills say, and the position by the perp fill
    assert venue.sol == before[1] + sol_delta >= 0
    assert venue.usdc == before[0] + usdc_delta
    assert venue.usdc >= 0 or usdc_delta == 0
    assert venue.position.base_asset_amount == before[2].base_asset_amount + base_delta
    # capital: the equity valuation truncates the position's value and floors the SOL's, each before and after,
    # so the two sides differ by less than 4 units of quote (1e-6 USDC) at most
    assert abs(venue.equity() - (equity_before - fees - slippage)) < 4
    # margin: initial met after, or the trade raised the initial free collateral
    initial_after = calculate_margin(venue.account(), venue.markets(), MarginCategory.INITIAL)
    assert initial_after.meets_margin_requirement or (
        initial_after.total_collateral - initial_after.margin_requirement
        > initial_before.total_collateral - initial_before.margin_requirement
    )
    # the cached margin account (per version) is the fresh one: the booking recorded its change
    assert venue._account.current() == venue._account.account()
