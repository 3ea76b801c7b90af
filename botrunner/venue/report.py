"""The venue port's ``AccountReport`` from the margin engine's view: one builder for the paper and the live venue,
so the margin figures a report shows are exactly the ones the Risk Governor decided on (``view.current()``)."""

from __future__ import annotations

from botrunner.margin.model import PerpPosition
from botrunner.margin.view import AccountMarginView
from botrunner.margin.what_if import break_even_price
from botrunner.venue.port import AccountReport


def account_report(
    view: AccountMarginView,
    position: PerpPosition,
    *,
    ts: int,
    usdc_balance: int,
    unsettled_pnl: int,
    unrealized_pnl: int,
    equity: int,
    open_orders: int,
) -> AccountReport:
    """The report of the account ``view`` holds, whose perp position in the bot's market is ``position``. The
    amounts the margin engine does not define (balances, PnL split, equity) are the venue's own bookkeeping."""
    now = view.current()
    base = position.base_asset_amount
    return AccountReport(
        ts=ts,
        oracle=now.oracle_price,
        position_base=base,
        entry_price=now.entry_price,
        break_even_price=break_even_price(position),  # 0 when flat
        usdc_balance=usdc_balance,
        unsettled_pnl=unsettled_pnl,
        unrealized_pnl=unrealized_pnl,
        equity=equity,
        total_collateral=now.total_collateral_maintenance,
        maintenance_requirement=now.margin_requirement_maintenance,
        free_collateral=now.free_collateral_initial,
        health=now.health,
        leverage=now.leverage,
        liquidation_price=now.liquidation_price,
        open_orders=open_orders,
    )
