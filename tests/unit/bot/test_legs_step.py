"""The step's two-leg path (``botrunner.bot.legs``): one PlaceLegs per deciding step, sized exactly, with its
worst-price limits; the cooldown's clock starts on the legs' fills only; operator flags gate it; the grid's step is
chosen for every perp-only bot."""

from __future__ import annotations

from pathlib import Path

import msgspec

from botrunner.bot.driver import BotDriver, RowBuffer, step_for
from botrunner.bot.legs import legs_step
from botrunner.bot.pipeline import BotDefinition, BotState, LegsState
from botrunner.bot.step import BarClose, FundingSettled, Operator, VenueReport, step
from botrunner.config import BotConfig, load_bot
from botrunner.connector.orders import OrderType
from botrunner.core.operator import Flatten, Pause
from botrunner.core.side import Side
from botrunner.paper.config import PaperConfig
from botrunner.paper.venue import PaperVenue
from botrunner.venue.port import CommandRejected, PlaceLegs, RejectReason

ROOT = Path(__file__).resolve().parents[3]
T0 = 1_757_808_000
PRICE = 200_000_000  # $200


def _config(**carry: object) -> BotConfig:
    bot = load_bot(ROOT / "config" / "bots" / "sol-delta-neutral.yaml")
    settings = msgspec.structs.replace(bot.strategy.carry, **carry)
    return msgspec.structs.replace(bot, strategy=msgspec.structs.replace(bot.strategy, carry=settings))


def _driver(bot: BotConfig) -> tuple[BotDriver, PaperVenue, RowBuffer]:
    definition = BotDefinition.from_config(bot)
    venue = PaperVenue(bot.market_spec, PaperConfig(), deposit_quote=bot.capital_quote, oracle_price=PRICE, now=T0)
    rows = RowBuffer()
    return BotDriver(definition, venue, definition.initial_state(T0), rows), venue, rows


def test_step_for_a_grid_bot_is_the_perp_step_and_for_delta_neutral_the_legs_step() -> None:
    grid = BotDefinition.from_config(load_bot(ROOT / "config" / "bots" / "sol-neutral-grid.yaml"))
    assert step_for(grid) is step
    assert step_for(BotDefinition.from_config(_config())) is legs_step


FAVOURABLE = 20_000_000  # funding $0.02 per SOL per hour (longs pay): a week of it pays the legs' costs


def test_legs_when_carry_in_then_one_place_legs_sized_exactly_with_worst_price_limits() -> None:
    driver, venue, rows = _driver(_config(always_in=True))
    driver.feed(FundingSettled(T0, FAVOURABLE))
    effects = driver.feed(BarClose(ts=T0 + 300, close_ts=T0 + 300, price=PRICE, oracle=PRICE))
    assert len(effects.commands) >= 1
    legs = effects.commands[0]
    assert isinstance(legs, PlaceLegs)
    assert [c for c in effects.commands if isinstance(c, PlaceLegs)] == [legs]
    assert legs.reason == "enter"
    assert legs.perp is not None and legs.spot is not None
    assert legs.perp.order_type is OrderType.MARKET and legs.perp.side is Side.SELL
    assert legs.perp.base == legs.spot.base == 40 * 10**9
    assert legs.perp.price == PRICE * 9_950 // 10_000  # mark - 0.5 %, on the tick
    assert legs.spot.side is Side.BUY and legs.spot.limit_price == PRICE * 10_050 // 10_000
    assert venue.spot_balance(1) == 40 * 10**9
    assert venue.position.base_asset_amount == -40 * 10**9
    assert driver.state.last_rebalance_ts == T0 + 300  # the fills arrived: the cooldown starts
    assert len(rows.spot_fills) == 1 and len(rows.fills) == 1
    assert rows.legs[0].reason == "enter" and rows.legs[0].sent


def test_legs_when_place_legs_rejected_then_the_cooldown_does_not_start() -> None:
    bot = BotDefinition.from_config(_config(always_in=True))
    state: BotState = bot.initial_state(T0)
    strategy: LegsState = state.strategy
    strategy.pending = "rebalance_expand_short"
    venue = PaperVenue(bot.market, PaperConfig(), deposit_quote=10**10, oracle_price=PRICE, now=T0)
    rejected = CommandRejected(ts=T0, command="PlaceLegs", reason=RejectReason.INSUFFICIENT_COLLATERAL, detail="x")
    state, _ = legs_step(bot, state, VenueReport(T0, (rejected,)), venue)
    assert state.last_rebalance_ts is None
    assert strategy.pending == ""  # the next decision may retry at once


def test_legs_when_operator_paused_then_no_trade_and_the_block_is_recorded() -> None:
    driver, venue, rows = _driver(_config(always_in=True))
    effects = driver.feed(Operator(ts=T0 + 60, command=Pause(name="sol-delta-neutral"), mark=PRICE, oracle=PRICE))
    assert not any(isinstance(c, PlaceLegs) for c in effects.commands)
    assert rows.legs[-1].blocked == "operator_pause" and not rows.legs[-1].sent
    assert venue.spot_balance(1) == 0


def test_legs_when_carry_not_positive_then_out_of_market_with_the_engine_reason() -> None:
    driver, _venue, rows = _driver(_config())
    driver.feed(FundingSettled(T0, -FAVOURABLE))  # shorts pay 87.6 %/yr: far more than the 1.98 % deposit APR
    effects = driver.feed(BarClose(ts=T0 + 300, close_ts=T0 + 300, price=PRICE, oracle=PRICE))
    assert not any(isinstance(c, PlaceLegs) for c in effects.commands)
    assert rows.legs[-1].reason == "out_of_market:carry_not_positive"
    assert rows.legs[-1].stance == "carry_not_positive" and rows.legs[-1].break_even_s is None
    assert rows.legs[-1].carry_apr_bps == rows.legs[-1].smoothed_carry_apr_bps < 0


def test_legs_when_only_the_deposit_apr_earns_then_out_until_it_breaks_even_within_the_horizon() -> None:
    driver, _venue, rows = _driver(_config())
    driver.feed(FundingSettled(T0, 0))
    driver.feed(BarClose(ts=T0 + 300, close_ts=T0 + 300, price=PRICE, oracle=PRICE))
    row = rows.legs[-1]
    # the curve's SOL deposit APR (1.9758 %, paper.interest.sol of the example) is the whole carry: positive, but
    # it takes far longer than the 7-day horizon to earn back the round trip's costs
    assert row.smoothed_carry_apr_bps == 197 and row.stance == "break_even_beyond_horizon"
    assert row.break_even_s is not None and row.break_even_s > 7 * 86_400 and not row.in_market


def test_legs_when_the_smoothed_carry_breaks_even_within_the_horizon_then_the_engine_enters() -> None:
    driver, venue, rows = _driver(_config())
    driver.feed(FundingSettled(T0, FAVOURABLE))
    effects = driver.feed(BarClose(ts=T0 + 300, close_ts=T0 + 300, price=PRICE, oracle=PRICE))
    assert [c.reason for c in effects.commands if isinstance(c, PlaceLegs)] == ["enter"]
    assert rows.legs[-1].stance == "enter" and rows.legs[-1].in_market
    assert venue.spot_balance(1) == 40 * 10**9


def test_legs_memory_keeps_the_carry_stance_so_a_restart_cannot_exit_inside_the_minimum_hold() -> None:
    config = _config(emergency_exit_apr=None)  # only the standard exit, which the minimum hold gates
    bot = BotDefinition.from_config(config)
    driver, venue, _rows = _driver(config)
    driver.feed(FundingSettled(T0, FAVOURABLE))
    driver.feed(BarClose(ts=T0 + 300, close_ts=T0 + 300, price=PRICE, oracle=PRICE))
    assert venue.spot_balance(1) == 40 * 10**9
    restored = bot.initial_state(T0 + 3_600, driver.state.memory())
    legs: LegsState = restored.strategy
    before: LegsState = driver.state.strategy
    assert legs.carry == before.carry and legs.carry.since_ts == T0 + 300
    restarted = BotDriver(bot, venue, restored, RowBuffer())
    # funding turns hard against the short: the smoothed carry goes below the band after ~7 h and stays there longer
    # than exit_after_s (8 h), all inside the 48 h hold that began before the restart
    for hour in range(1, 25):
        restarted.feed(FundingSettled(T0 + hour * 3_600, -5 * FAVOURABLE))
        restarted.feed(
            BarClose(ts=T0 + hour * 3_600 + 300, close_ts=T0 + hour * 3_600 + 300, price=PRICE, oracle=PRICE)
        )
    after: LegsState = restarted.state.strategy
    assert after.stance_reason == "hold_min_hold"
    assert venue.spot_balance(1) == 40 * 10**9


def test_legs_when_usdc_cannot_buy_the_target_then_the_entry_is_cut_to_what_it_buys_and_fills() -> None:
    bot = msgspec.structs.replace(_config(always_in=True), capital_quote=1_000 * 10**6)
    driver, venue, rows = _driver(bot)
    driver.feed(FundingSettled(T0, FAVOURABLE))
    effects = driver.feed(BarClose(ts=T0 + 300, close_ts=T0 + 300, price=PRICE, oracle=PRICE))
    legs = effects.commands[0]
    assert isinstance(legs, PlaceLegs) and legs.spot is not None and legs.perp is not None
    assert legs.spot.base == legs.perp.base
    assert legs.spot.base * legs.spot.limit_price // 10**9 <= 1_000 * 10**6  # within the USDC balance
    assert legs.spot.base >= 4 * 10**9  # the cut keeps what $1000 buys at $201, less the fee allowance
    assert effects.decision is not None and effects.decision.verdict.action.value == "CLAMP"
    assert venue.spot_balance(1) == legs.spot.base and not rows.legs[-1].blocked


def test_legs_when_revenue_below_cost_then_the_cost_gate_blocks_the_entry() -> None:
    driver, venue, rows = _driver(_config(always_in=True))
    driver.feed(FundingSettled(T0, 0))  # no funding: a week of 2 % deposit APR does not pay fees and slippage
    effects = driver.feed(BarClose(ts=T0 + 300, close_ts=T0 + 300, price=PRICE, oracle=PRICE))
    assert not any(isinstance(c, PlaceLegs) for c in effects.commands)
    assert rows.legs[-1].reason == "enter" and rows.legs[-1].blocked == "cost_gate"
    strategy: LegsState = driver.state.strategy
    assert strategy.cost is not None and strategy.cost.revenue_quote < strategy.cost.cost_quote
    assert venue.spot_balance(1) == 0


def test_legs_memory_keeps_the_cooldown_clock_and_the_mismatch_halt_across_a_restart() -> None:
    bot = BotDefinition.from_config(_config())
    state = bot.initial_state(T0)
    state.last_rebalance_ts, state.legs_halted = T0 + 600, True
    restored = bot.initial_state(T0 + 7_200, state.memory())
    assert restored.last_rebalance_ts == T0 + 600
    assert restored.legs_halted
    legs: LegsState = restored.strategy
    assert legs.rules.halted  # the restarted bot still waits for an operator


def test_legs_when_operator_flattens_then_both_legs_close_and_the_bot_pauses() -> None:
    driver, venue, _rows = _driver(_config(always_in=True))
    driver.feed(FundingSettled(T0, FAVOURABLE))
    driver.feed(BarClose(ts=T0 + 300, close_ts=T0 + 300, price=PRICE, oracle=PRICE))
    assert venue.spot_balance(1) == 40 * 10**9
    effects = driver.feed(Operator(ts=T0 + 600, command=Flatten(name="sol-delta-neutral"), mark=PRICE, oracle=PRICE))
    legs = [c for c in effects.commands if isinstance(c, PlaceLegs)]
    assert len(legs) == 1 and legs[0].reason == "exit"
    assert venue.position.base_asset_amount == 0 and venue.spot_balance(1) == 0
    driver.feed(BarClose(ts=T0 + 900, close_ts=T0 + 900, price=PRICE, oracle=PRICE))
    assert driver.state.flags.pause and not driver.state.flags.flatten
