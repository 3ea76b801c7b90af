"""Safety gates for PlaceLegs (governors.safety_gates.check_legs): a two-leg trade above the confirmation
threshold never passes without a valid confirmation of its terms, whole-bot blocks stop it, and a block is always
of the whole command (there is no way to get one leg through)."""

from __future__ import annotations

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from botrunner.config.live import LiveSettings
from botrunner.connector.orders import OrderIntent, OrderType
from botrunner.core.policy import PostOnlyMode
from botrunner.core.precision import quote_value
from botrunner.core.side import Side
from botrunner.venue.port import PlaceLegs, SpotOrder
from governors.safety_gates import (
    Confirmations,
    GateBlock,
    GateInputs,
    check_legs,
    legs_notional,
    legs_token,
)

USD = 10**6
ORACLE = 150 * USD
NOW = 1_700_000_000
OK = GateInputs(sol_lamports=10**9, latency_ms=100, now=NOW)
DEFAULTS = LiveSettings()


def _perp(side: Side, base: int, price: int) -> OrderIntent:
    return OrderIntent(
        user_order_id=7,
        side=side,
        price=price,
        base=base,
        post_only=PostOnlyMode.NONE,
        reduce_only=False,
        max_ts=0,
        placed_at=NOW,
        anchor_price=ORACLE,
        order_type=OrderType.MARKET,
    )


bases = st.integers(10**7, 10**11)
prices = st.integers(100 * USD, 200 * USD)


@st.composite
def legs(draw: st.DrawFn) -> PlaceLegs:
    spot = draw(
        st.none()
        | st.builds(lambda b, p: SpotOrder(spot_market_index=1, side=Side.BUY, base=b, limit_price=p), bases, prices)
    )
    perp = draw(st.builds(lambda b, p: _perp(Side.SELL, b, p), bases, prices))
    if spot is None and draw(st.booleans()):
        return PlaceLegs(
            spot=SpotOrder(spot_market_index=1, side=Side.BUY, base=10**9, limit_price=ORACLE),
            perp=None,
            reason="enter",
        )
    return PlaceLegs(spot=spot, perp=perp, reason="enter")


def test_legs_notional_is_the_sum_of_both_legs() -> None:
    cmd = PlaceLegs(
        spot=SpotOrder(spot_market_index=1, side=Side.BUY, base=10**9, limit_price=151 * USD),
        perp=_perp(Side.SELL, 10**9, 149 * USD),
        reason="enter",
    )
    # spot at max(oracle, limit) = 151; perp MARKET at max(oracle, limit) = 150
    assert legs_notional(cmd, ORACLE, ORACLE) == 151 * USD + 150 * USD


def test_legs_when_each_leg_under_100_but_sum_over_then_needs_confirmation() -> None:
    half = 6 * 10**8  # 0.6 SOL: $90 a leg at $150, $180 together
    cmd = PlaceLegs(
        spot=SpotOrder(spot_market_index=1, side=Side.BUY, base=half, limit_price=ORACLE),
        perp=_perp(Side.SELL, half, ORACLE),
        reason="enter",
    )
    blocked = check_legs(cmd, DEFAULTS, OK, Confirmations(), oracle_price=ORACLE, spot_oracle_price=ORACLE)
    assert blocked is not None and blocked.reason is GateBlock.NEEDS_CONFIRMATION
    confirmed = Confirmations().approve(legs_token(cmd), NOW + 60)
    assert check_legs(cmd, DEFAULTS, OK, confirmed, oracle_price=ORACLE, spot_oracle_price=ORACLE) is None


def test_legs_token_changes_with_either_leg_terms() -> None:
    cmd = PlaceLegs(
        spot=SpotOrder(spot_market_index=1, side=Side.BUY, base=10**9, limit_price=ORACLE),
        perp=_perp(Side.SELL, 10**9, ORACLE),
        reason="enter",
    )
    assert cmd.spot is not None and cmd.perp is not None
    other_spot = msgspec.structs.replace(cmd, spot=msgspec.structs.replace(cmd.spot, base=2 * 10**9))
    other_perp = msgspec.structs.replace(cmd, perp=msgspec.structs.replace(cmd.perp, base=2 * 10**9))
    retry = msgspec.structs.replace(
        cmd, reason="operator_open", perp=msgspec.structs.replace(cmd.perp, user_order_id=9)
    )
    assert len({legs_token(cmd), legs_token(other_spot), legs_token(other_perp)}) == 3
    assert legs_token(retry) == legs_token(cmd)


@settings(max_examples=300, deadline=None)
@given(
    cmd=legs(),
    approved_other=st.booleans(),
    approve_expired=st.booleans(),
    latency=st.none() | st.integers(0, 2000),
    lamports=st.integers(0, 10**8),
)
def test_no_legs_above_the_threshold_pass_without_a_valid_confirmation(
    cmd: PlaceLegs, approved_other: bool, approve_expired: bool, latency: int | None, lamports: int
) -> None:
    inputs = GateInputs(sol_lamports=lamports, latency_ms=latency, now=NOW)
    token = legs_token(cmd)
    confirmations = Confirmations()
    if approved_other:  # a confirmation of some other terms, or one already expired, must not help
        confirmations = confirmations.approve("0" * 12 if token != "0" * 12 else "1" * 12, NOW + 60)
    if approve_expired:
        confirmations = confirmations.approve(token, NOW)
    blocked = check_legs(cmd, DEFAULTS, inputs, confirmations, oracle_price=ORACLE, spot_oracle_price=ORACLE)
    notional = legs_notional(cmd, ORACLE, ORACLE)
    # The answer is one verdict for the command: None (both legs go) or one Blocked (neither goes).
    bot_ok = lamports >= DEFAULTS.gas_reserve_lamports and latency is not None and latency <= DEFAULTS.max_latency_ms
    if notional > DEFAULTS.confirm_above_quote or not bot_ok:
        assert blocked is not None
        assert blocked.token == token
    else:
        assert blocked is None
    # the sum is never below either leg alone
    if cmd.perp is not None:
        assert notional >= quote_value(cmd.perp.base, max(ORACLE, cmd.perp.price))
