"""The paper venue with ``fill_model: candle_queue`` (``botrunner.paper.candle_queue_fills``) on hand-made SOL-PERP
candles: a resting bid joins behind 20 % of the depth modelled from the bars before it, touches fill it only once
that much has traded at its price (partial fills rounded down to the step), a trade-through fills the rest at the
point it happens, and the bar in progress when it was placed does not count. The default stays the path model."""

from __future__ import annotations

import pytest

from botrunner.connector.commands import PlaceOrders, PlanReason
from botrunner.connector.orders import OrderIntent
from botrunner.core.catalogue import load_catalogue
from botrunner.core.policy import PostOnlyMode
from botrunner.core.precision import BASE_PRECISION, PRICE_PRECISION, QUOTE_PRECISION
from botrunner.core.side import Side
from botrunner.marketdata.candles import Candle
from botrunner.marketdata.feed import bar_path, tick_offsets
from botrunner.paper.candle_fills import CandleFillModel
from botrunner.paper.candle_queue_fills import CandleQueueFillModel
from botrunner.paper.config import FillModelKind, PaperConfig
from botrunner.paper.venue import PaperVenue
from botrunner.venue.port import Fill, Liquidity, VenueEvent

SOL = load_catalogue().perp("SOL-PERP")
TICK = SOL.tick_size
STEP = SOL.step_size
SOL_1 = BASE_PRECISION
P = 150 * PRICE_PRECISION
INTERVAL = 300
T0 = 1_000_000 - 1_000_000 % INTERVAL
QUEUE = PaperConfig(fill_model=FillModelKind.CANDLE_QUEUE, queue_depth_share_bps=2_000)


def venue(config: PaperConfig = QUEUE) -> PaperVenue:
    return PaperVenue(SOL, config, deposit_quote=10_000 * QUOTE_PRECISION, oracle_price=P + 50 * TICK, now=T0)


def candle(i: int, low: int, span_ticks: int, volume: int) -> Candle:
    """Bar ``i`` (from T0) from ``low`` over ``span_ticks`` ticks, opening and closing mid-range."""
    mid = low + span_ticks // 2 * TICK
    return Candle(T0 + i * INTERVAL, mid, low + span_ticks * TICK, low, mid, volume)


def replay(v: PaperVenue, bar: Candle) -> list[tuple[int, list[VenueEvent]]]:
    """The bar's four path points, as the replay gives them (``botrunner.runtime.market``), the last its close."""
    points = zip(tick_offsets(INTERVAL), bar_path(bar), strict=True)
    return [
        (k, v.on_price(bar.ts + off, price, price, bar_ts=bar.ts, bar_volume=bar.volume, bar_close=k == 3))
        for k, (off, (_, price)) in enumerate(points)
    ]


def fills(events: list[tuple[int, list[VenueEvent]]]) -> list[tuple[int, Fill]]:
    return [(k, e) for k, evs in events for e in evs if isinstance(e, Fill)]


def bid(v: PaperVenue, uid: int, price: int, base: int) -> None:
    intent = OrderIntent(
        user_order_id=uid,
        side=Side.BUY,
        price=price,
        base=base,
        post_only=PostOnlyMode.MUST_POST_ONLY,
        reduce_only=False,
        max_ts=0,
        placed_at=v.now,
        anchor_price=price,
    )
    v.submit(PlaceOrders(orders=(intent,), reason=PlanReason.LADDER_EMPTY), v.now)
    assert uid in v.orders


def history(v: PaperVenue, n: int = 12) -> int:
    """``n`` bars well above P, 11 levels each and 110 SOL: 10 SOL per level, the modelled depth."""
    for i in range(n):
        replay(v, candle(i, P + 100 * TICK, 10, 110 * SOL_1))
    return n


def test_the_default_is_the_path_model_and_the_option_selects_the_queue_model() -> None:
    assert PaperConfig().fill_model is FillModelKind.PATH
    assert isinstance(venue(PaperConfig())._fills, CandleFillModel)
    assert isinstance(venue()._fills, CandleQueueFillModel)


def test_touches_fill_only_past_20_percent_of_the_modelled_depth_in_step_rounded_parts() -> None:
    v = venue()
    n = history(v)
    bid(v, 1, P, SOL_1)
    model = v._fills
    assert isinstance(model, CandleQueueFillModel)
    queue = model.queue_of(1)
    assert queue is not None and queue.queue == 2 * SOL_1  # 20 % of 10 SOL
    level = 1_234_500_000  # 1.2345 SOL at each of the touching bars' 11 levels
    touch = [candle(n + k, P, 10, 11 * level) for k in range(3)]  # low == P: touched, never through
    assert fills(replay(v, touch[0])) == []  # 1.2345 SOL traded at P: still inside the 2 SOL queue
    second = fills(replay(v, touch[1]))  # 2.469 SOL traded: 0.469 beyond the queue, 0.46 SOL on the step
    assert [(k, f.base, f.price, f.liquidity, f.ts) for k, f in second] == [
        (3, 46 * STEP, P, Liquidity.MAKER, touch[1].ts + 3 * INTERVAL // 4)  # at the bar's close point
    ]
    third = fills(replay(v, touch[2]))  # 3.7035 SOL traded: 1.7035 beyond, the 0.54 SOL left fills
    assert [(k, f.base, f.complete) for k, f in third] == [(3, 54 * STEP, True)]
    assert v.orders == {} and v.position.base_asset_amount == SOL_1


def test_a_bar_that_only_comes_near_the_price_trades_nothing_there() -> None:
    v = venue()
    n = history(v)
    bid(v, 1, P, SOL_1)
    for k in range(5):
        assert fills(replay(v, candle(n + k, P + TICK, 10, 10**6 * SOL_1))) == []  # low one tick above P
    assert v.orders[1].filled == 0


def test_a_trade_through_fills_the_whole_order_at_its_price_where_the_path_goes_through() -> None:
    v = venue()
    n = history(v)
    bid(v, 1, P, SOL_1)
    through = candle(n, P - TICK, 10, 11 * SOL_1)  # low one tick below P, little volume: the level is gone
    got = fills(replay(v, through))
    low_point = next(k for k, (_, price) in enumerate(bar_path(through)) if price == through.low)
    assert [(k, f.base, f.price, f.complete) for k, f in got] == [(low_point, SOL_1, P, True)]
    assert low_point < 3  # at the low, not at the close


def test_the_bar_in_progress_when_the_order_is_placed_does_not_count_its_touches() -> None:
    v = venue()
    n = history(v)
    bar = candle(n, P, 10, 11 * 100 * SOL_1)  # 100 SOL at each level: far past any queue
    path = bar_path(bar)
    v.on_price(bar.ts, path[0][1], path[0][1], bar_ts=bar.ts, bar_volume=bar.volume)  # the open
    bid(v, 1, P, SOL_1)  # placed inside the bar, after its open
    for k in (1, 2, 3):
        off, price = tick_offsets(INTERVAL)[k], path[k][1]
        assert not [
            e
            for e in v.on_price(bar.ts + off, price, price, bar_ts=bar.ts, bar_volume=bar.volume, bar_close=k == 3)
            if isinstance(e, Fill)
        ]
    assert fills(replay(v, candle(n + 1, P, 10, 11 * 100 * SOL_1)))[0][1].base == SOL_1  # the next bar does


def test_with_no_history_the_order_is_at_the_front_and_a_touch_fills_what_trades_at_its_price() -> None:
    v = venue()
    bid(v, 1, P, SOL_1)
    got = fills(replay(v, candle(0, P, 10, 11 * 505 * SOL_1 // 1000)))  # 0.505 SOL at the level, no queue
    assert [f.base for _, f in got] == [50 * STEP]


def test_bars_are_tracked_with_no_order_open_and_closed_without_a_close_flag() -> None:
    v = venue()
    history(v, 3)
    model = v._fills
    assert isinstance(model, CandleQueueFillModel)
    assert len(model.history) == 3
    bar = candle(3, P, 4, SOL_1)
    for off, (_, price) in zip(tick_offsets(INTERVAL), bar_path(bar), strict=True):
        v.on_price(bar.ts + off, price, price, bar_ts=bar.ts, bar_volume=bar.volume)  # no close flag
    assert len(model.history) == 3
    v.on_price(bar.ts + INTERVAL, P, P, bar_ts=bar.ts + INTERVAL, bar_volume=0)  # the next bar closes it
    assert model.history[-1] == bar


def test_a_path_point_without_its_bar_is_refused() -> None:
    v = venue()
    with pytest.raises(ValueError, match="candle_queue: every path point needs its bar"):
        v.on_price(T0 + 1, P, P)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (PaperConfig(fill_model=FillModelKind.CANDLE_QUEUE, latency_slots=2), "candle_queue needs latency_slots: 0"),
        (PaperConfig(fill_model=FillModelKind.CANDLE_QUEUE, queue_depth_share_bps=0), "must be in 1..10000"),
    ],
)
def test_impossible_candle_queue_configs_are_refused(config: PaperConfig, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        config.validate()
