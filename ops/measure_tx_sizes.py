"""Measure the Drift transactions ``botrunner.live.instructions`` builds (offline: bundled markets, a fresh user).

Run from the repository root: ``PYTHONPATH=. .venv/bin/python ops/measure_tx_sizes.py``
"""

from __future__ import annotations

from botrunner.connector.commands import CancelAndPlace, PlaceOrders, PlanReason
from botrunner.connector.orders import OrderIntent
from botrunner.core.policy import PostOnlyMode
from botrunner.core.precision import MAX_TRANSACTION_BYTES
from botrunner.core.side import Side
from botrunner.live.instructions import order_transactions, transaction_size
from botrunner.live.jito import TIP_TRANSFER_BYTES
from tests.support.drift import offline_client

USDC = 10**6


def orders(n: int, first: int = 1) -> tuple[OrderIntent, ...]:
    """``n`` expiring post-only limit orders, alternating sides."""
    return tuple(
        OrderIntent(
            user_order_id=first + i,
            side=Side.BUY if i % 2 else Side.SELL,
            price=(140 + i) * USDC,
            base=10**8,
            post_only=PostOnlyMode.MUST_POST_ONLY,
            reduce_only=False,
            max_ts=2_000_000_000,
            placed_at=1,
            anchor_price=150 * USDC,
        )
        for i in range(n)
    )


def main() -> None:
    client, kp = offline_client()
    payer = kp.pubkey()
    budgets = (("no Jito", MAX_TRANSACTION_BYTES), ("Jito tip reserved", MAX_TRANSACTION_BYTES - TIP_TRANSFER_BYTES))
    for label, limit in budgets:
        requote = CancelAndPlace(tuple(range(101, 111)), orders(10), PlanReason.REQUOTE_PRICE_MOVED)
        plans = order_transactions(client, requote, market_index=0, sub_account_id=1, payer=payer, limit=limit)
        sizes = [transaction_size(payer, p.instructions) for p in plans]
        ladder = PlaceOrders(orders(32), PlanReason.LADDER_EMPTY)
        split = order_transactions(client, ladder, market_index=0, sub_account_id=1, payer=payer, limit=limit)
        print(
            f"{label}: cancel 10 + place 10 -> {len(plans)} tx of {sizes} bytes; "
            f"32 orders -> {[len(p.places) for p in split]} orders per tx"
        )


if __name__ == "__main__":
    main()
