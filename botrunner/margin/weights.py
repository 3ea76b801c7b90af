"""Margin ratios and asset/liability weights, size premiums (IMF) included.

Mirrors protocol-v2 ``math/margin.rs`` (size premium / discount, high-leverage initial ratio),
``state/perp_market.rs`` (``get_margin_ratio``, ``get_unrealized_asset_weight``) and ``state/spot_market.rs``
(``get_asset_weight``, ``get_scaled_initial_asset_weight``, ``get_liability_weight``).
"""

from __future__ import annotations

from typing import assert_never

from botrunner.core.fixed import isqrt, tdiv
from botrunner.core.precision import (
    BASE_PRECISION,
    MARGIN_PRECISION,
    PERCENTAGE_PRECISION,
    QUOTE_PRECISION,
    SPOT_WEIGHT_PRECISION,
)
from botrunner.margin.model import MarginCategory, PerpMarketState, PerpMarketStatus, SpotMarketState
from botrunner.margin.spot_balance import deposit_token_amount, token_value

SPOT_IMF_PRECISION = 10**6
# AMM_TO_QUOTE_PRECISION_RATIO: quote 1e6 -> base-like 1e9 for the unrealized-pnl size discount.
_AMM_TO_QUOTE = BASE_PRECISION // QUOTE_PRECISION
_PRICE_TIMES_AMM_TO_QUOTE = 10**9  # PRICE_PRECISION * AMM_RESERVE_PRECISION / QUOTE_PRECISION


def size_premium_liability_weight(
    size: int, imf_factor: int, liability_weight: int, precision: int, *, bounded: bool
) -> int:
    """Rust ``calculate_size_premium_liability_weight``: 0.8 * weight + sqrt(size) * imf, in ``precision``."""
    if imf_factor == 0:
        return liability_weight
    size_sqrt = isqrt(size * 10 + 1)  # 1e9 -> 1e10 -> 1e5
    numerator = liability_weight - liability_weight // 5
    premium = numerator + size_sqrt * imf_factor // (100_000 * SPOT_IMF_PRECISION // precision)
    if bounded:
        return max(liability_weight, premium)
    return premium


def size_discount_asset_weight(size: int, imf_factor: int, asset_weight: int) -> int:
    """Rust ``calculate_size_discount_asset_weight``: 1.1 / (1 + sqrt(size) * imf), never above ``asset_weight``."""
    if imf_factor == 0:
        return asset_weight
    size_sqrt = isqrt(size * 10 + 1)
    imf_numerator = SPOT_IMF_PRECISION + SPOT_IMF_PRECISION // 10
    discounted = imf_numerator * SPOT_WEIGHT_PRECISION // (SPOT_IMF_PRECISION + size_sqrt * imf_factor // 100_000)
    return min(asset_weight, discounted)


def high_leverage_initial_margin_ratio_from_size(pre_size_adj: int, size_adj: int, default: int) -> int:
    """Rust ``calc_high_leverage_mode_initial_margin_ratio_from_size``."""
    if size_adj < pre_size_adj:
        shrink = (pre_size_adj - size_adj) * PERCENTAGE_PRECISION // (pre_size_adj // 5)
        discount = max(0, PERCENTAGE_PRECISION - shrink)  # u128 saturating_sub
        delta = max(1, pre_size_adj - default)
        return delta * discount // PERCENTAGE_PRECISION + default
    if size_adj == pre_size_adj:
        return default
    return size_adj


def perp_margin_ratio(market: PerpMarketState, size: int, category: MarginCategory, *, high_leverage: bool) -> int:
    """Rust ``PerpMarket::get_margin_ratio`` for |worst-case base| ``size`` (1e9); MARGIN_PRECISION."""
    if market.status is PerpMarketStatus.SETTLEMENT:
        return 0
    spec = market.spec
    hlm = (
        high_leverage
        and spec.high_leverage_margin_ratio_initial > 0
        and spec.high_leverage_margin_ratio_maintenance > 0
    )
    mr_initial, mr_maintenance = (
        (spec.high_leverage_margin_ratio_initial, spec.high_leverage_margin_ratio_maintenance)
        if hlm
        else (spec.margin_ratio_initial, spec.margin_ratio_maintenance)
    )
    match category:
        case MarginCategory.INITIAL:
            default = mr_initial
        case MarginCategory.FILL:
            default = (mr_initial + mr_maintenance) // 2
        case MarginCategory.MAINTENANCE:
            default = mr_maintenance
        case _:
            assert_never(category)
    if hlm and category is not MarginCategory.MAINTENANCE:
        # HLM uses the ordinary initial/fill ratio to size the premium, then scales it toward the HLM ratio.
        pre = (
            spec.margin_ratio_initial
            if category is MarginCategory.INITIAL
            else (spec.margin_ratio_initial + spec.margin_ratio_maintenance) // 2
        )
        size_adj = size_premium_liability_weight(size, spec.imf_factor, pre, MARGIN_PRECISION, bounded=False)
        return high_leverage_initial_margin_ratio_from_size(pre, size_adj, default)
    size_adj = size_premium_liability_weight(size, spec.imf_factor, default, MARGIN_PRECISION, bounded=True)
    return max(default, size_adj)


def net_user_pnl(market: PerpMarketState) -> int:
    """Rust ``amm::calculate_net_user_pnl`` at the AMM's historical last oracle price (quote 1e6)."""
    price = market.last_oracle_price or market.oracle_price
    value = tdiv(market.amm_net_base_asset_amount * price, _PRICE_TIMES_AMM_TO_QUOTE)
    return value + market.amm_net_user_cost_basis


def unrealized_pnl_asset_weight(market: PerpMarketState, unrealized_pnl: int, category: MarginCategory) -> int:
    """Rust ``PerpMarket::get_unrealized_asset_weight`` (SPOT_WEIGHT_PRECISION). Losses always weigh 1."""
    spec = market.spec
    if unrealized_pnl <= 0:
        return SPOT_WEIGHT_PRECISION
    if category is MarginCategory.MAINTENANCE:
        return spec.unrealized_pnl_maintenance_asset_weight
    weight = spec.unrealized_pnl_initial_asset_weight
    if weight > 0 and spec.unrealized_pnl_max_imbalance > 0:
        net = net_user_pnl(market)
        if net > spec.unrealized_pnl_max_imbalance:
            weight = weight * spec.unrealized_pnl_max_imbalance // abs(net)
    if weight <= 0:
        return 0
    return size_discount_asset_weight(unrealized_pnl * _AMM_TO_QUOTE, spec.unrealized_pnl_imf_factor, weight)


def _size_in_amm_precision(size: int, decimals: int) -> int:
    size_precision: int = 10**decimals
    if size_precision > BASE_PRECISION:
        return size // (size_precision // BASE_PRECISION)
    return size * BASE_PRECISION // size_precision


def scaled_initial_asset_weight(market: SpotMarketState, oracle_price: int) -> int:
    """Rust ``SpotMarket::get_scaled_initial_asset_weight``: the initial weight shrinks once total deposits are
    worth more than ``scale_initial_asset_weight_start``."""
    spec = market.spec
    if spec.scale_initial_asset_weight_start == 0:
        return spec.initial_asset_weight
    deposits = deposit_token_amount(market.deposit_balance, market)
    deposit_value = token_value(deposits, spec.decimals, oracle_price)
    if deposit_value < spec.scale_initial_asset_weight_start:
        return spec.initial_asset_weight
    return spec.initial_asset_weight * spec.scale_initial_asset_weight_start // deposit_value


def spot_asset_weight(market: SpotMarketState, size: int, oracle_price: int, category: MarginCategory) -> int:
    """Rust ``SpotMarket::get_asset_weight`` for a deposit of ``size`` tokens (token precision)."""
    spec = market.spec
    match category:
        case MarginCategory.INITIAL:
            default = scaled_initial_asset_weight(market, oracle_price)
        case MarginCategory.FILL:
            default = (scaled_initial_asset_weight(market, oracle_price) + spec.maintenance_asset_weight) // 2
        case MarginCategory.MAINTENANCE:
            default = spec.maintenance_asset_weight
        case _:
            assert_never(category)
    sized = size_discount_asset_weight(_size_in_amm_precision(size, spec.decimals), spec.imf_factor, default)
    return min(sized, default)


def spot_liability_weight(market: SpotMarketState, size: int, category: MarginCategory) -> int:
    """Rust ``SpotMarket::get_liability_weight`` for a borrow of ``size`` tokens (token precision)."""
    spec = market.spec
    match category:
        case MarginCategory.INITIAL:
            default = spec.initial_liability_weight
        case MarginCategory.FILL:
            default = (spec.initial_liability_weight + spec.maintenance_liability_weight) // 2
        case MarginCategory.MAINTENANCE:
            default = spec.maintenance_liability_weight
        case _:
            assert_never(category)
    sized = size_premium_liability_weight(
        _size_in_amm_precision(size, spec.decimals), spec.imf_factor, default, SPOT_WEIGHT_PRECISION, bounded=True
    )
    return max(sized, default)
