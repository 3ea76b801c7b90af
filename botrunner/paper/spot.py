"""The paper venue's Drift spot market (SOL/USDC, spot market 1): the fee and the size-dependent slippage of a spot
taker fill, as pure functions. The delta-neutral engine's spot leg trades here (``botrunner.paper.legs``).

Fees. Drift charges a spot taker ``FeeStructure::spot_default`` (protocol-v2 ``state/state.rs``), tier 1: 10 bp
taker (``fee_numerator 100 / FEE_DENOMINATOR 100_000``), 2 bp maker rebate, rounded up against the taker
(``calculate_taker_fee``: ``safe_div_ceil``). A spot order is filled against another Drift user's order (match) or
through an external book (Phoenix / OpenBook v2 fulfilment); for an external fill the taker pays
``max(Drift's fee, external market fee + referrer rebate)`` (``calculate_fee_for_fulfillment_with_external_market``,
``math/fees.rs``), and the fee comes out of the quote (a sell receives quote - fee, a buy pays quote + fee). The
external books' taker fees are below Drift's 10 bp, so the paper fee is Drift's: ``spot_taker_ppm`` (default 1000
ppm = 10 bp; a market's ``fee_adjustment`` or a higher tier is set there). The IOC spot leg is always a taker.

Slippage (the price a taker of quote notional ``N`` gets, relative to the oracle), in ppm of the price::

    slip_ppm(N) = spot_half_spread_ppm + ceil(spot_impact_ppm * sqrt(N / spot_impact_notional))

a half-spread plus the square-root impact law (impact grows with the square root of size). Parameters and source
(``ops/measure_spot_slippage.py`` prints every figure; docs/paper-spot.md has the table):

- The only order-book data (../shared/data/orderbook) is Binance USD-M BTCUSDT (2024-08-08, 335 one-second samples
  of a 1000-level book). Walking it, a $1M taker costs 1.08 bp (median) / 1.90 bp (p90) beyond the half-spread,
  $100k 0.00 / 0.36 bp. Fitting ``cost = Y * sigma * sqrt(N / V)`` with the BTC perp's median hourly range (sigma
  101.7 bp) and hourly volume (V $638M) of the 24 h before the capture gives Y = 0.27 (median) / 0.47 (p90).
- Transported to SOL with the Binance SOL/USDT spot 1 h candles of the Drift funding window (2025-04-14 ..
  2025-10-13: median hourly range 95.95 bp, median hourly volume $20.5M): the p90 fit gives 100 ppm (1.0 bp) at
  $10k, the default ``spot_impact_ppm`` at ``spot_impact_notional`` $10k.
- The half-spread: the BTC book sat at one tick (median half-spread 0.008 bp = half a $0.10 tick); one $0.01 tick
  of SOL/USDT at the window's median price ($173.17) is 57.7 ppm, half of it 29 ppm, the default
  ``spot_half_spread_ppm``. (The Corwin-Schultz high-low spread estimator on the 1 h candles gives 30 bp for the
  same BTC hours whose book showed 0.016 bp, so the candles' ranges were not used for the spread.)
- Caveat: these are Binance depths. Drift's own SOL/USDC book (its makers, Phoenix, OpenBook) trades less; under
  the same law impact scales as 1/sqrt(volume), so a venue with 1 % of Binance's volume has 10x the impact: raise
  ``spot_impact_ppm`` for a conservative run.

Prices in 1e6, SOL in 1e9 (the spot market's decimals), quote 1e6. The fill price is rounded to the spot market's
tick against the taker (a buy up, a sell down); the quote of the fill against the account (a buy pays the ceiling,
a sell receives the floor).
"""

from __future__ import annotations

import math
from typing import NamedTuple

from botrunner.core.fixed import ceil_div
from botrunner.core.markets import SpotMarketSpec
from botrunner.core.precision import PERCENTAGE_PRECISION
from botrunner.core.side import Side
from botrunner.paper.fees import fill_fee


class SpotLegFill(NamedTuple):
    """A spot taker fill, priced but not booked: ``quote`` is the signed USDC change before the fee (a buy
    negative), ``fee`` >= 0 paid on top; ``usdc_delta`` = quote - fee, ``base_delta`` the signed token change."""

    side: Side
    base: int
    price: int
    quote: int
    fee: int

    @property
    def base_delta(self) -> int:
        return self.base * self.side.sign

    @property
    def usdc_delta(self) -> int:
        return self.quote - self.fee


def slippage_ppm(notional: int, *, half_spread_ppm: int, impact_ppm: int, impact_notional: int) -> int:
    """``half_spread_ppm + ceil(impact_ppm * sqrt(notional / impact_notional))`` (ppm of the price, rounded up:
    against the taker) for a taker of ``notional`` quote (1e6, >= 0)."""
    if notional < 0 or impact_notional <= 0:
        raise ValueError(f"slippage_ppm: need notional >= 0 and impact_notional > 0, got {notional}, {impact_notional}")
    # impact_ppm * sqrt(n / ref) = sqrt(impact_ppm^2 * n / ref); its ceiling, exactly in integers
    squared = impact_ppm * impact_ppm * notional
    root = math.isqrt(squared // impact_notional)
    while root * root * impact_notional < squared:
        root += 1
    return half_spread_ppm + root


def spot_fill(
    side: Side,
    base: int,
    oracle: int,
    spec: SpotMarketSpec,
    *,
    taker_ppm: int,
    half_spread_ppm: int,
    impact_ppm: int,
    impact_notional: int,
) -> SpotLegFill:
    """The fill of a spot taker of ``base`` tokens on ``side`` against the oracle ``oracle`` (price 1e6): the
    slipped price on the spot tick, the quote and Drift's taker fee (module docstring)."""
    token_scale = 10**spec.decimals
    notional = base * oracle // token_scale
    slip = slippage_ppm(
        notional, half_spread_ppm=half_spread_ppm, impact_ppm=impact_ppm, impact_notional=impact_notional
    )
    tick = spec.order_tick_size
    if side is Side.BUY:
        raw = ceil_div(oracle * (PERCENTAGE_PRECISION + slip), PERCENTAGE_PRECISION)
        price = ceil_div(raw, tick) * tick
        quote = -ceil_div(base * price, token_scale)
    else:
        raw = oracle * max(PERCENTAGE_PRECISION - slip, 0) // PERCENTAGE_PRECISION
        price = raw // tick * tick
        quote = base * price // token_scale
    return SpotLegFill(side=side, base=base, price=price, quote=quote, fee=fill_fee(abs(quote), taker_ppm))
