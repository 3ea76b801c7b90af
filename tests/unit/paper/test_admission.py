"""Drift's placement checks (``botrunner.paper.admission``) on their own: pure functions of the order and the
account's numbers, on the real SOL-PERP spec. The venue's use of them is covered by ``tests/unit/paper/test_venue.py``
and the properties of ``tests/property/test_paper.py``.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from botrunner.connector.orders import OrderIntent, OrderType
from botrunner.core.catalogue import load_catalogue
from botrunner.core.policy import PostOnlyMode
from botrunner.core.precision import BASE_PRECISION, LEVERAGE_PRECISION, MAX_OPEN_ORDERS_PER_USER, PRICE_PRECISION
from botrunner.core.side import Side
from botrunner.paper import admission
from botrunner.paper.admission import Rejection
from botrunner.paper.config import PaperConfig
from botrunner.paper.venue import PaperVenue
from botrunner.venue.port import RejectReason

SOL = load_catalogue().perp("SOL-PERP")  # tick 0.0001 USD, step = minimum size = 0.01 SOL
TICK = SOL.tick_size
STEP = SOL.step_size
USD = PRICE_PRECISION
P150 = 150 * USD
T0 = 1_000
CAP_10X = 10 * LEVERAGE_PRECISION


def intent(
    uid: int,
    side: Side,
    price: int = P150,
    base: int = BASE_PRECISION,
    *,
    post_only: PostOnlyMode = PostOnlyMode.MUST_POST_ONLY,
    reduce_only: bool = False,
    max_ts: int = T0 + 3_600,
    placed_at: int = T0,
) -> OrderIntent:
    return OrderIntent(
        user_order_id=uid,
        side=side,
        price=price,
        base=base,
        post_only=post_only,
        reduce_only=reduce_only,
        max_ts=max_ts,
        placed_at=placed_at,
        anchor_price=price,
        order_type=OrderType.LIMIT,
    )


def static(order: OrderIntent, *, open_ids: tuple[int, ...] = (), position_base: int = 0) -> Rejection | None:
    return admission.static_rejection(order, SOL, open_ids, T0, position_base)


# ---------------------------------------------------------------------------------------------- static checks


def test_the_first_failing_check_names_the_rejection_an_open_id_before_a_bad_size() -> None:
    why = static(intent(7, Side.BUY, base=STEP + 1), open_ids=(7,))
    assert why is not None and why.reason is RejectReason.USER_ORDER_ID_IN_USE
    why = static(intent(7, Side.BUY, base=STEP + 1))
    assert why is not None and why.reason is RejectReason.SIZE_NOT_STEP_MULTIPLE


def test_an_order_expiring_before_now_is_refused_and_one_expiring_now_passes() -> None:
    why = static(intent(1, Side.BUY, max_ts=T0 - 1, placed_at=T0 - 60))  # placed a minute ago, sent late
    assert why is not None and why.reason is RejectReason.EXPIRED_ON_ARRIVAL
    assert static(intent(1, Side.BUY, max_ts=T0)) is None


def test_a_full_book_refuses_a_new_order() -> None:
    full = tuple(range(1, MAX_OPEN_ORDERS_PER_USER + 1))
    why = static(intent(200, Side.BUY), open_ids=full)
    assert why is not None and why.reason is RejectReason.TOO_MANY_OPEN_ORDERS


@given(st.integers(-(10**12), 10**12), st.sampled_from(Side))
def test_a_reduce_only_order_passes_exactly_when_it_reduces_the_position(position: int, side: Side) -> None:
    why = static(intent(1, side, reduce_only=True), position_base=position)
    reduces = (position > 0 and side is Side.SELL) or (position < 0 and side is Side.BUY)
    assert (why is None) == reduces
    if why is not None:
        assert why.reason is RejectReason.REDUCE_ONLY_INCREASES


# ---------------------------------------------------------------------------------------------- post-only


prices = st.integers(2, 10**6).map(lambda ticks: ticks * TICK)


@given(st.sampled_from(Side), prices, prices)
def test_a_slid_post_only_order_rests_one_tick_behind_the_touch_and_never_crosses(
    side: Side, price: int, touch: int
) -> None:
    placed = admission.post_only_price(intent(1, side, price, post_only=PostOnlyMode.SLIDE), price, touch, TICK)
    assert isinstance(placed, int)
    assert not admission.crosses(side, placed, touch)
    assert placed % TICK == 0
    if admission.crosses(side, price, touch):
        assert placed == (touch - TICK if side is Side.BUY else touch + TICK)
    else:
        assert placed == price


@given(
    st.sampled_from(Side), prices, prices, st.sampled_from((PostOnlyMode.MUST_POST_ONLY, PostOnlyMode.TRY_POST_ONLY))
)
def test_a_crossing_post_only_order_is_refused_or_skipped_and_a_resting_one_keeps_its_price(
    side: Side, price: int, touch: int, mode: PostOnlyMode
) -> None:
    placed = admission.post_only_price(intent(1, side, price, post_only=mode), price, touch, TICK)
    if not admission.crosses(side, price, touch):
        assert placed == price
        return
    assert isinstance(placed, Rejection)
    expected = (
        RejectReason.POST_ONLY_WOULD_CROSS if mode is PostOnlyMode.MUST_POST_ONLY else RejectReason.POST_ONLY_SKIPPED
    )
    assert placed.reason is expected


def test_an_order_without_post_only_keeps_its_crossing_price() -> None:
    order = intent(1, Side.BUY, P150 + TICK, post_only=PostOnlyMode.NONE)
    assert admission.post_only_price(order, P150 + TICK, P150, TICK) == P150 + TICK


# ---------------------------------------------------------------------------------------------- a batch


def stage(
    *orders: OrderIntent, open_ids: tuple[int, ...] = ()
) -> tuple[list[admission.Refused], list[admission.Staged]]:
    return admission.stage(
        orders,
        SOL,
        open_ids=open_ids,
        now=T0,
        position_base=0,
        oracle=P150,
        buy_touch=P150 + TICK,
        sell_touch=P150 - TICK,
    )


def test_a_batch_refuses_an_id_twice_and_keeps_the_first() -> None:
    first, second = intent(3, Side.BUY, P150 - 10 * TICK), intent(3, Side.BUY, P150 - 20 * TICK)
    refused, staged = stage(first, second)
    assert staged == [(first, first.price)]
    assert refused == [(second, Rejection(RejectReason.USER_ORDER_ID_IN_USE, "twice in one batch"))]


def test_a_batch_counts_its_own_orders_against_the_32_order_limit() -> None:
    open_ids = tuple(range(1, MAX_OPEN_ORDERS_PER_USER - 1))  # 30 open: room for two
    batch = [intent(100 + i, Side.BUY, P150 - (i + 1) * TICK) for i in range(4)]
    refused, staged = stage(*batch, open_ids=open_ids)
    assert [i for i, _ in staged] == batch[:2]
    assert [(i, why.reason) for i, why in refused] == [(o, RejectReason.TOO_MANY_OPEN_ORDERS) for o in batch[2:]]


def test_a_batch_reports_its_refusals_in_batch_order_and_slides_its_crossing_slide_orders() -> None:
    crossing = intent(1, Side.BUY, P150 + 5 * TICK)  # MustPostOnly: refused
    slide = intent(2, Side.SELL, P150 - 5 * TICK, post_only=PostOnlyMode.SLIDE)
    tiny = intent(3, Side.BUY, base=STEP // 2)
    refused, staged = stage(crossing, slide, tiny)
    assert [(i.user_order_id, why.reason) for i, why in refused] == [
        (1, RejectReason.POST_ONLY_WOULD_CROSS),
        (3, RejectReason.SIZE_NOT_STEP_MULTIPLE),
    ]
    assert staged == [(slide, P150)]  # one tick above the best bid


# ---------------------------------------------------------------------------------------------- margin


@given(st.integers(1, 10**13), st.integers(0, 10**13), st.integers(0, 10**13))
def test_orders_that_can_only_reduce_a_long_are_never_margin_checked_and_a_new_bid_always_is(
    position: int, sold: int, bought: int
) -> None:
    asks = min(sold, 2 * position)  # asks up to twice the long can at worst flip it to a short as large
    reducing = [(intent(1, Side.SELL, base=asks), P150)] if asks else []
    assert admission.worst_case_after(reducing, position_base=position, open_bids=0, open_asks=0) is None
    if bought:
        grows = admission.worst_case_after(
            [(intent(2, Side.BUY, base=bought), P150)], position_base=position, open_bids=0, open_asks=-asks
        )
        assert grows is not None and grows[2] == position + bought


@given(st.integers(0, 10**14), st.integers(-(10**12), 10**12), st.integers(1, 100 * LEVERAGE_PRECISION))
def test_the_leverage_cap_refuses_exactly_beyond_the_cap_and_more_size_never_passes_where_less_failed(
    worst: int, equity: int, cap: int
) -> None:
    why = admission.leverage_rejection(worst, P150, equity, cap)
    notional = worst * P150 // BASE_PRECISION
    assert (why is not None) == (equity <= 0 or notional * 10_000 > cap * equity)
    if why is not None:
        assert why.reason is RejectReason.MAX_LEVERAGE
        assert admission.leverage_rejection(worst + STEP, P150, equity, cap) is not None


def test_initial_margin_refuses_bids_the_collateral_cannot_carry() -> None:
    v = PaperVenue(SOL, PaperConfig(), deposit_quote=100 * 10**6, oracle_price=P150, now=T0)  # 100 USDC
    account, markets = v.account(), v.markets()
    position, spot = account.perp_positions[0], account.spot_positions

    def check(bids: int) -> Rejection | None:
        return admission.initial_margin_rejection(position, spot, markets, open_bids=bids, open_asks=0, open_orders=1)

    assert check(BASE_PRECISION // 10) is None  # 15 USD of bids on 100 USDC
    why = check(100 * BASE_PRECISION)  # 15,000 USD
    assert why is not None and why.reason is RejectReason.INSUFFICIENT_COLLATERAL


def test_a_worst_case_of_exactly_ten_times_the_equity_passes_the_10x_cap_and_one_step_more_does_not() -> None:
    equity = 1_000 * 10**6  # 1,000 USDC
    at_cap = 100 * BASE_PRECISION  # 100 SOL at 100 USD = 10,000 USD
    assert admission.leverage_rejection(at_cap, 100 * USD, equity, CAP_10X) is None
    why = admission.leverage_rejection(at_cap + STEP, 100 * USD, equity, CAP_10X)
    assert why is not None and why.reason is RejectReason.MAX_LEVERAGE
