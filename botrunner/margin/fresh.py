"""A freshly funded bot subaccount: USDC collateral, no positions. What a paper bot starts from."""

from __future__ import annotations

from botrunner.core.catalogue import load_catalogue
from botrunner.core.markets import PerpMarketSpec
from botrunner.core.precision import PRICE_PRECISION, QUOTE_SPOT_MARKET_INDEX
from botrunner.margin.model import Account, BalanceType, Markets, PerpMarketState, SpotMarketState, SpotPosition
from botrunner.margin.spot_balance import scaled_balance_for
from botrunner.margin.view import AccountMarginView


def usdc_funded(market: PerpMarketSpec, deposit_quote: int, oracle_price: int) -> tuple[Account, Markets]:
    """An account holding ``deposit_quote`` USDC (1e6) and the markets it needs, with USDC at $1."""
    if deposit_quote <= 0:
        raise ValueError(f"deposit must be > 0 USDC, got {deposit_quote}")
    usdc = SpotMarketState(spec=load_catalogue().spot(QUOTE_SPOT_MARKET_INDEX), oracle_price=PRICE_PRECISION)
    account = Account(
        spot_positions=(
            SpotPosition(
                market_index=QUOTE_SPOT_MARKET_INDEX,
                scaled_balance=scaled_balance_for(deposit_quote, usdc, BalanceType.DEPOSIT),
            ),
        ),
    )
    markets = Markets(
        perp={market.market_index: PerpMarketState(spec=market, oracle_price=oracle_price)},
        spot={QUOTE_SPOT_MARKET_INDEX: usdc},
    )
    return account, markets


def usdc_funded_view(market: PerpMarketSpec, deposit_quote: int, oracle_price: int) -> AccountMarginView:
    account, markets = usdc_funded(market, deposit_quote, oracle_price)
    return AccountMarginView(account, markets, market.market_index)
