"""The one rung-price formula: bids rounded down, asks up, both sides of the anchor; and the strategy's levels and
the connector's policy ladder put rung k at the same price because they both call it."""

from __future__ import annotations

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from botrunner.connector.ladder import policy_prices
from botrunner.core.policy import ExecutionPolicy
from botrunner.core.rungs import rung_price
from botrunner.core.side import Side
from strategies.ladder import build_levels
from tests.support.connector import SOL

BPS = 10_000


def test_rung_one_of_thirty_bps_at_150_usd_rests_at_149_55_and_150_45() -> None:
    assert rung_price(Side.BUY, 150_000_000, 1, 30, SOL) == 149_550_000
    assert rung_price(Side.SELL, 150_000_000, 1, 30, SOL) == 150_450_000


def test_rung_prices_round_away_from_the_anchor_to_the_tick() -> None:
    # 123.456789 * (1 -/+ 0.0007) = 123.370369.. / 123.543208..: SOL's tick is 0.0001
    assert rung_price(Side.BUY, 123_456_789, 1, 7, SOL) == 123_370_300
    assert rung_price(Side.SELL, 123_456_789, 1, 7, SOL) == 123_543_300


@given(
    anchor=st.integers(1_000, 10**12),
    k=st.integers(1, 16),
    step_bps=st.integers(1, 2_000),
)
def test_bids_rest_below_and_asks_above_the_anchor_on_ticks(anchor: int, k: int, step_bps: int) -> None:
    bid = rung_price(Side.BUY, anchor, k, step_bps, SOL)
    ask = rung_price(Side.SELL, anchor, k, step_bps, SOL)
    assert bid % SOL.tick_size == 0 and ask % SOL.tick_size == 0
    assert bid < anchor < ask
    assert bid * BPS <= anchor * (BPS - k * step_bps)  # never better than the exact price for the maker
    assert ask * BPS >= anchor * (BPS + k * step_bps)


@given(anchor=st.integers(1_000_000, 10**11), levels=st.integers(1, 16), step_bps=st.integers(1, 600))
def test_the_strategys_levels_and_the_connectors_policy_ladder_agree_rung_for_rung(
    anchor: int, levels: int, step_bps: int
) -> None:
    policy = msgspec.structs.replace(ExecutionPolicy(), grid_levels=levels, step_bps=step_bps)
    size = SOL.min_order_size
    strategy = build_levels(
        mark=anchor,
        n_bid=levels,
        n_ask=levels,
        step_bps=step_bps,
        level_base=size,
        bid_room=levels * size,
        ask_room=levels * size,
        market=SOL,
    )
    for side in Side:
        connector = policy_prices(side, anchor, policy, SOL)
        # the strategy drops a rung that rounds onto the previous one's price; the connector keeps duplicates
        assert [lv.price for lv in strategy if lv.side is side] == sorted(set(connector), key=connector.index)


@given(anchor=st.integers(-(10**12), 10**12), k=st.integers(0, 40), step_bps=st.integers(-20_000, 20_000))
def test_the_inline_tick_rounding_is_the_markets_own(anchor: int, k: int, step_bps: int) -> None:
    exact_bid = anchor * (BPS - k * step_bps) // BPS
    exact_ask = -(-anchor * (BPS + k * step_bps) // BPS)
    assert rung_price(Side.BUY, anchor, k, step_bps, SOL) == SOL.round_price_down(exact_bid)
    assert rung_price(Side.SELL, anchor, k, step_bps, SOL) == SOL.round_price_up(exact_ask)
