"""Shared helpers for the margin tests (real snapshots, catalogue-built markets, a driftpy harness); their own
tests are in tests/unit/support/test_margin.py."""

from __future__ import annotations

import base64
import functools
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st

from botrunner.core.catalogue import load_catalogue
from botrunner.margin import (
    Account,
    BalanceType,
    Markets,
    PerpMarketState,
    PerpPosition,
    SpotMarketState,
    SpotPosition,
    scaled_balance_for,
)

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
PROTOCOL_V2 = SHARED_DATA / "drift-accounts" / "protocol_v2_accounts.json"
MAINNET_USERS = SHARED_DATA / "drift-accounts" / "mainnet_users_2023.json"
FIXTURES = Path(__file__).resolve().parents[2] / "botrunner" / "data" / "accounts"

USDC = 10**6
SOL = 10**9

# Positions from -2,000 to 2,000 SOL in 0.01 SOL steps: the Hypothesis strategy the margin property tests share.
bases = st.integers(min_value=-2_000 * SOL, max_value=2_000 * SOL).map(lambda b: b - b % (SOL // 100))


def require(path: Path) -> Path:
    """Skip the calling test cleanly when ../shared/data is not there."""
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared/data not available)")
    return path


@functools.cache
def protocol_v2_entries() -> tuple[dict[str, Any], ...]:
    return tuple(json.loads(require(PROTOCOL_V2).read_text())["accounts"])


def protocol_v2_raw(fn: str, line: int) -> bytes:
    for e in protocol_v2_entries():
        if e["fn"] == fn and e["line"] == line:
            return base64.b64decode(e["b64"])
    raise KeyError(f"no protocol-v2 snapshot {fn}:{line}")


def catalogue_markets(sol_price: int = 150 * USDC, *, btc_price: int = 60_000 * USDC) -> Markets:
    """SOL-PERP, BTC-PERP, USDC and SOL spot from the bundled catalogue (real parameters), interest at 1.0,
    at the given oracle prices; twaps equal to the price."""
    cat = load_catalogue()
    return Markets(
        perp={
            0: PerpMarketState(spec=cat.perp("SOL-PERP"), oracle_price=sol_price),
            1: PerpMarketState(spec=cat.perp("BTC-PERP"), oracle_price=btc_price),
        },
        spot={
            0: SpotMarketState(spec=cat.spot(0), oracle_price=USDC),
            1: SpotMarketState(spec=cat.spot(1), oracle_price=sol_price),
        },
    )


def usdc_deposit(markets: Markets, amount: int) -> SpotPosition:
    return SpotPosition(
        market_index=0, scaled_balance=scaled_balance_for(amount, markets.spot_market(0), BalanceType.DEPOSIT)
    )


def sol_deposit(markets: Markets, amount: int) -> SpotPosition:
    return SpotPosition(
        market_index=1, scaled_balance=scaled_balance_for(amount, markets.spot_market(1), BalanceType.DEPOSIT)
    )


def perp_at(base: int, entry_price: int, market_index: int = 0, **kw: Any) -> PerpPosition:
    """A perp position opened at ``entry_price`` (no fees): quote = -base * price."""
    quote = -(base * entry_price) // 10**9
    return PerpPosition(
        market_index=market_index,
        base_asset_amount=base,
        quote_asset_amount=quote,
        quote_entry_amount=quote,
        quote_break_even_amount=quote,
        **kw,
    )


def account(*spots: SpotPosition, perps: tuple[PerpPosition, ...] = (), **kw: Any) -> Account:
    return Account(spot_positions=spots, perp_positions=perps, **kw)
