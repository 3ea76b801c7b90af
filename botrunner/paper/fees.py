"""Drift perp trading fees by volume tier, and the fee of one fill.

Rates are parts-per-million of the fill's notional (``PERCENTAGE_PRECISION``): 350 = 0.035 %. A negative maker rate
is a rebate. The tier table is protocol-v2's ``FeeStructure::perps_default`` (``state/state.rs``): 4 / 3 / 2 /
1.5 bp taker by 30-day volume tier, a flat 0.25 bp maker rebate. Live rates are admin parameters that Drift can
change, so a bot's YAML may override the rates; the R1 reference workload does (taker 0.035 %, maker -0.002 %).

Rounding goes against the account, as the program does: a taker fee rounds up, a maker rebate rounds down.
"""

from __future__ import annotations

from typing import Final

import msgspec

from botrunner.core.fixed import ceil_div
from botrunner.core.precision import PERCENTAGE_PRECISION


class FeeSchedule(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Taker and maker fee rates, ppm of notional; a negative ``maker_ppm`` is a rebate."""

    taker_ppm: int
    maker_ppm: int

    def validate(self) -> FeeSchedule:
        if not 0 <= self.taker_ppm < PERCENTAGE_PRECISION // 10:
            raise ValueError(f"FeeSchedule.taker_ppm must be in [0, 100000) (0..10 %), got {self.taker_ppm}")
        if not -self.taker_ppm <= self.maker_ppm < PERCENTAGE_PRECISION // 10:
            raise ValueError(
                f"FeeSchedule.maker_ppm must be in [-taker_ppm, 100000): a maker rebate larger than the taker fee "
                f"would pay wash trading, got {self.maker_ppm}"
            )
        return self


# protocol-v2 FeeStructure::perps_default, tiers 1..4: 4 / 3 / 2 / 1.5 bp taker, 0.25 bp maker rebate.
DRIFT_PERP_FEE_TIERS: Final[tuple[FeeSchedule, ...]] = (
    FeeSchedule(taker_ppm=400, maker_ppm=-25),
    FeeSchedule(taker_ppm=300, maker_ppm=-25),
    FeeSchedule(taker_ppm=200, maker_ppm=-25),
    FeeSchedule(taker_ppm=150, maker_ppm=-25),
)


def drift_fee_tier(tier: int) -> FeeSchedule:
    """Drift's default schedule for volume tier ``tier`` (1-based)."""
    if not 1 <= tier <= len(DRIFT_PERP_FEE_TIERS):
        raise ValueError(f"fee tier must be 1..{len(DRIFT_PERP_FEE_TIERS)}, got {tier}")
    return DRIFT_PERP_FEE_TIERS[tier - 1]


def fill_fee(notional: int, rate_ppm: int) -> int:
    """Fee (quote 1e6) on ``notional`` (quote 1e6, >= 0): positive = paid (rounded up), negative = rebate
    (rounded down in magnitude)."""
    if notional < 0:
        raise ValueError(f"notional {notional} must be >= 0")
    if rate_ppm >= 0:
        return ceil_div(notional * rate_ppm, PERCENTAGE_PRECISION)
    return -(notional * -rate_ppm // PERCENTAGE_PRECISION)
