"""Ladder construction: which rungs the connector wants resting, given the mode, band, position and anchor.

Rules (all integer, Drift precisions):
- Rung prices come from the strategy's ``LadderLevel``s when given, else from the policy: rung k = 1..grid_levels
  at ``botrunner.core.rungs.rung_price`` (bid k at anchor·(1 − k·step_bps/1e4) rounded down to the tick, ask k at
  anchor·(1 + k·step_bps/1e4) rounded up). Sizes round down to the step; a rung below ``min_order_size`` is dropped.
- Trimming: if EVERY bid filled the position would stay ≤ ``band.max_base``; if every ask filled it would stay ≥
  ``band.min_base`` (cumulative, the last rung cut down to what fits, rounded down to the step).
- Exposure reduction (position outside the band): the reducing side's first rung is enlarged to carry the whole
  excess back to the band edge; reducing rungs that only shrink |position| are reduce-only. The adding side is
  empty by the trimming rule.
- DEFEND: only the reducing side, all reduce-only, in total never more than takes the position to the band's
  point nearest zero (so never flips it); flat ⇒ nothing. Urgent DEFEND is one crossing reduce-only limit at the
  oracle ± max_slippage_bps.
- Output order interleaves sides nearest-first (bid1, ask1, bid2, ...), so a budget cut drops the farthest rungs.

Crossing the book is handled at placement (``filter_post_only``), not here, so the ladder a build produces only
depends on (mode, band, position, anchor, policy, levels) and can be compared across events.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter
from typing import assert_never

import msgspec

from botrunner.core.directive import ExecutionMode
from botrunner.core.intents import ExposureBand, LadderLevel
from botrunner.core.markets import PerpMarketSpec
from botrunner.core.policy import ExecutionPolicy, PostOnlyMode
from botrunner.core.precision import BPS_PRECISION
from botrunner.core.rungs import rung_price
from botrunner.core.side import Side


class Rung(msgspec.Struct, frozen=True):
    """One order the ladder wants resting (no id, no expiry yet)."""

    side: Side
    price: int  # 1e6
    base: int  # 1e9
    reduce_only: bool
    post_only: PostOnlyMode


def policy_prices(side: Side, anchor: int, policy: ExecutionPolicy, market: PerpMarketSpec) -> list[int]:
    """The policy's rung prices on ``side`` (``rung_price`` for k = 1..grid_levels), nearest first; non-positive
    bids dropped."""
    out: list[int] = []
    step = policy.step_bps
    for k in range(1, policy.grid_levels + 1):
        price = rung_price(side, anchor, k, step, market)
        if price <= 0:
            break  # only a bid can reach 0, and deeper bids only get lower
        out.append(price)
    return out


_price = itemgetter(0)


def _side_rungs(
    side: Side, anchor: int, policy: ExecutionPolicy, market: PerpMarketSpec, levels: Sequence[LadderLevel]
) -> list[tuple[int, int]]:
    """(price, size) on ``side``, nearest the anchor first."""
    if not levels:
        size = market.round_base_down(policy.base_size_per_level)
        return [(p, size) for p in policy_prices(side, anchor, policy, market)]
    round_base = market.round_base_down
    if side is Side.BUY:
        round_bid = market.round_price_down
        bids = [(round_bid(lv.price), round_base(lv.base)) for lv in levels if lv.side is side]
        # highest first; reverse sorting keeps equal prices in their given order, as a sort on -price would
        return sorted([r for r in bids if r[0] > 0], key=_price, reverse=True)
    round_ask = market.round_price_up
    asks = [(round_ask(lv.price), round_base(lv.base)) for lv in levels if lv.side is side]
    return sorted(asks, key=_price)


def _take(
    rungs: list[tuple[int, int]], capacity: int, first_at_least: int, market: PerpMarketSpec
) -> list[tuple[int, int]]:
    """Fill rungs nearest first until ``capacity`` is used; the first rung is at least ``first_at_least``."""
    out: list[tuple[int, int]] = []
    step = market.step_size
    min_size = market.min_order_size
    for i, (price, size) in enumerate(rungs):
        want = max(size, first_at_least) if i == 0 else size
        take = min(want, capacity)
        take -= take % step
        if take < min_size or take <= 0:
            break
        out.append((price, take))
        capacity -= take
    return out


def _interleave(bids: list[Rung], asks: list[Rung]) -> tuple[Rung, ...]:
    out: list[Rung] = []
    for bid, ask in zip(bids, asks, strict=False):  # pairs while both sides have rungs, then the longer tail
        out.append(bid)
        out.append(ask)
    paired = min(len(bids), len(asks))
    out += bids[paired:] or asks[paired:]
    return tuple(out)


def _to_rungs(side: Side, taken: list[tuple[int, int]], reduce_from: int, post_only: PostOnlyMode) -> list[Rung]:
    """Rungs on ``side``; the cumulative size up to ``reduce_from`` (|position| on the reducing side, else 0) is
    reduce-only."""
    out: list[Rung] = []
    cum = 0
    for price, base in taken:
        cum += base
        out.append(Rung(side, price, base, cum <= reduce_from, post_only))
    return out


def defence_quantity(band: ExposureBand, position_base: int) -> int:
    """How much DEFEND may reduce: down to the band's point nearest zero, never past zero (1e9, >= 0)."""
    if position_base > 0:
        return max(0, position_base - max(0, band.min_base))
    if position_base < 0:
        return max(0, min(0, band.max_base) - position_base)
    return 0


def build_ladder(
    *,
    mode: ExecutionMode,
    band: ExposureBand,
    position_base: int,
    anchor: int,
    policy: ExecutionPolicy,
    market: PerpMarketSpec,
    levels: Sequence[LadderLevel] = (),
    urgent: bool = False,
) -> tuple[Rung, ...]:
    """The rungs to work. ``anchor`` is the mark (the oracle for an urgent defence order)."""
    match mode:
        case ExecutionMode.HALT:
            return ()
        case ExecutionMode.DEFEND:
            return _defend(
                band=band, pos=position_base, anchor=anchor, policy=policy, market=market, levels=levels, urgent=urgent
            )
        case ExecutionMode.REDUCE | ExecutionMode.GRID:
            return _grid(
                mode=mode, band=band, pos=position_base, anchor=anchor, policy=policy, market=market, levels=levels
            )
        case _ as unreachable:
            assert_never(unreachable)


def _grid(
    *,
    mode: ExecutionMode,
    band: ExposureBand,
    pos: int,
    anchor: int,
    policy: ExecutionPolicy,
    market: PerpMarketSpec,
    levels: Sequence[LadderLevel],
) -> tuple[Rung, ...]:
    reducing = mode is ExecutionMode.REDUCE
    bids = _take(
        _side_rungs(Side.BUY, anchor, policy, market, levels), band.max_base - pos, band.min_base - pos, market
    )
    asks = _take(
        _side_rungs(Side.SELL, anchor, policy, market, levels), pos - band.min_base, pos - band.max_base, market
    )
    # Only in REDUCE are reducing rungs flagged reduce-only: on the grid a rung may legitimately flip the position.
    bid_ro = -pos if reducing and pos < 0 else 0
    ask_ro = pos if reducing and pos > 0 else 0
    return _interleave(
        _to_rungs(Side.BUY, bids, bid_ro, policy.post_only), _to_rungs(Side.SELL, asks, ask_ro, policy.post_only)
    )


def _defend(
    *,
    band: ExposureBand,
    pos: int,
    anchor: int,
    policy: ExecutionPolicy,
    market: PerpMarketSpec,
    levels: Sequence[LadderLevel],
    urgent: bool,
) -> tuple[Rung, ...]:
    qty = defence_quantity(band, pos)
    if qty <= 0:
        return ()
    side = Side.SELL if pos > 0 else Side.BUY
    if urgent:
        slip = policy.max_slippage_bps
        if side is Side.SELL:
            price = market.round_price_up(-(-anchor * (BPS_PRECISION - slip) // BPS_PRECISION))
        else:
            price = market.round_price_down(anchor * (BPS_PRECISION + slip) // BPS_PRECISION)
        base = qty - qty % market.step_size
        if base < market.min_order_size or price <= 0:
            return ()
        return (Rung(side, price, base, True, PostOnlyMode.NONE),)
    rungs = _side_rungs(side, anchor, policy, market, levels)
    if not rungs:
        return ()
    # The nearest rung carries whatever the others cannot, so the whole reducible quantity is worked.
    rest = sum(size for _, size in rungs[1:])
    taken = _take(rungs, qty, qty - rest, market)
    return tuple(Rung(side, price, base, True, policy.post_only) for price, base in taken)


def filter_post_only(rungs: Sequence[Rung], best_bid: int | None, best_ask: int | None) -> list[Rung]:
    """Drop post-only rungs that would cross the book: bids must be strictly below the best ask, asks strictly
    above the best bid (a MUST_POST_ONLY crossing order would fail the whole transaction). Unknown sides pass."""
    if best_bid is None and best_ask is None:
        return list(rungs)  # no book: nothing to check against
    out: list[Rung] = []
    for r in rungs:
        if r.post_only is not PostOnlyMode.NONE:
            if r.side is Side.BUY and best_ask is not None and r.price >= best_ask:
                continue
            if r.side is Side.SELL and best_bid is not None and r.price <= best_bid:
                continue
        out.append(r)
    return out
