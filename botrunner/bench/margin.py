"""Latency of the margin engine's hot paths, for ``make bench`` (returns figures, asserts nothing).

Uses the bundled catalogue (real SOL-PERP / SOL / USDC parameters) and synthetic accounts: a directional long and
a delta-neutral spot-SOL + short-SOL-PERP account.
"""

from __future__ import annotations

import time

from botrunner.core.catalogue import load_catalogue
from botrunner.margin.calculation import calculate_margin
from botrunner.margin.model import (
    Account,
    BalanceType,
    MarginCategory,
    Markets,
    PerpMarketState,
    PerpPosition,
    SpotMarketState,
    SpotPosition,
)
from botrunner.margin.spot_balance import scaled_balance_for
from botrunner.margin.view import AccountMarginView

_USDC = 10**6
_SOL = 10**9


def _markets(price: int) -> Markets:
    cat = load_catalogue()
    return Markets(
        perp={0: PerpMarketState(spec=cat.perp("SOL-PERP"), oracle_price=price)},
        spot={
            0: SpotMarketState(spec=cat.spot(0), oracle_price=_USDC),
            1: SpotMarketState(spec=cat.spot(1), oracle_price=price),
        },
    )


def _position(base: int, price: int) -> PerpPosition:
    quote = -(base * price) // _SOL
    return PerpPosition(
        market_index=0,
        base_asset_amount=base,
        quote_asset_amount=quote,
        quote_entry_amount=quote,
        quote_break_even_amount=quote,
    )


def _time(label: str, fn: object, n: int) -> tuple[str, float]:
    assert callable(fn)
    start = time.perf_counter()
    for i in range(n):
        fn(i)
    return label, (time.perf_counter() - start) / n * 1e6


def run() -> list[tuple[str, float]]:
    """Measure and return (label, microseconds per call) pairs; ``botrunner.bench`` prints them."""
    price = 150 * _USDC
    m = _markets(price)
    usdc = SpotPosition(
        market_index=0, scaled_balance=scaled_balance_for(1000 * _USDC, m.spot_market(0), BalanceType.DEPOSIT)
    )
    sol = SpotPosition(
        market_index=1, scaled_balance=scaled_balance_for(10 * _SOL, m.spot_market(1), BalanceType.DEPOSIT)
    )
    directional = Account(spot_positions=(usdc,), perp_positions=(_position(10 * _SOL, price),))
    neutral = Account(spot_positions=(usdc, sol), perp_positions=(_position(-10 * _SOL, price),))
    n = 2000
    figures = [
        _time(
            "calculate_margin (maintenance, directional)",
            lambda i: calculate_margin(directional, m, MarginCategory.MAINTENANCE),
            n,
        )
    ]
    for label, acct in (("directional long", directional), ("delta-neutral", neutral)):
        view = AccountMarginView(acct, m, 0)
        figures.append(_time(f"AccountMarginView.current() ({label}, cached)", lambda i, v=view: v.current(), n))
        figures.append(
            _time(
                f"AccountMarginView.project() ({label}, incl. liq price)",
                lambda i, v=view: v.project((i % 40 - 20) * _SOL, price - (i % 50) * _USDC),
                n,
            )
        )
    return figures
