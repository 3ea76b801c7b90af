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


def test_legs_when_carry_below_enter_then_out_of_market_with_the_stance_reason() -> None:
    driver, _venue, rows = _driver(_config())
    driver.feed(FundingSettled(T0, -50_000))  # shorts pay: carry below the entry threshold
    effects = driver.feed(BarClose(ts=T0 + 300, close_ts=T0 + 300, price=PRICE, oracle=PRICE))
    assert not any(isinstance(c, PlaceLegs) for c in effects.commands)
    assert rows.legs[-1].reason == "out_of_market:carry_below_enter"
    assert rows.legs[-1].carry_apr_bps < 200


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
