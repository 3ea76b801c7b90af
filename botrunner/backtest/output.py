"""A backtest's files: summary.json, fills.csv, funding.csv, settlements.csv, orders.csv, snapshots.csv and
report.html.

Layouts and units are the public contract of ``shared/guides/backtest-output.md``. Everything is rendered from
integers (exact decimals), rows are in event order, JSON keys in a fixed order, ``\\n`` line ends: the same inputs
give byte-identical files. The run id hashes the bot's configuration, the data files' contents, the window, the
paper venue's configuration and the code itself.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from botrunner.backtest.data import MarketData
from botrunner.backtest.engine import BacktestResult, pnl_split
from botrunner.backtest.legs import legs_summary
from botrunner.backtest.metrics import LedgerPoint, Performance, equity_curve, performance, rounded
from botrunner.backtest.report import render_report
from botrunner.config import StrategyKind
from botrunner.core.precision import SOL_SPOT_MARKET_INDEX
from botrunner.core.records import (
    FILLS_HEADER,
    FUNDING_HEADER,
    INTEREST_HEADER,
    LEGS_HEADER,
    ORDERS_HEADER,
    QUOTE_DECIMALS,
    SETTLEMENTS_HEADER,
    SNAPSHOTS_HEADER,
    SPOT_FILLS_HEADER,
    fill_line,
    fixed,
    funding_line,
    interest_line,
    legs_line,
    order_line,
    settlement_line,
    snapshot_line,
    spot_fill_line,
)
from botrunner.core.verdict import RiskAction
from botrunner.runtime.exclusive import ExclusiveLock, LockHeld

ROOT = Path(__file__).resolve().parents[2]
CODE_DIRS = ("botrunner", "strategies", "governors", "actors")


@functools.cache
def code_digest() -> str:
    """sha256 over every source file of the runner (path and bytes, sorted): the code version of a run. Read
    once per process (a fleet's runs share it)."""
    h = hashlib.sha256()
    for top in CODE_DIRS:
        for path in sorted((ROOT / top).rglob("*.py")):
            h.update(path.relative_to(ROOT).as_posix().encode())
            h.update(b"\0")
            h.update(path.read_bytes())
    h.update((ROOT / "botrunner" / "data" / "markets.json").read_bytes())
    return h.hexdigest()


def run_id(result: BacktestResult, data_digests: Sequence[tuple[str, str]]) -> str:
    """16 hex digits of sha256(config, data, window, venue configuration, code)."""
    inputs = result.inputs
    payload = {
        "bot": msgspec.to_builtins(msgspec.structs.replace(inputs.bot, source="")),
        "data": [list(d) for d in data_digests],
        "window": [inputs.start, inputs.end],
        "funding": "records" if inputs.funding is not None else "formula",
        "paper": msgspec.to_builtins(inputs.paper),
        "code": code_digest(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ratio(numerator: int, denominator: int, decimals: int) -> str:
    """numerator/denominator as an exact decimal string truncated toward zero to ``decimals`` places."""
    if denominator == 0:
        return fixed(0, decimals)
    scaled = abs(numerator) * 10**decimals // abs(denominator)
    return fixed(scaled if (numerator >= 0) == (denominator > 0) else -scaled, decimals)


def run_curve(result: BacktestResult) -> list[LedgerPoint]:
    """The run's equity curve: its start, every bar-close snapshot, its end with the final PnL split."""
    split = pnl_split(result)
    start = LedgerPoint(result.first_ts, result.starting_equity)
    end = LedgerPoint(result.last_ts, result.ending_equity, split["realized"], split["funding"], split["fees"])
    return equity_curve(start, result.snapshots, end)


def _first_and_last_price(result: BacktestResult) -> tuple[int, int] | None:
    """The first traded bar's open and the last one's close: where buy-and-hold buys and sells."""
    candles = result.inputs.candles
    last_open = result.last_ts - candles.interval_s
    first = next((b.open for b in candles.bars if b.ts == result.first_ts), None)
    last = next((b.close for b in reversed(candles.bars) if b.ts == last_open), None)
    return None if first is None or last is None or first <= 0 else (first, last)


def run_performance(result: BacktestResult) -> Performance:
    return performance(
        run_curve(result),
        result.fills,
        result.funding,
        prices=_first_and_last_price(result),
        grid=result.inputs.bot.strategy.kind is StrategyKind.GRID,
    )


def _decimal(value: Decimal | None, places: int) -> str | None:
    """A ratio as a decimal string with ``places`` places, rounded half to even; None stays None (undefined)."""
    return None if value is None else str(rounded(value, places))


def _pct(value: Decimal | None) -> str | None:
    return _decimal(None if value is None else value * 100, 4)


def performance_fields(perf: Performance) -> dict[str, Any]:
    """The summary.json extras that ``performance`` computes (money 6 decimals, percentages and ratios 4)."""
    q = QUOTE_DECIMALS
    hold = perf.buy_and_hold
    grid = perf.grid
    return {
        "pnl_gross": {
            "fees_paid": fixed(perf.fees.paid, q),
            "rebates_earned": fixed(perf.fees.rebates, q),
            "funding_received": fixed(perf.funding.received, q),
            "funding_paid": fixed(perf.funding.paid, q),
        },
        "performance": {
            "cagr_pct": _pct(perf.cagr),
            "max_drawdown_duration_s": perf.drawdown.duration_s,
            "max_drawdown_recovered": perf.drawdown.recovered_ts is not None,
            "sharpe": _decimal(perf.sharpe, 4),
            "sortino": _decimal(perf.sortino, 4),
            "calmar": _decimal(perf.calmar, 4),
            "daily_returns": perf.days,
            "round_trips": perf.trips.closed,
            "round_trip_wins": perf.trips.winners,
            "win_rate_pct": _pct(perf.trips.win_rate),
            "profit_factor": _decimal(perf.trips.profit_factor, 4),
            "buy_and_hold_pnl": None if hold is None else fixed(hold.pnl, q),
            "buy_and_hold_return_pct": None if hold is None else _pct(hold.return_),
        },
        "grid": None
        if grid is None
        else {
            "cycles": grid.cycles,
            "profit": fixed(grid.profit, q),
            "profit_per_cycle": None if (per := grid.profit_per_cycle()) is None else fixed(per, q),
            "annualised_return_pct": _pct(perf.grid_annualised),
        },
    }


def summary(result: BacktestResult, data: MarketData) -> dict[str, Any]:
    """The summary.json document (contract keys first, then this runner's extras)."""
    data_digests = data.digests()
    venue = result.venue
    assert venue is not None
    split = pnl_split(result)
    maker = venue.ledger.maker_fills
    fills = result.fill_count
    liq = result.min_liq_distance
    states = {a.value: result.time_in_state_s.get(a.value, 0) for a in RiskAction}
    q = QUOTE_DECIMALS
    doc = {
        "run_id": run_id(result, data_digests),
        "bot": result.inputs.bot.name,
        "market": result.inputs.bot.market,
        "from": iso(result.first_ts),
        "to": iso(result.last_ts),
        "bars": result.bars,
        "starting_equity": fixed(result.starting_equity, q),
        "ending_equity": fixed(result.ending_equity, q),
        "pnl": {k: fixed(split[k], q) for k in ("realized", "unrealized", "funding", "fees", "total")},
        "return_pct": _ratio(split["total"] * 100, result.starting_equity, 4),
        "max_drawdown_pct": fixed(result.max_drawdown_bps, 2),
        "orders": result.orders_placed,
        "fills": fills,
        "maker_share": _ratio(maker, fills, 4),
        "liquidations": venue.ledger.liquidations,
        "min_health": result.min_health,
        "min_liq_distance_pct": None if liq is None else fixed(liq, 4),
        "time_in_state_s": states,
        # extras (not in the contract): why the risk states happened, and what the run was made of
        "time_in_reason_s": dict(sorted(result.time_in_reason_s.items())),
        "liquidation_fees": fixed(venue.ledger.liquidation_fees, q),
        "settled_pnl": fixed(venue.ledger.settled, q),
        "settlements": len(result.settlements),
        "funding_source": data.funding_source,
        "decisions": result.decisions,
        "decision_cadence": "bar_close",
        "bar_events": result.ticks,
        "connector_resyncs": result.resyncs,
        "latency_slots": result.inputs.paper.latency_slots,
        "filled_while_cancel_in_flight": len(result.races),
        "strategy": result.inputs.bot.strategy.kind.value,
        **performance_fields(run_performance(result)),
        "data": [{"file": name, "sha256": digest} for name, digest in data_digests],
        "paper_venue": msgspec.to_builtins(result.inputs.paper),
    }
    if result.inputs.bot.strategy.two_legs:
        doc["pnl"] = {k: fixed(v, q) for k, v in split.items()}
        doc["two_legs"] = legs_summary(result, data.candles.interval_s, interest_source(result))
    return doc


def interest_source(result: BacktestResult) -> str:
    """Where the paper venue's interest came from: a rate series per market, the curve at a utilisation, or none."""
    interest = result.inputs.paper.interest
    if interest is None:
        return "none (paper.interest off: no interest accrued)"
    parts = []
    for name, rates in (("usdc", interest.usdc), ("sol", interest.sol)):
        if rates.series is not None:
            parts.append(f"{name}: rate series {rates.series}")
        else:
            parts.append(f"{name}: curve at utilisation {fixed(rates.utilization or 0, 4)} %")
    return "; ".join(parts)


def _write_lines(path: Path, header: str, lines: Iterable[str]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        fh.write(header + "\n")
        for line in lines:
            fh.write(line + "\n")


OUTPUT_FILES = (
    "summary.json",
    "fills.csv",
    "funding.csv",
    "settlements.csv",
    "orders.csv",
    "snapshots.csv",
    "report.html",
)
LEGS_FILES = ("spot_fills.csv", "interest.csv", "legs.csv")  # two-leg bots only


SCRATCH_PREFIX = ".writing-"
_NEW_PREFIX = ".new-"
WRITER_LOCK = ".writer.lock"  # inside a scratch directory: flock-held by its writer for as long as it writes


def _claim_scratch(out: Path) -> tuple[Path, ExclusiveLock]:
    """A new scratch directory in ``out`` and the lock its writer holds: the directory is locked before it is
    renamed to the name ``remove_abandoned`` looks at, so no cleaner ever sees it unlocked while its writer lives.
    The kernel drops the lock when the writer dies, however it dies (see ``botrunner.runtime.exclusive``)."""
    new = Path(tempfile.mkdtemp(prefix=_NEW_PREFIX, dir=out))
    lock = ExclusiveLock(new / WRITER_LOCK, f"writing a backtest report into {out}")
    try:
        lock.acquire()
        scratch = new.with_name(SCRATCH_PREFIX + new.name[len(_NEW_PREFIX) :])
        new.rename(scratch)  # the lock is on the file's inode: the rename keeps it
    except BaseException:
        lock.release()
        shutil.rmtree(new, ignore_errors=True)
        raise
    return scratch, lock


def remove_abandoned(out: Path) -> list[Path]:
    """Remove the scratch directories in ``out`` whose writer is gone (killed while writing); returns them. One
    whose writer still holds its lock (another backtest writing into the same directory) is left alone; so is a
    directory without a writer's lock file, which this module did not make."""
    removed = []
    for path in sorted(out.glob(f"{SCRATCH_PREFIX}*")):
        lock_file = path / WRITER_LOCK
        if not lock_file.is_file():
            continue
        lock = ExclusiveLock(lock_file, "removing an abandoned backtest scratch directory")
        try:
            lock.acquire()
        except (LockHeld, OSError):
            continue  # its writer is still at work (or the directory just went)
        try:
            shutil.rmtree(path, ignore_errors=True)
        finally:
            lock.release()
        removed.append(path)
    return removed


def write_outputs(result: BacktestResult, out: Path, doc: dict[str, Any]) -> list[Path]:
    """Write every file into ``out`` (created if needed); returns the paths written.

    The files are written into a hidden scratch directory inside ``out`` (the same file system, so the moves are
    renames) and moved into place only once all of them are complete: a full disk or a failure while writing
    leaves the report in ``out`` as it was, and ``OSError`` says what failed. Each file is replaced whole; the
    renames are not one atomic step, so only a crash between them mixes files of two runs. A ``kill -9`` while
    writing leaves its scratch directory behind; the next write into ``out`` removes it (``remove_abandoned``)."""
    out.mkdir(parents=True, exist_ok=True)
    remove_abandoned(out)
    scratch, lock = _claim_scratch(out)
    try:
        two_legs = result.inputs.bot.strategy.two_legs
        names = OUTPUT_FILES + LEGS_FILES if two_legs else OUTPUT_FILES
        staged = {name: scratch / name for name in names}
        staged["summary.json"].write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        _write_lines(staged["fills.csv"], FILLS_HEADER, map(fill_line, result.fills))
        _write_lines(staged["funding.csv"], FUNDING_HEADER, map(funding_line, result.funding))
        _write_lines(staged["settlements.csv"], SETTLEMENTS_HEADER, map(settlement_line, result.settlements))
        _write_lines(staged["orders.csv"], ORDERS_HEADER, map(order_line, result.orders))
        _write_lines(staged["snapshots.csv"], SNAPSHOTS_HEADER, map(snapshot_line, result.snapshots))
        if two_legs:
            _write_lines(staged["spot_fills.csv"], SPOT_FILLS_HEADER, map(spot_fill_line, result.spot_fills))
            _write_lines(
                staged["interest.csv"],
                INTEREST_HEADER,
                (interest_line(r, 9 if r.market_index == SOL_SPOT_MARKET_INDEX else 6) for r in result.interest),
            )
            _write_lines(staged["legs.csv"], LEGS_HEADER, map(legs_line, result.legs))
        legs = {"legs": result.legs} if two_legs else {}  # a perp-only bot's report is rendered as before
        staged["report.html"].write_text(
            render_report(doc, result.snapshots, result.fills, run_curve(result), result.races, **legs),
            encoding="utf-8",
        )
        for name, path in staged.items():
            os.replace(path, out / name)  # a rename within one file system: needs no space, one file at a time
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        lock.release()
    return [out / name for name in names]
