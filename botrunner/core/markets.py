"""Static market parameters: what a bot needs to size, price and margin orders in one Drift market.

The real values live in the bundled catalogue (``botrunner/data/markets.json``), generated from mainnet account
snapshots by ``ops/gen_market_catalogue.py``. Never hand-edit numbers into it.
"""

from __future__ import annotations

import enum

import msgspec


class ContractTier(enum.Enum):
    """Drift's perp contract tiers; they set the funding-rate clamp and liquidation ordering."""

    A = "A"
    B = "B"
    C = "C"
    SPECULATIVE = "Speculative"
    HIGHLY_SPECULATIVE = "HighlySpeculative"
    ISOLATED = "Isolated"


class ContractType(enum.Enum):
    """Drift's perp contract types: a prediction market's liability is priced against 1.0 for shorts."""

    PERPETUAL = "Perpetual"
    FUTURE = "Future"
    PREDICTION = "Prediction"


class PerpMarketSpec(msgspec.Struct, frozen=True, kw_only=True):
    """A perp market's static parameters, all in Drift precisions (see ``botrunner.core.precision``).

    Funding maths for a market (tier clamp, rate from TWAPs) lives in ``botrunner.funding``."""

    market_index: int
    symbol: str
    oracle: str  # base58 pubkey
    oracle_source: str  # Drift's OracleSource variant name, e.g. "PythLazer"
    tick_size: int  # price precision 1e6
    step_size: int  # base precision 1e9
    min_order_size: int  # base precision 1e9
    margin_ratio_initial: int  # margin precision 1e4
    margin_ratio_maintenance: int
    high_leverage_margin_ratio_initial: int
    high_leverage_margin_ratio_maintenance: int
    imf_factor: int  # 1e6
    unrealized_pnl_initial_asset_weight: int  # spot weight precision 1e4
    unrealized_pnl_maintenance_asset_weight: int
    unrealized_pnl_imf_factor: int
    unrealized_pnl_max_imbalance: int  # quote 1e6
    liquidator_fee: int  # liquidation fee precision 1e6
    if_liquidation_fee: int
    funding_period: int  # seconds
    contract_tier: ContractTier
    contract_type: ContractType = ContractType.PERPETUAL
    quote_spot_market_index: int = 0

    def round_price_down(self, price: int) -> int:
        """Largest tick multiple <= price: where a bid goes."""
        return price - price % self.tick_size

    def round_price_up(self, price: int) -> int:
        """Smallest tick multiple >= price: where an ask goes."""
        return -((-price) // self.tick_size) * self.tick_size

    def round_base_down(self, base: int) -> int:
        """Truncate |base| to the order step, keeping the sign: sizes never round up."""
        magnitude = abs(base) - abs(base) % self.step_size
        return magnitude if base >= 0 else -magnitude


class SpotMarketSpec(msgspec.Struct, frozen=True, kw_only=True):
    """A spot market's static parameters (USDC = 0, SOL = 1), in Drift precisions."""

    market_index: int
    symbol: str
    mint: str
    oracle: str
    oracle_source: str
    decimals: int
    initial_asset_weight: int  # spot weight precision 1e4
    maintenance_asset_weight: int
    initial_liability_weight: int
    maintenance_liability_weight: int
    imf_factor: int
    scale_initial_asset_weight_start: int  # quote 1e6; 0 = no scaling
    liquidator_fee: int
    if_liquidation_fee: int
    order_step_size: int
    order_tick_size: int
    min_order_size: int
