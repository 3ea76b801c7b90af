"""Hypothesis properties of the planner, over random sequences of bands, verdicts, marks, books, policies, fills,
acks, cancels, expiries and outside position changes (which produce random open-order sets), plus adopted venue
orders after a resync.

After EVERY plan we check: batches <= 32; worst-case orders on the venue <= 32; ids unique and fresh; post-only
bids below the best ask and asks above the best bid; if every working order filled the position would not leave
verdict.band (beyond where it already is); under REDUCE_ONLY |position| never grows and never flips; PAUSE leaves
nothing working; planning again with no new event (before or after acks) yields no command.
"""

from __future__ import annotations

import random

import msgspec
from hypothesis import event, given, settings
from hypothesis import strategies as st

from botrunner.connector import (
    Command,
    ConnectorState,
    MarketQuote,
    OrderEvent,
    OrderState,
    OrderUpdate,
    WorkingOrder,
    apply_event,
    plan,
    resync,
)
from botrunner.connector.commands import cancelled_ids, placed_orders
from botrunner.core.directive import ExecutionMode
from botrunner.core.intents import ExposureBand, LadderLevel
from botrunner.core.policy import ExecutionPolicy, PostOnlyMode, RampInPolicy
from botrunner.core.precision import MAX_OPEN_ORDERS_PER_USER, MAX_ORDERS_PER_PLACE_ORDERS
from botrunner.core.side import Side
from botrunner.core.verdict import RiskAction, Verdict
from governors.execution import decide
from tests.support.connector import SOL, ack_all

STEP = SOL.step_size
TICK = SOL.tick_size


_placed = placed_orders
_cancelled = cancelled_ids


policies = st.builds(
    ExecutionPolicy,
    grid_levels=st.integers(1, 16),
    step_bps=st.integers(1, 300),
    base_size_per_level=st.integers(1, 200).map(lambda n: n * STEP // 2),
    post_only=st.sampled_from(PostOnlyMode),
    max_slippage_bps=st.integers(0, 200),
    requote_threshold_bps=st.integers(0, 60),
    ttl_s=st.integers(30, 2_000),
    ramp_in=st.builds(RampInPolicy, duration_s=st.integers(0, 1_200), initial_fraction_bps=st.integers(1, 10_000)),
)


@st.composite
def bands(draw: st.DrawFn) -> ExposureBand:
    lo = draw(st.integers(-1_000, 1_000)) * STEP
    hi = lo + draw(st.integers(0, 1_000)) * STEP
    return ExposureBand(lo, hi, draw(st.integers(lo // STEP, hi // STEP)) * STEP)


@st.composite
def level_sets(draw: st.DrawFn, mark: int) -> tuple[LadderLevel, ...]:
    if draw(st.integers(0, 3)):
        return ()
    n = draw(st.integers(1, 40))
    return tuple(
        LadderLevel(
            price=max(TICK, mark + draw(st.integers(-500, 500)) * mark // 10_000),
            side=draw(st.sampled_from(Side)),
            base=draw(st.integers(1, 100)) * STEP // 3,
        )
        for _ in range(n)
    )


class Step(msgspec.Struct, frozen=True):
    action: RiskAction
    band: ExposureBand | None  # None: the band stays as it was
    mark_move_bps: int
    dt: int
    outside_trade: int
    health_critical: bool
    liquidation_defence: bool
    event_seed: int
    quote_seed: int


steps = st.builds(
    Step,
    action=st.one_of(st.just(RiskAction.APPROVE), st.just(RiskAction.APPROVE), st.sampled_from(RiskAction)),
    band=st.one_of(st.none(), st.none(), st.none(), bands()),
    mark_move_bps=st.one_of(st.integers(-3, 3), st.integers(-60, 60)),
    dt=st.integers(0, 900),
    outside_trade=st.one_of(st.just(0), st.just(0), st.integers(-300, 300).map(lambda n: n * STEP)),
    health_critical=st.integers(0, 9).map(lambda n: n == 0),
    liquidation_defence=st.integers(0, 9).map(lambda n: n == 0),
    event_seed=st.integers(0, 2**32),
    quote_seed=st.integers(0, 2**32),
)


def _working(state: ConnectorState, now: int) -> list[WorkingOrder]:
    return [o for o in state.orders if o.state is not OrderState.PENDING_CANCEL and now < o.max_ts]


def _check_command(before: ConnectorState, cmd: Command, quote: MarketQuote) -> None:
    """One command respects the venue's limits and the book, given the orders ``before`` it."""
    in_flight_before = sum(1 for o in before.orders if o.state is OrderState.PENDING_CANCEL)
    reserved_before = {o.user_order_id for o in before.orders}
    placed = _placed(cmd)
    assert len(placed) <= MAX_ORDERS_PER_PLACE_ORDERS
    assert len(_cancelled(cmd)) <= MAX_OPEN_ORDERS_PER_USER
    assert not {o.user_order_id for o in placed} & reserved_before  # never reuse a reserved id
    kept = sum(
        1 for o in before.orders if o.state is not OrderState.PENDING_CANCEL and o.user_order_id not in _cancelled(cmd)
    )
    if placed:  # worst case: no earlier cancel has landed yet
        assert in_flight_before + kept + len(placed) <= MAX_OPEN_ORDERS_PER_USER
    for o in placed:
        assert 1 <= o.user_order_id <= 255
        assert o.base > 0 and o.base % STEP == 0 and o.price % TICK == 0
        if o.post_only is not PostOnlyMode.NONE:
            if o.side is Side.BUY and quote.best_ask is not None:
                assert o.price < quote.best_ask
            if o.side is Side.SELL and quote.best_bid is not None:
                assert o.price > quote.best_bid


def _check_plan(
    before: ConnectorState,
    commands: tuple[Command, ...],
    after: ConnectorState,
    *,
    mode: ExecutionMode,
    band: ExposureBand,
    action: RiskAction,
    quote: MarketQuote,
    pos: int,
    now: int,
) -> None:
    assert len(commands) <= 1
    for cmd in commands:
        _check_command(before, cmd, quote)
    ids = [o.user_order_id for o in after.orders]
    assert len(ids) == len(set(ids))
    working = _working(after, now)
    assert len(working) <= MAX_OPEN_ORDERS_PER_USER
    bids = sum(o.remaining_base for o in working if o.side is Side.BUY)
    asks = sum(o.remaining_base for o in working if o.side is Side.SELL)
    # The connector never works outside verdict.band: even if every bid (every ask) filled, the position would not
    # go beyond the band further than it already is.
    assert pos + bids <= max(band.max_base, pos)
    assert pos - asks >= min(band.min_base, pos)
    match mode:
        case ExecutionMode.HALT:
            assert working == []
        case ExecutionMode.DEFEND:
            assert all(o.reduce_only for o in working)
            if pos > 0:
                assert bids == 0 and asks <= pos  # every ask fills: |position| shrinks, never flips
            elif pos < 0:
                assert asks == 0 and bids <= -pos
            else:
                assert working == []
        case ExecutionMode.REDUCE | ExecutionMode.GRID:
            pass
    if action is RiskAction.REDUCE_ONLY:
        final = pos + bids - asks
        assert abs(final) <= abs(pos) and final * pos >= 0
    if action is RiskAction.PAUSE:
        assert working == []


def _venue_events(state: ConnectorState, pos: int, now: int, rng: random.Random) -> tuple[ConnectorState, int]:
    """The venue reacts: acks, rejects, partial and full fills (moving the position), cancel confirmations, expiries."""
    for o in list(state.orders):
        r = rng.random()
        current = state.order(o.user_order_id)
        if current is None:
            continue
        if current.state is OrderState.PENDING_NEW and r < 0.6:
            state = apply_event(state, OrderUpdate(o.user_order_id, OrderEvent.ACK))
        elif current.state is OrderState.PENDING_NEW and r < 0.65:
            state = apply_event(state, OrderUpdate(o.user_order_id, OrderEvent.REJECT))
            continue
        elif current.state is OrderState.PENDING_CANCEL and r < 0.7:
            state = apply_event(state, OrderUpdate(o.user_order_id, OrderEvent.CANCEL))
            continue
        current = state.order(o.user_order_id)
        assert current is not None
        if now >= current.max_ts and rng.random() < 0.5:
            state = apply_event(state, OrderUpdate(o.user_order_id, OrderEvent.EXPIRE))
            continue
        f = rng.random()
        if f < 0.15:
            pos += current.side.sign * current.remaining_base
            state = apply_event(state, OrderUpdate(o.user_order_id, OrderEvent.FILL))
        elif f < 0.25 and current.remaining_base > STEP:
            part = current.filled_base + (current.remaining_base // 2) // STEP * STEP
            if current.filled_base < part < current.base:
                pos += current.side.sign * (part - current.filled_base)
                state = apply_event(state, OrderUpdate(o.user_order_id, OrderEvent.PARTIAL_FILL, part))
    return state, pos


def _run(
    policy: ExecutionPolicy,
    start_pos: int,
    start_mark: int,
    seq: list[Step],
    *,
    levels: tuple[LadderLevel, ...],
    adopted: list[WorkingOrder],
) -> None:
    now = 1_700_000_000
    state = ConnectorState.initial(now)
    if adopted:
        state = resync(state, adopted)
    pos, mark = start_pos, start_mark
    band = ExposureBand(min(pos, 0) - 5 * 10**9, max(pos, 0) + 5 * 10**9, 0)
    for step in seq:
        band = step.band or band
        now += step.dt
        mark = max(1_000 * TICK, mark + mark * step.mark_move_bps // 10_000)
        pos += step.outside_trade
        quote = _quote_from_seed(mark, step.quote_seed, policy)
        verdict = Verdict(step.action, band)
        directive = decide(
            verdict, pos, health_critical=step.health_critical, liquidation_defence=step.liquidation_defence
        )
        kwargs = dict(directive=directive, policy=policy, market=SOL, quote=quote, position_base=pos, now=now)
        result = plan(state, levels=levels, **kwargs)  # type: ignore[arg-type]
        _check_plan(
            state,
            result.commands,
            result.state,
            mode=directive.mode,
            band=band,
            action=step.action,
            quote=quote,
            pos=pos,
            now=now,
        )
        # idempotence: nothing new happened, nothing to do — before and after the venue confirms
        assert plan(result.state, levels=levels, **kwargs).commands == ()  # type: ignore[arg-type]
        acked = ack_all(result.state, result.commands)
        assert plan(acked, levels=levels, **kwargs).commands == ()  # type: ignore[arg-type]
        event(f"mode={directive.mode.value}")
        for cmd in result.commands:
            event(f"{type(cmd).__name__}:{cmd.reason.value}")
        state, pos = _venue_events(result.state, pos, now, random.Random(step.event_seed))


def _quote_from_seed(mark: int, seed: int, policy: ExecutionPolicy | None = None) -> MarketQuote:
    rng = random.Random(seed)
    oracle = max(TICK, mark + rng.randint(-100, 100) * TICK)
    if rng.random() < 0.3:
        return MarketQuote(mark_price=mark, oracle_price=oracle)
    if policy is not None and rng.random() < 0.3:
        # touch exactly on a rung price: the post-only boundary (strictly below / above) must hold
        k = rng.randint(1, policy.grid_levels)
        bid_rung = SOL.round_price_down(mark * (10_000 - k * policy.step_bps) // 10_000)
        ask_rung = SOL.round_price_up(-(-mark * (10_000 + k * policy.step_bps) // 10_000))
        if bid_rung > 0:
            return MarketQuote(mark_price=mark, oracle_price=oracle, best_bid=ask_rung, best_ask=bid_rung)
    half = rng.randint(-30, 300) * mark // 100_000
    bid = max(TICK, SOL.round_price_down(mark - half))
    ask = max(TICK, SOL.round_price_up(mark + half))
    return MarketQuote(mark_price=mark, oracle_price=oracle, best_bid=bid, best_ask=ask)


@st.composite
def venue_orders(draw: st.DrawFn, mark: int) -> list[WorkingOrder]:
    ids = draw(st.lists(st.integers(1, 255), unique=True, max_size=32))
    out = []
    for uid in ids:
        base = draw(st.integers(1, 300)) * STEP
        out.append(
            WorkingOrder(
                user_order_id=uid,
                side=draw(st.sampled_from(Side)),
                price=max(TICK, mark + draw(st.integers(-1_000, 1_000)) * TICK),
                base=base,
                filled_base=draw(st.integers(0, base // STEP - 1)) * STEP,
                post_only=draw(st.sampled_from(PostOnlyMode)),
                reduce_only=draw(st.booleans()),
                max_ts=1_700_000_000 + draw(st.integers(0, 5_000)),
                placed_at=1_699_990_000,
                anchor_price=0,
                state=OrderState.OPEN,
            )
        )
    return out


@st.composite
def scenarios(
    draw: st.DrawFn,
) -> tuple[ExecutionPolicy, int, int, list[Step], tuple[LadderLevel, ...], list[WorkingOrder]]:
    mark = draw(st.integers(1_000, 2_000_000)) * TICK * 10
    return (
        draw(policies),
        draw(st.integers(-1_500, 1_500)) * STEP,
        mark,
        draw(st.lists(steps, min_size=1, max_size=20)),
        draw(level_sets(mark)),
        draw(venue_orders(mark)) if draw(st.booleans()) else [],
    )


@settings(max_examples=250, deadline=None)
@given(scenario=scenarios())
def test_connector_property_invariants_hold_over_random_event_sequences(
    scenario: tuple[ExecutionPolicy, int, int, list[Step], tuple[LadderLevel, ...], list[WorkingOrder]],
) -> None:
    policy, start_pos, start_mark, seq, levels, adopted = scenario
    _run(policy, start_pos, start_mark, seq, levels=levels, adopted=adopted)


@settings(max_examples=200, deadline=None)
@given(
    policy=policies,
    band=bands(),
    pos=st.integers(-1_500, 1_500).map(lambda n: n * STEP),
    mark=st.integers(10_000, 20_000_000).map(lambda n: n * TICK),
    liq=st.booleans(),
    seed=st.integers(0, 2**32),
)
def test_connector_property_reduce_only_never_grows_position_even_if_everything_fills(
    *, policy: ExecutionPolicy, band: ExposureBand, pos: int, mark: int, liq: bool, seed: int
) -> None:
    quote = _quote_from_seed(mark, seed)
    directive = decide(Verdict(RiskAction.REDUCE_ONLY, band), pos, liquidation_defence=liq)
    result = plan(
        ConnectorState.initial(0),
        directive=directive,
        policy=policy,
        market=SOL,
        quote=quote,
        position_base=pos,
        now=10,
    )
    position = pos
    for cmd in result.commands:
        for o in _placed(cmd):
            assert o.reduce_only
            position += o.side.sign * o.base
            # fill them one at a time: |position| shrinks monotonically and never crosses zero
            assert abs(position) <= abs(pos) and position * pos >= 0
    if pos == 0:
        assert result.commands == ()
