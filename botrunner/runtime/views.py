"""What ``ctl status`` and ``ctl bot NAME`` show: the typed snapshots of ``botrunner.runtime.snapshots``, built from
a bot's venue and decisions, every amount an exact decimal string.

Numbers are rendered from Drift's integers (``fixed``), never through a float, so what an operator reads is what
the books hold. Times are ISO-8601 UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import msgspec

from botrunner.bot.lifecycle import BotRunState
from botrunner.bot.pipeline import BotState, Decision, LegsState
from botrunner.config import BotConfig
from botrunner.connector.orders import WorkingOrder
from botrunner.core.intents import ExposureBand
from botrunner.core.precision import BPS_PRECISION, LEVERAGE_PRECISION, QUOTE_SPOT_MARKET_INDEX, SOL_SPOT_MARKET_INDEX
from botrunner.core.records import BASE_DECIMALS, PRICE_DECIMALS, QUOTE_DECIMALS, fixed, optional_fixed
from botrunner.live.alerts import liquidation_distance_bps
from botrunner.margin.spot_balance import token_value
from botrunner.margin.spot_basis import SpotBasis
from botrunner.marketdata.rates import APR_PRECISION
from botrunner.runtime.paper_bot import PaperBot
from botrunner.runtime.snapshots import (
    BandView,
    BotSnapshot,
    BotSummary,
    OrderView,
    PnlView,
    RiskView,
    StatusRow,
    SupervisionView,
    VaultView,
)
from botrunner.runtime.supervision import Supervision, shown_state
from botrunner.venue.port import AccountReport


def iso_time(ts: float) -> str:
    """Unix seconds as ISO-8601 UTC, e.g. ``2025-09-20T04:00:00Z``."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso(ts: float | None) -> str | None:
    """:func:`iso_time`, None for None."""
    return None if ts is None else iso_time(ts)


def _pnl_total(paper: PaperBot, equity: int) -> int:
    ledger = paper.venue.ledger
    return equity - (ledger.deposits - ledger.withdrawals)


def summary_row(
    config: BotConfig,
    state: BotRunState,
    risk_state: str,
    *,
    position: int,
    mark: int,
    equity: int,
    pnl: int | None,
    open_orders: int,
    fills: int,
    market_time: int | None,
    risk_reasons: Iterable[str] = (),
) -> BotSummary:
    """One raw row of ``ctl status`` (paper, live and monitor bots alike): integers in Drift precisions, cheap
    enough to post after every step. :func:`status_row` turns it into what the operator reads. ``state`` is the
    bot's operator mode; ``risk_reasons`` why the Risk Governor answered ``risk_state`` (``operator`` for an
    operator's pause or reduce-only)."""
    return BotSummary(
        name=config.name,
        market=config.market,
        mode=config.mode.value,
        state=state.value,
        risk_state=risk_state or None,
        risk_reasons=tuple(risk_reasons),
        position=position,
        mark=mark,
        equity=equity,
        pnl=pnl,
        open_orders=open_orders,
        fills=fills,
        market_time=market_time,
    )


def bot_summary(
    config: BotConfig,
    state: BotRunState,
    paper: PaperBot,
    risk_state: str,
    market_ts: int | None,
    *,
    risk_reasons: Iterable[str] = (),
) -> BotSummary:
    """A paper bot's :func:`summary_row`."""
    venue = paper.venue
    equity = venue.equity()
    row = summary_row(
        config,
        state,
        risk_state,
        position=venue.position.base_asset_amount,
        mark=venue.last_price,
        equity=equity,
        pnl=_pnl_total(paper, equity),
        open_orders=len(venue.orders),
        fills=venue.ledger.maker_fills + venue.ledger.taker_fills,
        market_time=market_ts,
        risk_reasons=risk_reasons,
    )
    if config.strategy.two_legs:
        fields = legs_fields(paper.driver.state, venue.spot_balance(SOL_SPOT_MARKET_INDEX), row.position or 0)
        return msgspec.structs.replace(row, legs=legs_line(fields))
    return row


def legs_fields(state: BotState, spot: int, perp: int) -> dict[str, str]:
    """What ``ctl`` shows of a two-leg bot (``botrunner.bot.legs``): both legs, the drift against its tolerance,
    carry now and smoothed, the stance and why, days to break even (the carry engine's last estimate), the last
    decision's reason and the gate or rule that last blocked a trade."""
    legs: LegsState = state.strategy
    row = legs.last
    out = {"spot_sol": fixed(spot, BASE_DECIMALS), "perp_base": fixed(perp, BASE_DECIMALS)}
    if row is None:
        out["reason"] = "no decision yet"
        return out
    out["drift_pct"] = "-" if row.drift_bps is None else fixed(row.drift_bps, 2)
    out["tolerance_pct"] = fixed(row.tolerance_bps, 2)
    out["carry_apr_now_pct"] = fixed(row.carry_apr_bps, 2)
    out["carry_apr_smoothed_pct"] = fixed(row.smoothed_carry_apr_bps, 2)
    out["stance"] = f"{'in' if row.in_market else 'out'} ({legs.stance_reason or 'no decision yet'})"
    # days rounded up to 0.01 (the engine's break-even rounds up: never flattering)
    days = None if legs.break_even_s is None else -(-legs.break_even_s * 100 // 86_400)
    out["break_even_days"] = "never" if days is None else fixed(days, 2)
    out["next_funding"] = iso_time((row.ts // 3_600 + 1) * 3_600)  # Drift SOL-PERP settles funding hourly
    out["reason"] = row.reason
    out["blocked"] = row.blocked or "-"
    if state.last_rebalance_ts is not None:
        out["last_rebalance"] = iso_time(state.last_rebalance_ts)
    if state.legs_halted:
        out["halted"] = "leg mismatch: an operator must clear it"
    return out


def two_leg_detail(paper: PaperBot, spot: SpotBasis) -> tuple[dict[str, str], VaultView]:
    """``ctl bot``'s (and the dashboard's) view of a two-leg paper bot: :func:`legs_fields` plus the spot leg's
    entry price (``spot_entry``: our weighted-average cost of its fills, ``spot`` — Drift keeps none for a balance;
    ``-`` when the fills hold no SOL), the carry's parts (the SOL deposit APR in force at the last decision, from the
    bot's rate source, and the funding part: the smoothed carry minus it, in whole bps as the engine rounds), and the
    engine vault (:func:`vault_view`). Built on a ``ctl bot`` request, never on the step's path."""
    bot, venue = paper.driver.bot, paper.venue
    state = paper.driver.state
    fields = legs_fields(state, venue.spot_balance(SOL_SPOT_MARKET_INDEX), venue.position.base_asset_amount)
    fields["spot_entry"] = optional_fixed(spot.entry_price(), PRICE_DECIMALS) or "-"
    row: LegsState = state.strategy
    if bot.legs is not None and row.last is not None:
        deposit_bps = bot.legs.deposit.at(row.last.ts) * BPS_PRECISION // APR_PRECISION
        fields["carry_deposit_apr_pct"] = fixed(deposit_bps, 2)
        fields["carry_funding_apr_pct"] = fixed(row.last.smoothed_carry_apr_bps - deposit_bps, 2)
    return fields, vault_view(paper, spot)


def vault_view(paper: PaperBot, spot: SpotBasis) -> VaultView:
    """A two-leg paper bot's engine vault (``snapshots.VaultView``): balances and the realised PnL split from its
    venue's books, the spot leg's entry price and realised trading PnL from ``spot``, its SOL fills' books
    (``botrunner.margin.spot_basis``: the venue keeps the balance, the fills the basis). The interest's USD value is
    the backtest report's (``backtest.engine.legs_split``): the SOL held at the oracle minus the SOL it would hold
    without the interest earned, plus the USDC interest."""
    if spot.market_index != SOL_SPOT_MARKET_INDEX:
        raise ValueError(f"vault_view: the spot books are market {spot.market_index}'s, not SOL's")
    venue = paper.venue
    ledger = venue.ledger
    report = venue.report()
    legs = paper.driver.bot.legs
    decimals = legs.spot.decimals if legs is not None else 9
    sol = venue.spot_balance(SOL_SPOT_MARKET_INDEX)
    oracle = venue.oracle
    interest = (
        ledger.interest_usdc
        + token_value(sol, decimals, oracle)
        - token_value(sol - ledger.interest_sol, decimals, oracle)
    )
    return VaultView(
        usdc_balance=fixed(venue.spot_balance(QUOTE_SPOT_MARKET_INDEX), QUOTE_DECIMALS),
        sol_balance=fixed(sol, decimals),
        spot_entry=optional_fixed(spot.entry_price(), PRICE_DECIMALS) or None,
        equity=fixed(report.equity, QUOTE_DECIMALS),
        allocated=fixed(ledger.deposits - ledger.withdrawals, QUOTE_DECIMALS),
        available=fixed(max(report.free_collateral, 0), QUOTE_DECIMALS),
        realized_funding=fixed(ledger.funding, QUOTE_DECIMALS),
        realized_interest=fixed(interest, QUOTE_DECIMALS),
        interest_sol=fixed(ledger.interest_sol, decimals),
        realized_fees=fixed(ledger.fees + ledger.spot_fees, QUOTE_DECIMALS),
        realized_trading=fixed(ledger.realized + spot.realized, QUOTE_DECIMALS),
        perp_trading=fixed(ledger.realized, QUOTE_DECIMALS),
        spot_trading=fixed(spot.realized, QUOTE_DECIMALS),
    )


def legs_line(fields: dict[str, str]) -> str:
    """``legs_fields`` as one line for ``ctl status``."""
    keys = ("spot_sol", "perp_base", "drift_pct", "carry_apr_now_pct", "carry_apr_smoothed_pct", "break_even_days")
    parts = [f"{key}={fields[key]}" for key in keys if key in fields]
    parts.append(f"blocked={fields.get('blocked', '-')}")
    return " ".join(parts)


def _optional(value: int | None, decimals: int) -> str | None:
    return None if value is None else fixed(value, decimals)


def status_row(summary: BotSummary, slot: SupervisionView) -> StatusRow:
    """A bot's ``ctl status`` row: its summary in exact decimals and ISO time, with its supervision. While the
    supervisor runs it, the bot's operator mode (running, paused, reduce-only, flattening) stands; otherwise the
    supervision state (starting, restarting, failed, stopped) is what an operator must see."""
    mode = BotRunState(summary.state or BotRunState.RUNNING.value)
    state = shown_state(Supervision(slot.supervision), mode).value
    return StatusRow(
        name=summary.name,
        market=summary.market,
        mode=summary.mode,
        state=state,
        risk_state=summary.risk_state,
        risk_reasons=summary.risk_reasons,
        position=_optional(summary.position, BASE_DECIMALS),
        mark=_optional(summary.mark, PRICE_DECIMALS),
        equity=_optional(summary.equity, QUOTE_DECIMALS),
        pnl=_optional(summary.pnl, QUOTE_DECIMALS),
        open_orders=summary.open_orders,
        fills=summary.fills,
        market_time=iso(summary.market_time),
        restarts=slot.restarts,
        flagged=slot.flagged,
        legs=summary.legs,
    )


def absent_bot(summary: BotSummary | None, name: str, slot: SupervisionView) -> BotSnapshot:
    """``ctl bot NAME`` for a bot with no actor running (stopped, failed, restarting): what its last summary said,
    and its supervision."""
    row = status_row(summary or BotSummary(name=name), slot)
    return with_supervision(
        BotSnapshot(
            name=name,
            mode=row.mode,
            state=row.state,
            market=row.market,
            position=row.position,
            mark=row.mark,
            equity=row.equity,
            pnl=PnlView(total=row.pnl) if row.pnl is not None else None,
            market_time=row.market_time,
        ),
        slot,
    )


def with_supervision(snapshot: BotSnapshot, slot: SupervisionView) -> BotSnapshot:
    """``snapshot`` with the supervisor's part filled in."""
    return msgspec.structs.replace(
        snapshot,
        supervision=slot.supervision,
        restarts=slot.restarts,
        flagged=slot.flagged,
        last_error=slot.last_error,
        alive=slot.alive,
    )


def liq_distance_pct(report: AccountReport) -> str | None:
    """The liquidation distance ``ctl bot`` shows: percent of the oracle, as the Risk Governor measures it (and as
    the live health alerts do); a flat account with open orders has one too."""
    bps = liquidation_distance_bps(report)
    return None if bps is None else fixed(bps, 2)


def subaccount_label(config: BotConfig) -> str:
    """``authority/subaccount_id``, as ``ctl bot`` shows the account."""
    return f"{config.account.authority}/{config.account.subaccount_id}"


class AccountView(msgspec.Struct, frozen=True, kw_only=True):
    """The position and margin block of ``ctl bot`` (and of ``botrunner monitor``)."""

    position: str
    entry: str | None
    mark: str
    oracle: str
    leverage: str
    liq_price: str | None
    liq_distance_pct: str | None
    health: int
    equity: str


def account_fields(report: AccountReport, *, mark: int, oracle: int) -> AccountView:
    """The position and margin block of ``ctl bot`` (paper and live alike), from the venue's account report;
    ``mark`` is the price the bot trades against (the oracle on live)."""
    return AccountView(
        position=fixed(report.position_base, BASE_DECIMALS),
        entry=fixed(report.entry_price, PRICE_DECIMALS) if report.position_base else None,
        mark=fixed(mark, PRICE_DECIMALS),
        oracle=fixed(oracle, PRICE_DECIMALS),
        leverage=fixed(report.leverage, len(str(LEVERAGE_PRECISION)) - 1),
        liq_price=optional_fixed(report.liquidation_price, PRICE_DECIMALS) or None,
        liq_distance_pct=liq_distance_pct(report),
        health=report.health,
        equity=fixed(report.equity, QUOTE_DECIMALS),
    )


def risk_view(state: str, reasons: Iterable[str]) -> RiskView:
    """The Risk Governor's state and reasons as ``ctl bot`` shows them."""
    return RiskView(state=state or None, reasons=tuple(reasons))


def band_view(band: ExposureBand | None) -> BandView | None:
    """The position band of the last decision as ``ctl bot`` shows it (None before the first decision)."""
    if band is None:
        return None
    return BandView(
        min=fixed(band.min_base, BASE_DECIMALS),
        max=fixed(band.max_base, BASE_DECIMALS),
        preferred=fixed(band.preferred_base, BASE_DECIMALS),
    )


def order_views(orders: Iterable[WorkingOrder]) -> tuple[OrderView, ...]:
    """The open orders as ``ctl bot`` shows them (paper and live alike)."""
    return tuple(
        OrderView(
            uid=o.user_order_id,
            side=o.side.value,
            price=fixed(o.price, PRICE_DECIMALS),
            base=fixed(o.base, BASE_DECIMALS),
            filled=fixed(o.filled_base, BASE_DECIMALS),
            post_only=o.post_only.value,
            reduce_only=o.reduce_only,
            max_ts=iso(o.max_ts) if o.max_ts else None,
        )
        for o in orders
    )


def account_snapshot(
    config: BotConfig, state: BotRunState, account: AccountView, *, subaccount: str | None = None
) -> BotSnapshot:
    """The fields of ``ctl bot`` every mode shares; the caller adds its mode's own with ``msgspec.structs.replace``
    or passes them here through :func:`bot_detail` / the live actor's ``detail``."""
    return BotSnapshot(
        name=config.name,
        mode=config.mode.value,
        state=state.value,
        market=config.market,
        subaccount=subaccount if subaccount is not None else subaccount_label(config),
        position=account.position,
        entry=account.entry,
        mark=account.mark,
        oracle=account.oracle,
        leverage=account.leverage,
        liq_price=account.liq_price,
        liq_distance_pct=account.liq_distance_pct,
        health=account.health,
        equity=account.equity,
    )


def bot_detail(
    config: BotConfig,
    *,
    state: BotRunState,
    paper: PaperBot,
    risk_state: str,
    reasons: list[str],
    decision: Decision | None,
    spot: SpotBasis | None = None,
) -> BotSnapshot:
    """Everything ``ctl bot NAME`` shows of a paper bot; ``spot``: a two-leg bot's SOL fills' books (its spot entry
    and trading PnL, ``botrunner.margin.spot_basis``), which the bot's shell keeps from its stored fills."""
    venue = paper.venue
    report = venue.report()
    ledger = venue.ledger
    grid = config.strategy.grid
    params: dict[str, str] = {"kind": config.strategy.kind.value}
    if config.strategy.kind.value == "grid":
        params.update(
            curve=grid.curve.value,
            bias=grid.bias.value,
            mode=grid.mode.value,
            percentiles=f"{grid.percentile_low_bps / 100:g}-{grid.percentile_high_bps / 100:g} %",
        )
    elif config.strategy.band is not None:
        params.update(
            min_base=fixed(config.strategy.band.min_base, BASE_DECIMALS),
            max_base=fixed(config.strategy.band.max_base, BASE_DECIMALS),
        )
    policy = config.execution
    if not config.strategy.two_legs:  # a two-leg bot works no ladder: its legs are shown instead
        params.update(
            levels=str(policy.grid_levels),
            step_bps=str(policy.step_bps),
            size_per_level=fixed(policy.base_size_per_level, BASE_DECIMALS),
        )
    if decision is not None and decision.strategy.range_high:
        low, high = decision.strategy.range_low, decision.strategy.range_high
        params["range"] = f"{fixed(low, PRICE_DECIMALS)}..{fixed(high, PRICE_DECIMALS)}"
    account = account_fields(report, mark=venue.last_price, oracle=venue.oracle)
    legs, vault = None, None
    if config.strategy.two_legs:
        if spot is None:
            raise ValueError(f"{config.name}: a two-leg bot's detail needs its spot fills' books (spot=)")
        legs, vault = two_leg_detail(paper, spot)
    return msgspec.structs.replace(
        account_snapshot(config, state, account),
        pnl=PnlView(
            unrealized=fixed(report.unrealized_pnl, QUOTE_DECIMALS),
            realized=fixed(ledger.realized, QUOTE_DECIMALS),
            funding=fixed(ledger.funding, QUOTE_DECIMALS),
            fees_paid=fixed(ledger.fees, QUOTE_DECIMALS),
            settled=fixed(ledger.settled, QUOTE_DECIMALS),
            unsettled=fixed(report.unsettled_pnl, QUOTE_DECIMALS),
            total=fixed(_pnl_total(paper, report.equity), QUOTE_DECIMALS),
        ),
        risk=risk_view(risk_state, reasons),
        band=band_view(decision.verdict.band if decision is not None else None),
        grid=params,
        orders=order_views(venue.open_orders()),
        market_time=iso(venue.now),
        legs=legs,
        vault=vault,
    )
