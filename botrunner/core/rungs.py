"""Where a rung of a mark-anchored ladder rests: the one rung-price formula, shared by the strategies' levels
(``strategies.ladder``) and the connector's policy ladder (``botrunner.connector.ladder``).

Bid rung k (k = 1, 2, ...) rests at ``anchor * (1 - k * step_bps / 1e4)`` rounded DOWN to the tick, ask rung k at
``anchor * (1 + k * step_bps / 1e4)`` rounded UP: bids below the anchor, asks above it, every price a tick
multiple. Integer maths in Drift's price precision (1e6); a deep bid may come out <= 0 for absurd spacing, and
callers drop it (deeper bids only get lower).
"""

from __future__ import annotations

from botrunner.core.markets import PerpMarketSpec
from botrunner.core.precision import BPS_PRECISION
from botrunner.core.side import Side


def rung_price(side: Side, anchor: int, k: int, step_bps: int, market: PerpMarketSpec) -> int:
    """The price (1e6) of rung ``k`` on ``side`` of a ladder anchored at ``anchor`` with ``step_bps`` spacing."""
    # The tick rounding is PerpMarketSpec.round_price_down/up written inline: this runs once per rung on every
    # ladder (re)build, and the extra call per rung was measurable on the R1 benchmark.
    tick = market.tick_size
    if side is Side.BUY:
        bid = anchor * (BPS_PRECISION - k * step_bps) // BPS_PRECISION
        return bid - bid % tick
    ask = -(-anchor * (BPS_PRECISION + k * step_bps) // BPS_PRECISION)  # ceiling division: the exact ask
    return -(-ask // tick) * tick
