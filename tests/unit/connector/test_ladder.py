"""Ladder construction, post-only filtering and ramp-in."""

from __future__ import annotations

import msgspec

from botrunner.connector import Rung, build_ladder, filter_post_only, ramp_band, ramp_fraction_bps
from botrunner.core.directive import ExecutionMode
from botrunner.core.intents import ExposureBand, LadderLevel
from botrunner.core.policy import PostOnlyMode, RampInPolicy
from botrunner.core.side import Side
from tests.support.connector import PRICE_150, R1_POLICY, SOL, SOL_1

BAND5 = ExposureBand(-5 * SOL_1, 5 * SOL_1, 0)
TENTH = SOL_1 // 10


def _grid(
    band: ExposureBand, pos: int, anchor: int = PRICE_150, mode: ExecutionMode = ExecutionMode.GRID
) -> tuple[Rung, ...]:
    return build_ladder(mode=mode, band=band, position_base=pos, anchor=anchor, policy=R1_POLICY, market=SOL)


def _side(rungs: tuple[Rung, ...], side: Side) -> list[Rung]:
    return [r for r in rungs if r.side is side]


def test_ladder_when_flat_in_wide_band_then_five_rungs_a_side_thirty_bps_apart() -> None:
    rungs = _grid(BAND5, 0)
    bids, asks = _side(rungs, Side.BUY), _side(rungs, Side.SELL)
    # 150 * (1 - 0.003 k) and 150 * (1 + 0.003 k), exact on the tick here
    assert [b.price for b in bids] == [149_550_000, 149_100_000, 148_650_000, 148_200_000, 147_750_000]
    assert [a.price for a in asks] == [150_450_000, 150_900_000, 151_350_000, 151_800_000, 152_250_000]
    assert all(r.base == TENTH and not r.reduce_only and r.post_only is PostOnlyMode.MUST_POST_ONLY for r in rungs)
    assert [r.side for r in rungs[:4]] == [Side.BUY, Side.SELL, Side.BUY, Side.SELL]  # nearest first, interleaved


def test_ladder_rounds_bids_down_and_asks_up_to_the_tick() -> None:
    anchor = 123_456_789  # 123.456789, not on the 0.0001 tick
    rungs = _grid(BAND5, 0, anchor)
    bid1 = next(r for r in rungs if r.side is Side.BUY)
    ask1 = next(r for r in rungs if r.side is Side.SELL)
    assert bid1.price == 123_086_400  # floor(123.456789 * 0.997) = 123.0864186... -> down to 123.0864
    assert ask1.price == 123_827_200  # 123.456789 * 1.003 = 123.8271593... -> up to 123.8272
    assert bid1.price % SOL.tick_size == 0 and ask1.price % SOL.tick_size == 0


def test_ladder_when_long_near_max_then_bids_trimmed_with_partial_last_rung() -> None:
    rungs = _grid(BAND5, 5 * SOL_1 - 250_000_000)  # 4.75 long: room for 0.25 of bids
    bids = _side(rungs, Side.BUY)
    assert [b.base for b in bids] == [TENTH, TENTH, 50_000_000]
    assert len(_side(rungs, Side.SELL)) == 5


def test_ladder_when_long_at_max_then_no_bids() -> None:
    rungs = _grid(BAND5, 5 * SOL_1)
    assert _side(rungs, Side.BUY) == []
    assert len(_side(rungs, Side.SELL)) == 5


def test_ladder_when_room_below_min_order_size_then_rung_dropped() -> None:
    rungs = _grid(BAND5, 5 * SOL_1 - 5_000_000)  # 0.005 of room < 0.01 min order
    assert _side(rungs, Side.BUY) == []


def test_ladder_reduce_when_long_above_band_then_first_ask_carries_excess_and_is_reduce_only() -> None:
    band = ExposureBand(-2 * SOL_1, 2 * SOL_1, 0)
    rungs = _grid(band, 3 * SOL_1, mode=ExecutionMode.REDUCE)
    assert _side(rungs, Side.BUY) == []
    asks = _side(rungs, Side.SELL)
    assert asks[0].base == SOL_1  # 3 -> 2 in one rung
    assert [a.base for a in asks[1:]] == [TENTH] * 4
    assert all(a.reduce_only for a in asks)  # 1.4 total < 3 long: every ask only shrinks the position


def test_ladder_reduce_when_reducing_rungs_cross_zero_then_only_the_shrinking_part_is_reduce_only() -> None:
    band = ExposureBand(-5 * SOL_1, -SOL_1, -2 * SOL_1)  # short band, we are 0.15 long
    rungs = _grid(band, 150_000_000, mode=ExecutionMode.REDUCE)
    asks = _side(rungs, Side.SELL)
    assert asks[0].base == 1_150_000_000  # to the band edge at -1
    assert not asks[0].reduce_only  # it crosses zero: a reduce-only flag would truncate it at flat
    assert _side(rungs, Side.BUY) == []


def test_ladder_defend_when_long_then_only_reduce_only_asks_totalling_the_position() -> None:
    rungs = build_ladder(
        mode=ExecutionMode.DEFEND, band=BAND5, position_base=2 * SOL_1, anchor=PRICE_150, policy=R1_POLICY, market=SOL
    )
    assert all(r.side is Side.SELL and r.reduce_only for r in rungs)
    assert sum(r.base for r in rungs) == 2 * SOL_1
    assert rungs[0].base == 2 * SOL_1 - 4 * TENTH


def test_ladder_defend_when_band_excludes_zero_then_reduces_only_to_the_band() -> None:
    band = ExposureBand(SOL_1, 5 * SOL_1, 2 * SOL_1)
    rungs = build_ladder(
        mode=ExecutionMode.DEFEND, band=band, position_base=3 * SOL_1, anchor=PRICE_150, policy=R1_POLICY, market=SOL
    )
    assert sum(r.base for r in rungs) == 2 * SOL_1


def test_ladder_defend_when_flat_then_nothing() -> None:
    for urgent in (False, True):
        assert (
            build_ladder(
                mode=ExecutionMode.DEFEND,
                band=BAND5,
                position_base=0,
                anchor=PRICE_150,
                policy=R1_POLICY,
                market=SOL,
                urgent=urgent,
            )
            == ()
        )


def test_ladder_urgent_defence_when_short_then_one_crossing_buy_within_slippage() -> None:
    rungs = build_ladder(
        mode=ExecutionMode.DEFEND,
        band=BAND5,
        position_base=-1_234_567_890,
        anchor=PRICE_150,
        policy=R1_POLICY,
        market=SOL,
        urgent=True,
    )
    assert len(rungs) == 1
    (r,) = rungs
    assert r.side is Side.BUY and r.reduce_only and r.post_only is PostOnlyMode.NONE
    assert r.base == 1_230_000_000  # rounded down to the step: never more than the position
    assert r.price == 150_450_000  # oracle * (1 + 30 bps), rounded down
    assert r.price <= PRICE_150 * (10_000 + R1_POLICY.max_slippage_bps) // 10_000


def test_ladder_uses_strategy_levels_when_given() -> None:
    levels = (
        LadderLevel(price=149_000_050, side=Side.BUY, base=300_000_001),
        LadderLevel(price=149_500_000, side=Side.BUY, base=TENTH),
        LadderLevel(price=151_000_001, side=Side.SELL, base=TENTH),
    )
    rungs = build_ladder(
        mode=ExecutionMode.GRID,
        band=BAND5,
        position_base=0,
        anchor=PRICE_150,
        policy=R1_POLICY,
        market=SOL,
        levels=levels,
    )
    assert [(r.side, r.price, r.base) for r in rungs] == [
        (Side.BUY, 149_500_000, TENTH),
        (Side.SELL, 151_000_100, TENTH),
        (Side.BUY, 149_000_000, 300_000_000),
    ]


def test_post_only_filter_drops_bids_at_or_above_ask_and_asks_at_or_below_bid() -> None:
    rungs = _grid(BAND5, 0)
    kept = filter_post_only(rungs, best_bid=150_450_000, best_ask=149_550_000)
    assert all(r.price < 149_550_000 for r in kept if r.side is Side.BUY)
    assert all(r.price > 150_450_000 for r in kept if r.side is Side.SELL)
    assert len(kept) == 8
    taker = [msgspec.structs.replace(r, post_only=PostOnlyMode.NONE) for r in rungs]
    assert len(filter_post_only(taker, best_bid=150_450_000, best_ask=149_550_000)) == 10
    assert filter_post_only(rungs, None, None) == list(rungs)


def test_ramp_fraction_grows_linearly_to_full() -> None:
    ramp = RampInPolicy(duration_s=600, initial_fraction_bps=2_500)
    assert ramp_fraction_bps(ramp, 1_000, 1_000) == 2_500
    assert ramp_fraction_bps(ramp, 1_000, 1_300) == 6_250
    assert ramp_fraction_bps(ramp, 1_000, 1_600) == 10_000
    assert ramp_fraction_bps(ramp, 1_000, 99_999) == 10_000
    assert ramp_fraction_bps(RampInPolicy(duration_s=0), 1_000, 1_000) == 10_000


def test_ramp_band_scales_room_around_position_and_stays_inside() -> None:
    band = ExposureBand(-4 * SOL_1, 8 * SOL_1, 0)
    ramped = ramp_band(band, 2 * SOL_1, 2_500)
    assert (ramped.min_base, ramped.max_base) == (int(0.5 * SOL_1), int(3.5 * SOL_1))
    assert ramped.is_within(band)
    assert ramp_band(band, 9 * SOL_1, 2_500) == band  # outside the band: reduction is not slowed


def test_ramp_band_with_quantum_grows_in_whole_rungs() -> None:
    band = ExposureBand(-SOL_1, SOL_1, 0)
    ramped = ramp_band(band, 0, 1_450, TENTH)  # 14.5 % of 1 = 0.145 -> one whole 0.1 rung
    assert (ramped.min_base, ramped.max_base) == (-TENTH, TENTH)
    assert ramp_band(band, 0, 900, TENTH) == ExposureBand(0, 0, 0)  # less than a rung: nothing yet
