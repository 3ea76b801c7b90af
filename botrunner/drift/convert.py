"""Decoded driftpy accounts -> our model (``botrunner.core.markets`` specs, ``botrunner.margin`` state)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from botrunner.core.markets import ContractTier, ContractType, PerpMarketSpec, SpotMarketSpec
from botrunner.core.precision import PRICE_PRECISION
from botrunner.drift.codec import variant_name
from botrunner.margin.interest import SpotInterestMarket, SpotRateCurve
from botrunner.margin.model import (
    Account,
    BalanceType,
    MarginMode,
    Markets,
    PerpMarketState,
    PerpMarketStatus,
    PerpPosition,
    SpotMarketState,
    SpotPosition,
)

# An oracle source whose price is 1.0 by definition: the quote market (USDC) has no oracle account to read.
QUOTE_ASSET = "QuoteAsset"

# UserStatus bit flags (protocol-v2 state/user.rs): BeingLiquidated = 1, Bankrupt = 2.
_BEING_LIQUIDATED_OR_BANKRUPT = 0b11
_MARGIN_MODES = {
    "Default": MarginMode.DEFAULT,
    "HighLeverage": MarginMode.HIGH_LEVERAGE,
    "HighLeverageMaintenance": MarginMode.HIGH_LEVERAGE_MAINTENANCE,
}


def market_name(name_bytes: Any) -> str:
    """A Drift market's fixed 32-byte name as a string."""
    return bytes(name_bytes).decode("utf-8", errors="replace").strip().strip("\x00")


def perp_spec(pm: Any) -> PerpMarketSpec:
    """Static parameters of a decoded PerpMarket."""
    amm = pm.amm
    return PerpMarketSpec(
        market_index=int(pm.market_index),
        symbol=market_name(pm.name),
        oracle=str(amm.oracle),
        oracle_source=variant_name(amm.oracle_source),
        tick_size=int(amm.order_tick_size),
        step_size=int(amm.order_step_size),
        min_order_size=int(amm.min_order_size),
        margin_ratio_initial=int(pm.margin_ratio_initial),
        margin_ratio_maintenance=int(pm.margin_ratio_maintenance),
        high_leverage_margin_ratio_initial=int(pm.high_leverage_margin_ratio_initial),
        high_leverage_margin_ratio_maintenance=int(pm.high_leverage_margin_ratio_maintenance),
        imf_factor=int(pm.imf_factor),
        unrealized_pnl_initial_asset_weight=int(pm.unrealized_pnl_initial_asset_weight),
        unrealized_pnl_maintenance_asset_weight=int(pm.unrealized_pnl_maintenance_asset_weight),
        unrealized_pnl_imf_factor=int(pm.unrealized_pnl_imf_factor),
        unrealized_pnl_max_imbalance=int(pm.unrealized_pnl_max_imbalance),
        liquidator_fee=int(pm.liquidator_fee),
        if_liquidation_fee=int(pm.if_liquidation_fee),
        funding_period=int(amm.funding_period),
        contract_tier=ContractTier(variant_name(pm.contract_tier)),
        contract_type=ContractType(variant_name(pm.contract_type)),
        quote_spot_market_index=int(pm.quote_spot_market_index),
    )


def spot_spec(sm: Any) -> SpotMarketSpec:
    """Static parameters of a decoded SpotMarket."""
    return SpotMarketSpec(
        market_index=int(sm.market_index),
        symbol=market_name(sm.name),
        mint=str(sm.mint),
        oracle=str(sm.oracle),
        oracle_source=variant_name(sm.oracle_source),
        decimals=int(sm.decimals),
        initial_asset_weight=int(sm.initial_asset_weight),
        maintenance_asset_weight=int(sm.maintenance_asset_weight),
        initial_liability_weight=int(sm.initial_liability_weight),
        maintenance_liability_weight=int(sm.maintenance_liability_weight),
        imf_factor=int(sm.imf_factor),
        scale_initial_asset_weight_start=int(sm.scale_initial_asset_weight_start),
        liquidator_fee=int(sm.liquidator_fee),
        if_liquidation_fee=int(sm.if_liquidation_fee),
        order_step_size=int(sm.order_step_size),
        order_tick_size=int(sm.order_tick_size),
        min_order_size=int(sm.min_order_size),
    )


def perp_state(pm: Any, oracle_price: int, spec: PerpMarketSpec | None = None) -> PerpMarketState:
    """Dynamic margin inputs of a decoded PerpMarket at ``oracle_price``."""
    amm = pm.amm
    settled = variant_name(pm.status) == "Settlement"
    return PerpMarketState(
        spec=spec or perp_spec(pm),
        oracle_price=oracle_price,
        cumulative_funding_rate_long=int(amm.cumulative_funding_rate_long),
        cumulative_funding_rate_short=int(amm.cumulative_funding_rate_short),
        status=PerpMarketStatus.SETTLEMENT if settled else PerpMarketStatus.ACTIVE,
        expiry_price=int(pm.expiry_price),
        amm_net_base_asset_amount=int(amm.base_asset_amount_with_amm) + int(amm.base_asset_amount_with_unsettled_lp),
        amm_net_user_cost_basis=int(amm.quote_asset_amount)
        + int(amm.quote_asset_amount_with_unsettled_lp)
        + int(amm.net_unsettled_funding_pnl),
        last_oracle_price=int(amm.historical_oracle_data.last_oracle_price),
        oracle_price_twap=int(amm.historical_oracle_data.last_oracle_price_twap),
    )


def spot_state(sm: Any, oracle_price: int, spec: SpotMarketSpec | None = None) -> SpotMarketState:
    """Dynamic margin inputs of a decoded SpotMarket at ``oracle_price``."""
    return SpotMarketState(
        spec=spec or spot_spec(sm),
        oracle_price=oracle_price,
        oracle_price_twap_5min=int(sm.historical_oracle_data.last_oracle_price_twap5min),
        cumulative_deposit_interest=int(sm.cumulative_deposit_interest),
        cumulative_borrow_interest=int(sm.cumulative_borrow_interest),
        deposit_balance=int(sm.deposit_balance),
    )


def account_from_user(user: Any) -> Account:
    """Our ``Account`` from a decoded User (empty slots dropped)."""
    spots = tuple(
        SpotPosition(
            market_index=int(s.market_index),
            scaled_balance=int(s.scaled_balance),
            balance_type=BalanceType.BORROW if variant_name(s.balance_type) == "Borrow" else BalanceType.DEPOSIT,
            open_bids=int(s.open_bids),
            open_asks=int(s.open_asks),
            open_orders=int(s.open_orders),
        )
        for s in user.spot_positions
        if int(s.scaled_balance) != 0 or int(s.open_orders) != 0
    )
    for p in user.perp_positions:
        if int(getattr(p, "lp_shares", 0)) != 0:
            # the AMM LP feature is gone from the program; its shares are not part of our model
            raise ValueError(f"user: perp position {p.market_index} holds LP shares, which are not modelled")
    perps = tuple(
        PerpPosition(
            market_index=int(p.market_index),
            base_asset_amount=int(p.base_asset_amount),
            quote_asset_amount=int(p.quote_asset_amount),
            quote_entry_amount=int(p.quote_entry_amount),
            quote_break_even_amount=int(p.quote_break_even_amount),
            last_cumulative_funding_rate=int(p.last_cumulative_funding_rate),
            open_bids=int(p.open_bids),
            open_asks=int(p.open_asks),
            open_orders=int(p.open_orders),
            max_margin_ratio=int(getattr(p, "max_margin_ratio", 0)),
        )
        for p in user.perp_positions
        if int(p.base_asset_amount) != 0
        or int(p.quote_asset_amount) != 0
        or int(p.open_orders) != 0
        or int(p.open_bids) != 0
        or int(p.open_asks) != 0
    )
    mode = variant_name(user.margin_mode) if hasattr(user, "margin_mode") else "Default"
    return Account(
        sub_account_id=int(user.sub_account_id),
        spot_positions=spots,
        perp_positions=perps,
        margin_mode=_margin_mode(mode),
        max_margin_ratio=int(user.max_margin_ratio),
        being_liquidated=bool(int(user.status) & _BEING_LIQUIDATED_OR_BANKRUPT),
    )


def _margin_mode(name: str) -> MarginMode:
    try:
        return _MARGIN_MODES[name]
    except KeyError:
        raise ValueError(f"user: unknown Drift margin mode {name!r}") from None


def markets_of(perps: Iterable[Any], spots: Iterable[Any], read: Callable[[str, str, str], int]) -> Markets:
    """The margin engine's ``Markets`` of decoded perp and spot markets, each at its oracle's price.

    ``read(oracle pubkey, oracle source, what)`` gives an oracle's price (1e6) or raises naming ``what`` (e.g.
    ``"perp market 0"``); a ``QuoteAsset`` source is 1.0 and is never read."""

    def price(oracle: Any, source: Any, what: str) -> int:
        name = variant_name(source)
        return PRICE_PRECISION if name == QUOTE_ASSET else read(str(oracle), name, what)

    perp = {
        int(m.market_index): perp_state(m, price(m.amm.oracle, m.amm.oracle_source, f"perp market {m.market_index}"))
        for m in perps
    }
    spot = {
        int(sm.market_index): spot_state(sm, price(sm.oracle, sm.oracle_source, f"spot market {sm.market_index}"))
        for sm in spots
    }
    return Markets(perp=perp, spot=spot)


def spot_rate_curve(sm: Any) -> SpotRateCurve:
    """A decoded SpotMarket's interest-rate curve (optimal/max/min borrow rate, insurance factor)."""
    return SpotRateCurve(
        optimal_utilization=int(sm.optimal_utilization),
        optimal_borrow_rate=int(sm.optimal_borrow_rate),
        max_borrow_rate=int(sm.max_borrow_rate),
        min_borrow_rate=int(sm.min_borrow_rate),
        insurance_total_factor=int(sm.insurance_fund.total_factor),
    )


def spot_interest_market(sm: Any) -> SpotInterestMarket:
    """The interest-accrual state of a decoded SpotMarket (balances, cumulative interests, last update)."""
    return SpotInterestMarket(
        market_index=int(sm.market_index),
        decimals=int(sm.decimals),
        curve=spot_rate_curve(sm),
        deposit_balance=int(sm.deposit_balance),
        borrow_balance=int(sm.borrow_balance),
        cumulative_deposit_interest=int(sm.cumulative_deposit_interest),
        cumulative_borrow_interest=int(sm.cumulative_borrow_interest),
        last_interest_ts=int(sm.last_interest_ts),
        revenue_pool_balance=int(sm.revenue_pool.scaled_balance),
    )
