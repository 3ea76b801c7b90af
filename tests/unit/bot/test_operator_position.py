"""The operator's open and close through the bot's own step (``botrunner.bot.operator_position``): a perp bot's open
is a target band the Risk Governor must approve as asked (else nothing changes), a two-leg bot's is ONE PlaceLegs of
equal legs through the engine's gates (else the decision is withdrawn whole); close is the exact flatten; the target
outlives pause/resume and a checkpoint, and clears on close."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from actors.bot_actor import BotCheckpoint, decode_checkpoint
from botrunner.bot.driver import BotDriver, RowBuffer
from botrunner.bot.operator_position import OpenTarget, Refusal, SizeError, next_flags, resolve_open
from botrunner.bot.pipeline import BotDefinition, LegsState, OperatorFlags
from botrunner.bot.step import BarClose, FundingSettled, Operator
from botrunner.config import BotConfig, load_bot
from botrunner.connector.commands import CancelAndPlace, PlaceOrders
from botrunner.core.operator import ClosePosition, Flatten, OpenPosition, Pause, PositionSide, ReduceOnly, Resume
from botrunner.core.side import Side
from botrunner.core.verdict import RiskAction
from botrunner.paper.config import PaperConfig
from botrunner.paper.venue import PaperVenue
from botrunner.venue.port import PlaceLegs, SettlePnl


def _frozen(driver: BotDriver) -> bytes:
    """The bot's state as bytes (memory, connector, risk): equal bytes, nothing changed (not just the same objects)."""
    state = driver.state
    return b"|".join(msgspec.json.encode(part) for part in (state.memory(), state.connector, state.risk))


ROOT = Path(__file__).resolve().parents[3]
T0 = 1_757_808_000
PRICE = 200_000_000  # $200
SOL = 10**9
FAVOURABLE = 20_000_000  # funding $0.02 per SOL per hour, longs pay: the short perp earns it


def _grid() -> BotConfig:
    return load_bot(ROOT / "config" / "bots" / "sol-neutral-grid.yaml")


def _legs(**carry: object) -> BotConfig:
    bot = load_bot(ROOT / "config" / "bots" / "sol-delta-neutral.yaml")
    settings = msgspec.structs.replace(bot.strategy.carry, **carry)
    return msgspec.structs.replace(bot, strategy=msgspec.structs.replace(bot.strategy, carry=settings))


def _driver(config: BotConfig) -> tuple[BotDriver, PaperVenue, RowBuffer]:
    definition = BotDefinition.from_config(config)
    venue = PaperVenue(
        config.market_spec, PaperConfig(), deposit_quote=config.capital_quote, oracle_price=PRICE, now=T0
    )
    rows = RowBuffer()
    return BotDriver(definition, venue, definition.initial_state(T0), rows), venue, rows


def _op(command: object, ts: int = T0 + 60, price: int = PRICE) -> Operator:
    return Operator(ts=ts, command=command, mark=price, oracle=price)  # type: ignore[arg-type]


# -- the command in the bot's integers -----------------------------------------------------------------------------


def test_resolve_open_when_perp_bot_then_signed_exact_target_and_a_side_is_required() -> None:
    grid = BotDefinition.from_config(_grid())
    assert resolve_open(grid, OpenPosition(name="g", size="2.5", side=PositionSide.LONG)) == OpenTarget(25 * SOL // 10)
    assert resolve_open(grid, OpenPosition(name="g", size="2.5", side=PositionSide.SHORT)) == OpenTarget(
        -25 * SOL // 10
    )
    with pytest.raises(SizeError, match=r"needs a side .* at `\$.args.side`"):
        resolve_open(grid, OpenPosition(name="g", size="2.5"))


def test_resolve_open_when_two_leg_bot_then_no_side_and_the_common_step() -> None:
    legs = BotDefinition.from_config(_legs())
    assert resolve_open(legs, OpenPosition(name="dn", size="10")) == OpenTarget(10 * SOL)
    with pytest.raises(SizeError, match="takes no side"):
        resolve_open(legs, OpenPosition(name="dn", size="10", side=PositionSide.SHORT))


@pytest.mark.parametrize(
    ("size", "why"),
    [
        ("0.0000000001", "more decimals than"),  # finer than 1e-9
        ("0.0001", "not a multiple of the order step"),
        ("1.0005", "not a multiple of the order step"),
    ],
)
def test_resolve_open_when_size_is_off_the_market_then_a_size_error_naming_the_field(size: str, why: str) -> None:
    grid = BotDefinition.from_config(_grid())
    with pytest.raises(SizeError, match=why) as caught:
        resolve_open(grid, OpenPosition(name="g", size=size, side=PositionSide.LONG))
    assert "$.args.size" in str(caught.value)


@pytest.mark.parametrize("size", ["0", "-1", "abc", "nan", "inf"])
def test_open_when_size_is_not_a_positive_number_then_refused_at_decoding(size: str) -> None:
    with pytest.raises(ValueError, match="size must be"):
        OpenPosition(name="g", size=size, side=PositionSide.LONG)


def test_next_flags_open_is_a_whole_intent_mode_commands_keep_the_target_flatten_and_close_clear_it() -> None:
    paused = OperatorFlags(pause=True)
    opened = next_flags(paused, OpenTarget(5 * SOL))
    assert opened == OperatorFlags(target_base=5 * SOL)  # the pause is cleared: an open is an explicit trade
    assert next_flags(opened, Pause(name="b")) == OperatorFlags(pause=True, target_base=5 * SOL)
    assert next_flags(opened, ReduceOnly(name="b")) == OperatorFlags(reduce_only=True, target_base=5 * SOL)
    assert next_flags(next_flags(opened, Pause(name="b")), Resume(name="b")) == opened
    assert next_flags(opened, Flatten(name="b")) == OperatorFlags(flatten=True)
    assert next_flags(opened, ClosePosition(name="b")) == OperatorFlags(flatten=True)


# -- a perp bot ------------------------------------------------------------------------------------------------------


def test_perp_open_when_the_governor_approves_then_the_target_is_the_band_and_only_bids_up_to_it() -> None:
    driver, _, _ = _driver(_grid())
    effects = driver.feed(_op(OpenTarget(5 * SOL)))
    assert effects.refusal is None
    assert driver.state.flags == OperatorFlags(target_base=5 * SOL)
    decision = effects.decision
    assert decision is not None and decision.verdict.action is RiskAction.APPROVE
    assert decision.verdict.band.min_base == decision.verdict.band.max_base == 5 * SOL
    orders = [o for c in effects.commands if isinstance(c, PlaceOrders | CancelAndPlace) for o in c.orders]
    assert orders and all(o.side is Side.BUY for o in orders)
    assert sum(o.base for o in orders) <= 5 * SOL
    # the target stays: the next bar's decision still works it (the strategy's band is replaced)
    effects = driver.feed(BarClose(ts=T0 + 300, close_ts=T0 + 300, price=PRICE, oracle=PRICE))
    assert effects.decision is not None and effects.decision.strategy.note == "operator_open"


def test_perp_open_when_the_governor_would_not_approve_it_then_refused_with_numbers_and_nothing_changes() -> None:
    driver, _, rows = _driver(_grid())
    before = _frozen(driver)
    effects = driver.feed(_op(OpenTarget(1_000 * SOL)))  # $200,000 on $10,000: beyond the 3x leverage cap
    refusal = effects.refusal
    assert isinstance(refusal, Refusal) and refusal.gate == "risk_governor"
    assert "leverage_cap" in refusal.reasons and refusal.action in ("CLAMP", "REDUCE_ONLY", "PAUSE")
    assert dict(refusal.numbers)["target_base"] == "1000"
    assert effects.commands == () and effects.decision is None
    assert _frozen(driver) == before
    assert not rows


def test_perp_close_clears_the_target_and_flattens_then_pauses_once_flat() -> None:
    driver, _, _ = _driver(_grid())
    driver.feed(_op(OpenTarget(5 * SOL)))
    driver.feed(_op(Pause(name="g"), ts=T0 + 90))
    assert driver.state.flags == OperatorFlags(pause=True, target_base=5 * SOL)  # a paused target
    driver.feed(_op(ClosePosition(name="g"), ts=T0 + 120))
    assert driver.state.flags == OperatorFlags(pause=True)  # flat with nothing resting: paused at once


# -- a two-leg bot --------------------------------------------------------------------------------------------------


def test_legs_open_when_every_gate_passes_then_one_place_legs_of_equal_legs_even_out_of_market() -> None:
    driver, venue, rows = _driver(_legs())  # not always_in: the carry engine alone would stay out
    driver.feed(FundingSettled(T0, FAVOURABLE))
    effects = driver.feed(_op(OpenTarget(10 * SOL)))
    assert effects.refusal is None
    placed = [c for c in effects.commands if isinstance(c, PlaceLegs)]
    assert len(placed) == 1 and placed[0].spot is not None and placed[0].perp is not None
    assert placed[0].spot.side is Side.BUY and placed[0].perp.side is Side.SELL
    assert placed[0].spot.base == placed[0].perp.base == 10 * SOL
    assert venue.spot_balance(1) == 10 * SOL and venue.position.base_asset_amount == -10 * SOL
    ls: LegsState = driver.state.strategy
    assert ls.risk is not None and ls.risk.action is RiskAction.APPROVE
    assert ls.risk.leverage_after <= ls.risk.leverage_cap_x10000
    assert driver.state.flags == OperatorFlags(target_base=10 * SOL)
    # held: the next decisions keep the legs (the carry engine's "out" does not unwind the operator's hold)
    effects = driver.feed(BarClose(ts=T0 + 300, close_ts=T0 + 300, price=PRICE, oracle=PRICE))
    assert not [c for c in effects.commands if isinstance(c, PlaceLegs)]
    assert rows.legs[-1].reason == "within_tolerance"
    assert venue.spot_balance(1) == 10 * SOL and venue.position.base_asset_amount == -10 * SOL


def test_legs_open_when_the_cost_gate_blocks_then_withdrawn_whole_with_its_numbers() -> None:
    driver, venue, rows = _driver(_legs())  # no funding yet: revenue below the round trip's costs
    before = driver.state.flags
    effects = driver.feed(_op(OpenTarget(5 * SOL)))
    refusal = effects.refusal
    assert refusal is not None and refusal.gate == "cost_gate"
    numbers = dict(refusal.numbers)
    assert float(numbers["revenue_usd"]) < float(numbers["cost_usd"])
    assert effects.commands == ()
    assert driver.state.flags == before and driver.state.strategy.pending == ""
    assert rows.legs[-1].blocked == "operator_refused:cost_gate" and not rows.legs[-1].sent
    assert venue.spot_balance(1) == 0 and venue.position.base_asset_amount == 0


def test_legs_open_when_the_usdc_cannot_buy_the_spot_leg_then_refused_not_cut() -> None:
    driver, venue, _ = _driver(_legs())
    driver.feed(FundingSettled(T0, FAVOURABLE))
    effects = driver.feed(_op(OpenTarget(100 * SOL)))  # $20,000 of SOL on $10,000 of USDC
    assert effects.refusal is not None and effects.refusal.gate == "usdc_balance"
    assert effects.commands == () and venue.spot_balance(1) == 0
    assert driver.state.flags.target_base is None


def test_legs_close_flattens_both_legs_exactly_then_pauses_and_settles_the_pnl_at_the_next_decision() -> None:
    driver, venue, _ = _driver(_legs())
    driver.feed(FundingSettled(T0, FAVOURABLE))
    driver.feed(_op(OpenTarget(10 * SOL)))
    moved = PRICE * 9 // 10  # the perp short gains $2 per SOL
    venue.on_price(T0 + 100, moved, moved)
    effects = driver.feed(_op(ClosePosition(name="dn"), ts=T0 + 120, price=moved))
    placed = [c for c in effects.commands if isinstance(c, PlaceLegs)]
    assert len(placed) == 1 and placed[0].spot is not None and placed[0].perp is not None
    assert placed[0].spot.side is Side.SELL and placed[0].spot.base == 10 * SOL
    assert placed[0].perp.side is Side.BUY and placed[0].perp.base == 10 * SOL
    assert venue.position.base_asset_amount == 0 and venue.spot_balance(1) == 0
    assert abs(venue.unsettled_pnl()) > 1_000_000  # above the $1 threshold
    effects = driver.feed(BarClose(ts=T0 + 300, close_ts=T0 + 300, price=moved, oracle=moved))
    assert driver.state.flags == OperatorFlags(pause=True)
    assert any(isinstance(c, SettlePnl) for c in effects.commands)


def test_the_target_survives_a_checkpoint() -> None:
    flags = OperatorFlags(pause=True, target_base=-7 * SOL)
    envelope = BotCheckpoint(venue=msgspec.Raw(b"{}"), funding_rate=0, day=1, day_start_equity=2, flags=flags)
    assert decode_checkpoint(msgspec.json.encode(envelope), "b").flags == flags
    old = msgspec.json.encode(msgspec.structs.replace(envelope, flags=OperatorFlags(pause=True)))
    assert decode_checkpoint(old, "b").flags.target_base is None  # a checkpoint from before: no target


def test_legs_open_when_a_place_legs_is_still_in_flight_then_refused_and_the_one_in_flight_stays_marked() -> None:
    # the first open's PlaceLegs is sent and not yet answered (live: on the loop; paper: latency): a second open is
    # refused (legs_in_flight), and the refusal must not forget the first is in flight, or the next decision sends
    # another PlaceLegs sized from legs that do not count the first: the hedge traded twice
    from botrunner.bot.legs import legs_step

    definition = BotDefinition.from_config(_legs())
    venue = PaperVenue(
        definition.market, PaperConfig(), deposit_quote=_legs().capital_quote, oracle_price=PRICE, now=T0
    )
    state = definition.initial_state(T0)
    state, _ = legs_step(definition, state, FundingSettled(T0, FAVOURABLE), venue)
    state, first = legs_step(definition, state, _op(OpenTarget(10 * SOL)), venue)
    assert [type(c) for c in first.commands] == [PlaceLegs]  # sent; the venue has not answered
    in_flight = state.strategy.pending
    assert in_flight
    state, second = legs_step(definition, state, _op(OpenTarget(12 * SOL), ts=T0 + 61), venue)
    assert second.refusal is not None and second.refusal.gate == "legs_in_flight" and second.commands == ()
    assert state.strategy.pending == in_flight
    state, later = legs_step(
        definition, state, BarClose(ts=T0 + 300, close_ts=T0 + 300, price=PRICE, oracle=PRICE), venue
    )
    assert not [c for c in later.commands if isinstance(c, PlaceLegs)]  # still waiting for the first's outcome
