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


# Drift `math/constants.rs`: FUNDING_RATE_OFFSET_DENOMINATOR (longs pay oracle/5000 a day, ~7.3 % a year) and the
# funding window the period adjustment divides into.
FUNDING_RATE_OFFSET_DENOMINATOR = 5000
_ONE_HOUR = 3600
_FUNDING_WINDOW = 24 * _ONE_HOUR


def _tier_rank(tier: ContractTier) -> int:
    # Rust derives Ord on the enum: A is the safest (smallest).
    return list(ContractTier).index(tier)


def _trunc_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


class PerpMarketSpec(msgspec.Struct, frozen=True, kw_only=True):
    """A perp market's static parameters, all in Drift precisions (see ``botrunner.core.precision``)."""

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

    def max_price_divergence_for_funding_rate(self, oracle_price_twap: int) -> int:
        """Largest |mark twap - oracle twap (+ offset)| the funding rate may use (protocol-v2
        ``PerpMarket::get_max_price_divergence_for_funding_rate``): 1/33 (~3 %) of the oracle twap for tier A/B,
        1/20 (5 %) for tier C, 1/10 (10 %) below. Price precision 1e6."""
        rank = _tier_rank(self.contract_tier)
        if rank <= _tier_rank(ContractTier.B):
            return _trunc_div(oracle_price_twap, 33)
        if rank <= _tier_rank(ContractTier.C):
            return _trunc_div(oracle_price_twap, 20)
        return _trunc_div(oracle_price_twap, 10)

    def funding_rate(self, mark_price_twap: int, oracle_price_twap: int) -> int:
        """The funding rate for one period (FUNDING_RATE_PRECISION 1e9, quote per base; positive = longs pay),
        as protocol-v2 ``controller/funding.rs::update_funding_rate`` computes it before the long/short split:
        ``clamp(mark - oracle + |oracle|/5000) * 1000 / (24h / max(1h, funding_period))``."""
        if oracle_price_twap <= 0 or mark_price_twap <= 0:
            raise ValueError(
                f"{self.symbol}: funding needs positive twaps, got mark={mark_price_twap} oracle={oracle_price_twap}"
            )
        period_adjustment = _FUNDING_WINDOW // max(_ONE_HOUR, self.funding_period)
        spread = mark_price_twap - oracle_price_twap + abs(oracle_price_twap) // FUNDING_RATE_OFFSET_DENOMINATOR
        cap = self.max_price_divergence_for_funding_rate(oracle_price_twap)
        clamped = max(-cap, min(cap, spread))
        return _trunc_div(clamped * 1000, period_adjustment)

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
