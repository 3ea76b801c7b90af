"""The paper venue's knobs: fees, the fill and slippage models, the paper leverage cap, liquidation buffer, latency."""

from __future__ import annotations

import msgspec

# The interest settings are a bot's YAML section too (``paper: interest:``), so they live in the config layer, which
# this layer builds on; re-exported here, where the venue and its accrual read them.
from botrunner.config.paper import (
    DEFAULT_CANDLE_QUEUE_SHARE_BPS,
    MAX_INTEREST_EVERY_S,
    SPOT_UTILIZATION_PRECISION,
    FillModelKind,
    InterestSettings,
    MarketRates,
    PaperSettings,
    check_fill_model_latency,
    check_latency_slots,
)
from botrunner.core.precision import BPS_PRECISION, LEVERAGE_PRECISION, PERCENTAGE_PRECISION, QUOTE_PRECISION
from botrunner.paper.fees import FeeSchedule, drift_fee_tier


class PaperConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How the paper venue simulates Drift. Integers: bps, ppm, quote 1e6, leverage 1e4 = 1x.

    Maker fills (candles): a resting bid fills only when the path trades ``trade_through_ticks`` ticks below its
    price (asks: above); 0 fills on a touch. Each bar, makers together fill at most ``volume_share_bps`` of the
    bar's volume (partial fills beyond). Maker fills (trades + L2): the order queues behind
    ``queue_depth_share_bps`` of the depth resting at its price when it arrives (10000 = all of it; the seed's
    optimistic rule is 2000) and fills as traded volume at its price eats through that queue, or at once when a
    trade prints through its price.

    ``fill_model`` (:class:`FillModelKind`) picks the candle maker model: ``PATH`` (the default, above) or
    ``CANDLE_QUEUE`` (``botrunner.paper.candle_queue_fills``: the order queues behind ``queue_depth_share_bps`` of
    a depth modelled from the bars and fills on touches as the volume modelled at its price eats through it, in
    full on a trade-through; ``volume_share_bps`` and ``trade_through_ticks`` are not read; no latency).

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
    # lamports one PlaceLegs transaction costs (botrunner.config.live.transaction_cost_lamports of a two-leg bot),
    # charged to the account at the oracle when the legs are booked; 0: none (perp-only bots' orders are not
    # transactions the simulator prices)
    tx_cost_lamports: int = 0
    fill_model: FillModelKind = FillModelKind.PATH

    def validate(self) -> PaperConfig:
        """Raise ``ValueError`` naming the first impossible field; return ``self``."""
        self.fees.validate()
        checks = (
            (self.max_leverage_x10000 > 0, f"max_leverage_x10000 must be > 0, got {self.max_leverage_x10000}"),
            (self.trade_through_ticks >= 0, f"trade_through_ticks must be >= 0, got {self.trade_through_ticks}"),
            (self.tx_cost_lamports >= 0, f"tx_cost_lamports must be >= 0, got {self.tx_cost_lamports}"),
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
        check_latency_slots(self.latency_slots, "PaperConfig.latency_slots")
        check_fill_model_latency(self.fill_model, self.latency_slots, "PaperConfig.fill_model")
        if self.fill_model is FillModelKind.CANDLE_QUEUE and not self.queue_depth_share_bps:
            raise ValueError("PaperConfig.queue_depth_share_bps must be in 1..10000 with fill_model candle_queue")
        if self.interest is not None:
            self.interest.validate()
        return self


def with_bot_settings(config: PaperConfig, settings: PaperSettings) -> PaperConfig:
    """``config`` with what a bot's YAML ``paper:`` section sets of the venue's fills: the fill model and the queue
    share (when absent: the candle queue's 2000, or the venue's own for ``path``). Latency and interest are applied
    by their callers as before."""
    share = settings.queue_depth_share_bps
    if share is None and settings.fill_model is FillModelKind.CANDLE_QUEUE:
        share = DEFAULT_CANDLE_QUEUE_SHARE_BPS
    if settings.fill_model is config.fill_model and share is None:
        return config  # nothing set: the very same config (and its digest)
    return msgspec.structs.replace(
        config,
        fill_model=settings.fill_model,
        queue_depth_share_bps=config.queue_depth_share_bps if share is None else share,
    )


def slippage_bps(config: PaperConfig, notional: int) -> int:
    """Taker slippage (bps, rounded up) for an order of ``notional`` quote (1e6)."""
    span = config.slippage_max_bps - config.slippage_min_bps
    if notional >= config.slippage_full_notional:
        return config.slippage_max_bps
    return config.slippage_min_bps + -(-span * max(0, notional) // config.slippage_full_notional)


__all__ = [
    "DEFAULT_CANDLE_QUEUE_SHARE_BPS",
    "MAX_INTEREST_EVERY_S",
    "SPOT_UTILIZATION_PRECISION",
    "FillModelKind",
    "InterestSettings",
    "MarketRates",
    "PaperConfig",
    "slippage_bps",
    "with_bot_settings",
]
