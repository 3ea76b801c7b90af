"""What the governors need to know about an account's margin, and the what-if they may ask.

The margin engine (``botrunner.margin``) produces ``MarginSnapshot`` and implements ``MarginProjection``; the Risk
Governor consumes both and never touches raw accounts. Keeping this seam narrow is what lets the governor be tested
with the real engine and reasoned about without it.
"""

from __future__ import annotations

from typing import Protocol

import msgspec


class MarginSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """A bot's account seen from its one perp market. Integers in Drift precisions."""

    oracle_price: int  # 1e6
    position_base: int  # signed, 1e9
    entry_price: int  # 1e6, 0 when flat
    total_collateral_initial: int  # quote 1e6
    total_collateral_maintenance: int
    margin_requirement_initial: int
    margin_requirement_maintenance: int
    free_collateral_initial: int  # floored at 0
    free_collateral_maintenance: int
    health: int  # 0..100, Drift's definition
    leverage: int  # 1e4 = 1x
    liquidation_price: int | None  # 1e6; None when there is none
    unrealized_pnl: int  # quote 1e6, funding included


class MarginProjection(Protocol):
    """Hypothetical versions of the current account, for risk sizing."""

    def current(self) -> MarginSnapshot:
        """The account as it is (open orders included in the requirement)."""
        ...

    def project(self, position_base: int, oracle_price: int) -> MarginSnapshot:
        """The account if the bot's perp position became ``position_base`` by filling the difference at the
        current oracle price, with no open orders, and the oracle then moved to ``oracle_price``."""
        ...
