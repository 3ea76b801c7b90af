"""A bot's ``paper:`` section: what a paper bot (and its backtest) sets of the paper venue per bot.

``latency_slots``: Solana slots (400 ms each) between the bot and its paper venue, both ways: commands land and
reports arrive that much later (``botrunner.paper.latency``). 0, the default, answers every command at once.

``interest``: the paper venue's deposit and borrow interest on the USDC and SOL balances
(``botrunner.paper.config.InterestSettings``: per market a rate series file or Drift's curve at a utilisation, and
the update cadence ``every_s``); off when absent. A delta-neutral bot's carry engine counts the SOL deposit APR of
the same source, so what it expects and what the venue pays agree.

``fill_model``: how resting (maker) orders fill on candles (docs/backtests.md, *Queue position from candles*):
``path`` (the default) when the replayed path trades through their price; ``candle_queue`` by queue position,
estimated from the bars (``botrunner.paper.candle_queue_fills``): an order fills on touches only once the volume
modelled at its price since it was placed exceeds ``queue_depth_share_bps`` (1..10000; 2000 = 20 % when absent) of
the depth modelled at entry. ``candle_queue`` needs ``latency_slots: 0`` (the walked latency path is not modelled
for it).
"""

from __future__ import annotations

import enum
from typing import Final

import msgspec

from botrunner.core.precision import BPS_PRECISION
from botrunner.margin.interest import SpotRateCurve

SLOT_MS: Final = 400  # a Solana slot
# A transaction's recent blockhash is valid for 150 blocks: a command cannot land later than that, so a longer
# delay would model something that cannot happen.
MAX_LATENCY_SLOTS: Final = 150

SPOT_UTILIZATION_PRECISION: Final = 10**6  # protocol-v2: utilisation 1e6 = 100 %
MAX_INTEREST_EVERY_S: Final = 86_400
# the seed's "fills once 20 % of the resting depth has traded": the candle queue model's share when none is given
DEFAULT_CANDLE_QUEUE_SHARE_BPS: Final = 2_000


class FillModelKind(enum.Enum):
    """How a paper venue fills resting orders on candles (an L2 book, when given, always uses the L2 queue)."""

    PATH = "path"  # the replayed path trades through the price (``botrunner.paper.candle_fills``)
    CANDLE_QUEUE = "candle_queue"  # queue position from a depth model of the bars (``botrunner.paper.candle_queue``)


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


def check_latency_slots(slots: object, where: str) -> int:
    """``slots`` as a latency in slots, or ``ValueError`` naming ``where`` (an integer in 0..150)."""
    if isinstance(slots, bool) or not isinstance(slots, int):
        raise ValueError(f"{where} must be an integer number of slots, got {slots!r}")
    if not 0 <= slots <= MAX_LATENCY_SLOTS:
        raise ValueError(
            f"{where} must be in 0..{MAX_LATENCY_SLOTS} (a Solana transaction expires after 150 slots), got {slots}"
        )
    return slots


class PaperSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A paper bot's venue settings (paper mode and backtests; a live bot ignores them)."""

    latency_slots: int = 0
    interest: InterestSettings | None = None
    fill_model: FillModelKind = FillModelKind.PATH
    queue_depth_share_bps: int | None = None  # None: the venue's default (candle_queue: 2000)

    def validate(self) -> None:
        """Raise ``ValueError`` ("PaperSettings.latency_slots must ...") for an impossible value."""
        check_latency_slots(self.latency_slots, "PaperSettings.latency_slots")
        if self.interest is not None:
            self.interest.validate()
        share = self.queue_depth_share_bps
        if share is not None and not 1 <= share <= BPS_PRECISION:
            raise ValueError(
                f"PaperSettings.queue_depth_share_bps must be in 1..10000 (bps of the depth at entry), got {share}"
            )
        check_fill_model_latency(self.fill_model, self.latency_slots, "PaperSettings.fill_model")


def check_fill_model_latency(model: FillModelKind, latency_slots: int, where: str) -> None:
    """The candle queue model fills at path points and bar closes; with latency the path is walked in time
    (``botrunner.paper.walk``), whose stops it does not model: the combination is refused, not approximated."""
    if model is FillModelKind.CANDLE_QUEUE and latency_slots:
        raise ValueError(f"{where} candle_queue needs latency_slots: 0, got latency_slots {latency_slots}")
