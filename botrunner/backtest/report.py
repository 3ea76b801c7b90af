"""A backtest's ``report.html``: one self-contained page a trader reads after a run.

``render_report`` is pure: the same rows give the same bytes. The page carries everything it needs inline: its CSS,
the vendored uPlot charting library (``botrunner/web_static``, MIT, see its README) and this report's small script
(``report.js``, next to this module); the chart data is one JSON block. Nothing is fetched, so the file opens
offline and can be mailed around. Charts are interactive: a crosshair synchronised down the page, drag to zoom
(every chart follows), the mouse wheel zooms around the cursor, a double click or the overview strip resets.

Long runs stay light: each chart's series are reduced to ``CHART_BUCKETS`` time buckets, keeping in each bucket its
first and last sample and, for every series, the samples where it is lowest and highest (M4 downsampling: the line
drawn at any zoom down to a bucket is the line of the full data, spikes included). Tables (summary, monthly and
daily PnL, round trips, fills) are static HTML computed exactly from integers by ``botrunner.backtest.metrics``.
"""

from __future__ import annotations

import functools
import html
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final

from botrunner.backtest import metrics
from botrunner.backtest.metrics import FeeSplit, FundingSplit, LedgerPoint, PeriodPnl, RoundTrip
from botrunner.core.records import (
    BASE_DECIMALS,
    PRICE_DECIMALS,
    QUOTE_DECIMALS,
    FillRow,
    LegsRow,
    OrderRow,
    SnapshotRow,
    fixed,
)

CHART_BUCKETS: Final = 2000  # time buckets per chart over the whole run (≥ 2 per pixel of a wide screen)
OVERVIEW_BUCKETS: Final = 400  # the overview strip at the top
MAX_FILL_MARKERS: Final = 4000  # per side; beyond, each bucket keeps its lowest and highest fill
DOT_COLUMNS: Final = 1000  # the resting ladder: the union of its prices per time column
DOT_PRICE_STEPS: Final = 400  # ladder prices snap to 1/400 of their range: finer than a pixel of the price axis
MAX_RISK_RUNS: Final = 4000  # risk-state runs drawn; beyond, each bucket shows its most restrictive state
LIQ_DISTANCE_CAP_PCT: Final = 100  # the liquidation distance axis stops here: beyond, a position is far from it
MAX_TRIP_ROWS: Final = 1000  # round trips listed (the most recent); the statistics use all of them

STATIC_DIR: Final = Path(__file__).resolve().parents[1] / "web_static"
_SCRIPT: Final = Path(__file__).resolve().with_name("report.js")

RISK_STATES: Final = ("APPROVE", "CLAMP", "REDUCE_ONLY", "PAUSE")  # in order of severity
_RISK_COLOURS: Final = {"APPROVE": "#2ca02c", "CLAMP": "#ffbf00", "REDUCE_ONLY": "#ff7f0e", "PAUSE": "#d62728"}
_UNKNOWN_STATE_COLOUR: Final = "#7f7f7f"
_DAY: Final = 86_400


# --- the page ---------------------------------------------------------------------------------------------------------


def render_report(  # noqa: PLR0915  <why: the page section by section, top-down, as the reader sees it>
    summary: Mapping[str, Any],
    snapshots: Sequence[SnapshotRow],
    fills: Sequence[FillRow],
    curve: Sequence[LedgerPoint] = (),
    races: Sequence[OrderRow] = (),
    *,
    legs: Sequence[LegsRow] = (),
) -> str:
    """The whole ``report.html`` page for one backtest.

    ``summary`` is the ``summary.json`` dict (any subset of its keys: what is missing shows as "–"), ``snapshots``
    one row per bar and ``fills`` every fill, in Drift precisions; ``curve`` the run's equity curve
    (``metrics.equity_curve``: start, snapshots, end), by default the snapshots alone; ``races`` the closing order
    rows of orders filled while a cancel of ours was in flight (reason ``cancel_in_flight``; a run with latency
    lists them in their own section). Rows need not be sorted.
    Empty inputs give a page with notes instead of charts. Deterministic: no clock, no random ids.
    ``legs``: a two-leg bot's decision rows (``legs.csv``); with them and the summary's ``two_legs`` section the page
    gains the carry breakdown and the delta drift and legs charts.
    """
    snaps = sorted(snapshots, key=lambda s: s.ts)
    fill_rows = sorted(fills, key=lambda f: f.ts)
    points = list(curve) if curve else metrics.snapshot_curve(snaps)
    base_unit = _base_unit(summary)
    subtitle = " · ".join(str(summary[k]) for k in ("bot", "market", "strategy", "run_id") if k in summary)
    period = f"{summary['from']} → {summary['to']}" if "from" in summary and "to" in summary else ""

    body = ["<header><h1>Backtest report</h1>"]
    if subtitle or period:
        body.append(f'<p class="sub">{_esc(subtitle)}{"<br>" if subtitle and period else ""}{_esc(period)}</p>')
    body.append("</header>")
    body.append(_section("Summary", _summary_tables(summary, fill_rows)))
    two_legs = _mapping(summary, "two_legs")
    if two_legs is not None:
        body.append(_section("Delta-neutral carry", _carry_tables(two_legs)))

    times = [s.ts for s in snaps] + [f.ts for f in fill_rows] + [p.ts for p in points]
    charts: list[dict[str, Any]] = []
    overview: dict[str, Any] | None = None
    if not times:
        body.append('<p class="note">No snapshots and no fills were recorded, so there are no charts.</p>')
    else:
        x0, x1 = min(times), max(times)
        if x0 == x1:  # one instant: give the axis some width
            x0, x1 = x0 - 60, x1 + 60
        charts.append(_price_chart(snaps, fill_rows, x0, x1))
        if snaps:
            charts.append(_position_chart(snaps, base_unit, x0, x1))
        if len(points) > 1:
            charts.extend(_equity_charts(points, x0, x1))
            charts.append(_pnl_chart(points, x0, x1))
            overview = _overview(points, x0, x1)
        if snaps:
            charts.extend(_health_charts(snaps, x0, x1))
            charts.append(_risk_chart(snaps, x0, x1))
        if legs:
            charts.extend(_legs_charts(sorted(legs, key=lambda r: r.ts), x0, x1))
        days = metrics.daily_pnl(points)
        if days:
            charts.append(_daily_chart(days))
        if not snaps:
            body.append(
                '<p class="note">No snapshots were recorded, so there are no position, health or risk charts.</p>'
            )
        body.append(_charts_section(charts, overview, x0, x1))
    body.append(_section("Monthly PnL", _period_table(metrics.monthly_pnl(points), "%Y-%m")))
    days = metrics.daily_pnl(points)
    body.append(
        _section(
            "Daily PnL",
            f"<details><summary>{len(days):,} UTC days</summary>\n{_period_table(days, '%Y-%m-%d')}\n</details>"
            if days
            else '<p class="note">No daily PnL: the run has no equity points.</p>',
        )
    )
    body.append(_section("Round trips", _trips_table(metrics.round_trips(fill_rows), base_unit)))
    body.append(_section("Fills", _fills_table(fill_rows, base_unit)))
    latency = _mapping(summary, "paper_venue")
    slots = latency.get("latency_slots", 0) if latency is not None else 0
    if slots or races:
        body.append(_section("Fills while a cancel was in flight", _races_table(races, slots, base_unit)))
    body.append(_section("Run details", _details_table(summary)))
    data = {"charts": charts, "overview": overview}
    return _page(f"Backtest report — {subtitle}" if subtitle else "Backtest report", "\n".join(body), data)


def _section(heading: str, content: str) -> str:
    return f"<section><h2>{_esc(heading)}</h2>\n{content}\n</section>"


def _charts_section(charts: Sequence[Mapping[str, Any]], overview: Mapping[str, Any] | None, x0: int, x1: int) -> str:
    bucket_s = (x1 - x0) / CHART_BUCKETS
    help_text = (
        "Drag across a chart to zoom (every chart follows), roll the mouse wheel to zoom around the cursor, "
        "double-click to see the whole run. Times are UTC."
    )
    if bucket_s >= 60:
        help_text += (
            f" Each chart keeps, per {_duration(round(bucket_s))} of the run, the first, last, lowest and highest "
            "sample of every line, so no spike is lost however long the run."
        )
    out = [f'<p class="caption">{_esc(help_text)}</p>']
    if overview is not None:
        out.append('<div class="overview" id="overview"></div>')
        out.append('<p class="caption">Overview: the whole run\'s equity; drag on it to pick the window shown.</p>')
    for chart in charts:
        out.append(f'<div class="chart" id="chart-{chart["id"]}"></div>')
        if chart.get("caption"):
            out.append(f'<p class="caption">{_esc(chart["caption"])}</p>')
    out.append('<p class="note" id="no-script">The charts need JavaScript (it is inline: nothing is fetched).</p>')
    return _section("Charts", "\n".join(out))


# --- downsampling -----------------------------------------------------------------------------------------------------


def keep_indices(
    xs: Sequence[int],
    columns: Sequence[Sequence[float | None]],
    buckets: int = CHART_BUCKETS,
    domain: tuple[int, int] | None = None,
) -> list[int]:
    """The samples to draw, in order: per time bucket its first and last sample and, for every column, the sample
    where that column is lowest, where it is highest, and its first gap (``None``), so lines break where data is
    missing. ``xs`` must be sorted; ``domain`` fixes the bucket grid (default: the data's span). At most
    ``buckets × (2 + 3 × columns)`` indices; every column's global minimum and maximum are among them."""
    n = len(xs)
    if n == 0:
        return []
    lo, hi = domain if domain is not None else (xs[0], xs[-1])
    span = max(1, hi - lo + 1)
    keep: set[int] = set()
    start = 0
    while start < n:
        key = (xs[start] - lo) * buckets // span
        end = start + 1
        while end < n and (xs[end] - lo) * buckets // span == key:
            end += 1
        keep.add(start)
        keep.add(end - 1)
        for column in columns:
            low = high = gap = None
            for i in range(start, end):
                v = column[i]
                if v is None:
                    gap = i if gap is None else gap
                    continue
                if low is None or v < _value(column[low]):
                    low = i
                if high is None or v > _value(column[high]):
                    high = i
            keep.update(i for i in (low, high, gap) if i is not None)
        start = end
    return sorted(keep)


def _value(v: float | None) -> float:
    assert v is not None  # keep_indices only compares against samples it kept because they had a value
    return v


def _take(values: Sequence[float | None], indices: Sequence[int]) -> list[float | None]:
    return [values[i] for i in indices]


# --- chart specs (the JSON the page's script draws) ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Series:
    label: str
    colour: str
    values: list[float | None]
    width: float = 1.5
    dash: bool = False
    bars: bool = False
    legend: bool = True

    def spec(self) -> dict[str, Any]:
        out: dict[str, Any] = {"label": self.label, "colour": self.colour, "values": self.values, "width": self.width}
        if self.dash:
            out["dash"] = True
        if self.bars:
            out["bars"] = True
        if not self.legend:
            out["legend"] = False
        return out


@dataclass(frozen=True, slots=True)
class _Chart:
    id: str
    title: str
    unit: str
    decimals: int
    xs: list[int]
    series: list[_Series]
    height: int = 220
    bands: list[tuple[int, int, str]] = field(default_factory=list)  # (upper, lower) series index (0 = first), fill
    y_range: tuple[float, float] | None = None
    zero: bool = False
    layers: list[dict[str, Any]] = field(default_factory=list)
    caption: str = ""
    names: list[str] | None = None  # a category axis: the value i is names[i]

    def spec(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "unit": self.unit,
            "decimals": self.decimals,
            "height": self.height,
            "x": self.xs,
            "series": [s.spec() for s in self.series],
            "bands": [{"upper": u, "lower": lo, "fill": f} for u, lo, f in self.bands],
            "zero": self.zero,
            "layers": self.layers,
            "caption": self.caption,
        }
        if self.y_range is not None:
            out["y"] = list(self.y_range)
        if self.names is not None:
            out["names"] = self.names
        return out


def _price_chart(snaps: Sequence[SnapshotRow], fills: Sequence[FillRow], x0: int, x1: int) -> dict[str, Any]:
    xs = [s.ts for s in snaps]
    mark = [_px(s.mark) for s in snaps]
    low: list[float | None] = [_px(s.range_low) if s.range_low and s.range_high else None for s in snaps]
    high: list[float | None] = [_px(s.range_high) if s.range_low and s.range_high else None for s in snaps]
    keep = keep_indices(xs, [mark, low, high], domain=(x0, x1))
    series = [
        _Series("mark", "#1f4e79", _take(mark, keep), width=1.6),
        _Series("range low", "#6baed6", _take(low, keep), width=1.0),
        _Series("range high", "#6baed6", _take(high, keep), width=1.0),
    ]
    layers: list[dict[str, Any]] = []
    bids, asks = _ladder_dots(snaps, x0, x1)
    if bids["t"]:
        layers.append({"kind": "dots", "label": "resting bids", "colour": "#2ca02c", **bids})
    if asks["t"]:
        layers.append({"kind": "dots", "label": "resting asks", "colour": "#d62728", **asks})
    notes = [f"{len(snaps):,} snapshots"] if snaps else []
    thinned = False
    for side, colour, up in (("buy", "#138a13", True), ("sell", "#c11b1b", False)):
        rows = [f for f in fills if f.side == side]
        if not rows:
            continue
        ts = [f.ts for f in rows]
        prices: list[float | None] = [_px(f.price) for f in rows]
        if len(rows) > MAX_FILL_MARKERS:
            idx = keep_indices(ts, [prices], MAX_FILL_MARKERS // 4, (x0, x1))
            ts, prices = [ts[i] for i in idx], _take(prices, idx)
            thinned = True
        label = f"{side} fills ({len(rows):,})"
        layers.append({"kind": "markers", "label": label, "colour": colour, "up": up, "t": ts, "p": prices})
    if not fills:
        notes.append("no fills")
    if thinned:
        notes.append("fill markers show the first, last, lowest and highest fill per time bucket")
    notes.append("shaded: the strategy's price range; dots: the resting ladder after each decision")
    return _Chart(
        "price",
        "Price (USD)",
        "USD",
        2,
        [xs[i] for i in keep],
        series,
        height=320,
        bands=[(2, 1, "rgba(158,202,225,0.35)")],
        layers=layers,
        caption="; ".join(notes),
    ).spec()


def _position_chart(snaps: Sequence[SnapshotRow], base_unit: str, x0: int, x1: int) -> dict[str, Any]:
    xs = [s.ts for s in snaps]
    position = [_base(s.position_base) for s in snaps]
    band_min = [_base(s.band_min) for s in snaps]
    band_max = [_base(s.band_max) for s in snaps]
    keep = keep_indices(xs, [position, band_min, band_max], domain=(x0, x1))
    return _Chart(
        "position",
        f"Position vs approved band ({base_unit})",
        base_unit,
        4,
        [xs[i] for i in keep],
        [
            _Series("position", "#4a1d7a", _take(position, keep), width=1.4),
            _Series("band min", "#b8b8b8", _take(band_min, keep), width=0),  # the shading shows the band
            _Series("band max", "#b8b8b8", _take(band_max, keep), width=0),
        ],
        bands=[(2, 1, "rgba(160,160,160,0.28)")],
        zero=True,
        caption="shaded: the band the Risk Governor approved at each decision",
    ).spec()


def _equity_charts(points: Sequence[LedgerPoint], x0: int, x1: int) -> list[dict[str, Any]]:
    xs = [p.ts for p in points]
    equity: list[float | None] = [_quote(p.equity) for p in points]
    drawdown: list[float | None] = [v / 10_000 for v in metrics.drawdown_ppm(points)]
    keep = keep_indices(xs, [equity, drawdown], domain=(x0, x1))
    kept = [xs[i] for i in keep]
    return [
        _Chart("equity", "Equity (USD)", "USD", 2, kept, [_Series("equity", "#1f4e79", _take(equity, keep))]).spec(),
        _Chart(
            "drawdown",
            "Drawdown from the running peak (%)",
            "%",
            2,
            kept,
            [_Series("drawdown", "#d62728", _take(drawdown, keep))],
            height=150,
            zero=True,
        ).spec(),
    ]


def _pnl_chart(points: Sequence[LedgerPoint], x0: int, x1: int) -> dict[str, Any]:
    xs = [p.ts for p in points]
    start = points[0].equity
    total = [p.equity - start for p in points]
    columns: list[list[float | None]] = [
        [_quote(p.realized) for p in points],
        [_quote(t - p.realized - p.funding + p.fees) for p, t in zip(points, total, strict=True)],
        [_quote(p.funding) for p in points],
        [_quote(-p.fees) for p in points],
        [_quote(t) for t in total],
    ]
    keep = keep_indices(xs, columns, domain=(x0, x1))
    labels = (
        ("realized", "#2ca02c"),
        ("unrealized", "#ff7f0e"),
        ("funding (+ received)", "#17becf"),
        ("fees (− paid, + rebates)", "#d62728"),
        ("total", "#333333"),
    )
    series = [
        _Series(label, colour, _take(col, keep), dash=label == "total", width=1.8 if label == "total" else 1.4)
        for (label, colour), col in zip(labels, columns, strict=True)
    ]
    return _Chart(
        "pnl",
        "Cumulative PnL by source (USD)",
        "USD",
        2,
        [xs[i] for i in keep],
        series,
        zero=True,
        caption="each line is its effect on equity: total = realized + unrealized + funding + fees line",
    ).spec()


def _health_charts(snaps: Sequence[SnapshotRow], x0: int, x1: int) -> list[dict[str, Any]]:
    xs = [s.ts for s in snaps]
    health: list[float | None] = [float(s.health) for s in snaps]
    distance = [_liq_distance(s) for s in snaps]
    capped = [None if d is None else min(d, float(LIQ_DISTANCE_CAP_PCT)) for d in distance]
    keep = keep_indices(xs, [health, capped], domain=(x0, x1))
    kept = [xs[i] for i in keep]
    beyond = sum(1 for d in distance if d is not None and d > LIQ_DISTANCE_CAP_PCT)
    caption = "liquidation distance = |oracle − liquidation price| / oracle × 100; gaps: no liquidation price"
    if beyond and beyond == sum(1 for d in distance if d is not None):
        caption += (
            f"; every liquidation price of the run was more than {LIQ_DISTANCE_CAP_PCT} % away from the oracle, so "
            "the line sits at the cap"
        )
    elif beyond:
        caption += (
            f"; drawn at {LIQ_DISTANCE_CAP_PCT} % when farther ({beyond:,} of {len(snaps):,} snapshots: a small "
            "position's liquidation price is far off)"
        )
    return [
        _Chart(
            "health",
            "Account health (0–100)",
            "health",
            0,
            kept,
            [_Series("health", "#2ca02c", _take(health, keep))],
            height=150,
            y_range=(0.0, 105.0),  # 100 (no margin used) drawn inside the plot, not on its edge
        ).spec(),
        _Chart(
            "distance",
            f"Liquidation distance (% of the oracle, capped at {LIQ_DISTANCE_CAP_PCT} %)",
            "%",
            1,
            kept,
            [_Series("liquidation distance", "#d62728", _take(capped, keep))],
            height=150,
            y_range=(0.0, LIQ_DISTANCE_CAP_PCT * 1.05),
            caption=caption,
        ).spec(),
    ]


def _risk_chart(snaps: Sequence[SnapshotRow], x0: int, x1: int) -> dict[str, Any]:
    states = list(RISK_STATES) + sorted({s.risk_state for s in snaps} - set(RISK_STATES))
    index = {state: i for i, state in enumerate(states)}  # an unknown state ranks above PAUSE: worth seeing
    runs = _risk_runs(snaps, x1, index)
    caption = "a state holds from its decision until the next"
    if len(runs) > MAX_RISK_RUNS:
        runs = _bucketed_runs(snaps, x0, x1, index)
        caption += "; each sliver shows the most restrictive state in its time bucket"
    colours = [_RISK_COLOURS.get(s, _UNKNOWN_STATE_COLOUR) for s in states]
    xs = [r[0] for r in runs] + [runs[-1][1]]
    values: list[float | None] = [*(float(r[2]) for r in runs), float(runs[-1][2])]
    return _Chart(
        "risk",
        "Risk state",
        "state",
        0,
        xs,
        [_Series("risk state", "#555555", values, width=0)],
        height=90,
        y_range=(0.0, 1.0),
        layers=[{"kind": "strip", "runs": [list(r) for r in runs], "colours": colours, "labels": states}],
        caption=caption,
        names=states,
    ).spec()


def _risk_runs(snaps: Sequence[SnapshotRow], x1: int, index: Mapping[str, int]) -> list[tuple[int, int, int]]:
    runs: list[tuple[int, int, int]] = []
    for s, nxt in zip(snaps, [*snaps[1:], None], strict=True):
        end = nxt.ts if nxt is not None else max(x1, s.ts)
        state = index[s.risk_state]
        if runs and runs[-1][2] == state:
            runs[-1] = (runs[-1][0], end, state)
        else:
            runs.append((s.ts, end, state))
    return runs


def _bucketed_runs(
    snaps: Sequence[SnapshotRow], x0: int, x1: int, index: Mapping[str, int]
) -> list[tuple[int, int, int]]:
    span = x1 - x0 + 1
    worst: dict[int, int] = {}
    for s in snaps:
        k = (s.ts - x0) * MAX_RISK_RUNS // span
        worst[k] = max(worst.get(k, -1), index[s.risk_state])
    runs: list[tuple[int, int, int]] = []
    first, last = min(worst), max(worst)
    state = worst[first]
    for k in range(first, last + 1):  # a state holds until the next snapshot, so empty buckets keep it
        state = worst.get(k, state)
        start, end = x0 + k * span // MAX_RISK_RUNS, x0 + (k + 1) * span // MAX_RISK_RUNS
        if runs and runs[-1][2] == state:
            runs[-1] = (runs[-1][0], end, state)
        else:
            runs.append((start, end, state))
    return runs


def _legs_charts(rows: Sequence[LegsRow], x0: int, x1: int) -> list[dict[str, Any]]:
    """Delta drift with its tolerance band, and both legs with the carry stance (a two-leg bot)."""
    xs = [r.ts for r in rows]
    drift: list[float | None] = [None if r.drift_bps is None else r.drift_bps / 100 for r in rows]
    upper: list[float | None] = [r.tolerance_bps / 100 for r in rows]
    lower: list[float | None] = [-r.tolerance_bps / 100 for r in rows]
    keep = keep_indices(xs, [drift, upper, lower], domain=(x0, x1))
    drift_chart = _Chart(
        "drift",
        "Delta drift (%) with the tolerance band",
        "%",
        2,
        [xs[i] for i in keep],
        [
            _Series("drift", "#1f77b4", _take(drift, keep), width=1.4),
            _Series("tolerance +", "#b8b8b8", _take(upper, keep), width=0),
            _Series("tolerance -", "#b8b8b8", _take(lower, keep), width=0),
        ],
        bands=[(1, 2, "rgba(160,160,160,0.28)")],
        zero=True,
        caption="drift = (spot + perp) / spot held; a rebalance is due outside the shaded band (after the cooldown)",
    ).spec()
    spot: list[float | None] = [_base(r.spot_base) for r in rows]
    short: list[float | None] = [_base(-r.perp_base) for r in rows]
    stance: list[float | None] = [1.0 if r.in_market else 0.0 for r in rows]
    keep = keep_indices(xs, [spot, short, stance], domain=(x0, x1))
    legs_chart = _Chart(
        "legs",
        "Legs: spot SOL held and SOL-PERP short (SOL); carry stance in (1) / out (0)",
        "SOL",
        4,
        [xs[i] for i in keep],
        [
            _Series("spot SOL", "#2ca02c", _take(spot, keep), width=1.4),
            _Series("perp short", "#d62728", _take(short, keep), width=1.2, dash=True),
            _Series("stance in", "#7f7f7f", _take(stance, keep), width=1),
        ],
        zero=True,
        caption="each step of the legs is a trade: entries, exits and rebalances (legs.csv lists each with its reason)",
    ).spec()
    return [drift_chart, legs_chart]


def _carry_tables(two_legs: Mapping[str, Any]) -> str:
    """The carry breakdown, time in and out of the market, trades and blocks of a two-leg bot."""
    carry = _mapping(two_legs, "carry") or {}
    rows = [
        ("funding received", _usd(carry.get("funding_received"), signed=False), "paid to the short by longs"),
        ("funding paid", _usd(carry.get("funding_paid"), signed=False), "paid by the short to longs"),
        ("interest", _usd(carry.get("interest"), signed=True), str(carry.get("interest_source", ""))),
        ("perp fees", _usd(carry.get("perp_fees")), "SOL-PERP taker fees"),
        ("spot fees", _usd(carry.get("spot_fees")), "SOL spot taker fees"),
        ("perp slippage", _usd(carry.get("perp_slippage")), "fills against the decision's mark"),
        ("spot slippage", _usd(carry.get("spot_slippage")), "fills against the decision's oracle"),
        ("tx costs", _usd(carry.get("tx_costs")), "base + priority fee (+ Jito tip) per trade, at the SOL price"),
    ]
    time = _mapping(two_legs, "time") or {}
    time_rows = [
        (key.removesuffix("_s").replace("_", " "), _duration(int(value)), "")
        for key, value in time.items()
        if isinstance(value, int)
    ]
    spot = _mapping(two_legs, "spot_leg") or {}
    spot_rows = [
        ("entry price", _usd(spot.get("entry")), "our average cost of the fills"),
        ("realised trading", _usd(spot.get("realized_trading"), signed=True), "sells against the average cost"),
        ("unrealised trading", _usd(spot.get("unrealized_trading"), signed=True), "what the fills hold, at the oracle"),
    ]
    counts = [(f"trade: {k}", str(v), "") for k, v in (_mapping(two_legs, "trades") or {}).items()]
    counts += [(f"blocked: {k}", str(v), "decisions") for k, v in (_mapping(two_legs, "blocked") or {}).items()]
    counts += [(f"reason: {k}", str(v), "decisions") for k, v in (_mapping(two_legs, "reasons") or {}).items()]
    counts += [(f"stance: {k}", str(v), "decisions") for k, v in (_mapping(two_legs, "stances") or {}).items()]
    return "\n".join(
        (
            _kv_table("Carry breakdown", rows),
            _kv_table("Spot leg (from its fills; Drift keeps no entry price for a balance)", spot_rows),
            _kv_table("Time in and out of the market", time_rows),
            _kv_table("Trades, blocks and reasons", counts),
        )
    )


def _daily_chart(days: Sequence[PeriodPnl]) -> dict[str, Any]:
    xs = [d.start + _DAY // 2 for d in days]
    gains: list[float | None] = [_quote(d.pnl) if d.pnl >= 0 else None for d in days]
    losses: list[float | None] = [_quote(d.pnl) if d.pnl < 0 else None for d in days]
    return _Chart(
        "daily",
        "Daily PnL (USD, UTC days)",
        "USD",
        2,
        xs,
        [_Series("gain", "#2ca02c", gains, bars=True), _Series("loss", "#d62728", losses, bars=True)],
        height=180,
        zero=True,
        caption=f"{len(days):,} days: {sum(d.pnl > 0 for d in days):,} up, {sum(d.pnl < 0 for d in days):,} down",
    ).spec()


def _overview(points: Sequence[LedgerPoint], x0: int, x1: int) -> dict[str, Any]:
    xs = [p.ts for p in points]
    equity: list[float | None] = [_quote(p.equity) for p in points]
    keep = keep_indices(xs, [equity], OVERVIEW_BUCKETS, (x0, x1))
    return {"x": [xs[i] for i in keep], "values": _take(equity, keep), "label": "equity", "range": [x0, x1]}


def _ladder_dots(snaps: Sequence[SnapshotRow], x0: int, x1: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The union of resting prices per time column, for bids and for asks: ``{"t": column centre times, "p": one
    list of prices per column}``. Prices snap to ``DOT_PRICE_STEPS`` steps of the ladder's whole price range (under
    a pixel of the chart), so a column holds a few hundred dots at most however many orders rested in it."""
    prices = [p for s in snaps for side in (s.bid_prices, s.ask_prices) for p in side]
    if not prices:
        return {"t": [], "p": []}, {"t": [], "p": []}
    low = min(prices)
    step = max(1, (max(prices) - low) // DOT_PRICE_STEPS)
    span = x1 - x0 + 1
    bid_cols: dict[int, set[int]] = {}
    ask_cols: dict[int, set[int]] = {}
    for s in snaps:
        k = (s.ts - x0) * DOT_COLUMNS // span
        if s.bid_prices:
            bid_cols.setdefault(k, set()).update((p - low) // step for p in s.bid_prices)
        if s.ask_prices:
            ask_cols.setdefault(k, set()).update((p - low) // step for p in s.ask_prices)

    def columns(cols: dict[int, set[int]]) -> dict[str, Any]:
        return {
            "t": [x0 + (2 * k + 1) * span // (2 * DOT_COLUMNS) for k in sorted(cols)],
            "p": [[_px(low + q * step + step // 2) for q in sorted(cols[k])] for k in sorted(cols)],
        }

    return columns(bid_cols), columns(ask_cols)


def _liq_distance(s: SnapshotRow) -> float | None:
    if s.liq_price is None or s.oracle == 0:
        return None
    return round(abs(s.oracle - s.liq_price) * 100 / s.oracle, 4)


# --- summary tables ---------------------------------------------------------------------------------------------------


def _summary_tables(summary: Mapping[str, Any], fills: Sequence[FillRow]) -> str:
    if not summary:
        return '<p class="note">The summary is empty.</p>'
    perf = _mapping(summary, "performance") or {}
    grid = _mapping(summary, "grid")
    pnl = _mapping(summary, "pnl") or {}
    seconds = _span_s(summary)

    returns: list[tuple[str, str, str]] = [
        ("Total PnL", _usd(pnl.get("total"), signed=True), "ending − starting equity"),
        ("Total return", _pct(summary.get("return_pct"), signed=True), "total PnL / starting equity"),
        ("CAGR", _pct(perf.get("cagr_pct"), signed=True), _cagr_note(seconds)),
        (
            "Buy and hold, same capital",
            _joined(_usd(perf.get("buy_and_hold_pnl"), signed=True), _pct(perf.get("buy_and_hold_return_pct"), True)),
            "the starting equity in the base asset from the first price to the last; no fees, no funding",
        ),
        ("Starting equity", _usd(summary.get("starting_equity")), ""),
        ("Ending equity", _usd(summary.get("ending_equity")), ""),
    ]
    risk: list[tuple[str, str, str]] = [
        ("Max drawdown", _pct(summary.get("max_drawdown_pct")), "deepest fall from a running equity peak"),
        (
            "Max drawdown duration",
            _dd_duration(perf),
            "from that peak until equity is back at it (or the run's end)",
        ),
        ("Sharpe", _ratio(perf.get("sharpe")), "daily returns, × √365, risk-free 0"),
        ("Sortino", _ratio(perf.get("sortino")), "daily returns, downside deviation, × √365"),
        ("Calmar", _ratio(perf.get("calmar")), "CAGR / max drawdown"),
        ("Min health", _text(summary.get("min_health")), "0 = liquidatable, 100 = no margin used"),
        ("Min liquidation distance", _pct(summary.get("min_liq_distance_pct")), "of the oracle, with a position"),
        ("Liquidations", _text(summary.get("liquidations")), ""),
    ]
    wins, trips = perf.get("round_trip_wins"), perf.get("round_trips")
    trading: list[tuple[str, str, str]] = [
        ("Round trips", _text(trips), "flat back to flat (a sign flip closes one, opens the next)"),
        (
            "Win rate",
            _joined(_pct(perf.get("win_rate_pct")), f"{wins} of {trips}" if trips else ""),
            "round trips with a net profit (after their fees)",
        ),
        ("Profit factor", _ratio(perf.get("profit_factor")), "Σ winning / |Σ losing| round trips, net"),
        ("Orders placed", _count(summary.get("orders")), ""),
        ("Fills", _count(summary.get("fills")), ""),
        ("Maker share", _pct_of_fraction(summary.get("maker_share")), "of the fills"),
    ]
    if grid is not None:
        trading += [
            ("Completed grid cycles", _count(grid.get("cycles")), "closing orders; a sell pairs with the last buy"),
            ("Grid profit", _usd(grid.get("profit"), signed=True), "Σ cycles: exit − entry, less both legs' fees"),
            ("Profit per cycle", _usd(grid.get("profit_per_cycle"), signed=True, places=4), ""),
            ("Grid annualised return", _pct(grid.get("annualised_return_pct"), True), "grid profit / capital, APR"),
        ]
    tables = [
        _kv_table("Returns", returns),
        _kv_table("Risk", risk),
        _kv_table("Trading", trading),
        _pnl_breakdown(summary, fills),
        _risk_time_table(summary, seconds),
    ]
    return '<div class="cards">' + "\n".join(t for t in tables if t) + "</div>"


def _mapping(summary: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    """``summary[key]`` when it is an object (a hand-made or older summary may lack it)."""
    value = summary.get(key)
    return value if isinstance(value, Mapping) else None


def _kv_table(title: str, rows: Iterable[tuple[str, str, str]]) -> str:
    body = "".join(f'<tr><th>{_esc(k)}</th><td>{_esc(v)}</td><td class="hint">{_esc(h)}</td></tr>' for k, v, h in rows)
    return f'<table class="summary"><caption>{_esc(title)}</caption>{body}</table>'


def _pnl_breakdown(summary: Mapping[str, Any], fills: Sequence[FillRow]) -> str:
    """The PnL as lines that add up: every figure is its effect on equity (+ income, − cost), no double negative."""
    pnl = _mapping(summary, "pnl")
    if pnl is None or not all(k in pnl for k in ("realized", "unrealized", "funding", "fees")):
        return ""
    gross = _mapping(summary, "pnl_gross")
    realized, unrealized = _quote_int(pnl["realized"]), _quote_int(pnl["unrealized"])
    net_funding, net_fees = _quote_int(pnl["funding"]), _quote_int(pnl["fees"])
    if gross is not None:
        fees = FeeSplit(_quote_int(gross["fees_paid"]), _quote_int(gross["rebates_earned"]))
        funding = FundingSplit(_quote_int(gross["funding_received"]), _quote_int(gross["funding_paid"]))
    else:  # a summary without the gross split: the net figure is a cost or an income by its sign
        fees = FeeSplit(max(net_fees, 0), max(-net_fees, 0))
        funding = FundingSplit(max(net_funding, 0), max(-net_funding, 0))
    rows = metrics.pnl_effects(realized, unrealized, fees, funding)
    total = sum(v for _, v in rows)
    body = "".join(
        f'<tr><th>{_esc(label)}</th><td title="{fixed(v, QUOTE_DECIMALS)}">{_esc(_money(v, signed=True))}</td></tr>'
        for label, v in rows
    )
    body += f'<tr class="total"><th>total</th><td>{_esc(_money(total, signed=True))}</td></tr>'
    return f'<table class="summary"><caption>PnL by source (USD, effect on equity)</caption>{body}</table>'


def _risk_time_table(summary: Mapping[str, Any], seconds: int | None) -> str:
    states = summary.get("time_in_state_s")
    if not isinstance(states, Mapping) or not states:
        return ""
    total = seconds or sum(int(v) for v in states.values() if isinstance(v, int)) or 0
    rows = []
    for state, value in states.items():
        s = value if isinstance(value, int) else 0
        share = f"{Decimal(s * 100) / total:.1f} %" if total else "–"
        rows.append((str(state), _duration(s), share))
    body = "".join(
        f'<tr><th><span class="swatch" style="background:{_RISK_COLOURS.get(k, _UNKNOWN_STATE_COLOUR)}"></span>'
        f"{_esc(k)}</th><td>{_esc(d)}</td><td>{_esc(p)}</td></tr>"
        for k, d, p in rows
    )
    return f'<table class="summary"><caption>Time in each risk state</caption>{body}</table>'


def _period_table(periods: Sequence[PeriodPnl], fmt: str) -> str:
    if not periods:
        return '<p class="note">No equity points, so no PnL by period.</p>'
    head = (
        "<tr><th>period (UTC)</th><th>PnL</th><th>return</th><th>realized</th><th>unrealized</th>"
        "<th>funding</th><th>fees</th><th>equity at close</th></tr>"
    )
    rows = []
    for p in periods:
        ret = p.return_
        rows.append(
            f"<tr><td>{_utc(p.start, fmt)}</td>{_signed_cell(p.pnl)}"
            f'<td class="{_tone(p.pnl)}">{"–" if ret is None else _esc(_pct_text(ret * 100, signed=True))}</td>'
            f"{_signed_cell(p.realized)}{_signed_cell(p.unrealized)}{_signed_cell(p.funding)}"
            f"{_signed_cell(-p.fees)}<td>{_esc(_money(p.close_equity))}</td></tr>"
        )
    note = (
        '<p class="caption">USD, each figure its effect on equity (fees: − paid, + rebates); a period opens at the '
        "previous one's close, so the PnL column adds up to the run's total.</p>"
    )
    return f'<table class="grid"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>{note}'


def _trips_table(trips: Sequence[RoundTrip], base_unit: str) -> str:
    if not trips:
        return '<p class="note">No round trips: the run has no fills.</p>'
    shown = trips[-MAX_TRIP_ROWS:]
    head = (
        "<tr><th>#</th><th>side</th><th>opened (UTC)</th><th>closed (UTC)</th><th>held</th>"
        f"<th>peak ({_esc(base_unit)})</th>"
        "<th>avg entry</th><th>avg exit</th><th>fills</th><th>gross PnL</th><th>fees</th><th>net PnL</th></tr>"
    )
    first = len(trips) - len(shown) + 1
    rows = []
    for n, t in enumerate(shown, start=first):
        closed = "open" if t.closed_ts is None else _utc(t.closed_ts, "%Y-%m-%d %H:%M")
        held = "" if t.closed_ts is None else _duration(t.closed_ts - t.opened_ts)
        rows.append(
            f"<tr><td>{n}</td><td>{t.side}</td><td>{_utc(t.opened_ts, '%Y-%m-%d %H:%M')}</td><td>{closed}</td>"
            f"<td>{held}</td><td>{fixed(t.peak_base, BASE_DECIMALS).rstrip('0').rstrip('.')}</td>"
            f"<td>{_price_text(t.entry_price)}</td><td>{_price_text(t.exit_price)}</td><td>{t.fills}</td>"
            f"{_signed_cell(t.gross)}{_signed_cell(-t.fees)}{_signed_cell(t.net)}</tr>"
        )
    notes = [
        "a round trip runs from flat back to flat; a fill through zero closes one and opens the next (split pro rata)",
        "USD; fees as their effect (− paid, + rebates)",
    ]
    if len(shown) < len(trips):
        notes.insert(0, f"the last {len(shown):,} of {len(trips):,} round trips")
    if trips[-1].closed_ts is None:
        notes.append("the last trip was still open at the end (not counted in the win rate)")
    return (
        f'<div class="scroll"><table class="grid"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table></div>'
        f'<p class="caption">{_esc("; ".join(notes))}</p>'
    )


def _races_table(races: Sequence[OrderRow], slots: object, base_unit: str) -> str:
    """The orders a fill reached while our cancel of them was in flight (the cancel then found nothing, or only
    the rest): what latency costs a requoting bot."""
    lead = (
        f'<p class="caption">latency {_esc(str(slots))} slots ({_esc(str(slots))} × 400 ms): commands land and '
        "reports arrive that much later; an order below was filled (in whole or part) after the bot had sent its "
        "cancel and before the cancel landed</p>"
    )
    if not races:
        return lead + '<p class="note">None: no cancel lost a race with a fill.</p>'
    rows = sorted(races, key=lambda r: (r.ts, r.order_id))
    shown = rows[-MAX_TRIP_ROWS:]
    head = (
        "<tr><th>closed (UTC)</th><th>order id</th><th>side</th><th>price</th>"
        f"<th>size ({_esc(base_unit)})</th><th>then</th></tr>"
    )
    body = "".join(
        f"<tr><td>{_utc(r.ts, '%Y-%m-%d %H:%M:%S')}</td><td>{r.order_id}</td><td>{_esc(r.side)}</td>"
        f"<td>{_price_text(r.price)}</td><td>{fixed(r.base, BASE_DECIMALS).rstrip('0').rstrip('.')}</td>"
        f"<td>{'filled in full' if r.event == 'filled' else 'rest cancelled'}</td></tr>"
        for r in shown
    )
    note = f"the last {len(shown):,} of {len(rows):,}; " if len(shown) < len(rows) else ""
    return (
        f"{lead}<p>{len(rows):,} orders</p>"
        f'<div class="scroll"><table class="grid"><thead>{head}</thead><tbody>{body}</tbody></table></div>'
        f'<p class="caption">{_esc(note)}orders.csv: event filled or cancelled, reason cancel_in_flight</p>'
    )


def _fills_table(fills: Sequence[FillRow], base_unit: str) -> str:
    if not fills:
        return '<p class="note">No fills.</p>'
    rows: list[tuple[str, str]] = [("fills", f"{len(fills):,}")]
    for side in ("buy", "sell"):
        side_fills = [f for f in fills if f.side == side]
        base = sum(abs(f.base) for f in side_fills)
        quote = sum(abs(f.quote) for f in side_fills)
        rows.append((f"{side}s", f"{len(side_fills):,}"))
        rows.append((f"{side} volume ({base_unit})", fixed(base, BASE_DECIMALS)))
        rows.append((f"{side} volume (USD)", fixed(quote, QUOTE_DECIMALS)))
        if base:  # quote 1e6 per base 1e9 → price 1e6, rounded half up
            rows.append((f"{side} average price (USD)", fixed((2 * quote * 10**BASE_DECIMALS + base) // (2 * base), 6)))
    rows.append(("maker fills", f"{sum(f.liquidity == 'maker' for f in fills):,}"))
    rows.append(("taker fills", f"{sum(f.liquidity == 'taker' for f in fills):,}"))
    rows.append(("reduce-only fills", f"{sum(f.reduce_only for f in fills):,}"))
    rows.append(("liquidation transfers (order id 0)", f"{sum(f.order_id == 0 for f in fills):,}"))
    split = metrics.fee_split(fills)
    rows.append(("fees paid (USD, a cost)", fixed(split.paid, QUOTE_DECIMALS)))
    rows.append(("rebates earned (USD, an income)", fixed(split.rebates, QUOTE_DECIMALS)))
    body = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in rows)
    return f'<table class="kv">{body}</table>'


_SHOWN_ELSEWHERE: Final = frozenset(
    {
        "pnl",
        "pnl_gross",
        "performance",
        "grid",
        "time_in_state_s",
        "return_pct",
        "max_drawdown_pct",
        "starting_equity",
        "ending_equity",
        "min_health",
        "min_liq_distance_pct",
        "liquidations",
        "orders",
        "fills",
        "maker_share",
    }
)


def _details_table(summary: Mapping[str, Any]) -> str:
    """Everything else summary.json holds (run identity, data files, venue settings), flattened."""
    rows = _flatten({k: v for k, v in summary.items() if k not in _SHOWN_ELSEWHERE})
    if not rows:
        return '<p class="note">No further details.</p>'
    body = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in rows)
    return f'<details><summary>{len(rows)} fields of summary.json</summary><table class="kv">{body}</table></details>'


def _flatten(mapping: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            rows.extend(_flatten(value, name + "."))
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            for i, item in enumerate(value):
                rows.extend(_flatten(item, f"{name}[{i}]."))
        else:
            rows.append((name, _cell(value)))
    return rows


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ", ".join(_cell(v) for v in value)
    return str(value)


# --- formatting -------------------------------------------------------------------------------------------------------


def _dec(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


def _grouped(d: Decimal, places: int, signed: bool) -> str:
    q = metrics.rounded(d, places)
    text = f"{q:,.{places}f}"
    if text.startswith("-") and q == 0:
        text = text[1:]
    return f"+{text}" if signed and q > 0 else text


def _usd(value: Any, signed: bool = False, places: int = 2) -> str:
    d = _dec(value)
    return "–" if d is None else _grouped(d, places, signed)


def _money(quote: int, signed: bool = False) -> str:
    return _grouped(Decimal(quote).scaleb(-QUOTE_DECIMALS), 2, signed)


def _pct(value: Any, signed: bool = False) -> str:
    d = _dec(value)
    return "–" if d is None else _pct_text(d, signed)


def _pct_text(d: Decimal, signed: bool = False) -> str:
    return _grouped(d, 2, signed) + " %"


def _pct_of_fraction(value: Any) -> str:
    d = _dec(value)
    return "–" if d is None else _pct_text(d * 100)


def _ratio(value: Any) -> str:
    d = _dec(value)
    return "–" if d is None else _grouped(d, 2, False)


def _count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else _text(value)


def _text(value: Any) -> str:
    return "–" if value is None else str(value)


def _joined(*parts: str) -> str:
    kept = [p for p in parts if p and p != "–"]
    return " · ".join(kept) if kept else "–"


def _quote_int(value: Any) -> int:
    d = _dec(value)
    return 0 if d is None else int(d.scaleb(QUOTE_DECIMALS))


def _signed_cell(quote: int) -> str:
    return f'<td class="{_tone(quote)}">{_esc(_money(quote, signed=True))}</td>'


def _tone(value: int) -> str:
    return "pos" if value > 0 else "neg" if value < 0 else ""


def _price_text(price: int | None) -> str:
    return "–" if price is None else _grouped(Decimal(price).scaleb(-PRICE_DECIMALS), 4, False)


def _duration(seconds: int) -> str:
    """``3 d 4 h``, ``5 h 20 min``, ``45 s``: the two largest units."""
    if seconds <= 0:
        return "0 s"
    days, rest = divmod(seconds, _DAY)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "min"), (secs, "s")]
    first = next(i for i, (v, _) in enumerate(parts) if v)
    return " ".join(f"{v} {u}" for v, u in parts[first : first + 2] if v)


def _dd_duration(perf: Mapping[str, Any]) -> str:
    seconds = perf.get("max_drawdown_duration_s")
    if not isinstance(seconds, int):
        return "–"
    if seconds == 0:
        return "none"
    return _duration(seconds) + ("" if perf.get("max_drawdown_recovered") else " (not recovered)")


def _span_s(summary: Mapping[str, Any]) -> int | None:
    try:
        start = datetime.fromisoformat(str(summary["from"]).replace("Z", "+00:00"))
        end = datetime.fromisoformat(str(summary["to"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return None
    return int((end - start).total_seconds())


def _cagr_note(seconds: int | None) -> str:
    if seconds is None:
        return "compound annual growth"
    days = seconds / _DAY
    if days < 365:
        return f"compound annual growth, extrapolated from {days:,.0f} days"
    return "compound annual growth"


def _utc(ts: int, fmt: str) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime(fmt)


def _base_unit(summary: Mapping[str, Any]) -> str:
    """``SOL`` for market ``SOL-PERP``; ``base`` when the summary names no market."""
    market = summary.get("market")
    name = market.split("-")[0].strip() if isinstance(market, str) else ""
    return name or "base"


def _px(price: int) -> float:
    return round(price / 10**PRICE_DECIMALS, 4)


def _base(amount: int) -> float:
    return round(amount / 10**BASE_DECIMALS, 6)


def _quote(amount: int) -> float:
    return round(amount / 10**QUOTE_DECIMALS, 2)


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


# --- assembly ---------------------------------------------------------------------------------------------------------


@functools.cache
def _asset(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _inline_script(code: str) -> str:
    # a vendored script could contain "</script" in a string; split it so the HTML parser does not end the block
    return code.replace("</script", "<\\/script")


def _json_block(data: Mapping[str, Any]) -> str:
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


_CSS: Final = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;background:#fff;margin:0 auto;
max-width:1240px;padding:16px 24px}
h1{font-size:22px;margin:8px 0 2px}h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #ddd}
.sub{color:#555;margin:0 0 8px}.note{color:#8a5a00;background:#fff8e5;padding:6px 10px;border-radius:4px}
.caption{color:#666;font-size:12px;margin:2px 0 10px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:16px 32px;align-items:start}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}
table caption{text-align:left;font-weight:600;padding:0 0 4px}
table.summary th{text-align:left;font-weight:500;color:#444;padding:2px 14px 2px 0;white-space:nowrap}
table.summary td{text-align:right;font-family:ui-monospace,Menlo,Consolas,monospace;padding:2px 0;white-space:nowrap}
table.summary td.hint{text-align:left;font-family:inherit;color:#888;font-size:11px;padding-left:12px;
white-space:normal;max-width:230px}
table.summary td+td{padding-left:14px}
table.summary tr.total th,table.summary tr.total td{border-top:1px solid #999;font-weight:600}
table.kv th{text-align:left;font-weight:500;color:#444;padding:2px 18px 2px 0}
table.kv td{text-align:right;font-family:ui-monospace,Menlo,Consolas,monospace;padding:2px 0}
table.kv tr:nth-child(even),table.grid tbody tr:nth-child(even){background:#f6f6f6}
table.grid th{font-weight:600;text-align:right;padding:3px 8px;border-bottom:1px solid #bbb;white-space:nowrap}
table.grid td{text-align:right;font-family:ui-monospace,Menlo,Consolas,monospace;padding:2px 8px;white-space:nowrap}
td.pos{color:#137a13}td.neg{color:#b3261e}
.swatch{display:inline-block;width:10px;height:10px;margin-right:6px;border-radius:2px;vertical-align:baseline}
.scroll{max-height:520px;overflow:auto;border:1px solid #eee}
details summary{cursor:pointer;color:#1f4e79;margin:4px 0}
.chart,.overview{margin:6px 0 2px}
.chart .u-title{font-size:14px;text-align:left;padding-left:8px}
.chart .u-legend{font-size:12px;text-align:left}
.layer-legend{font-size:12px;color:#333;margin:0 0 4px 8px}
.layer-legend span{margin-right:14px;white-space:nowrap}
"""


def _page(title: str, body: str, data: Mapping[str, Any]) -> str:
    vendor_css = _asset(STATIC_DIR / "uPlot.min.css")
    vendor_js = _asset(STATIC_DIR / "uPlot.iife.min.js")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_esc(title)}</title>\n"
        f"<style>{vendor_css}</style>\n<style>{_CSS}</style>\n</head>\n<body>\n{body}\n"
        f'<script type="application/json" id="report-data">{_json_block(data)}</script>\n'
        f"<script>{_inline_script(vendor_js)}</script>\n"
        f"<script>{_inline_script(_asset(_SCRIPT))}</script>\n"
        "</body>\n</html>\n"
    )
