"""Live-mode safety gates (governors.safety_gates): confirmation threshold, per-order cap, gas reserve, latency."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from botrunner.config.live import LiveSettings
from botrunner.connector.commands import CancelAndPlace, CancelOrders, PlaceOrders, PlanReason
from botrunner.connector.orders import OrderIntent, OrderType
from botrunner.core.policy import PostOnlyMode
from botrunner.core.side import Side
from governors.safety_gates import (
    Blocked,
    Confirmations,
    GateBlock,
    GateInputs,
    GateResult,
    check_orders,
    confirmation_token,
    describe,
    gate_command,
    order_token,
)

USD = 10**6
SOL = 10**9
ORACLE = 150 * USD
NOW = 1_700_000_000
OK = GateInputs(sol_lamports=SOL, latency_ms=100, now=NOW)
DEFAULTS = LiveSettings()
NONE_CONFIRMED = Confirmations()


def order(
    uid: int = 1,
    *,
    price: int = ORACLE,
    base: int = SOL // 2,  # $75 at 150
    side: Side = Side.BUY,
    order_type: OrderType = OrderType.LIMIT,
    offset: int = 0,
    reduce_only: bool = False,
) -> OrderIntent:
    return OrderIntent(
        user_order_id=uid,
        side=side,
        price=0 if order_type is OrderType.ORACLE_OFFSET else price,
        base=base,
        post_only=PostOnlyMode.MUST_POST_ONLY,
        reduce_only=reduce_only,
        max_ts=NOW + 3600,
        placed_at=NOW,
        anchor_price=ORACLE,
        order_type=order_type,
        oracle_price_offset=offset if order_type is OrderType.ORACLE_OFFSET else 0,
    )


def gate(
    *orders: OrderIntent,
    live: LiveSettings = DEFAULTS,
    inputs: GateInputs = OK,
    confirmations: Confirmations = NONE_CONFIRMED,
) -> GateResult:
    return check_orders(orders, ORACLE, live, inputs, confirmations)


def only_block(result: GateResult) -> Blocked:
    assert len(result.blocked) == 1
    return result.blocked[0]


BIG = order(2, base=SOL)  # $150 at 150: above the default $100 threshold


# --- confirmation threshold and per-order cap ----------------------------------------------------------------


def test_gates_when_order_below_threshold_then_allowed() -> None:
    result = gate(order(1))
    assert result.allowed == (1,)
    assert result.blocked == ()
    assert result.trading_blocked is None


def test_gates_when_notional_exactly_at_threshold_then_allowed() -> None:
    # $100 = 2/3 SOL at 150 is not representable; 1 SOL at $100 is.
    assert gate(order(1, price=100 * USD, base=SOL)).allowed == (1,)
    assert only_block(gate(order(1, price=100 * USD + 1, base=SOL))).reason is GateBlock.NEEDS_CONFIRMATION


def test_gates_when_above_threshold_without_confirmation_then_needs_confirmation_with_numbers() -> None:
    result = gate(BIG)
    block = only_block(result)
    assert block.reason is GateBlock.NEEDS_CONFIRMATION
    assert block.token == order_token(BIG)
    assert "$150.000000" in block.detail and "$100.000000" in block.detail
    assert f"botrunner ctl confirm {block.token}" in block.detail
    assert result.pending_tokens == (block.token,)
    assert result.trading_blocked is None


def test_gates_when_above_threshold_with_live_confirmation_then_allowed() -> None:
    confirmations = Confirmations().approve(order_token(BIG), NOW + 60)
    assert gate(BIG, confirmations=confirmations).allowed == (2,)


def test_gates_when_confirmation_expired_then_blocked() -> None:
    confirmations = Confirmations().approve(order_token(BIG), NOW)  # valid while now < until
    assert only_block(gate(BIG, confirmations=confirmations)).reason is GateBlock.NEEDS_CONFIRMATION


def test_gates_when_confirmation_is_for_other_terms_then_blocked() -> None:
    other = order(2, base=SOL, price=ORACLE - 1)
    confirmations = Confirmations().approve(order_token(other), NOW + 60)
    assert only_block(gate(BIG, confirmations=confirmations)).reason is GateBlock.NEEDS_CONFIRMATION


def test_gates_when_same_terms_under_a_new_id_then_confirmation_still_applies() -> None:
    confirmations = Confirmations().approve(order_token(BIG), NOW + 60)
    renumbered = msgspec.structs.replace(BIG, user_order_id=77, placed_at=NOW + 5, max_ts=NOW + 3605)
    assert gate(renumbered, confirmations=confirmations).allowed == (77,)


def test_gates_when_cap_set_and_order_within_cap_then_pre_approved_without_confirmation() -> None:
    live = LiveSettings(max_order_notional_quote=200 * USD)
    assert gate(BIG, live=live).allowed == (2,)


def test_gates_when_cap_set_and_order_above_cap_then_blocked_even_if_confirmed() -> None:
    live = LiveSettings(max_order_notional_quote=120 * USD)
    confirmations = Confirmations().approve(order_token(BIG), NOW + 60)
    block = only_block(gate(BIG, live=live, confirmations=confirmations))
    assert block.reason is GateBlock.ABOVE_ORDER_CAP
    assert "$150.000000" in block.detail and "$120.000000" in block.detail


def test_gates_when_reduce_only_order_above_threshold_then_still_needs_confirmation() -> None:
    exit_order = order(3, base=SOL, side=Side.SELL, reduce_only=True)
    assert only_block(gate(exit_order)).reason is GateBlock.NEEDS_CONFIRMATION


def test_gates_when_oracle_offset_order_then_notional_at_oracle_plus_offset() -> None:
    # 1 SOL at oracle 150 - 51 = $99: allowed; + 0 offset = $150: needs confirmation.
    assert gate(order(1, base=SOL, order_type=OrderType.ORACLE_OFFSET, offset=-51 * USD)).allowed == (1,)
    high = order(1, base=SOL, order_type=OrderType.ORACLE_OFFSET, offset=0)
    assert only_block(gate(high)).reason is GateBlock.NEEDS_CONFIRMATION


def test_gates_when_market_order_then_notional_at_the_worse_of_oracle_and_limit() -> None:
    at_oracle = order(1, base=SOL // 2 + SOL // 10, price=0, order_type=OrderType.MARKET)  # 0.6 x 150 = $90
    assert gate(at_oracle).allowed == (1,)
    worst_price = order(1, base=SOL // 2 + SOL // 10, price=200 * USD, order_type=OrderType.MARKET)  # $120
    assert only_block(gate(worst_price)).reason is GateBlock.NEEDS_CONFIRMATION


# --- whole-bot gates --------------------------------------------------------------------------------------------


def test_gates_when_sol_below_gas_reserve_then_every_order_blocked_including_reduce_only() -> None:
    inputs = GateInputs(sol_lamports=DEFAULTS.gas_reserve_lamports - 1, latency_ms=100, now=NOW)
    result = gate(order(1), order(2, side=Side.SELL, reduce_only=True), inputs=inputs)
    assert result.allowed == ()
    assert result.trading_blocked is GateBlock.GAS_RESERVE
    assert {b.reason for b in result.blocked} == {GateBlock.GAS_RESERVE}
    assert "0.016999999 SOL < gas reserve 0.017000000 SOL" in result.blocked[0].detail


def test_gates_when_sol_exactly_at_gas_reserve_then_allowed() -> None:
    inputs = GateInputs(sol_lamports=17_000_000, latency_ms=100, now=NOW)
    assert gate(order(1), inputs=inputs).allowed == (1,)


def test_gates_when_latency_above_max_then_every_order_blocked() -> None:
    inputs = GateInputs(sol_lamports=SOL, latency_ms=501, now=NOW)
    result = gate(order(1), order(2, reduce_only=True, side=Side.SELL), inputs=inputs)
    assert result.allowed == ()
    assert result.trading_blocked is GateBlock.LATENCY
    assert "latency 501 ms > max 500 ms" in result.blocked[0].detail


def test_gates_when_latency_exactly_at_max_then_allowed() -> None:
    assert gate(order(1), inputs=GateInputs(sol_lamports=SOL, latency_ms=500, now=NOW)).allowed == (1,)


def test_gates_when_no_latency_sample_yet_then_blocked() -> None:
    result = gate(order(1), inputs=GateInputs(sol_lamports=SOL, latency_ms=None, now=NOW))
    assert result.trading_blocked is GateBlock.NO_LATENCY_SAMPLE
    assert result.allowed == ()


def test_gates_when_gas_and_latency_both_fail_then_gas_reported_first() -> None:
    inputs = GateInputs(sol_lamports=0, latency_ms=10_000, now=NOW)
    assert gate(order(1), inputs=inputs).trading_blocked is GateBlock.GAS_RESERVE


def test_gates_when_whole_bot_block_then_it_overrides_the_order_reason() -> None:
    inputs = GateInputs(sol_lamports=SOL, latency_ms=900, now=NOW)
    block = only_block(gate(BIG, inputs=inputs))
    assert block.reason is GateBlock.LATENCY
    assert "$150.000000" in block.detail  # the order's notional still in the log line


def test_gates_when_duplicate_ids_then_value_error() -> None:
    with pytest.raises(ValueError, match="duplicate user_order_id"):
        gate(order(1), order(1, price=ORACLE - USD))


def test_gates_when_oracle_not_positive_then_value_error() -> None:
    with pytest.raises(ValueError, match="oracle_price must be > 0"):
        check_orders((order(1),), 0, DEFAULTS, OK, Confirmations())


# --- tokens, confirmations, log lines, commands ---------------------------------------------------------------


def test_token_when_same_terms_then_same_short_hex_and_any_term_changes_it() -> None:
    base_terms = (Side.BUY, 150 * USD, SOL, OrderType.LIMIT, 0)
    token = confirmation_token(*base_terms, reduce_only=False)
    assert token == confirmation_token(*base_terms, reduce_only=False)
    assert len(token) == 12 and all(c in "0123456789abcdef" for c in token)
    variants = {
        confirmation_token(Side.SELL, 150 * USD, SOL, OrderType.LIMIT, 0, reduce_only=False),
        confirmation_token(Side.BUY, 150 * USD + 1, SOL, OrderType.LIMIT, 0, reduce_only=False),
        confirmation_token(Side.BUY, 150 * USD, SOL + 1, OrderType.LIMIT, 0, reduce_only=False),
        confirmation_token(Side.BUY, 0, SOL, OrderType.ORACLE_OFFSET, 0, reduce_only=False),
        confirmation_token(Side.BUY, 0, SOL, OrderType.ORACLE_OFFSET, 1, reduce_only=False),
        confirmation_token(*base_terms, reduce_only=True),
    }
    assert token not in variants and len(variants) == 6


def test_confirmations_when_approved_twice_then_latest_window_wins_and_prune_drops_expired() -> None:
    token = order_token(BIG)
    c = Confirmations().approve(token, NOW + 600).approve(token, NOW + 10)
    assert c.approved == ((token, NOW + 10),)
    assert c.is_confirmed(token, NOW + 9) and not c.is_confirmed(token, NOW + 10)
    other = order_token(order(9, base=2 * SOL))
    c = c.approve(other, NOW + 100)
    assert c.prune(NOW + 50).approved == ((other, NOW + 100),)


@pytest.mark.parametrize("bad", ["", "ABCDEF123456", "abc", "abcdef12345g", "abcdef1234567"])
def test_confirmations_when_token_malformed_then_value_error(bad: str) -> None:
    with pytest.raises(ValueError, match="12 lowercase hex"):
        Confirmations().approve(bad, NOW + 60)


def test_describe_when_blocked_then_one_line_with_id_reason_and_numbers() -> None:
    line = describe(only_block(gate(BIG)))
    assert "\n" not in line
    assert line.startswith("order 2 blocked (needs_confirmation): notional $150.000000 > confirm_above $100.000000")


def test_gate_command_when_all_placements_blocked_then_cancels_still_sent() -> None:
    inputs = GateInputs(sol_lamports=0, latency_ms=None, now=NOW)
    result = gate(order(1), inputs=inputs)
    cap = CancelAndPlace((5, 6), (order(1),), PlanReason.REQUOTE_PRICE_MOVED)
    assert gate_command(cap, result) == CancelOrders((5, 6), PlanReason.REQUOTE_PRICE_MOVED)
    cancel = CancelOrders((5,), PlanReason.VERDICT_PAUSE)
    assert gate_command(cancel, result) is cancel
    assert gate_command(PlaceOrders((order(1),), PlanReason.LADDER_EMPTY), result) is None


def test_gate_command_when_some_placements_blocked_then_only_allowed_orders_kept() -> None:
    small, big = order(1), BIG
    result = gate(small, big)
    place = gate_command(PlaceOrders((small, big), PlanReason.LADDER_EMPTY), result)
    assert place == PlaceOrders((small,), PlanReason.LADDER_EMPTY)
    cap = gate_command(CancelAndPlace((9,), (small, big), PlanReason.BAND_CHANGED), result)
    assert cap == CancelAndPlace((9,), (small,), PlanReason.BAND_CHANGED)


# --- properties ---------------------------------------------------------------------------------------------------


def reference_notional(o: OrderIntent, oracle: int) -> int:
    """Independent of the module: base (1e9) x price (1e6) / 1e9 in quote 1e6, the price by order type."""
    if o.order_type is OrderType.LIMIT:
        price = o.price
    elif o.order_type is OrderType.ORACLE_OFFSET:
        price = max(0, oracle + o.oracle_price_offset)
    else:
        price = max(oracle, o.price)
    return o.base * price // SOL


@st.composite
def intents(draw: st.DrawFn, uid: int) -> OrderIntent:
    kind = draw(st.sampled_from(OrderType))
    price = draw(st.integers(1, 400 * USD))
    return order(
        uid,
        price=0 if kind is OrderType.MARKET and draw(st.booleans()) else price,
        base=draw(st.integers(1, 3 * SOL)),
        side=draw(st.sampled_from(Side)),
        order_type=kind,
        offset=draw(st.integers(-200 * USD, 200 * USD)),
        reduce_only=draw(st.booleans()),
    )


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[OrderIntent], int, LiveSettings, GateInputs, Confirmations]:
    ids = draw(st.lists(st.integers(1, 255), max_size=12, unique=True))
    orders = [draw(intents(uid)) for uid in ids]
    oracle = draw(st.integers(1, 400 * USD))
    live = LiveSettings(
        confirm_above_quote=draw(st.integers(0, 300 * USD)),
        max_order_notional_quote=draw(st.none() | st.integers(1, 300 * USD)),
        gas_reserve_lamports=draw(st.integers(0, SOL // 10)),
        max_latency_ms=draw(st.integers(1, 2_000)),
    )
    now = draw(st.integers(0, 10**10))
    if draw(st.booleans()):  # a healthy wallet and network half the time, so the order rules get exercised
        inputs = GateInputs(sol_lamports=SOL, latency_ms=draw(st.integers(0, live.max_latency_ms)), now=now)
    else:
        inputs = GateInputs(
            sol_lamports=draw(st.integers(0, SOL // 5)),
            latency_ms=draw(st.none() | st.integers(0, 3_000)),
            now=now,
        )
    confirmations = Confirmations()
    for o in orders:  # confirm some orders' exact tokens, some expiring right at `now`, plus unrelated tokens
        if draw(st.booleans()):
            until = now + draw(st.sampled_from([-1, 0, 1]) | st.integers(-100, 100))
            confirmations = confirmations.approve(order_token(o), until)
    for token in draw(st.lists(st.text("0123456789abcdef", min_size=12, max_size=12), max_size=3)):
        confirmations = confirmations.approve(token, now + 100)
    return orders, oracle, live, inputs, confirmations


Scenario = tuple[list[OrderIntent], int, LiveSettings, GateInputs, Confirmations]


def run(s: Scenario) -> GateResult:
    orders, oracle, live, inputs, confirmations = s
    return check_orders(orders, oracle, live, inputs, confirmations)


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_property_no_cap_then_no_order_above_threshold_allowed_without_live_confirmation_of_its_token(
    s: Scenario,
) -> None:
    orders, oracle, live, inputs, confirmations = s
    live = msgspec.structs.replace(live, max_order_notional_quote=None)
    result = check_orders(orders, oracle, live, inputs, confirmations)
    by_id = {o.user_order_id: o for o in orders}
    for uid in result.allowed:
        o = by_id[uid]
        if reference_notional(o, oracle) > live.confirm_above_quote:
            token = order_token(o)
            assert any(t == token and inputs.now < until for t, until in confirmations.approved)


@settings(max_examples=300, deadline=None)
@given(scenarios(), st.integers(1, 300 * USD))
def test_property_cap_set_then_no_order_above_cap_ever_allowed(s: Scenario, cap: int) -> None:
    orders, oracle, live, inputs, confirmations = s
    live = msgspec.structs.replace(live, max_order_notional_quote=cap)
    result = check_orders(orders, oracle, live, inputs, confirmations)
    by_id = {o.user_order_id: o for o in orders}
    assert all(reference_notional(by_id[uid], oracle) <= cap for uid in result.allowed)


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_property_gas_or_latency_bad_then_nothing_allowed(s: Scenario) -> None:
    _, _, live, inputs, _ = s
    result = run(s)
    bad = (
        inputs.sol_lamports < live.gas_reserve_lamports
        or inputs.latency_ms is None
        or inputs.latency_ms > live.max_latency_ms
    )
    if bad:
        assert result.allowed == ()
        assert result.trading_blocked is not None
    else:
        assert result.trading_blocked is None


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_property_every_input_id_is_allowed_or_blocked_exactly_once(s: Scenario) -> None:
    orders = s[0]
    result = run(s)
    out = list(result.allowed) + [b.user_order_id for b in result.blocked]
    assert sorted(out) == sorted(o.user_order_id for o in orders)
    assert len(out) == len(set(out))
