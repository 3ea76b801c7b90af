"""Drift-exact margin engine: pure integer maths on our own account model (no I/O, no driftpy).

Ground truth is protocol-v2's Rust (``math/margin.rs``, ``state/user.rs``, ``math/spot_balance.rs``,
``math/position.rs``, ``math/funding.rs``, ``state/spot_market.rs``, ``state/perp_market.rs``); health and
leverage follow Drift's SDK definitions.
"""

from __future__ import annotations

from botrunner.margin.calculation import MarginCalculation, calculate_margin
from botrunner.margin.liquidation import liquidation_price
from botrunner.margin.metrics import AccountMargin, LeverageComponents, account_margin, health, leverage_components
from botrunner.margin.model import (
    Account,
    BalanceType,
    MarginCategory,
    MarginMode,
    Markets,
    PerpMarketState,
    PerpMarketStatus,
    PerpPosition,
    SpotMarketState,
    SpotPosition,
)
from botrunner.margin.perp_position import unrealized_pnl, unsettled_funding
from botrunner.margin.scenario import OracleScenario
from botrunner.margin.spot_balance import scaled_balance_for, signed_token_amount
from botrunner.margin.view import AccountMarginView
from botrunner.margin.what_if import apply_fill, apply_perp_fill, entry_price

__all__ = [
    "Account",
    "AccountMargin",
    "AccountMarginView",
    "BalanceType",
    "LeverageComponents",
    "MarginCalculation",
    "MarginCategory",
    "MarginMode",
    "Markets",
    "OracleScenario",
    "PerpMarketState",
    "PerpMarketStatus",
    "PerpPosition",
    "SpotMarketState",
    "SpotPosition",
    "account_margin",
    "apply_fill",
    "apply_perp_fill",
    "calculate_margin",
    "entry_price",
    "health",
    "leverage_components",
    "liquidation_price",
    "scaled_balance_for",
    "signed_token_amount",
    "unrealized_pnl",
    "unsettled_funding",
]
