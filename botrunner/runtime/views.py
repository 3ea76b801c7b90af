"""What ``ctl status`` and ``ctl bot NAME`` show: JSON-ready views of a bot, every amount an exact decimal string.

Numbers are rendered from Drift's integers (``fixed``), never through a float, so what an operator reads is what
the books hold. Times are ISO-8601 UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from botrunner.bot.lifecycle import BotRunState
from botrunner.bot.pipeline import Decision
from botrunner.config import BotConfig
from botrunner.connector.orders import WorkingOrder
from botrunner.core.intents import ExposureBand
from botrunner.core.precision import LEVERAGE_PRECISION
from botrunner.core.records import BASE_DECIMALS, PRICE_DECIMALS, QUOTE_DECIMALS, fixed, optional_fixed
from botrunner.live.alerts import liquidation_distance_bps
from botrunner.runtime.paper_bot import PaperBot
from botrunner.runtime.supervision import Supervision, shown_state
from botrunner.venue.port import AccountReport


def iso(ts: int | float | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
) -> dict[str, Any]:
    """One raw row of ``ctl status`` (paper, live and monitor bots alike): integers in Drift precisions, cheap
    enough to post after every step. :func:`render_summary` turns it into what the operator reads. ``state`` is
    the bot's operator mode; ``risk_reasons`` why the Risk Governor answered ``risk_state`` (``operator`` for an
    operator's pause or reduce-only)."""
    return {
        "name": config.name,
        "market": config.market,
        "mode": config.mode.value,
        "state": state.value,
        "risk_state": risk_state or None,
        "risk_reasons": list(risk_reasons),
        "position": position,
        "mark": mark,
        "equity": equity,
        "pnl": pnl,
        "open_orders": open_orders,
        "fills": fills,
        "market_time": market_time,
    }


def bot_summary(
    config: BotConfig,
    state: BotRunState,
    paper: PaperBot,
    risk_state: str,
    market_ts: int | None,
    *,
    risk_reasons: Iterable[str] = (),
) -> dict[str, Any]:
    """A paper bot's :func:`summary_row`."""
    venue = paper.venue
    equity = venue.equity()
    return summary_row(
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


_SUMMARY_DECIMALS = {"position": BASE_DECIMALS, "mark": PRICE_DECIMALS, "equity": QUOTE_DECIMALS, "pnl": QUOTE_DECIMALS}


def status_row(row: dict[str, Any], slot: dict[str, Any]) -> dict[str, Any]:
    """A bot's ``ctl status`` row: its rendered summary merged with its supervisor slot (``Supervisor.status``).
    While the supervisor runs it, the bot's operator mode (running, paused, reduce-only, flattening) stands;
    otherwise the supervision state (starting, restarting, failed, stopped) is what an operator must see."""
    mode = BotRunState(row.get("state") or BotRunState.RUNNING.value)
    state = shown_state(Supervision(slot["supervision"]), mode).value
    return {**row, "state": state, "restarts": slot["restarts"], "flagged": slot["flagged"]}


def render_summary(row: dict[str, Any]) -> dict[str, Any]:
    """A raw summary (see :func:`bot_summary`) with exact decimal strings and an ISO market time."""
    out = dict(row)
    for key, decimals in _SUMMARY_DECIMALS.items():
        if isinstance(out.get(key), int):
            out[key] = fixed(out[key], decimals)
    if isinstance(out.get("market_time"), int):
        out["market_time"] = iso(out["market_time"])
    return out


def liq_distance_pct(report: AccountReport) -> str | None:
    """The liquidation distance ``ctl bot`` shows: percent of the oracle, as the Risk Governor measures it (and as
    the live health alerts do); a flat account with open orders has one too."""
    bps = liquidation_distance_bps(report)
    return None if bps is None else fixed(bps, 2)


def subaccount_label(config: BotConfig) -> str:
    """``authority/subaccount_id``, as ``ctl bot`` shows the account."""
    return f"{config.account.authority}/{config.account.subaccount_id}"


def account_fields(report: AccountReport, *, mark: int, oracle: int) -> dict[str, Any]:
    """The position and margin block of ``ctl bot`` (paper and live alike), from the venue's account report;
    ``mark`` is the price the bot trades against (the oracle on live)."""
    return {
        "position": fixed(report.position_base, BASE_DECIMALS),
        "entry": fixed(report.entry_price, PRICE_DECIMALS) if report.position_base else None,
        "mark": fixed(mark, PRICE_DECIMALS),
        "oracle": fixed(oracle, PRICE_DECIMALS),
        "leverage": fixed(report.leverage, len(str(LEVERAGE_PRECISION)) - 1),
        "liq_price": optional_fixed(report.liquidation_price, PRICE_DECIMALS) or None,
        "liq_distance_pct": liq_distance_pct(report),
        "health": report.health,
        "equity": fixed(report.equity, QUOTE_DECIMALS),
    }


def risk_view(state: str, reasons: Iterable[str]) -> dict[str, Any]:
    """The Risk Governor's state and reasons as ``ctl bot`` shows them."""
    return {"state": state or None, "reasons": list(reasons)}


def band_view(band: ExposureBand | None) -> dict[str, str] | None:
    """The position band of the last decision as ``ctl bot`` shows it (None before the first decision)."""
    if band is None:
        return None
    return {
        "min": fixed(band.min_base, BASE_DECIMALS),
        "max": fixed(band.max_base, BASE_DECIMALS),
        "preferred": fixed(band.preferred_base, BASE_DECIMALS),
    }


def order_views(orders: Iterable[WorkingOrder]) -> list[dict[str, Any]]:
    """The open orders as ``ctl bot`` shows them (paper and live alike)."""
    return [
        {
            "uid": o.user_order_id,
            "side": o.side.value,
            "price": fixed(o.price, PRICE_DECIMALS),
            "base": fixed(o.base, BASE_DECIMALS),
            "filled": fixed(o.filled_base, BASE_DECIMALS),
            "post_only": o.post_only.value,
            "reduce_only": o.reduce_only,
            "max_ts": iso(o.max_ts) if o.max_ts else None,
        }
        for o in orders
    ]


def bot_detail(
    config: BotConfig,
    *,
    state: BotRunState,
    paper: PaperBot,
    risk_state: str,
    reasons: list[str],
    decision: Decision | None,
) -> dict[str, Any]:
    """Everything ``ctl bot NAME`` shows."""
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
    params.update(
        levels=str(policy.grid_levels),
        step_bps=str(policy.step_bps),
        size_per_level=fixed(policy.base_size_per_level, BASE_DECIMALS),
    )
    if decision is not None and decision.strategy.range_high:
        low, high = decision.strategy.range_low, decision.strategy.range_high
        params["range"] = f"{fixed(low, PRICE_DECIMALS)}..{fixed(high, PRICE_DECIMALS)}"
    return {
        "name": config.name,
        "mode": config.mode.value,
        "state": state.value,
        "market": config.market,
        "subaccount": subaccount_label(config),
        **account_fields(report, mark=venue.last_price, oracle=venue.oracle),
        "pnl": {
            "unrealized": fixed(report.unrealized_pnl, QUOTE_DECIMALS),
            "realized": fixed(ledger.realized, QUOTE_DECIMALS),
            "funding": fixed(ledger.funding, QUOTE_DECIMALS),
            "fees": fixed(ledger.fees, QUOTE_DECIMALS),
            "settled": fixed(ledger.settled, QUOTE_DECIMALS),
            "unsettled": fixed(report.unsettled_pnl, QUOTE_DECIMALS),
            "total": fixed(_pnl_total(paper, report.equity), QUOTE_DECIMALS),
        },
        "risk": risk_view(risk_state, reasons),
        "band": band_view(decision.verdict.band if decision is not None else None),
        "grid": params,
        "orders": order_views(venue.open_orders()),
        "market_time": iso(venue.now),
    }
