"""Liquidation of a paper account, as Drift's liquidator would do it.

When the oracle reaches the account's cached liquidation bounds (``PaperAccount.liquidation_bounds``; the venue
watches them after every price, fill and funding), maintenance is checked exactly; if total collateral is below
the requirement, :func:`liquidate` cancels every order (Drift does), re-checks, then transfers the smallest step
multiple of the position (at the oracle, charged the market's liquidator + insurance-fund fees) that restores
maintenance plus ``liquidation_buffer_ratio`` (all of it if nothing less does). A liquidation that the cancels
alone cure (always the case for a flat account held under only by its orders) is recorded with nothing
transferred.
"""

from __future__ import annotations

from botrunner.core.fixed import ceil_div
from botrunner.core.markets import PerpMarketSpec
from botrunner.core.precision import BASE_PRECISION, LIQUIDATION_FEE_PRECISION
from botrunner.margin.calculation import calculate_margin
from botrunner.margin.model import Account, MarginCategory
from botrunner.margin.what_if import apply_perp_fill
from botrunner.paper.account import PaperAccount
from botrunner.venue.port import CancelReason, Liquidated, VenueEvent


def liquidate(account: PaperAccount, buffer_ratio: int, out: list[VenueEvent]) -> None:
    """If the account is below maintenance, liquidate it (module docstring) and emit ``Liquidated``; else do
    nothing."""
    collateral, requirement = account.maintenance()
    if collateral >= requirement:
        return
    account.cancel_all(CancelReason.LIQUIDATION, out)
    base = account.position.base_asset_amount
    # flat, or the cancels were enough: the liquidation stops at the cancels (recorded, nothing transferred)
    size = 0 if base == 0 or not account.is_liquidatable() else liquidation_size(account, buffer_ratio)
    delta = -size if base > 0 else size
    oracle = account.tape.oracle
    fee = liquidation_fee(account.market, size, oracle)
    if size:
        account.apply_trade(delta, oracle, fee)
        account.ledger.liquidation_fees += fee
    account.ledger.liquidations += 1
    out.append(
        Liquidated(
            ts=account.tape.now,
            base=delta,
            price=oracle,
            fee=fee,
            total_collateral=collateral,
            maintenance_requirement=requirement,
        )
    )


def liquidation_fee(market: PerpMarketSpec, size: int, oracle: int) -> int:
    """The market's liquidator plus insurance-fund fee on ``size`` (base 1e9) at ``oracle``, rounded up."""
    notional = size * oracle // BASE_PRECISION
    rate = market.liquidator_fee + market.if_liquidation_fee
    return ceil_div(notional * rate, LIQUIDATION_FEE_PRECISION)


def liquidation_size(account: PaperAccount, buffer_ratio: int) -> int:
    """The smallest step multiple of |position| whose transfer restores maintenance plus the buffer."""
    position = account.position
    base = position.base_asset_amount
    step = account.market.step_size
    total = abs(base)
    top = ceil_div(total, step)
    oracle = account.tape.oracle
    market = account.perp_state.with_oracle_price(oracle)
    markets = account.markets()
    spot = account.spot_positions()

    def restores(k: int) -> bool:
        size = min(total, k * step)
        fee = liquidation_fee(account.market, size, oracle)
        pos = apply_perp_fill(position, market, -size if base > 0 else size, oracle, fee=fee)
        calc = calculate_margin(
            Account(spot_positions=spot, perp_positions=(pos,)),
            markets,
            MarginCategory.MAINTENANCE,
            margin_buffer=buffer_ratio,
        )
        return calc.meets_margin_requirement_with_buffer

    if not restores(top):
        return total
    lo, hi = 0, top  # restores(hi) holds; restores(lo) does not (lo = 0 is the liquidatable account)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if restores(mid):
            hi = mid
        else:
            lo = mid
    return min(total, hi * step)
