"""The paper venue's knobs: fees, the fill and slippage models, the paper leverage cap, liquidation buffer, latency."""

from __future__ import annotations

from typing import Final

import msgspec

from botrunner.core.precision import BPS_PRECISION, LEVERAGE_PRECISION, PERCENTAGE_PRECISION, QUOTE_PRECISION
from botrunner.margin.interest import SpotRateCurve
from botrunner.paper.fees import FeeSchedule, drift_fee_tier

SPOT_UTILIZATION_PRECISION: Final = 10**6  # protocol-v2: utilisation 1e6 = 100 %
MAX_INTEREST_EVERY_S: Final = 86_400


class MarketRates(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where one spot market's deposit and borrow rates come from: a rate series file (``ts,deposit_apr,borrow_apr``,
    ``botrunner.marketdata.rates``; no interest before its first row) when ``series`` is set, else Drift's rate
    ``curve`` (the SpotMarket's parameters, ``botrunner.margin.interest.SpotRateCurve``) at ``utilization`` (1e6 =
    100 %)."""

    series: str | None = None
    utilization: int | None = None
    curve: SpotRateCurve | None = None

    def validate(self, where: str) -> MarketRates:
        if (self.series is None) == (self.utilization is None):
            raise ValueError(f"{where}: give exactly one of series (a rate file) or utilization (the curve at it)")
        if self.series is not None and not self.series.strip():
            raise ValueError(f"{where}.series: an empty path")
        if self.utilization is not None and not 0 <= self.utilization <= SPOT_UTILIZATION_PRECISION:
            raise ValueError(f"{where}.utilization must be in [0, 1000000] (1e6 = 100 %), got {self.utilization}")
        if (self.curve is None) != (self.utilization is None):
            raise ValueError(f"{where}: utilization and curve go together (the curve is read at the utilization)")
        return self


class InterestSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Deposit and borrow interest on the paper account's USDC and SOL balances (``PaperConfig.interest``; off when
    None). The venue performs a Drift interest update of both markets at its first input at least ``every_s``
    seconds after the previous one, and before every account command (Drift updates a market's cumulative interest
    on each interaction with it): ``botrunner.paper.accrual`` states the error bound of that cadence."""

    usdc: MarketRates
    sol: MarketRates
    every_s: int = 3_600

    def validate(self) -> InterestSettings:
        self.usdc.validate("PaperConfig.interest.usdc")
        self.sol.validate("PaperConfig.interest.sol")
        if not 1 <= self.every_s <= MAX_INTEREST_EVERY_S:
            raise ValueError(f"PaperConfig.interest.every_s must be in 1..{MAX_INTEREST_EVERY_S}, got {self.every_s}")
        return self


class PaperConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How the paper venue simulates Drift. Integers: bps, ppm, quote 1e6, leverage 1e4 = 1x.

    Maker fills (candles): a resting bid fills only when the path trades ``trade_through_ticks`` ticks below its
    price (asks: above); 0 fills on a touch. Each bar, makers together fill at most ``volume_share_bps`` of the
    bar's volume (partial fills beyond). Maker fills (trades + L2): the order queues behind
    ``queue_depth_share_bps`` of the depth resting at its price when it arrives (10000 = all of it; the seed's
    optimistic rule is 2000) and fills as traded volume at its price eats through that queue, or at once when a
    trade prints through its price.

    Taker fills without a book: slippage grows linearly with the order's notional from ``slippage_min_bps`` to
    ``slippage_max_bps`` at ``slippage_full_notional`` and above (seed: 0.1-0.3 % by size). With a book, the order
    walks it instead.

    Spot market (SOL/USDC, the delta-neutral engine's spot leg; ``botrunner.paper.spot`` has the model and its
    source): a spot taker pays ``spot_taker_ppm`` (Drift's spot fee, tier 1: 10 bp) and a slippage of
    ``spot_half_spread_ppm + spot_impact_ppm * sqrt(notional / spot_impact_notional)`` ppm of the oracle.

    Interest: ``interest`` (:class:`InterestSettings`), off by default.

    Latency: ``latency_slots`` Solana slots (400 ms each, 0..150) between the bot and the venue, both ways
    (``botrunner.paper.latency``); 0 answers every command at once.
    """

    fees: FeeSchedule = drift_fee_tier(1)
    max_leverage_x10000: int = 10 * LEVERAGE_PRECISION  # paper rejects increases beyond 10x
    trade_through_ticks: int = 1
    volume_share_bps: int = 1_000  # 10 % of each bar's volume
    queue_depth_share_bps: int = BPS_PRECISION
    slippage_min_bps: int = 10
    slippage_max_bps: int = 30
    slippage_full_notional: int = 100_000 * QUOTE_PRECISION
    liquidation_buffer_ratio: int = 200  # MARGIN_PRECISION: liquidate back to maintenance + 2 %
    latency_slots: int = 0
    spot_taker_ppm: int = 1_000  # protocol-v2 FeeStructure::spot_default tier 1: 10 bp
    spot_half_spread_ppm: int = 29  # half a $0.01 tick at SOL's median price (botrunner.paper.spot)
    spot_impact_ppm: int = 100  # square-root impact at spot_impact_notional (botrunner.paper.spot)
    spot_impact_notional: int = 10_000 * QUOTE_PRECISION
    # off unless configured: a perp-only bot's USDC would otherwise earn interest and move every existing result
    interest: InterestSettings | None = None

    def validate(self) -> PaperConfig:
        """Raise ``ValueError`` naming the first impossible field; return ``self``."""
        self.fees.validate()
        checks = (
            (self.max_leverage_x10000 > 0, f"max_leverage_x10000 must be > 0, got {self.max_leverage_x10000}"),
            (self.trade_through_ticks >= 0, f"trade_through_ticks must be >= 0, got {self.trade_through_ticks}"),
            (
                0 < self.volume_share_bps <= BPS_PRECISION,
                f"volume_share_bps must be in (0, 10000], got {self.volume_share_bps}",
            ),
            (
                0 <= self.queue_depth_share_bps <= BPS_PRECISION,
                f"queue_depth_share_bps must be in [0, 10000], got {self.queue_depth_share_bps}",
            ),
            (
                0 <= self.slippage_min_bps <= self.slippage_max_bps < BPS_PRECISION,
                f"need 0 <= slippage_min_bps <= slippage_max_bps < 10000, got {self.slippage_min_bps}, "
                f"{self.slippage_max_bps}",
            ),
            (self.slippage_full_notional > 0, "slippage_full_notional must be > 0"),
            (
                0 <= self.liquidation_buffer_ratio < 10_000,
                f"liquidation_buffer_ratio must be in [0, 10000), got {self.liquidation_buffer_ratio}",
            ),
            (
                0 <= self.spot_taker_ppm < PERCENTAGE_PRECISION // 10,
                f"spot_taker_ppm must be in [0, 100000) (0..10 %), got {self.spot_taker_ppm}",
            ),
            (
                0 <= self.spot_half_spread_ppm < PERCENTAGE_PRECISION,
                f"spot_half_spread_ppm must be in [0, 1000000), got {self.spot_half_spread_ppm}",
            ),
            (
                0 <= self.spot_impact_ppm < PERCENTAGE_PRECISION,
                f"spot_impact_ppm must be in [0, 1000000), got {self.spot_impact_ppm}",
            ),
            (self.spot_impact_notional > 0, f"spot_impact_notional must be > 0, got {self.spot_impact_notional}"),
        )
        for ok, message in checks:
            if not ok:
                raise ValueError(f"PaperConfig.{message}")
        # imported here: botrunner.config.paper (a bot's paper: section) holds an InterestSettings, so a module-level
        # import would be circular
        from botrunner.config.paper import check_latency_slots

        check_latency_slots(self.latency_slots, "PaperConfig.latency_slots")
        if self.interest is not None:
            self.interest.validate()
        return self


def slippage_bps(config: PaperConfig, notional: int) -> int:
    """Taker slippage (bps, rounded up) for an order of ``notional`` quote (1e6)."""
    span = config.slippage_max_bps - config.slippage_min_bps
    if notional >= config.slippage_full_notional:
        return config.slippage_max_bps
    return config.slippage_min_bps + -(-span * max(0, notional) // config.slippage_full_notional)
