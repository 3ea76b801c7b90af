"""What a live bot stores of its account beside its orders and fills: the margin snapshot row, from one chain
reading, with the same columns and meanings as a paper bot's (``core.records.SnapshotRow``).

The PnL split comes from the chain's own counters wherever the chain keeps one, so it survives restarts and needs
no replay of our records:

* ``funding``: the User's ``cumulative_perp_funding`` (settled into the position, + = received) plus the funding
  the position owes or is owed since its last settlement (``unsettled_funding``), which Drift's unrealized PnL
  already counts;
* ``fees``: what this bot's recorded fills paid (rebates negative). Drift keeps fee counters only per authority
  (UserStats, shared by every subaccount), so the bot adds up its own;
* ``realized``: the trading PnL of the reduced parts, before fees. Drift leaves it in the position's quote amount
  beyond the entry cost until it is settled into USDC (``settled_perp_pnl``), together with the settled funding
  and less the fees, so ``realized = settled_perp_pnl + quote_asset_amount - quote_entry_amount
  - cumulative_perp_funding + fees``.

So the paper identity holds on chain too: ``realized + unrealized + funding - fees`` equals ``equity`` minus the
USDC that did not come from perp PnL (deposits less withdrawals, plus interest). The User's counters cover the
subaccount's whole life and all its perp markets: one bot owns one subaccount and one market, so they are the bot's
from the subaccount's creation on, while ``fees`` counts from the bot's first run.
"""

from __future__ import annotations

from collections.abc import Iterable

from botrunner.bot.driver import ladder_prices
from botrunner.bot.pipeline import Decision
from botrunner.connector.orders import WorkingOrder
from botrunner.core.records import SnapshotRow
from botrunner.live.account import LiveSnapshot
from botrunner.margin.perp_position import unsettled_funding


def pnl_split(snap: LiveSnapshot, fees_paid: int) -> tuple[int, int]:
    """(realized, funding) of the account in ``snap``, given the fees the bot's fills paid (see the module doc),
    quote 1e6."""
    position = snap.position
    market = snap.markets.perp_market(position.market_index)
    funding = snap.cumulative_perp_funding + unsettled_funding(position, market)
    realized = (
        snap.settled_perp_pnl
        + position.quote_asset_amount
        - position.quote_entry_amount
        - snap.cumulative_perp_funding
        + fees_paid
    )
    return realized, funding


def live_snapshot_row(
    snap: LiveSnapshot,
    ladder: Iterable[WorkingOrder],
    decision: Decision | None,
    risk_state: str,
    fees_paid: int,
) -> SnapshotRow:
    """The account in ``snap`` with the bot's resting ``ladder`` and its last ``decision`` (None: a monitor bot, or
    none yet: no range, and the band is the position itself). The mark is the oracle: Drift's order book is
    off-chain, and the oracle is what a live bot trades against."""
    report = snap.report
    realized, funding = pnl_split(snap, fees_paid)
    bids, asks = ladder_prices(ladder)
    if decision is not None:
        band = decision.verdict.band
        range_low, range_high = decision.strategy.range_low, decision.strategy.range_high
        band_min, band_max = band.min_base, band.max_base
    else:
        range_low = range_high = 0
        band_min = band_max = report.position_base
    return SnapshotRow(
        ts=snap.ts,
        mark=snap.oracle,
        oracle=snap.oracle,
        position_base=report.position_base,
        entry_price=report.entry_price,
        collateral=report.total_collateral,
        unrealized_pnl=report.unrealized_pnl,
        unsettled_pnl=report.unsettled_pnl,
        settled_pnl=snap.settled_perp_pnl,
        equity=report.equity,
        health=report.health,
        leverage=report.leverage,
        liq_price=report.liquidation_price,
        risk_state=risk_state,
        range_low=range_low,
        range_high=range_high,
        band_min=band_min,
        band_max=band_max,
        bid_prices=bids,
        ask_prices=asks,
        realized=realized,
        funding=funding,
        fees=fees_paid,
    )
