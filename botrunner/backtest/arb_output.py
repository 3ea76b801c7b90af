"""The funding-arbitrage backtest's report: ``summary.json`` and CSVs of trades, fills (both legs), funding (per
venue) and leg-outs, in the units of ``../shared/guides/backtest-output.md`` (decimal strings in Drift's
precisions: prices and USD 6 decimals, base 9). ``funding.csv``'s ``rate`` is each venue's own: Drift's 1e9 quote
per base for the hour, the external venue's 1e12 fraction of price per hour (both positive = longs pay); ``payment``
is positive when received. ``fills.csv``'s ``ts_ms`` is milliseconds (the legs are apart by less than a second).
Deterministic: the same result gives the same bytes (no wall
clock, keys in a fixed order, ``\\n`` line ends).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec

from botrunner.backtest.arb import ArbResult
from botrunner.backtest.output import code_digest, iso
from botrunner.core.precision import BPS_PRECISION
from botrunner.core.records import fixed

SECONDS_PER_YEAR = 365 * 24 * 3_600
ARB_FILES = ("summary.json", "trades.csv", "fills.csv", "funding.csv", "leg_outs.csv")
SCORE_NOTE = (
    "strategies.arb_score offline: funding delta is the only soft metric the data gives (the others are "
    "unavailable and the weights renormalised); depth is checked against funding_arb.depth_usd (no order book in "
    "the data); quote freshness cannot be checked offline and is taken as passed"
)


def _usd(value: int) -> str:
    return fixed(value, 6)


def _pct(numerator: int, denominator: int) -> str:
    """100 x numerator / denominator, truncated to 4 decimals."""
    if denominator == 0:
        return fixed(0, 4)
    scaled = abs(numerator) * 100 * 10**4 // abs(denominator)
    return fixed(scaled if (numerator >= 0) == (denominator > 0) else -scaled, 4)


def arb_run_id(result: ArbResult, digests: list[tuple[str, str]]) -> str:
    inputs = result.inputs
    payload = {
        "bot": msgspec.to_builtins(msgspec.structs.replace(inputs.bot, source="")),
        "data": [list(d) for d in digests],
        "window": [inputs.start, inputs.end],
        "model": msgspec.to_builtins(inputs.model),
        "drift_fees": msgspec.to_builtins(inputs.drift_fees),
        "external_rules": msgspec.to_builtins(inputs.external_rules),
        "code": code_digest(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def arb_summary(result: ArbResult, digests: list[tuple[str, str]]) -> dict[str, Any]:
    """The summary document (the guide's fields where they apply, plus the arbitrage's own)."""
    inputs, book = result.inputs, result.portfolio
    first = inputs.start
    span = max(1, (result.bars * inputs.drift_candles.interval_s))
    pnl_total = result.ending - result.starting
    reasons = Counter(t.reason.value if t.reason is not None else "end_of_backtest" for t in result.trades)
    drift_realised = sum(t.pnl for t in result.trades)  # per-trade, before leg-out losses
    return {
        "run_id": arb_run_id(result, digests),
        "bot": inputs.bot.name,
        "strategy": "funding_arb",
        "market": inputs.bot.market,
        "external_venue": str(inputs.external_rules.venue),
        "from": iso(first),
        "to": iso(first + span),
        "bars": result.bars,
        "starting_equity": _usd(result.starting),
        "ending_equity": _usd(result.ending),
        "pnl": {
            "trades": _usd(drift_realised),
            "leg_out_losses": _usd(book.leg_out_loss),
            "realized": _usd(book.realised),
            "funding_drift": _usd(result.drift_funding_total),
            "funding_external": _usd(result.external_funding_total),
            "fees_drift": _usd(result.drift_fees),
            "fees_external": _usd(result.external_fees),
            "slippage": _usd(result.slippage),
            "total": _usd(pnl_total),
        },
        "return_pct": _pct(pnl_total, result.starting),
        "apr_pct": _pct(pnl_total * SECONDS_PER_YEAR, result.starting * span),
        "trades": len(result.trades),
        "wins": book.wins,
        "losses": book.losses,
        "exits_by_reason": dict(sorted(reasons.items())),
        "leg_outs": {"count": len(result.leg_outs), "loss": _usd(sum(r.record.loss_quote for r in result.leg_outs))},
        "executions_by_outcome": result.outcomes,
        "entry_skips": result.skips,
        "entries_scored": result.entries_scored,
        "breaker": {"trips": result.breaker_trips, "blocked_hours": result.breaker_blocked_hours},
        "capital_utilisation_pct": _pct(result.utilisation_bps, BPS_PRECISION),
        "liquidations": result.liquidations,
        "min_liq_distance_pct": None
        if result.min_liq_distance_bps is None
        else _pct(result.min_liq_distance_bps, BPS_PRECISION),
        "external_price_gaps": result.external_price_gaps,
        "score": SCORE_NOTE,
        "execution_model": msgspec.to_builtins(inputs.model),
        "data": [{"file": name, "sha256": digest} for name, digest in digests],
    }


def _lines(header: str, rows: list[str]) -> str:
    return "\n".join([header, *rows]) + "\n"


def write_arb_outputs(result: ArbResult, out: Path, doc: dict[str, Any]) -> list[Path]:
    """Write the report files into ``out`` (each written beside its place, then renamed over it)."""
    trades = [
        f"{t.trade_id},{t.opened},{t.closed},{t.drift_side.value},{fixed(t.base, 9)},{_usd(t.notional)},"
        f"{t.entry_net_rate},{_usd(t.pnl)},{_usd(t.leg_out_loss)},{_usd(t.funding_drift)},"
        f"{_usd(t.funding_external)},{t.reason.value if t.reason else 'end_of_backtest'},"
        f"{t.entry_outcome.value},{t.exit_outcome.value}"
        for t in result.trades
    ]
    fills = [
        f"{f.ts_ms},{f.leg.value},{f.side.value},{fixed(f.price, 6)},{fixed(f.base, 9)},{fixed(f.reference, 6)},"
        f"{_usd(f.fee)},{f.kind.value},{_usd(f.slippage_quote)}"
        for f in result.fills
    ]
    funding = [f"{r.ts},{r.venue},{fixed(r.position_base, 9)},{r.rate},{_usd(r.payment)}" for r in result.funding]
    leg_outs = [
        f"{r.trade_id if r.trade_id is not None else ''},{r.phase},{r.record.ahead.value},{r.record.hedged_on.value},"
        f"{r.record.naked_since_ms},{r.record.at_ms},{fixed(r.record.base, 9)},{fixed(r.record.hedge_price, 6)},"
        f"{fixed(r.record.reference_price, 6)},{_usd(r.record.loss_quote)}"
        for r in result.leg_outs
    ]
    contents = {
        "summary.json": json.dumps(doc, indent=2) + "\n",
        "trades.csv": _lines(
            "trade_id,opened,closed,drift_side,base,notional,entry_net_rate,pnl,leg_out_loss,funding_drift,"
            "funding_external,exit_reason,entry_outcome,exit_outcome",
            trades,
        ),
        "fills.csv": _lines("ts_ms,leg,side,price,base,reference,fee,kind,slippage", fills),
        "funding.csv": _lines("ts,venue,position_base,rate,payment", funding),
        "leg_outs.csv": _lines(
            "trade_id,phase,ahead,hedged_on,naked_since_ms,at_ms,base,hedge_price,reference_price,loss", leg_outs
        ),
    }
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in ARB_FILES:
        scratch = out / f".{name}.partial"
        scratch.write_text(contents[name], encoding="utf-8")
        os.replace(scratch, out / name)
        written.append(out / name)
    return written
