"""The pure L2 queue model (``botrunner.paper.queue``): joining behind the displayed depth, the conservative
``min`` rule for a shrinking level, prints consuming the queue first, one trade reported twice (print and depth
drop) counted once in either order, and the taker's walk up to its limit.
"""

from __future__ import annotations

from typing import NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from botrunner.core.side import Side
from botrunner.paper.queue import StaticBook, after_depth, after_print, join_queue, walk_book

BTC = 1_000_000_000  # base 1e9
USD = 1_000_000  # price 1e6
STEP = 100_000  # BTC-PERP step, 0.0001 BTC

# ---------------------------------------------------------------------------------------------- joining


def test_joining_with_the_full_share_puts_the_whole_displayed_depth_ahead() -> None:
    assert join_queue(7 * BTC, 10_000) == 7 * BTC


def test_the_seeds_20_percent_rule_puts_a_fifth_of_the_depth_ahead_rounded_up() -> None:
    assert join_queue(10 * BTC, 2_000) == 2 * BTC
    assert join_queue(7, 2_000) == 2  # 1.4 -> 2: never ahead of where the share puts us


def test_a_level_with_nothing_displayed_puts_nothing_ahead() -> None:
    assert join_queue(0, 10_000) == 0


@pytest.mark.parametrize(("displayed", "share"), [(-1, 10_000), (5, -1), (5, 10_001)])
def test_an_impossible_join_is_refused(displayed: int, share: int) -> None:
    with pytest.raises(ValueError, match="join_queue"):
        join_queue(displayed, share)


# ---------------------------------------------------------------------------------------------- depth changes


def test_depth_added_to_the_level_joins_behind_and_changes_nothing() -> None:
    assert after_depth(3 * BTC, 0, 9 * BTC) == (3 * BTC, 0)


def test_a_shrink_that_leaves_the_level_above_the_queue_is_taken_from_behind() -> None:
    assert after_depth(3 * BTC, 0, 4 * BTC) == (3 * BTC, 0)


def test_a_shrink_below_the_queue_moves_the_order_up_to_the_new_depth_and_books_the_move_as_unprinted() -> None:
    assert after_depth(5 * BTC, 1 * BTC, 2 * BTC) == (2 * BTC, 4 * BTC)


def test_the_level_vanishing_puts_the_order_at_the_front() -> None:
    assert after_depth(5 * BTC, 0, 0) == (0, 5 * BTC)


# ---------------------------------------------------------------------------------------------- prints


def test_a_print_smaller_than_the_queue_only_shortens_it() -> None:
    assert after_print(5 * BTC, 0, 2 * BTC) == (3 * BTC, 0, 0)


def test_a_print_larger_than_the_queue_reaches_the_order_with_the_volume_beyond_it() -> None:
    assert after_print(5 * BTC, 0, 7 * BTC) == (0, 0, 2 * BTC)


def test_a_print_first_pays_off_the_unprinted_drop_it_may_be_reporting() -> None:
    # depth 10 -> 6 arrived before the print of 4 that caused it: the print moves nothing further
    ahead, unprinted = after_depth(10 * BTC, 0, 6 * BTC)
    assert after_print(ahead, unprinted, 4 * BTC) == (6 * BTC, 0, 0)


def test_a_print_beyond_the_unprinted_drop_consumes_the_queue_then_reaches_the_order() -> None:
    assert after_print(1 * BTC, 3 * BTC, 5 * BTC) == (0, 0, 1 * BTC)


def test_a_negative_print_is_refused() -> None:
    with pytest.raises(ValueError, match="volume"):
        after_print(1, 0, -1)


# ---------------------------------------------------------------------------------------------- walk


BOOK = StaticBook(
    bids=((99 * USD, 2 * BTC), (98 * USD, 3 * BTC), (97 * USD, 5 * BTC)),
    asks=((100 * USD, 1 * BTC), (101 * USD, 2 * BTC), (102 * USD, 4 * BTC), (103 * USD, 8 * BTC)),
)


def test_a_buy_walks_three_levels_and_stops_at_its_limit() -> None:
    walk = walk_book(BOOK.levels(Side.SELL), Side.BUY, 10 * BTC, 102 * USD, STEP)
    # 1 @ 100 + 2 @ 101 + 4 @ 102 = 7 BTC for 710 USD; the 103 level is beyond the limit
    assert (walk.filled, walk.cost, walk.avg_price) == (
        7 * BTC,
        710 * USD * BTC,
        101_428_572,
    )  # 101.4285714... rounded up against the buyer


def test_a_sell_walks_bids_down_and_rounds_its_average_down() -> None:
    walk = walk_book(BOOK.levels(Side.BUY), Side.SELL, 4 * BTC, 0, STEP)
    assert (walk.filled, walk.cost) == (4 * BTC, (2 * 99 + 2 * 98) * USD * BTC)
    assert walk.avg_price == 98_500_000


def test_a_sell_average_that_is_not_a_whole_unit_rounds_down() -> None:
    book = StaticBook(bids=((99 * USD, 1 * BTC), (98 * USD, 2 * BTC)))
    walk = walk_book(book.levels(Side.BUY), Side.SELL, 3 * BTC, 0, STEP)
    assert walk.avg_price == (99 + 2 * 98) * USD // 3 == 98_333_333


def test_a_limit_better_than_the_best_level_takes_nothing() -> None:
    walk = walk_book(BOOK.levels(Side.SELL), Side.BUY, BTC, 99 * USD, STEP)
    assert (walk.filled, walk.cost, walk.avg_price) == (0, 0, 0)


def test_a_walk_that_exhausts_the_book_reports_what_it_found() -> None:
    assert walk_book(BOOK.levels(Side.SELL), Side.BUY, 100 * BTC, 0, STEP).filled == 15 * BTC


def test_the_walked_quantity_is_rounded_down_to_the_step() -> None:
    book = StaticBook(asks=((100 * USD, STEP + 7),))
    walk = walk_book(book.levels(Side.SELL), Side.BUY, 5 * STEP, 0, STEP)
    assert (walk.filled, walk.cost, walk.avg_price) == (STEP, 100 * USD * STEP, 100 * USD)


@pytest.mark.parametrize(("qty", "step", "limit"), [(-1, STEP, 0), (1, 0, 0), (1, STEP, -1)])
def test_an_impossible_walk_is_refused(qty: int, step: int, limit: int) -> None:
    with pytest.raises(ValueError, match="walk_book"):
        walk_book((), Side.BUY, qty, limit, step)


def test_a_static_book_reads_depth_by_exact_price_and_its_best_levels() -> None:
    assert BOOK.depth_at(Side.BUY, 98 * USD) == 3 * BTC
    assert BOOK.depth_at(Side.SELL, 98 * USD) == 0
    assert BOOK.levels(Side.SELL, 2) == ((100 * USD, BTC), (101 * USD, 2 * BTC))


# ---------------------------------------------------------------------------------------------- properties

PROPERTY = settings(max_examples=300, deadline=None)
quantities = st.integers(0, 50).map(lambda n: n * STEP)


class Depth(NamedTuple):
    qty: int


class Print(NamedTuple):
    qty: int


events = st.lists(st.one_of(st.builds(Depth, quantities), st.builds(Print, quantities)), max_size=40)


@PROPERTY
@given(depth=quantities, share=st.integers(0, 10_000), stream=events)
def test_the_volume_reaching_an_order_lies_between_the_trades_only_and_the_min_depth_bounds(
    depth: int, share: int, stream: list[Depth | Print]
) -> None:
    """``max(0, V - q0) <= Σ beyond <= max(0, V - min(q0, d_min))``: never earlier than the min-depth rule would
    allow, never later than counting trades only, whichever order prints and depth drops come in."""
    q0 = join_queue(depth, share)
    ahead, unprinted, reached, volume, d_min = q0, 0, 0, 0, depth
    for e in stream:
        match e:
            case Depth(qty=qty):
                ahead, unprinted = after_depth(ahead, unprinted, qty)
                d_min = min(d_min, qty)
            case Print(qty=qty):
                ahead, unprinted, beyond = after_print(ahead, unprinted, qty)
                reached += beyond
                volume += qty
        assert 0 <= ahead <= q0
        assert 0 <= unprinted <= q0
        assert max(0, volume - q0) <= reached <= max(0, volume - min(q0, d_min))


@PROPERTY
@given(
    depth=st.integers(1, 100).map(lambda n: n * STEP),
    share=st.integers(0, 10_000),
    traded=st.integers(0, 120).map(lambda n: n * STEP),
)
def test_a_print_and_the_depth_drop_that_reports_it_count_once_in_either_order(
    depth: int, share: int, traded: int
) -> None:
    q0 = join_queue(depth, share)
    left = max(0, depth - traded)
    print_first = after_print(q0, 0, traded)
    print_first_then_depth = (*after_depth(print_first.ahead, print_first.unprinted, left), print_first.beyond)
    ahead, unprinted = after_depth(q0, 0, left)
    depth_first = after_print(ahead, unprinted, traded)
    assert print_first_then_depth == tuple(depth_first)
    assert depth_first.beyond == max(0, traded - q0)


@PROPERTY
@given(depth=quantities, shares=st.tuples(st.integers(0, 10_000), st.integers(0, 10_000)), stream=events)
def test_a_smaller_share_of_the_depth_never_reaches_the_order_later(
    depth: int, shares: tuple[int, int], stream: list[Depth | Print]
) -> None:
    small, large = sorted(shares)
    front = [join_queue(depth, small), 0, 0]
    back = [join_queue(depth, large), 0, 0]
    for e in stream:
        for state in (front, back):
            match e:
                case Depth(qty=qty):
                    state[0], state[1] = after_depth(state[0], state[1], qty)
                case Print(qty=qty):
                    state[0], state[1], beyond = after_print(state[0], state[1], qty)
                    state[2] += beyond
        assert front[2] >= back[2]


@PROPERTY
@given(
    asks=st.lists(st.tuples(st.integers(1, 40), st.integers(1, 30)), max_size=8, unique_by=lambda lv: lv[0]),
    qty=st.integers(0, 200).map(lambda n: n * STEP),
    limit=st.integers(0, 45),
    taker=st.sampled_from(Side),
)
def test_a_walk_never_exceeds_its_size_nor_its_limit_and_prices_against_the_taker(
    asks: list[tuple[int, int]], qty: int, limit: int, taker: Side
) -> None:
    levels = sorted(((100 * USD + p * USD // 10, n * STEP * 3 // 2) for p, n in asks), reverse=taker is Side.SELL)
    limit_price = 0 if limit == 0 else 100 * USD + limit * USD // 10
    walk = walk_book(levels, taker, qty, limit_price, STEP)
    assert 0 <= walk.filled <= qty
    assert walk.filled % STEP == 0
    eligible = [
        (p, q) for p, q in levels if not limit_price or (p <= limit_price if taker is Side.BUY else p >= limit_price)
    ]
    assert walk.filled == min(qty, sum(q for _, q in eligible)) // STEP * STEP
    if walk.filled:
        prices = [p for p, _ in eligible]
        assert min(prices) <= walk.avg_price <= max(prices)
        # within one price unit of the exact average, on the taker's wrong side of it
        if taker is Side.BUY:
            assert (walk.avg_price - 1) * walk.filled < walk.cost <= walk.avg_price * walk.filled
        else:
            assert walk.avg_price * walk.filled <= walk.cost < (walk.avg_price + 1) * walk.filled


def test_a_walk_rounded_down_to_the_step_still_reports_the_whole_shortfall() -> None:
    book = StaticBook(asks=((100 * USD, BTC + STEP // 2),))  # half a step more than one BTC on the book
    walk = walk_book(book.levels(Side.SELL), Side.BUY, 2 * BTC, 0, STEP)
    assert (walk.requested, walk.filled, walk.shortfall) == (2 * BTC, BTC, BTC)
