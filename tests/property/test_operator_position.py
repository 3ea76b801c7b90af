"""Hypothesis properties of the operator's open (``botrunner.bot.operator_position``): it never produces a command
the Risk Governor would not approve.

* perp bot, any target, capital and price: either refused with nothing changed (no command, the same flags,
  connector and risk state), or the decision's verdict is APPROVE of exactly the target band, and the orders it
  places only move the position toward the target, never past it;
* two-leg bot, any size, capital, price and funding: either refused with no command and the flags as before, or
  exactly ONE PlaceLegs whose legs are equal (spot buy = perp sell = the size, from flat), which the two-leg Risk
  Governor approved as asked with the leverage after the trade within its cap, and the venue booked both legs.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
from hypothesis import event, given, settings
from hypothesis import strategies as st

from botrunner.bot.driver import BotDriver, RowBuffer
from botrunner.bot.operator_position import OpenTarget
from botrunner.bot.pipeline import BotDefinition, LegsState
from botrunner.bot.step import BarClose, FundingSettled, Operator
from botrunner.config import BotConfig, load_bot
from botrunner.connector.commands import CancelAndPlace, PlaceOrders
from botrunner.core.side import Side
from botrunner.core.verdict import RiskAction
from botrunner.paper.config import PaperConfig
from botrunner.paper.venue import PaperVenue
from botrunner.venue.port import PlaceLegs
from strategies.delta_neutral import leg_step


def _frozen(driver: BotDriver) -> bytes:
    """The bot's state as bytes (memory, connector, risk): equal bytes, nothing changed (not just the same objects)."""
    state = driver.state
    return b"|".join(msgspec.json.encode(part) for part in (state.memory(), state.connector, state.risk))


ROOT = Path(__file__).resolve().parents[2]
T0 = 1_757_808_000
SOL = 10**9
USD = 10**6
GRID = load_bot(ROOT / "config" / "bots" / "sol-neutral-grid.yaml")
LEGS = load_bot(ROOT / "config" / "bots" / "sol-delta-neutral.yaml")
SETTINGS = settings(max_examples=150, deadline=None)
STEP = leg_step(LEGS.market_spec, BotDefinition.from_config(LEGS).legs.spot)  # type: ignore[union-attr]

prices = st.integers(20, 400).map(lambda dollars: dollars * USD)
capitals = st.integers(100, 50_000).map(lambda dollars: dollars * USD)


def _driver(config: BotConfig, capital: int, price: int) -> tuple[BotDriver, PaperVenue]:
    definition = BotDefinition.from_config(config)
    venue = PaperVenue(config.market_spec, PaperConfig(), deposit_quote=capital, oracle_price=price, now=T0)
    return BotDriver(definition, venue, definition.initial_state(T0), RowBuffer()), venue


@SETTINGS
@given(
    target=st.integers(-3_000, 3_000).filter(bool).map(lambda tenths: tenths * SOL // 10),
    capital=capitals,
    price=prices,
)
def test_a_perp_open_is_refused_whole_or_approved_exactly_and_never_ordered_past_its_target(
    target: int, capital: int, price: int
) -> None:
    driver, _ = _driver(GRID, capital, price)
    before = _frozen(driver)
    effects = driver.feed(Operator(ts=T0 + 60, command=OpenTarget(target), mark=price, oracle=price))
    event(f"refused by {effects.refusal.gate}" if effects.refusal is not None else "opened")
    if effects.refusal is not None:
        assert effects.commands == ()
        assert _frozen(driver) == before
        return
    decision = effects.decision
    assert decision is not None
    assert decision.verdict.action is RiskAction.APPROVE
    assert (decision.verdict.band.min_base, decision.verdict.band.max_base) == (target, target)
    orders = [o for c in effects.commands if isinstance(c, PlaceOrders | CancelAndPlace) for o in c.orders]
    toward = Side.BUY if target > 0 else Side.SELL
    assert all(o.side is toward for o in orders)  # from flat: only orders toward the target
    assert sum(o.base for o in orders) <= abs(target)


@SETTINGS
@given(
    size=st.integers(1, 2_000).map(lambda steps: steps * STEP),  # on the legs' common step, as resolve_open checks
    capital=capitals,
    price=prices,
    funding=st.integers(-50, 200).map(lambda tenth_cents: tenth_cents * 1_000_000),
)
def test_a_two_leg_open_is_one_place_legs_of_equal_legs_the_governor_approved_within_its_leverage_cap(
    size: int, capital: int, price: int, funding: int
) -> None:
    driver, venue = _driver(LEGS, capital, price)
    driver.feed(FundingSettled(T0, funding))
    flags = driver.state.flags
    effects = driver.feed(Operator(ts=T0 + 60, command=OpenTarget(size), mark=price, oracle=price))
    placed = [c for c in effects.commands if isinstance(c, PlaceLegs)]
    event(f"refused by {effects.refusal.gate}" if effects.refusal is not None else "opened")
    if effects.refusal is not None:
        assert placed == [] and driver.state.flags == flags
        assert venue.spot_balance(1) == 0 and venue.position.base_asset_amount == 0
        return
    assert len(placed) == 1
    legs = placed[0]
    assert legs.spot is not None and legs.perp is not None
    assert (legs.spot.side, legs.perp.side) == (Side.BUY, Side.SELL)
    assert legs.spot.base == legs.perp.base == size
    ls: LegsState = driver.state.strategy
    verdict = ls.risk
    assert verdict is not None and verdict.action is RiskAction.APPROVE
    assert (verdict.spot_delta, verdict.perp_delta) == (size, -size)
    assert verdict.leverage_after <= verdict.leverage_cap_x10000
    assert venue.spot_balance(1) == size and venue.position.base_asset_amount == -size


@SETTINGS
@given(
    first=st.integers(1, 200).map(lambda steps: steps * STEP),
    second=st.integers(1, 200).map(lambda steps: steps * STEP),
    price=prices,
)
def test_while_a_place_legs_is_in_flight_no_open_or_decision_sends_another(first: int, second: int, price: int) -> None:
    # one PlaceLegs at a time, whatever the operator asks meanwhile: a second would be sized from legs that do not
    # count the first (the step alone, so the first's outcome never arrives)
    from botrunner.bot.legs import legs_step

    definition = BotDefinition.from_config(LEGS)
    venue = PaperVenue(LEGS.market_spec, PaperConfig(), deposit_quote=10**6 * USD, oracle_price=price, now=T0)
    state = definition.initial_state(T0)
    state, _ = legs_step(definition, state, FundingSettled(T0, 20_000_000), venue)
    state, opened = legs_step(
        definition, state, Operator(ts=T0 + 60, command=OpenTarget(first), mark=price, oracle=price), venue
    )
    if not any(isinstance(c, PlaceLegs) for c in opened.commands):
        return  # refused: nothing in flight
    state, again = legs_step(
        definition, state, Operator(ts=T0 + 61, command=OpenTarget(second), mark=price, oracle=price), venue
    )
    bar = BarClose(ts=T0 + 300, close_ts=T0 + 300, price=price, oracle=price)
    state, later = legs_step(definition, state, bar, venue)
    assert not [c for c in (*again.commands, *later.commands) if isinstance(c, PlaceLegs)]
    assert state.strategy.pending
