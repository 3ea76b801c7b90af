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


class MonotoneMarginProjection(MarginProjection, Protocol):
    """A ``MarginProjection`` that can vouch for the Risk Governor's monotonicity assumption.

    Optional: a projection without ``monotone_in_position`` (a test double, say) is treated as not vouching, and the
    governor keeps its interior probes (``governors.risk_sizing.max_safe_size``).
    """

    def monotone_in_position(self, side_sign: int, oracle_price: int, *, max_base: int, step: int) -> bool:
        """True only when it is provable that, on side ``side_sign`` (+1 long, -1 short) and for every position of
        at most ``max_base`` in multiples of ``step``, a larger |position| is never safer: projected at
        ``oracle_price`` or at any price beyond it in the adverse direction (down for a long, up for a short),
        health, leverage, notional and liquidation distance never improve as |position| grows. False when unsure."""
        ...


def vouches_monotone(
    projection: MarginProjection, side_sign: int, oracle_price: int, *, max_base: int, step: int
) -> bool:
    """``projection.monotone_in_position(...)`` when the projection has it, else False."""
    method = getattr(projection, "monotone_in_position", None)
    if method is None:
        return False
    return bool(method(side_sign, oracle_price, max_base=max_base, step=step))
