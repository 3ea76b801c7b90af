"""The strategy's ladder levels: fixed-size rungs anchored at the mark with %-based spacing (MVP spec §3).

Rung k's price is ``botrunner.core.rungs.rung_price`` (the formula the connector's policy ladder uses too): bid
rung k (k = 1..n_bid) at ``mark * (1 - k * step_bps / 1e4)`` rounded DOWN to the tick, ask rung k at
``mark * (1 + k * step_bps / 1e4)`` rounded UP. So every bid is strictly below the mark and every ask strictly
above it, and all prices are tick multiples. Each rung carries ``level_base`` (a step multiple), except
that the cumulative base per side is capped by that side's ``room`` (how much the strategy may still buy or sell):
the last rung may be smaller and rungs below the market's ``min_order_size`` are dropped. A rung whose price rounds
onto the previous rung's price (tiny step vs tick) or to <= 0 is dropped, so prices are strictly monotone.

Order: bids nearest-first (descending price), then asks nearest-first (ascending price).
"""

from __future__ import annotations

from botrunner.core.intents import LadderLevel
from botrunner.core.markets import PerpMarketSpec
from botrunner.core.rungs import rung_price
from botrunner.core.side import Side


def build_levels(
    *,
    mark: int,
    n_bid: int,
    n_ask: int,
    step_bps: int,
    level_base: int,
    bid_room: int,
    ask_room: int,
    market: PerpMarketSpec,
) -> tuple[LadderLevel, ...]:
    """Rungs for one decision. ``bid_room``/``ask_room`` (base 1e9, >= 0) cap the total size per side."""
    if mark <= 0 or step_bps <= 0 or level_base <= 0:
        raise ValueError(f"build_levels: mark {mark}, step_bps {step_bps}, level_base {level_base} must be > 0")
    levels: list[LadderLevel] = []
    for side, n, room in ((Side.BUY, n_bid, bid_room), (Side.SELL, n_ask, ask_room)):
        left = max(room, 0)
        prev_price: int | None = None
        for k in range(1, n + 1):
            price = rung_price(side, mark, k, step_bps, market)
            if price <= 0:
                break  # deeper bids only get lower
            if price == prev_price:
                continue
            base = market.round_base_down(min(level_base, left))
            if base < market.min_order_size or base <= 0:
                break  # the side's room is used up
            levels.append(LadderLevel(price=price, side=side, base=base))
            left -= base
            prev_price = price
    return tuple(levels)
