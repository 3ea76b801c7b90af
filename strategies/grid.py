"""The Pionex-style grid/curve strategy (MVP spec §3).

Per decision:

1. Range: the blended percentile range of the 1h/4h/1D/1W windows (``strategies.price_range``). Unknown (too little
   history) -> a band that opens no new exposure: ``[min(pos, 0), max(pos, 0)]`` preferring ``pos``, no rungs,
   note ``insufficient_history``.
2. Rungs per side from ``ExecutionPolicy.grid_levels`` and the bias: ``shift = round(levels * bias_skew_bps/1e4)``
   (at most levels - 1) rungs move to the favoured side (bullish: bids), so the total stays ``2 * levels``.
3. Mark outside the range:
   - BOUNDED: no new exposure. The preferred position is the curve's edge target (above: max short; below: max long)
     clamped into ``[min(pos, 0), max(pos, 0)]``, i.e. the strategy may only exit toward flat; the band spans pos
     and that preference; the ladder keeps only the exit rungs (asks reducing a long above the range, bids reducing
     a short below it). Note ``bounded_above_range`` / ``bounded_below_range``, ``in_range`` False.
   - INFINITY: the range re-centres on the mark keeping its width; note ``infinity_recentred``.
4. Curve (``strategies.curve``) with ``max_long = n_bid * level`` and ``max_short = n_ask * level``.
   ``preferred = curve(mark)``; band ``= [curve(first ask rung price), curve(first bid rung price)]``: where the
   target would go after the price moved one rung either way. The curve is non-increasing and step-aligned, so the
   band always holds ``preferred``; it goes through ``make_band`` anyway.
5. Ladder (``strategies.ladder``) anchored at the mark, each side capped so that filling every rung would not carry
   the position beyond the curve's extremes (``+max_long`` / ``-max_short``).

Risk caps (leverage, notional, liquidation buffer, ...) are NOT applied here: the Risk Governor clamps the band.
"""

from __future__ import annotations

from typing import assert_never

from botrunner.core.intents import ExposureBand, StrategyDecision, make_band
from botrunner.core.markets import PerpMarketSpec
from botrunner.core.precision import BPS_PRECISION
from botrunner.core.rungs import rung_price
from botrunner.core.side import Side
from strategies.base import MarketView, PriceMemory
from strategies.config import Bias, GridConfig, GridMode
from strategies.curve import Curve
from strategies.history import PriceHistory
from strategies.ladder import build_levels
from strategies.price_range import PriceRange, blended_range, recentre

NOTE_INSUFFICIENT_HISTORY = "insufficient_history"
NOTE_BOUNDED_ABOVE = "bounded_above_range"
NOTE_BOUNDED_BELOW = "bounded_below_range"
NOTE_INFINITY_RECENTRED = "infinity_recentred"


class GridState:
    """The grid strategy's state: its price history.

    MUTABLE for speed: ``GridStrategy.on_price`` updates it in place and returns the same object. It is owned by one
    bot step and never shared across bots or threads; ``copy()`` branches it (e.g. for what-if replays).
    """

    __slots__ = ("history",)

    def __init__(self, history: PriceHistory) -> None:
        self.history = history

    def copy(self) -> GridState:
        return GridState(self.history.copy())


def side_levels(grid_levels: int, bias: Bias, bias_skew_bps: int) -> tuple[int, int]:
    """(bid rungs, ask rungs) for ``grid_levels`` per side under ``bias``; the total is always 2 * grid_levels."""
    if grid_levels < 1:
        raise ValueError(f"side_levels: grid_levels must be >= 1, got {grid_levels}")
    shift = min((grid_levels * bias_skew_bps + BPS_PRECISION // 2) // BPS_PRECISION, grid_levels - 1)
    match bias:
        case Bias.NEUTRAL:
            return grid_levels, grid_levels
        case Bias.BULLISH:
            return grid_levels + shift, grid_levels - shift
        case Bias.BEARISH:
            return grid_levels - shift, grid_levels + shift
        case _:
            assert_never(bias)


def no_new_exposure_band(position_base: int, preferred_base: int, market: PerpMarketSpec) -> ExposureBand:
    """A band between ``position_base`` and ``preferred_base`` (which must lie between pos and 0)."""
    lo, hi = min(position_base, preferred_base), max(position_base, preferred_base)
    return make_band(lo, hi, preferred_base, market)


class GridStrategy:
    """Pionex-style grid/curve strategy; implements ``strategies.base.Strategy[GridState]``."""

    __slots__ = ("config",)

    def __init__(self, config: GridConfig) -> None:
        config.validate()
        self.config = config

    def initial_state(self) -> GridState:
        return GridState(PriceHistory(self.config.lookbacks_s, self.config.sample_interval_s))

    def price_memory(self) -> PriceMemory:
        """Its longest lookback window, sampled as its ``PriceHistory`` samples (the bucket's last price)."""
        return PriceMemory(lookback_s=max(self.config.lookbacks_s), sample_s=self.config.sample_interval_s)

    def on_price(self, state: GridState, ts: int, price: int) -> GridState:
        """Record a mark observation (1e6) at ``ts``; mutates and returns ``state`` (see ``GridState``)."""
        state.history.observe(ts, price)
        return state

    def decide(self, state: GridState, view: MarketView) -> StrategyDecision:
        """The band and ladder for ``view`` (pure; does not touch ``state``)."""
        view.validate()
        cfg, market, policy = self.config, view.market, view.policy
        mark, pos = view.mark, view.position_base
        level_base = market.round_base_down(policy.base_size_per_level)
        if level_base <= 0 or level_base < market.min_order_size:
            raise ValueError(
                f"ExecutionPolicy.base_size_per_level {policy.base_size_per_level} rounds to {level_base}, below "
                f"{market.symbol} min_order_size {market.min_order_size}"
            )
        n_bid, n_ask = side_levels(policy.grid_levels, cfg.bias, cfg.bias_skew_bps)

        rng = blended_range(state.history, cfg)
        if rng is None:
            pref = pos
            return StrategyDecision(
                band=make_band(min(pos, 0), max(pos, 0), pref, market),
                in_range=False,
                note=NOTE_INSUFFICIENT_HISTORY,
            )

        note = ""
        if not rng.contains(mark):
            match cfg.mode:
                case GridMode.BOUNDED:
                    return self._bounded_exit(rng, view, n_bid, n_ask, level_base)
                case GridMode.INFINITY:
                    rng = recentre(rng, mark)
                    note = NOTE_INFINITY_RECENTRED
                case _:
                    assert_never(cfg.mode)

        curve = self._curve(rng, n_bid, n_ask, level_base, market)
        preferred = curve.target(mark)
        band = make_band(
            curve.target(rung_price(Side.SELL, mark, 1, policy.step_bps, market)),
            curve.target(rung_price(Side.BUY, mark, 1, policy.step_bps, market)),
            preferred,
            market,
        )
        levels = build_levels(
            mark=mark,
            n_bid=n_bid,
            n_ask=n_ask,
            step_bps=policy.step_bps,
            level_base=level_base,
            bid_room=curve.max_long - pos,
            ask_room=pos + curve.max_short,
            market=market,
        )
        return StrategyDecision(
            band=band, levels=levels, range_low=rng.low, range_high=rng.high, in_range=True, note=note
        )

    def _curve(self, rng: PriceRange, n_bid: int, n_ask: int, level_base: int, market: PerpMarketSpec) -> Curve:
        return Curve(
            kind=self.config.curve,
            low=rng.low,
            high=rng.high,
            long_levels=n_bid,
            short_levels=n_ask,
            level_base=level_base,
            step=market.step_size,
        )

    def _bounded_exit(
        self, rng: PriceRange, view: MarketView, n_bid: int, n_ask: int, level_base: int
    ) -> StrategyDecision:
        """Mark outside a bounded range: move only toward flat, in the direction the curve's edge points."""
        market, pos, mark = view.market, view.position_base, view.mark
        curve = self._curve(rng, n_bid, n_ask, level_base, market)
        above = mark > rng.high
        edge = curve.target(rng.high if above else rng.low)
        preferred = min(max(edge, min(pos, 0)), max(pos, 0))  # the edge target, but never across zero
        levels = build_levels(
            mark=mark,
            n_bid=0 if above else n_bid,
            n_ask=n_ask if above else 0,
            step_bps=view.policy.step_bps,
            level_base=level_base,
            bid_room=preferred - pos,  # > 0 only when covering a short below the range
            ask_room=pos - preferred,  # > 0 only when selling a long above the range
            market=market,
        )
        return StrategyDecision(
            band=no_new_exposure_band(pos, preferred, market),
            levels=levels,
            range_low=rng.low,
            range_high=rng.high,
            in_range=False,
            note=NOTE_BOUNDED_ABOVE if above else NOTE_BOUNDED_BELOW,
        )
