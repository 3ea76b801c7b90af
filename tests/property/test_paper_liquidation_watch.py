"""Hypothesis property of the paper venue's liquidation watch (``PaperAccount.liquidation_watch``): the bounded watch
liquidates at exactly the same price points as the full check, Drift's maintenance test run at every point.

Two venues take the same random operations (the operation mix of tests/property/test_paper.py: orders, ladders,
leverage up to the 10x cap, cancels, modifies, price moves and gaps, funding, settlement, deposits and withdrawals),
plus price points placed ON the account's liquidation bounds and a few units of price either side (where integer
rounding can make free collateral cross zero more than once) and SOL deposits (SOL spot moves with SOL-PERP's
oracle: the watch's general path, without a monotone split). One venue watches as the product does; the other runs
the exact check (``liquidation.liquidate``, which starts with ``calculate_margin``) after every price, fill and
funding (whenever the account holds a perp position or open orders: what the venue's liquidation acts on). Every
operation must give both the same events, and whenever the watch says "no check needed" the account
must not be liquidatable (the proof the watch relies on, checked directly at every state).
"""

from __future__ import annotations

from typing import NamedTuple

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from botrunner.connector.commands import PlaceOrders, PlanReason
from botrunner.connector.orders import OrderIntent, OrderType
from botrunner.core.policy import PostOnlyMode
from botrunner.core.precision import BASE_PRECISION, SOL_SPOT_MARKET_INDEX
from botrunner.core.side import Side
from botrunner.paper import account as account_module
from botrunner.paper.config import PaperConfig
from botrunner.paper.liquidation import liquidate
from botrunner.paper.venue import PaperVenue
from botrunner.venue.port import Deposit, Liquidated, VenueEvent
from tests.property.test_paper import (
    SOL,
    T0,
    Funding,
    Move,
    Op,
    Start,
    _command,
    _dt,
    _tick,
    operations,
    starts,
)

PROPERTY = settings(max_examples=200, deadline=None)


class FullCheckVenue(PaperVenue):
    """The reference: the exact maintenance check at every point the watch runs at, whenever the account holds
    something the venue's liquidation acts on (a perp position or open orders: a flat account without orders whose
    collateral is below zero is bankrupt, not liquidated again at every price, as tests/property/test_paper.py
    states)."""

    def _check_liquidation(self, out: list[VenueEvent]) -> None:
        account = self._account
        if account.position.base_asset_amount or account.orders:
            liquidate(account, self.config.liquidation_buffer_ratio, out)


class OnBound(NamedTuple):
    """A price point at the account's liquidation bound below (or above) plus ``offset`` units of price."""

    dt: int
    above: bool
    offset: int


class Hold(NamedTuple):
    """``points`` price points at the current prices, one second apart: a key that lives a bar's worth of points
    gets its safe range derived (``PaperAccount.liquidation_watch``), so the next points are judged by the range."""

    points: int


class SolDeposit(NamedTuple):
    dt: int
    lamports: int


on_bounds = st.builds(OnBound, dt=st.integers(1, 60), above=st.booleans(), offset=st.integers(-4, 4))
sol_deposits = st.builds(SolDeposit, dt=st.integers(1, 60), lamports=st.integers(1, 50 * BASE_PRECISION))
holds = st.builds(Hold, points=st.integers(1, 6))
Extra = OnBound | SolDeposit | Hold
paths = st.lists(
    st.one_of(operations.map(tuple), st.lists(on_bounds | holds | holds | sol_deposits, max_size=8).map(tuple))
)


def _apply(v: PaperVenue, op: Op | Extra, now: int, oracle: int | None) -> tuple[VenueEvent, ...]:
    match op:
        case OnBound():
            assert oracle is not None
            return tuple(v.on_price(now, oracle, oracle))
        case Hold(points=points):
            out: list[VenueEvent] = []
            for k in range(points):
                out += v.on_price(now + k, v.last_price, v.oracle)
            return tuple(out)
        case SolDeposit(lamports=amount):
            return v.submit(Deposit(spot_market_index=SOL_SPOT_MARKET_INDEX, amount=amount), now)
        case Move(move_bps=move, oracle_bps=dev, volume_steps=volume):
            price = max(20_000_000, _tick(v.last_price * (10_000 + move) // 10_000))
            oracle_price = _tick(price * (10_000 + dev) // 10_000)
            bar = None if volume is None else now // 60 * 60
            volume_base = None if volume is None else volume * SOL.step_size
            return tuple(v.on_price(now, price, oracle_price, bar_ts=bar, bar_volume=volume_base))
        case Funding(rate_long=rate_long, rate_short=rate_short):
            return tuple(v.apply_funding(now, rate_long, rate_short))
        case _:
            command = _command(v, op, now)
            return () if command is None else v.submit(command, now)


def _bound_price(v: PaperVenue, op: OnBound) -> int | None:
    below, above = v.liquidation_bounds()
    bound = above if op.above else below
    return None if bound is None or bound + op.offset <= 0 else bound + op.offset


@pytest.mark.parametrize("points_before_range", [1, account_module._POINTS_BEFORE_RANGE])
@PROPERTY
@given(start=starts, chunks=paths)
def test_the_bounded_watch_liquidates_at_exactly_the_points_the_full_check_does(
    points_before_range: int, start: Start, chunks: list[tuple[Op | Extra, ...]]
) -> None:
    """With the range derived after one evaluated point (so ranges are in force at most points) and after the
    product's bar's worth: exact either way, the constant is cost only."""
    saved = account_module._POINTS_BEFORE_RANGE
    account_module._POINTS_BEFORE_RANGE = points_before_range
    try:
        _same_points(start, chunks)
    finally:
        account_module._POINTS_BEFORE_RANGE = saved


def _same_points(start: Start, chunks: list[tuple[Op | Extra, ...]]) -> None:
    watched = PaperVenue(SOL, PaperConfig(), deposit_quote=start.deposit, oracle_price=start.price, now=T0)
    full = FullCheckVenue(SOL, PaperConfig(), deposit_quote=start.deposit, oracle_price=start.price, now=T0)
    liquidations = 0
    for op in (op for chunk in chunks for op in chunk):
        dt = 1 if isinstance(op, Hold) else op.dt if isinstance(op, OnBound | SolDeposit) else _dt(op)
        now = watched.now + dt
        oracle = None
        if isinstance(op, OnBound):
            oracle = _bound_price(full, op)
            if oracle is None:
                continue
            event("a price point on a liquidation bound")
        got = _apply(watched, op, now, oracle)
        expected = _apply(full, op, now, oracle)
        assert got == expected, (op, got, expected)
        liquidations += sum(isinstance(e, Liquidated) for e in got)
        account = watched._account
        # the proof the watch skips the exact check on: "no check needed" means not liquidatable
        holds = bool(account.position.base_asset_amount or account.orders)
        assert account.liquidation_watch() or not holds or not account.is_liquidatable(), (op, account.maintenance())
        if watched.sol:
            event("SOL deposit: the general path")
    if liquidations:
        event("liquidated")


def test_a_long_near_its_bound_is_watched_by_range_then_checked_at_the_bound() -> None:
    """A leveraged long: after a bar's worth of points the watch holds a safe range that contains the oracle and
    stops short of the liquidation bound; at the bound the exact check runs and liquidates."""
    v = PaperVenue(SOL, PaperConfig(), deposit_quote=1_000 * 10**6, oracle_price=150 * 10**6, now=T0)
    lever = OrderIntent(
        user_order_id=1,
        side=Side.BUY,
        price=0,
        base=50 * BASE_PRECISION,
        post_only=PostOnlyMode.NONE,
        reduce_only=False,
        max_ts=T0 + 60,
        placed_at=T0,
        anchor_price=150 * 10**6,
        order_type=OrderType.MARKET,
    )
    v.submit(PlaceOrders(orders=(lever,), reason=PlanReason.EXPOSURE_REDUCTION), T0)
    assert v.position.base_asset_amount > 0
    below, _ = v.liquidation_bounds()
    assert below is not None
    now = T0
    for _ in range(4):
        now += 1
        assert v.on_price(now, 150 * 10**6, 150 * 10**6) == []
    account = v._account
    assert below < account._safe_low <= 150 * 10**6 <= account._safe_high
    now += 1
    events = v.on_price(now, below, below)
    assert any(isinstance(e, Liquidated) for e in events)
