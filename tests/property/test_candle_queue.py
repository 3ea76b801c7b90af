"""Fills only past the queue threshold (candle depth model): over any bars that touch but never trade through an
order's price, nothing fills until the volume traded at its price exceeds the queue it joined behind, and the total
filled never exceeds the volume beyond the queue (nor the order); a trade-through fills the rest at once."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from botrunner.core.side import Side
from botrunner.marketdata.candles import Candle
from botrunner.paper.candle_queue import CandleDepthModel, join, level_volume, on_bar

TICK = 10_000
STEP = 10**7
PRICE = 100_000_000

bars = st.builds(
    lambda lo, span, vol: Candle(
        0, PRICE + lo * TICK, PRICE + (lo + span) * TICK, PRICE + lo * TICK, PRICE + (lo + span) * TICK, vol
    ),
    st.integers(min_value=-3, max_value=3),
    st.integers(min_value=0, max_value=20),
    st.integers(min_value=0, max_value=10**12),
)


@settings(max_examples=400, deadline=None)
@given(
    side=st.sampled_from(Side),
    share=st.integers(min_value=0, max_value=10_000),
    steps=st.integers(min_value=1, max_value=10_000),
    history=st.lists(bars, max_size=15),
    after=st.lists(bars, max_size=30),
)
def test_fills_only_past_the_queue_threshold(
    side: Side, share: int, steps: int, history: list[Candle], after: list[Candle]
) -> None:
    model = CandleDepthModel(tick=TICK, step=STEP, queue_share_bps=share)
    q = join(model, side, PRICE, steps * STEP, history)
    traded_at_price = 0
    for bar in after:
        through = bar.low < PRICE if side is Side.BUY else bar.high > PRICE
        touch = bar.low == PRICE if side is Side.BUY else bar.high == PRICE
        before = q
        q, fill = on_bar(q, bar, model)
        assert fill >= 0 and fill % STEP == 0 and q.filled == before.filled + fill <= q.base
        if through and before.remaining:
            assert q.remaining == 0
            break
        if touch:
            traded_at_price += level_volume(bar, TICK)
        assert q.filled <= max(0, traded_at_price - q.queue)  # never more than the volume beyond the queue
        if traded_at_price <= q.queue:
            assert q.filled == 0
