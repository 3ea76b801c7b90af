"""The paper venue's liquidation watch and its report agree on "no boundary above" while the oracle moves.

A search above looks up to ``MAX_PRICE_MULTIPLE`` x the oracle it starts from (``margin.liquidation``), so an
account that does not change can have no boundary above seen from one oracle and one seen from a higher oracle.
The venue keeps its bounds per account change; it must search above again when the oracle leaves the range from
which its cached answer is what a search would find (``oracles_keeping_above``), or its watch says "none" where
its report names a price, and it does not liquidate there.

The example is the one Hypothesis found (tests/property/test_paper.py): a flat account of 361 USDC with 0.06 SOL
of bids at an oracle of $20 has its boundary at $200,550, 10,027.5 x the oracle: none seen from $20, found from
$21.
"""

from __future__ import annotations

from hypothesis import event, given, settings
from hypothesis import strategies as st

from botrunner.core.precision import BASE_PRECISION
from botrunner.core.side import Side
from botrunner.margin.liquidation import MAX_PRICE_MULTIPLE, account_bounds
from botrunner.paper.config import PaperConfig
from botrunner.paper.persist import checkpoint, restore
from botrunner.paper.venue import PaperVenue
from botrunner.venue.port import CancelReason, Liquidated, OrderAccepted, OrderCancelled
from tests.unit.paper.test_venue import SOL, STEP, T0, USD, USDC, intent, only, place, venue

BIDS = 6 * STEP  # 0.06 SOL
BOUND = 200_550 * USD  # the flat account's boundary above with those bids, from any oracle whose horizon reaches it


def flat_with_bids(oracle: int) -> PaperVenue:
    v = venue(deposit_usdc=361, price=oracle)
    assert only(place(v, intent(1, Side.BUY, 19 * USD, BIDS)), OrderAccepted)
    return v


def searched_here(v: PaperVenue) -> tuple[int | None, int | None]:
    """What a search from the venue's current oracle finds (the venue's search, without its cache)."""
    account = v.account()
    return account_bounds(account, v.markets(), v.market.market_index, position=account.perp_positions[0])


def test_the_example_straddles_the_horizon() -> None:
    assert searched_here(flat_with_bids(20 * USD)) == (None, None)
    assert searched_here(flat_with_bids(21 * USD)) == (None, BOUND)
    assert 20 * USD * MAX_PRICE_MULTIPLE < BOUND <= 21 * USD * MAX_PRICE_MULTIPLE


def test_when_the_oracle_rises_then_none_above_is_searched_again_as_the_report_does() -> None:
    v = flat_with_bids(20 * USD)
    assert v.liquidation_bounds() == (None, None)
    assert v.report().liquidation_price is None
    assert v.on_price(T0 + 1, 21 * USD, 21 * USD) == []  # the bid at $19 does not fill on a rise
    assert v.liquidation_bounds() == searched_here(v) == (None, BOUND)
    assert v._account.known_liquidation_bounds() == (None, BOUND)
    assert v.report().liquidation_price == BOUND


def test_when_the_oracle_reaches_a_bound_past_the_first_horizon_then_the_venue_liquidates() -> None:
    v = flat_with_bids(20 * USD)
    assert v.liquidation_bounds() == (None, None)
    past = BOUND + USD  # at the bound itself collateral equals the requirement: Drift liquidates below it
    events = v.on_price(T0 + 1, past, past)  # the account has not changed since its bounds were searched
    (cancel,) = only(events, OrderCancelled)
    assert cancel.reason is CancelReason.LIQUIDATION
    (liquidated,) = only(events, Liquidated)
    assert liquidated.base == 0  # flat: the cancels cure it
    assert liquidated.total_collateral < liquidated.maintenance_requirement


def test_when_the_oracle_falls_then_a_bound_past_its_horizon_is_none_as_the_report_says() -> None:
    v = flat_with_bids(21 * USD)
    assert v.liquidation_bounds() == (None, BOUND)
    assert v.on_price(T0 + 1, 20 * USD, 20 * USD) == []
    assert v.liquidation_bounds() == searched_here(v) == (None, None)
    assert v.report().liquidation_price is None
    # and back up: found again
    assert v.on_price(T0 + 2, 21 * USD, 21 * USD) == []
    assert v.liquidation_bounds() == (None, BOUND)


def test_a_restored_venue_searches_above_again_when_the_oracle_rises() -> None:
    original = flat_with_bids(20 * USD)
    assert original.liquidation_bounds() == (None, None)
    restored = restore(checkpoint(original), SOL, PaperConfig())
    for v in (original, restored):
        assert v.on_price(T0 + 1, 21 * USD, 21 * USD) == []
        assert v.liquidation_bounds() == (None, BOUND)
        assert v.report().liquidation_price == BOUND


@settings(max_examples=300, deadline=None)
@given(
    side=st.sampled_from([Side.BUY, Side.SELL]),
    steps=st.integers(1, 40).map(lambda n: n * STEP),
    price=st.integers(20, 500).map(lambda d: d * USD),
    # the boundary's distance in horizons: the deposit is set so it lands around MAX_PRICE_MULTIPLE x the oracle
    multiple=st.integers(9_000, 11_000),
    moves=st.lists(st.integers(-1_500, 1_500), min_size=1, max_size=12),  # oracle moves in bp
)
def test_the_watch_holds_what_a_search_from_the_current_oracle_finds(
    side: Side, steps: int, price: int, multiple: int, moves: list[int]
) -> None:
    """Orders resting away from the path (nothing fills), the oracle walks: at every oracle the watch's bounds are
    the venue's search from there (no boundary on exactly the same sides; a boundary within the few units a search
    started elsewhere can land off by), and so is what its report reads."""
    # a flat account's requirement is the maintenance ratio (3 %) of its orders' worst case at the oracle, so its
    # boundary above sits near deposit / (3 % of the orders' size): about ``multiple`` x the oracle
    requirement = steps * SOL.margin_ratio_maintenance // 10_000 * price // BASE_PRECISION
    v = venue(deposit_usdc=max(1, requirement * multiple // USDC), price=price)
    away = 1 * USD if side is Side.BUY else 20 * price  # beyond where the walk goes: nothing fills
    assert only(place(v, intent(1, side, away, steps)), OrderAccepted)
    now = T0
    before: int | None = None
    for bp in [0, *moves]:
        now += 1
        oracle = max(2 * USD, v.oracle * (10_000 + bp) // 10_000)
        v.on_price(now, oracle, oracle)
        if not v.orders:
            break  # liquidated: the cancels cured it
        watch = v.liquidation_bounds()
        here = searched_here(v)
        for held, found in zip(watch, here, strict=True):
            assert (held is None) == (found is None), (watch, here, oracle)
            if held is not None and found is not None:
                assert abs(held - found) <= max(1_000, found // 10**6), (watch, here, oracle)
        assert v._account.known_liquidation_bounds() == watch
        reported = v.report().liquidation_price
        assert (reported is None) == (here == (None, None)), (reported, here)
        if bp and (before is None) != (watch[1] is None):
            event("a boundary above appeared" if before is None else "a boundary above went past the horizon")
        before = watch[1]
