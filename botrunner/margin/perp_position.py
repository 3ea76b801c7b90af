"""One perp position's value, pnl, unsettled funding and worst-case liability (protocol-v2 ``math/position.rs``,
``math/funding.rs``, ``state/user.rs::PerpPosition::worst_case_liability_value``)."""

from __future__ import annotations

from botrunner.core.fixed import tdiv
from botrunner.core.markets import ContractType
from botrunner.core.precision import BASE_PRECISION, OPEN_ORDER_MARGIN_REQUIREMENT, PRICE_PRECISION
from botrunner.funding import funding_payment
from botrunner.margin.model import PerpMarketState, PerpMarketStatus, PerpPosition

_PRICE_TIMES_AMM_TO_QUOTE = 10**9
MAX_PREDICTION_MARKET_PRICE = PRICE_PRECISION


def unsettled_funding(position: PerpPosition, market: PerpMarketState) -> int:
    """Rust ``calculate_funding_payment``: funding owed to (+) or by (-) the position since its last settlement,
    quote 1e6. Longs use the long cumulative rate, shorts (and flat) the short one."""
    cumulative = (
        market.cumulative_funding_rate_long if position.base_asset_amount > 0 else market.cumulative_funding_rate_short
    )
    return funding_payment(cumulative - position.last_cumulative_funding_rate, position.base_asset_amount)


def valuation_price(market: PerpMarketState) -> int:
    """The price positions are marked at: the expiry price once the market settled, else the oracle."""
    return market.expiry_price if market.status is PerpMarketStatus.SETTLEMENT else market.oracle_price


def base_asset_value_and_pnl(position: PerpPosition, price: int) -> tuple[int, int]:
    """Rust ``calculate_base_asset_value_and_pnl_with_oracle_price``: (|base value|, base value + quote)."""
    if position.base_asset_amount == 0:
        return 0, position.quote_asset_amount
    price = max(price, 0)
    value = tdiv(position.base_asset_amount * price, BASE_PRECISION)
    return abs(value), value + position.quote_asset_amount


def unrealized_pnl(position: PerpPosition, market: PerpMarketState) -> int:
    """Unrealized pnl at the valuation price plus unsettled funding, quote 1e6 (unweighted)."""
    _, pnl = base_asset_value_and_pnl(position, valuation_price(market))
    return pnl + unsettled_funding(position, market)


def perp_liability_value(base: int, price: int, contract_type: ContractType) -> int:
    """Rust ``calculate_perp_liability_value``: |base| * price, or for a prediction-market short |base| * (1 - p)."""
    if contract_type is not ContractType.PREDICTION:
        if base == 0:
            return 0
        return abs(base) * max(price, 0) // _PRICE_TIMES_AMM_TO_QUOTE
    p = abs(price)
    if base < 0:
        return abs(base) * max(0, MAX_PREDICTION_MARKET_PRICE - p) // BASE_PRECISION
    return abs(base) * p // BASE_PRECISION


def worst_case_liability(position: PerpPosition, market: PerpMarketState) -> tuple[int, int]:
    """Rust ``worst_case_liability_value``: (worst-case base, its liability value) if all bids or all asks fill."""
    all_bids = position.base_asset_amount + position.open_bids
    all_asks = position.base_asset_amount + position.open_asks
    ct = market.spec.contract_type
    bids_value = perp_liability_value(all_bids, market.oracle_price, ct)
    asks_value = perp_liability_value(all_asks, market.oracle_price, ct)
    if asks_value >= bids_value:
        return all_asks, asks_value
    return all_bids, bids_value


def open_orders_margin_requirement(open_orders: int) -> int:
    """$0.01 per open order (Rust ``OPEN_ORDER_MARGIN_REQUIREMENT``)."""
    return open_orders * OPEN_ORDER_MARGIN_REQUIREMENT
