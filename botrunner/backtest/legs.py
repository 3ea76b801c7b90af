"""A two-leg (delta-neutral) backtest's extra figures: the carry breakdown, delta drift, rebalances and time in
and out of the market, all from the run's rows (``BacktestResult.legs``, ``spot_fills``, ``fills``, ``funding``,
``interest``) and the paper ledger. Integers in Drift precisions; the writers render them as exact decimals.

Slippage is measured against the decision's prices: a perp leg's fill against the mark the decision saw, a spot
leg's against the oracle (what the venue's slippage model moves away from). Transaction costs: what each booked
``PlaceLegs`` transaction would have cost (base fee per signature + compute-unit price x limit + the Jito tip when
bundles are on, ``botrunner.config.live.transaction_cost_lamports``), charged at the SOL price of the moment.
"""

from __future__ import annotations

from typing import Any

from botrunner.backtest.engine import BacktestResult, legs_split
from botrunner.core.catalogue import load_catalogue
from botrunner.core.precision import BASE_PRECISION, SOL_SPOT_MARKET_INDEX
from botrunner.core.records import LegsRow, fixed, optional_fixed
from botrunner.margin.spot_basis import spot_basis

_Q = 6


def _slippage(result: BacktestResult) -> tuple[int, int]:
    """(perp, spot) slippage cost (quote 1e6, + = paid) against the prices of the decision before each fill."""
    rows = result.legs
    perp = spot = 0
    i = -1
    for fill in sorted(
        [(f.ts, 0, f.side, f.price, f.base) for f in result.fills]
        + [(f.ts, 1, f.side, f.price, f.base) for f in result.spot_fills]
    ):
        ts, leg, side, price, base = fill
        while i + 1 < len(rows) and rows[i + 1].ts <= ts:
            i += 1
        if i < 0:
            continue
        ref = rows[i].mark if leg == 0 else rows[i].oracle
        moved = (price - ref) if side == "buy" else (ref - price)
        cost = moved * base // BASE_PRECISION
        if leg == 0:
            perp += cost
        else:
            spot += cost
    return perp, spot


def carry_breakdown(result: BacktestResult, interest_source: str) -> dict[str, int | str]:
    """Funding received and paid, interest, fees, slippage and transaction costs (quote 1e6 unless named)."""
    venue = result.venue
    assert venue is not None
    ledger = venue.ledger
    split = legs_split(result)
    perp_slip, spot_slip = _slippage(result)
    return {
        "funding_received": sum(r.payment for r in result.funding if r.payment > 0),
        "funding_paid": -sum(r.payment for r in result.funding if r.payment < 0),
        "interest": split["interest"],
        "interest_usdc": ledger.interest_usdc,
        "interest_sol_token": ledger.interest_sol,
        "perp_fees": ledger.fees,
        "spot_fees": ledger.spot_fees,
        "perp_slippage": perp_slip,
        "spot_slippage": spot_slip,
        "tx_costs": ledger.tx_costs,
        "interest_source": interest_source,
    }


def spot_leg(result: BacktestResult) -> dict[str, str | None]:
    """The spot leg's books from its fills (``botrunner.margin.spot_basis``): the entry price of the SOL they hold
    (our weighted-average cost; None when they hold none), the trading PnL its sells realised against that cost and
    what is unrealised at the last oracle, before fees. The two add up to ``pnl.spot_trading`` exactly, or this
    raises (the fills' SOL must be the balance less its interest)."""
    venue = result.venue
    assert venue is not None
    books = spot_basis(result.spot_fills, SOL_SPOT_MARKET_INDEX, load_catalogue().spot(SOL_SPOT_MARKET_INDEX).decimals)
    unrealized = books.unrealized(venue.oracle)
    split = legs_split(result)["spot_trading"]
    if books.realized + unrealized != split:
        raise AssertionError(
            f"spot leg books: realised {books.realized} + unrealised {unrealized} != spot_trading {split} (quote 1e6)"
        )
    return {
        "entry": optional_fixed(books.entry_price(), 6) or None,
        "realized_trading": fixed(books.realized, _Q),
        "unrealized_trading": fixed(unrealized, _Q),
    }


def market_time(rows: list[LegsRow], interval_s: int) -> dict[str, int]:
    """Seconds the carry stance was in / out, and held a hedge (perp leg open) / held none."""
    out = {"stance_in_s": 0, "stance_out_s": 0, "hedged_s": 0, "flat_s": 0}
    for row in rows:
        out["stance_in_s" if row.in_market else "stance_out_s"] += interval_s
        out["hedged_s" if row.perp_base else "flat_s"] += interval_s
    return out


def _counts(values: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return dict(sorted(counts.items()))


def legs_summary(result: BacktestResult, interval_s: int, interest_source: str) -> dict[str, Any]:
    """summary.json's ``two_legs`` section."""
    rows = result.legs
    carry = carry_breakdown(result, interest_source)
    drifts = [abs(r.drift_bps) for r in rows if r.drift_bps is not None and r.perp_base]
    venue = result.venue
    assert venue is not None
    return {
        "carry": {
            k: (v if isinstance(v, str) else fixed(v, 9 if k.endswith("_token") else _Q)) for k, v in carry.items()
        },
        "spot_leg": spot_leg(result),
        "time": market_time(rows, interval_s),
        "trades": _counts([r.reason for r in rows if r.sent]),
        "reasons": _counts([r.reason for r in rows]),
        "stances": _counts([r.stance for r in rows if r.stance]),  # the carry engine's reason, every decision
        "blocked": _counts([r.blocked for r in rows if r.blocked]),
        "max_abs_drift_pct": fixed(max(drifts, default=0), 2),
        "tolerance_pct": fixed(rows[0].tolerance_bps, 2) if rows else None,
        "ending_spot_sol": fixed(venue.spot_balance(SOL_SPOT_MARKET_INDEX), 9),
        "ending_perp_base": fixed(venue.position.base_asset_amount, 9),
    }
