"""Fills only past the queue threshold, at the venue (``fill_model: candle_queue``): over any bars replayed through
the paper venue after a resting order was placed, the order fills nothing until the volume modelled at its price
exceeds the queue it joined behind (``queue_depth_share_bps`` of the depth modelled from the bars before it),
unless the path traded through its price; it never fills more than that volume beyond the queue, always in whole
steps and at its own price as a maker."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from botrunner.connector.commands import PlaceOrders, PlanReason
from botrunner.connector.orders import OrderIntent
from botrunner.core.catalogue import load_catalogue
from botrunner.core.policy import PostOnlyMode
from botrunner.core.precision import BPS_PRECISION, PRICE_PRECISION, QUOTE_PRECISION
from botrunner.core.side import Side
from botrunner.marketdata.candles import Candle
from botrunner.marketdata.feed import bar_path, tick_offsets
from botrunner.paper.config import FillModelKind, PaperConfig
from botrunner.paper.venue import PaperVenue
from botrunner.venue.port import Fill, Liquidity

SOL = load_catalogue().perp("SOL-PERP")
TICK = SOL.tick_size
STEP = SOL.step_size
PRICE = 150 * PRICE_PRECISION
INTERVAL = 300
LOOKBACK = 12  # botrunner.paper.candle_queue.DEFAULT_LOOKBACK_BARS

# (low offset in ticks from PRICE, span in ticks, volume)
shapes = st.tuples(
    st.integers(min_value=-3, max_value=3),
    st.integers(min_value=0, max_value=20),
    st.integers(min_value=0, max_value=10**12),
)
away = st.tuples(  # bars before the order stay clear of its price (a post-only order must not cross at placement)
    st.integers(min_value=1, max_value=5),
    st.integers(min_value=0, max_value=20),
    st.integers(min_value=0, max_value=10**12),
)


def make_bar(i: int, low: int, span: int, volume: int) -> Candle:
    high = low + span * TICK
    mid = low + span // 2 * TICK
    return Candle(i * INTERVAL, mid, high, low, mid, volume)


def replay(v: PaperVenue, bar: Candle) -> list[Fill]:
    out: list[Fill] = []
    for k, (off, (_, price)) in enumerate(zip(tick_offsets(INTERVAL), bar_path(bar), strict=True)):
        events = v.on_price(bar.ts + off, price, price, bar_ts=bar.ts, bar_volume=bar.volume, bar_close=k == 3)
        out.extend(e for e in events if isinstance(e, Fill))
    return out


@settings(max_examples=300, deadline=None)
@given(
    side=st.sampled_from(Side),
    share=st.integers(min_value=1, max_value=BPS_PRECISION),
    steps=st.integers(min_value=1, max_value=2_000),
    before=st.lists(away, max_size=15),
    after=st.lists(shapes, max_size=25),
)
def test_a_resting_order_fills_only_past_the_queue_threshold(
    side: Side,
    share: int,
    steps: int,
    before: list[tuple[int, int, int]],
    after: list[tuple[int, int, int]],
) -> None:
    sign = side.sign  # a bid's bars before it sit above its price, an ask's below
    v = PaperVenue(
        SOL,
        PaperConfig(fill_model=FillModelKind.CANDLE_QUEUE, queue_depth_share_bps=share),
        deposit_quote=100_000 * QUOTE_PRECISION,
        oracle_price=PRICE + sign * 10 * TICK,
        now=0,
    )
    history = []
    for i, (off, span, vol) in enumerate(before):
        low = PRICE + off * TICK if side is Side.BUY else PRICE - (off + span) * TICK
        history.append(make_bar(i, low, span, vol))
        assert replay(v, history[-1]) == []  # no order yet
    # the queue, computed here from the depth model's stated rule (mean volume per level, share rounded up)
    recent = history[-LOOKBACK:]
    depth = sum(b.volume // ((b.high - b.low) // TICK + 1) for b in recent) // len(recent) if recent else 0
    queue = -(-depth * share // BPS_PRECISION)
    base = steps * STEP
    intent = OrderIntent(
        user_order_id=1,
        side=side,
        price=PRICE,
        base=base,
        post_only=PostOnlyMode.MUST_POST_ONLY,
        reduce_only=False,
        max_ts=0,
        placed_at=v.now,
        anchor_price=PRICE,
    )
    v.submit(PlaceOrders(orders=(intent,), reason=PlanReason.LADDER_EMPTY), v.now)
    assert 1 in v.orders
    traded = filled = 0
    for j, (off, span, vol) in enumerate(after):
        bar = make_bar(len(history) + 1 + j, PRICE + off * TICK, span, vol)
        through = bar.low < PRICE if side is Side.BUY else bar.high > PRICE
        touched = bar.low == PRICE if side is Side.BUY else bar.high == PRICE
        open_before = filled < base
        got = replay(v, bar)
        assert all(f.price == PRICE and f.liquidity is Liquidity.MAKER and f.base % STEP == 0 for f in got)
        filled += sum(f.base for f in got)
        assert filled <= base
        if through and open_before:  # a trade-through takes the whole rest at once
            assert filled == base
            break
        if touched:
            traded += bar.volume // ((bar.high - bar.low) // TICK + 1)
        assert filled <= max(0, traded - queue)  # never more than what traded beyond the queue
        if traded <= queue:
            assert filled == 0  # nothing before the threshold
    assert v.position.base_asset_amount == sign * filled
