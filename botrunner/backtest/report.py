"""A backtest's ``report.html``: one self-contained page a trader reads after a run.

``render_report`` is pure: the same rows give the same bytes. The page carries its own CSS and inline SVG charts (no
JavaScript, no fonts, no network). Every series is reduced to at most ``MAX_POINTS`` points by keeping the minimum and
the maximum of each time bucket, so a one-year 5-minute run stays a few hundred kilobytes and a one-bar spike still
shows. Charts share one time axis so they line up down the page.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal, assert_never, cast

from botrunner.core.records import BASE_DECIMALS, PRICE_DECIMALS, QUOTE_DECIMALS, FillRow, SnapshotRow, fixed

MAX_POINTS: Final = 1500  # per line series; each time bucket keeps its min and its max
_BUCKETS: Final = MAX_POINTS // 2
_DOT_COLUMNS: Final = 250  # the resting ladder is drawn as the union of its prices per column
_DOT_PRICE_STEPS: Final = 400  # ladder prices snap to 1/400 of their range: finer than a pixel of the price axis
_DOT_ROW_PX: Final = 3.0  # ladder dots closer than this vertically in one column are drawn once

# Geometry of every chart, in SVG user units (the SVG scales to the page width).
_W: Final = 1000
_LEFT: Final = 84
_RIGHT: Final = 24
_PLOT_W: Final = _W - _LEFT - _RIGHT
_TOP: Final = 58  # below the title and the legend
_PANEL_GAP: Final = 18
_AXIS_H: Final = 30  # room for the time labels under the last panel

_RISK_COLOURS: Final = {"APPROVE": "#2ca02c", "CLAMP": "#ffbf00", "REDUCE_ONLY": "#ff7f0e", "PAUSE": "#d62728"}
_RISK_SEVERITY: Final = {"APPROVE": 0, "CLAMP": 1, "REDUCE_ONLY": 2, "PAUSE": 3}
_UNKNOWN_STATE_COLOUR: Final = "#7f7f7f"

Point = tuple[int, float]  # (unix seconds, value in human units)


def render_report(summary: Mapping[str, Any], snapshots: Sequence[SnapshotRow], fills: Sequence[FillRow]) -> str:
    """The whole ``report.html`` page for one backtest.

    ``summary`` is the ``summary.json`` dict (any keys; nested dicts are shown as ``pnl.realized``), ``snapshots`` one
    row per bar and ``fills`` every fill, in Drift precisions. Rows need not be sorted. Empty inputs give a page with
    notes instead of charts. Deterministic: no clock, no random ids, fixed float formatting.
    """
    snaps = sorted(snapshots, key=lambda s: s.ts)
    fill_rows = sorted(fills, key=lambda f: f.ts)
    base_unit = _base_unit(summary)
    title = "Backtest report"
    subtitle = " · ".join(str(summary[k]) for k in ("bot", "market", "run_id") if k in summary)
    period = f"{summary['from']} → {summary['to']}" if "from" in summary and "to" in summary else ""

    body = [f"<h1>{_esc(title)}</h1>"]
    if subtitle or period:
        body.append(f'<p class="sub">{_esc(subtitle)}{"<br>" if subtitle and period else ""}{_esc(period)}</p>')
    body.append("<section><h2>Summary</h2>" + _summary_table(summary) + "</section>")
    body.append("<section><h2>Fills</h2>" + _fills_table(fill_rows, base_unit) + "</section>")

    times = [s.ts for s in snaps] + [f.ts for f in fill_rows]
    if not times:
        body.append('<p class="note">No snapshots and no fills were recorded, so there are no charts.</p>')
    else:
        x0, x1 = min(times), max(times)
        if x0 == x1:  # one instant: give the axis some width
            x0, x1 = x0 - 60, x1 + 60
        body.append(_section("Price", _price_chart(snaps, fill_rows, x0, x1)))
        if snaps:
            body.append(_section("Position", _position_chart(snaps, base_unit, x0, x1)))
            body.append(_section("Equity and PnL", _equity_chart(snaps, x0, x1)))
            body.append(_section("Health and liquidation distance", _health_chart(snaps, x0, x1)))
            body.append(_section("Risk state", _risk_chart(snaps, x0, x1)))
        else:
            body.append(
                '<p class="note">No snapshots were recorded, so there are no position, equity, health or risk '
                "charts.</p>"
            )
    return _page(title + (f" — {subtitle}" if subtitle else ""), "\n".join(body))


# --- downsampling -----------------------------------------------------------------------------------------------------


def downsample(
    xs: Sequence[int], ys: Sequence[float | None], max_points: int = MAX_POINTS, domain: tuple[int, int] | None = None
) -> list[list[Point]]:
    """Line segments of at most ``max_points`` points in all: per time bucket, the minimum and the maximum sample.

    ``xs`` must be sorted. ``None`` values break the line (a gap narrower than one bucket is bridged). The global
    minimum and maximum always survive, so spikes stay visible. ``domain`` fixes the bucket grid (default: the data).
    """
    if not xs:
        return []
    lo, hi = domain if domain is not None else (xs[0], xs[-1])
    return _minmax_lines(_group(xs, [y is not None for y in ys], lo, hi, max(1, max_points // 2)), xs, ys)


@dataclass(frozen=True, slots=True)
class _Group:
    """The valid samples of one time bucket, by index, and whether a gap precedes them."""

    indices: list[int]
    gap_before: bool


def _group(xs: Sequence[int], valid: Sequence[bool], x0: int, x1: int, buckets: int) -> list[_Group]:
    span = x1 - x0 + 1
    groups: list[_Group] = []
    key = -1
    pending_gap = False
    for i, x in enumerate(xs):
        if not valid[i]:
            pending_gap = True
            continue
        k = (x - x0) * buckets // span
        if not groups or k != key:
            groups.append(_Group([i], pending_gap and bool(groups)))
            key = k
        else:
            groups[-1].indices.append(i)
        pending_gap = False
    return groups


def _minmax_lines(groups: Sequence[_Group], xs: Sequence[int], ys: Sequence[float | None]) -> list[list[Point]]:
    value = cast(Callable[[int], float], ys.__getitem__)  # _group keeps only indices of valid (float) samples
    segments: list[list[Point]] = []
    for g in groups:
        if g.gap_before or not segments:
            segments.append([])
        lo = min(g.indices, key=value)
        hi = max(g.indices, key=value)
        for i in sorted({lo, hi}):
            segments[-1].append((xs[i], _num(ys[i])))
    return segments


def _band_segments(
    groups: Sequence[_Group], xs: Sequence[int], lows: Sequence[float], highs: Sequence[float]
) -> list[list[tuple[int, float, float]]]:
    """Per bucket the envelope (lowest low, highest high) at the bucket's first and last sample time."""
    segments: list[list[tuple[int, float, float]]] = []
    for g in groups:
        if g.gap_before or not segments:
            segments.append([])
        low = min(lows[i] for i in g.indices)
        high = max(highs[i] for i in g.indices)
        first, last = g.indices[0], g.indices[-1]
        segments[-1].append((xs[first], low, high))
        if last != first:
            segments[-1].append((xs[last], low, high))
    return segments


def _num(y: float | None) -> float:
    assert y is not None  # _group only keeps valid samples
    return y


# --- chart model ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Line:
    label: str
    colour: str
    segments: list[list[Point]]
    dashed: bool = False


@dataclass(frozen=True, slots=True)
class _Band:
    label: str
    colour: str
    segments: list[list[tuple[int, float, float]]]


@dataclass(frozen=True, slots=True)
class _Dots:
    """Small dots (the resting ladder), already binned to columns; thinned to pixel rows when drawn."""

    label: str
    colour: str
    points: list[Point]


@dataclass(frozen=True, slots=True)
class _Markers:
    """Triangles (fills): up for buys, down for sells."""

    label: str
    colour: str
    points: list[Point]
    up: bool


_Layer = _Line | _Band | _Dots | _Markers


@dataclass(frozen=True, slots=True)
class _Panel:
    layers: list[_Layer]
    unit: str
    height: int = 220
    y_fixed: tuple[float, float] | None = None
    zero_line: bool = False  # the axis includes 0, marked by a line when 0 is inside it


@dataclass(frozen=True, slots=True)
class _Strip:
    """A coloured strip of categories over time: (start bucket, end bucket exclusive, category)."""

    runs: list[tuple[int, int, str]]
    buckets: int
    colours: dict[str, str]
    unit: str
    height: int = 34


_LegendKind = Literal["line", "dashed", "band", "dots", "up", "down", "block"]


@dataclass(frozen=True, slots=True)
class _LegendItem:
    kind: _LegendKind
    label: str
    colour: str


# --- the five charts --------------------------------------------------------------------------------------------------


def _price_chart(snaps: Sequence[SnapshotRow], fills: Sequence[FillRow], x0: int, x1: int) -> str:
    xs = [s.ts for s in snaps]
    layers: list[_Layer] = []
    notes: list[str] = []
    if snaps:
        ranged = [s.range_low != 0 and s.range_high != 0 for s in snaps]
        band = _band_segments(
            _group(xs, ranged, x0, x1, _BUCKETS),
            xs,
            [_px(s.range_low) for s in snaps],
            [_px(s.range_high) for s in snaps],
        )
        if band:
            layers.append(_Band("strategy range", "#9ecae1", band))
        bids, asks = _ladder_dots(snaps, x0, x1)
        if bids:
            layers.append(_Dots("resting bids", "#2ca02c", bids))
        if asks:
            layers.append(_Dots("resting asks", "#d62728", asks))
        layers.append(_Line("mark", "#1f4e79", downsample(xs, [_px(s.mark) for s in snaps], domain=(x0, x1))))
        notes.append(f"{len(snaps):,} snapshots")
    for side, colour, up in (("buy", "#138a13", True), ("sell", "#c11b1b", False)):
        rows = [f for f in fills if f.side == side]
        if rows:
            segments = downsample([f.ts for f in rows], [_px(f.price) for f in rows], domain=(x0, x1))
            points = [p for seg in segments for p in seg]
            layers.append(_Markers(f"{side} fills ({len(rows):,})", colour, points, up))
    if not fills:
        notes.append("no fills")
    elif len(fills) > MAX_POINTS:
        notes.append("fill markers show the lowest and highest fill per time bucket")
    svg = _chart("Price (USD)", [_Panel(layers, "USD", height=300)], x0, x1)
    return svg + _caption(notes)


def _position_chart(snaps: Sequence[SnapshotRow], base_unit: str, x0: int, x1: int) -> str:
    xs = [s.ts for s in snaps]
    groups = _group(xs, [True] * len(xs), x0, x1, _BUCKETS)
    band = _band_segments(groups, xs, [_base(s.band_min) for s in snaps], [_base(s.band_max) for s in snaps])
    line = _minmax_lines(groups, xs, [_base(s.position_base) for s in snaps])
    layers: list[_Layer] = [_Band("approved band", "#cab2d6", band), _Line("position", "#6a3d9a", line)]
    title = f"Position vs approved band ({base_unit})"
    return _chart(title, [_Panel(layers, base_unit, zero_line=True)], x0, x1)


def _equity_chart(snaps: Sequence[SnapshotRow], x0: int, x1: int) -> str:
    xs = [s.ts for s in snaps]
    groups = _group(xs, [True] * len(xs), x0, x1, _BUCKETS)

    def line(label: str, colour: str, values: list[float], dashed: bool = False) -> _Line:
        return _Line(label, colour, _minmax_lines(groups, xs, values), dashed)

    equity = _Panel([line("equity", "#1f4e79", [_quote(s.equity) for s in snaps])], "USD")
    pnl = _Panel(
        [
            line("realized", "#2ca02c", [_quote(s.realized) for s in snaps]),
            line("unrealized", "#ff7f0e", [_quote(s.unrealized_pnl) for s in snaps]),
            line("funding", "#17becf", [_quote(s.funding) for s in snaps]),
            line("−fees", "#d62728", [_quote(-s.fees) for s in snaps]),
            line(
                "total (sum)",
                "#333333",
                [_quote(s.realized + s.unrealized_pnl + s.funding - s.fees) for s in snaps],
                dashed=True,
            ),
        ],
        "USD",
        zero_line=True,
    )
    return _chart("Equity and cumulative PnL split (USD)", [equity, pnl], x0, x1) + _caption(
        ["top: equity; bottom: cumulative PnL parts, total = realized + unrealized + funding − fees"]
    )


def _health_chart(snaps: Sequence[SnapshotRow], x0: int, x1: int) -> str:
    xs = [s.ts for s in snaps]
    health = _Panel(
        [_Line("health", "#2ca02c", downsample(xs, [float(s.health) for s in snaps], domain=(x0, x1)))],
        "health",
        height=160,
        y_fixed=(0.0, 100.0),
    )
    distance = _Panel(
        [
            _Line(
                "liquidation distance %", "#d62728", downsample(xs, [_liq_distance(s) for s in snaps], domain=(x0, x1))
            )
        ],
        "%",
        height=160,
        zero_line=True,
    )
    notes = ["liquidation distance = |oracle − liquidation price| / oracle × 100; gaps: no liquidation price"]
    return _chart("Health (0–100) and liquidation distance (%)", [health, distance], x0, x1) + _caption(notes)


def _risk_chart(snaps: Sequence[SnapshotRow], x0: int, x1: int) -> str:
    span = x1 - x0 + 1
    worst: dict[int, str] = {}
    for s in snaps:
        k = (s.ts - x0) * _BUCKETS // span
        held = worst.get(k)
        if held is None or _severity(s.risk_state) > _severity(held):
            worst[k] = s.risk_state
    runs: list[tuple[int, int, str]] = []
    first, last = min(worst), max(worst)
    state = worst[first]
    for k in range(first, last + 1):  # a state holds until the next snapshot, so empty buckets keep it
        state = worst.get(k, state)
        if runs and runs[-1][2] == state and runs[-1][1] == k:
            runs[-1] = (runs[-1][0], k + 1, state)
        else:
            runs.append((k, k + 1, state))
    colours = dict(_RISK_COLOURS)
    for s in snaps:  # states outside the closed set still get a colour and a legend entry
        colours.setdefault(s.risk_state, _UNKNOWN_STATE_COLOUR)
    strip = _Strip(runs, _BUCKETS, colours, "state")
    notes = ["each sliver shows the most restrictive state in its time bucket"]
    return _chart("Risk state", [strip], x0, x1) + _caption(notes)


def _severity(state: str) -> int:
    return _RISK_SEVERITY.get(state, len(_RISK_SEVERITY))  # an unknown state is worth seeing: rank it highest


def _ladder_dots(snaps: Sequence[SnapshotRow], x0: int, x1: int) -> tuple[list[Point], list[Point]]:
    """The union of resting prices per time column, for bids and for asks, at the column's centre time.

    Prices are snapped to ``_DOT_PRICE_STEPS`` steps of the ladder's whole price range (under a pixel on the chart),
    so a column holds a few hundred dots at most however many orders rested in it.
    """
    prices = [p for s in snaps for side in (s.bid_prices, s.ask_prices) for p in side]
    if not prices:
        return [], []
    low = min(prices)
    step = max(1, (max(prices) - low) // _DOT_PRICE_STEPS)
    span = x1 - x0 + 1
    bid_cols: dict[int, set[int]] = {}
    ask_cols: dict[int, set[int]] = {}
    for s in snaps:
        k = (s.ts - x0) * _DOT_COLUMNS // span
        if s.bid_prices:
            bid_cols.setdefault(k, set()).update((p - low) // step for p in s.bid_prices)
        if s.ask_prices:
            ask_cols.setdefault(k, set()).update((p - low) // step for p in s.ask_prices)

    def points(cols: dict[int, set[int]]) -> list[Point]:
        centre = [x0 + (2 * k + 1) * span // (2 * _DOT_COLUMNS) for k in range(_DOT_COLUMNS)]
        return [(centre[k], _px(low + q * step + step // 2)) for k in sorted(cols) for q in sorted(cols[k])]

    return points(bid_cols), points(ask_cols)


def _liq_distance(s: SnapshotRow) -> float | None:
    if s.liq_price is None or s.oracle == 0:
        return None
    return abs(s.oracle - s.liq_price) * 100 / s.oracle


# --- SVG --------------------------------------------------------------------------------------------------------------


def _chart(title: str, panels: Sequence[_Panel | _Strip], x0: int, x1: int) -> str:
    """One ``<svg>``: a title, a legend, the panels stacked on one time axis, time labels under the last."""
    height = _TOP + sum(p.height for p in panels) + _PANEL_GAP * (len(panels) - 1) + _AXIS_H
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {height}" role="img" '
        f'aria-label="{_esc(title)}" class="chart">',
        f'<text x="{_LEFT}" y="18" class="title">{_esc(title)}</text>',
        _legend(_legend_items(panels)),
    ]

    def sx(ts: float) -> float:
        return _LEFT + (ts - x0) * _PLOT_W / (x1 - x0)

    ticks = _time_ticks(x0, x1)
    top = _TOP
    for panel in panels:
        match panel:
            case _Panel():
                out.append(_render_panel(panel, top, sx, ticks))
            case _Strip():
                out.append(_render_strip(panel, top, ticks, sx))
            case _:
                assert_never(panel)
        top += panel.height + _PANEL_GAP
    bottom = top - _PANEL_GAP
    for ts, label in ticks:
        x = sx(ts)
        anchor = "end" if x > _W - 50 else "middle"
        out.append(f'<text x="{_f(x)}" y="{bottom + 16}" text-anchor="{anchor}">{_esc(label)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def _render_panel(panel: _Panel, top: int, sx: Callable[[float], float], ticks: Sequence[tuple[int, str]]) -> str:
    values = _layer_values(panel.layers)
    if panel.y_fixed is not None:
        lo, hi = panel.y_fixed
        step, decimals = _nice_step((hi - lo) / 5)
        y_ticks = [lo + k * step for k in range(round((hi - lo) / step) + 1)]
    else:
        data_lo = min(values, default=0.0)
        data_hi = max(values, default=1.0)
        if panel.zero_line:  # amounts around zero (position, PnL, distances) read best with zero on the axis
            data_lo, data_hi = min(data_lo, 0.0), max(data_hi, 0.0)
        lo, hi, y_ticks, decimals = _nice_axis(data_lo, data_hi)
    h = panel.height
    bottom = top + h

    def sy(v: float) -> float:
        return bottom - (v - lo) * h / (hi - lo)

    out = [f'<rect x="{_LEFT}" y="{top}" width="{_PLOT_W}" height="{h}" class="plot"/>']
    grid = [f"M{_f(sx(ts))} {top}V{bottom}" for ts, _ in ticks]
    grid += [f"M{_LEFT} {_f(sy(v))}H{_LEFT + _PLOT_W}" for v in y_ticks]
    out.append(f'<path d="{"".join(grid)}" class="grid"/>')
    for v in y_ticks:
        out.append(f'<text x="{_LEFT - 6}" y="{_f(sy(v) + 4)}" text-anchor="end">{_tick_label(v, decimals)}</text>')
    out.append(
        f'<text transform="translate(16 {_f(top + h / 2)}) rotate(-90)" text-anchor="middle">{_esc(panel.unit)}</text>'
    )
    if panel.zero_line and lo < 0 < hi:
        out.append(f'<path d="M{_LEFT} {_f(sy(0.0))}H{_LEFT + _PLOT_W}" class="zero"/>')
    for layer in panel.layers:
        out.append(_render_layer(layer, sx, sy))
    if not values:
        out.append(f'<text x="{_f(_LEFT + _PLOT_W / 2)}" y="{_f(top + h / 2)}" text-anchor="middle">no data</text>')
    out.append(f'<rect x="{_LEFT}" y="{top}" width="{_PLOT_W}" height="{h}" class="frame"/>')
    return "\n".join(o for o in out if o)


def _render_layer(layer: _Layer, sx: Callable[[float], float], sy: Callable[[float], float]) -> str:
    match layer:
        case _Band(_, colour, bands):
            polys = []
            for band in bands:
                upper = [f"{_f(sx(x))} {_f(sy(high))}" for x, _, high in band]
                lower = [f"{_f(sx(x))} {_f(sy(low))}" for x, low, _ in reversed(band)]
                polys.append("M" + "L".join(upper + lower) + "Z")
            return f'<path d="{"".join(polys)}" fill="{colour}" fill-opacity="0.45" stroke="none"/>'
        case _Line(_, colour, lines, dashed):
            parts = []
            for line in lines:
                parts.append(
                    "M" + "L".join(f"{_f(sx(x))} {_f(sy(y))}" for x, y in line) + ("h0" if len(line) == 1 else "")
                )
            dash = ' stroke-dasharray="5 3"' if dashed else ""
            return f'<path d="{"".join(parts)}" class="line" stroke="{colour}"{dash}/>'
        case _Dots(_, colour, points):
            seen: set[tuple[float, int]] = set()
            dots = []
            for x, y in points:
                px, py = sx(x), sy(y)
                key = (px, math.floor(py / _DOT_ROW_PX))
                if key not in seen:
                    seen.add(key)
                    dots.append(f"M{_f(px)} {_f(py)}h0")
            return f'<path d="{"".join(dots)}" class="dots" stroke="{colour}"/>'
        case _Markers(_, colour, points, up):
            shape = "l4.5 8h-9z" if up else "l4.5 -8h-9z"
            offset = -4.0 if up else 4.0  # centre the triangle on the fill price
            tris = "".join(f"M{_f(sx(x))} {_f(sy(y) + offset)}{shape}" for x, y in points)
            return f'<path d="{tris}" fill="{colour}" class="marker"/>'
        case _:
            assert_never(layer)


def _render_strip(strip: _Strip, top: int, ticks: Sequence[tuple[int, str]], sx: Callable[[float], float]) -> str:
    h = strip.height
    out = [f'<rect x="{_LEFT}" y="{top}" width="{_PLOT_W}" height="{h}" class="plot"/>']
    width = _PLOT_W / strip.buckets
    for start, end, state in strip.runs:
        x = _LEFT + start * width
        out.append(
            f'<rect x="{_f(x)}" y="{top}" width="{_f((end - start) * width)}" height="{h}" '
            f'fill="{strip.colours[state]}"><title>{_esc(state)}</title></rect>'
        )
    ticks_marks = "".join(f"M{_f(sx(ts))} {top + h}v4" for ts, _ in ticks)
    out.append(f'<path d="{ticks_marks}" class="frame"/>')
    out.append(f'<text x="{_LEFT - 6}" y="{_f(top + h / 2 + 4)}" text-anchor="end">{_esc(strip.unit)}</text>')
    out.append(f'<rect x="{_LEFT}" y="{top}" width="{_PLOT_W}" height="{h}" class="frame"/>')
    return "\n".join(out)


def _legend_items(panels: Sequence[_Panel | _Strip]) -> list[_LegendItem]:
    items: list[_LegendItem] = []
    for panel in panels:
        match panel:
            case _Panel():
                for layer in panel.layers:
                    match layer:
                        case _Line():
                            items.append(_LegendItem("dashed" if layer.dashed else "line", layer.label, layer.colour))
                        case _Band():
                            items.append(_LegendItem("band", layer.label, layer.colour))
                        case _Dots():
                            items.append(_LegendItem("dots", layer.label, layer.colour))
                        case _Markers():
                            items.append(_LegendItem("up" if layer.up else "down", layer.label, layer.colour))
            case _Strip():
                items.extend(_LegendItem("block", state, colour) for state, colour in panel.colours.items())
    return items


def _legend(items: Sequence[_LegendItem]) -> str:
    out = []
    x, y = float(_LEFT), 38.0
    for item in items:
        width = 34 + 7.0 * len(item.label)  # generous: a wide font must not run labels into the next swatch
        if x + width > _W - _RIGHT and x > _LEFT:  # wrap onto a second row rather than run off the edge
            x, y = float(_LEFT), y + 14
        c = item.colour
        match item.kind:
            case "line" | "dashed":
                dash = ' stroke-dasharray="5 3"' if item.kind == "dashed" else ""
                out.append(f'<path d="M{_f(x)} {_f(y - 4)}h18" class="line" stroke="{c}"{dash}/>')
            case "band" | "block":
                opacity = ' fill-opacity="0.45"' if item.kind == "band" else ""
                out.append(f'<rect x="{_f(x)}" y="{_f(y - 9)}" width="18" height="10" fill="{c}"{opacity}/>')
            case "dots":
                out.append(
                    f'<path d="M{_f(x + 5)} {_f(y - 4)}h0M{_f(x + 13)} {_f(y - 4)}h0" class="dots" stroke="{c}"/>'
                )
            case "up":
                out.append(f'<path d="M{_f(x + 9)} {_f(y - 9)}l4.5 8h-9z" fill="{c}" class="marker"/>')
            case "down":
                out.append(f'<path d="M{_f(x + 9)} {_f(y + 1)}l4.5 -8h-9z" fill="{c}" class="marker"/>')
            case _:
                assert_never(item.kind)
        out.append(f'<text x="{_f(x + 24)}" y="{_f(y)}">{_esc(item.label)}</text>')
        x += width
    return "\n".join(out)


def _layer_values(layers: Sequence[_Layer]) -> list[float]:
    values: list[float] = []
    for layer in layers:
        match layer:
            case _Band():
                for seg in layer.segments:
                    values.extend(v for _, low, high in seg for v in (low, high))
            case _Line():
                for line_seg in layer.segments:
                    values.extend(y for _, y in line_seg)
            case _Dots() | _Markers():
                values.extend(y for _, y in layer.points)
    return values


# --- axes -------------------------------------------------------------------------------------------------------------


def _nice_step(raw: float) -> tuple[float, int]:
    """The 1-2-5 step at or above ``raw``, and the decimals its labels need."""
    exponent = math.floor(math.log10(raw))
    for mantissa in (1, 2, 5):
        if mantissa * 10.0**exponent >= raw:
            return mantissa * 10.0**exponent, max(0, -exponent)
    return 10.0 ** (exponent + 1), max(0, -(exponent + 1))


def _nice_axis(lo: float, hi: float, target: int = 5) -> tuple[float, float, list[float], int]:
    """An axis from a tick at or below ``lo`` to a tick at or above ``hi``: (low, high, ticks, label decimals)."""
    if not hi > lo:  # a flat series: open the axis around it
        pad = abs(lo) * 0.01 or 1.0
        lo, hi = lo - pad, hi + pad
    step, decimals = _nice_step((hi - lo) / target)
    k0, k1 = math.floor(lo / step), math.ceil(hi / step)
    return k0 * step, k1 * step, [k * step for k in range(k0, k1 + 1)], decimals


def _tick_label(v: float, decimals: int) -> str:
    text = f"{v:,.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text.replace(",", "")) == 0 else text


_TIME_STEPS: Final = (60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400)
_MAX_TIME_TICKS: Final = 7


def _time_ticks(x0: int, x1: int) -> list[tuple[int, str]]:
    """UTC ticks at round times (minutes to weeks, then whole months) with ISO labels."""
    for step in _TIME_STEPS:
        if (x1 - x0) // step <= _MAX_TIME_TICKS:
            fmt = "%Y-%m-%d" if step >= 86400 else "%Y-%m-%d %H:%M"
            first = -(-x0 // step) * step
            return [(t, _utc(t, fmt)) for t in range(first, x1 + 1, step)]
    start = datetime.fromtimestamp(x0, tz=UTC)
    months = 1
    while (x1 - x0) / (30.44 * 86400 * months) > _MAX_TIME_TICKS:
        months = {1: 2, 2: 3, 3: 6, 6: 12}.get(months, months * 2)
    index = (
        start.year * 12
        + start.month
        - 1
        + (0 if (start.day, start.hour, start.minute, start.second) == (1, 0, 0, 0) else 1)
    )
    index = -(-index // months) * months  # month steps aligned to the calendar (quarters, halves, years)
    ticks: list[tuple[int, str]] = []
    while True:
        ts = int(datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC).timestamp())
        if ts > x1:
            return ticks
        ticks.append((ts, _utc(ts, "%Y-%m-%d")))
        index += months


def _utc(ts: int, fmt: str) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime(fmt)


# --- tables and page --------------------------------------------------------------------------------------------------


def _flatten(mapping: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            rows.extend(_flatten(value, name + "."))
        else:
            rows.append((name, _cell(value)))
    return rows


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ", ".join(_cell(v) for v in value)
    return str(value)


def _summary_table(summary: Mapping[str, Any]) -> str:
    rows = _flatten(summary)
    if not rows:
        return '<p class="note">The summary is empty.</p>'
    body = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in rows)
    return f'<table class="kv">{body}</table>'


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
    rows.append(("fees net (USD, + paid)", fixed(sum(f.fee for f in fills), QUOTE_DECIMALS)))
    body = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in rows)
    return f'<table class="kv">{body}</table>'


def _section(heading: str, content: str) -> str:
    return f"<section><h2>{_esc(heading)}</h2>\n{content}\n</section>"


def _caption(notes: Sequence[str]) -> str:
    return f'\n<p class="caption">{_esc("; ".join(notes))}</p>' if notes else ""


_CSS: Final = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;background:#fff;margin:0 auto;
max-width:1080px;padding:16px 24px}
h1{font-size:22px;margin:8px 0 2px}h2{font-size:17px;margin:22px 0 6px;border-bottom:1px solid #ddd}
.sub{color:#555;margin:0 0 8px}.note{color:#8a5a00;background:#fff8e5;padding:6px 10px;border-radius:4px}
.caption{color:#666;font-size:12px;margin:2px 0 0}
table.kv{border-collapse:collapse;font-variant-numeric:tabular-nums}
table.kv th{text-align:left;font-weight:500;color:#444;padding:2px 18px 2px 0}
table.kv td{text-align:right;font-family:ui-monospace,Menlo,Consolas,monospace;padding:2px 0}
table.kv tr:nth-child(even){background:#f6f6f6}
svg.chart{width:100%;height:auto;display:block}
svg.chart text{font:11px system-ui,sans-serif;fill:#333}
svg.chart text.title{font-size:14px;font-weight:600}
svg .plot{fill:#fcfcfc}svg .frame{fill:none;stroke:#999;stroke-width:1}
svg .grid{fill:none;stroke:#e6e6e6;stroke-width:1}svg .zero{fill:none;stroke:#888;stroke-width:1}
svg .line{fill:none;stroke-width:1.4;stroke-linejoin:round;stroke-linecap:round}
svg .dots{fill:none;stroke-width:2.4;stroke-linecap:round;stroke-opacity:0.55}
svg .marker{stroke:#222;stroke-width:0.5}
"""


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


# --- units ------------------------------------------------------------------------------------------------------------


def _base_unit(summary: Mapping[str, Any]) -> str:
    """``SOL`` for market ``SOL-PERP``; ``base`` when the summary names no market."""
    market = summary.get("market")
    name = market.split("-")[0].strip() if isinstance(market, str) else ""
    return name or "base"


def _px(price: int) -> float:
    return price / 10**PRICE_DECIMALS


def _base(amount: int) -> float:
    return amount / 10**BASE_DECIMALS


def _quote(amount: int) -> float:
    return amount / 10**QUOTE_DECIMALS


def _f(v: float) -> str:
    """Coordinates to 0.1 unit: byte-stable and small."""
    text = f"{v:.1f}"
    return "0.0" if text == "-0.0" else text


def _esc(text: str) -> str:
    return html.escape(text, quote=True)
