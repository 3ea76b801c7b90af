"""report.html: deterministic, self-contained, bounded in size, honest about empty inputs, spikes and far-off
liquidation prices; its summary is a table of figures that add up (the browser side is in
test_backtest_report_browser.py)."""

from __future__ import annotations

import json
import re
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from botrunner.backtest import metrics
from botrunner.backtest.metrics import LedgerPoint
from botrunner.backtest.report import (
    CHART_BUCKETS,
    LIQ_DISTANCE_CAP_PCT,
    MAX_TRIP_ROWS,
    keep_indices,
    render_report,
)
from botrunner.core.records import FillRow, SnapshotRow

T0 = 1_704_067_200  # 2024-01-01T00:00:00Z
BAR = 300
STATES = ("APPROVE", "CLAMP", "REDUCE_ONLY", "PAUSE")
ALL_CHARTS = ["price", "position", "equity", "drawdown", "pnl", "health", "distance", "risk", "daily"]


def summary() -> dict[str, Any]:
    """A summary.json as ``botrunner backtest`` writes it (figures made up, consistent with each other)."""
    return {
        "run_id": "r1",
        "bot": "grid-sol",
        "market": "SOL-PERP",
        "from": "2024-01-01T00:00:00Z",
        "to": "2024-01-31T00:00:00Z",
        "bars": 3,
        "starting_equity": "10000.000000",
        "ending_equity": "10015.250000",
        "pnl": {
            "realized": "12.500000",
            "unrealized": "2.000000",
            "funding": "2.000000",
            "fees": "1.250000",
            "total": "15.250000",
        },
        "return_pct": "0.1525",
        "max_drawdown_pct": "1.75",
        "orders": 1234,
        "fills": 3,
        "maker_share": "1.0000",
        "liquidations": 0,
        "min_health": 87,
        "min_liq_distance_pct": "42.5000",
        "time_in_state_s": {"APPROVE": 600, "CLAMP": 0, "REDUCE_ONLY": 0, "PAUSE": 300},
        "strategy": "grid",
        "pnl_gross": {
            "fees_paid": "1.500000",
            "rebates_earned": "0.250000",
            "funding_received": "3.000000",
            "funding_paid": "1.000000",
        },
        "performance": {
            "cagr_pct": "1.8700",
            "max_drawdown_duration_s": 90_000,
            "max_drawdown_recovered": False,
            "sharpe": "1.2345",
            "sortino": "2.5000",
            "calmar": "1.0686",
            "daily_returns": 30,
            "round_trips": 4,
            "round_trip_wins": 3,
            "win_rate_pct": "75.0000",
            "profit_factor": "3.5000",
            "buy_and_hold_pnl": "-1286.710949",
            "buy_and_hold_return_pct": "-12.8671",
        },
        "grid": {"cycles": 12, "profit": "9.000000", "profit_per_cycle": "0.750000", "annualised_return_pct": "1.0950"},
        "paper_venue": {"fees": {"maker_ppm": -25}},
    }


def snapshot(i: int, *, mark: int | None = None, liq: int | None = 80_000_000, state: str = "APPROVE") -> SnapshotRow:
    price = mark if mark is not None else 100_000_000 + (i % 97) * 10_000 - (i % 89) * 9_000
    return SnapshotRow(
        ts=T0 + i * BAR,
        mark=price,
        oracle=price,
        position_base=(i % 50 - 25) * 100_000_000,
        entry_price=100_000_000,
        collateral=10_000_000_000,
        unrealized_pnl=(i % 31) * 1_000_000,
        unsettled_pnl=0,
        settled_pnl=0,
        equity=10_000_000_000 + i * 1_000 - (i % 13) * 5_000,
        health=90 - i % 40,
        leverage=12_000,
        liq_price=liq,
        risk_state=state,
        range_low=0 if i < 3 else 95_000_000,
        range_high=0 if i < 3 else 105_000_000,
        band_min=-3_000_000_000,
        band_max=3_000_000_000,
        bid_prices=(price - 500_000, price - 1_000_000),
        ask_prices=(price + 500_000, price + 1_000_000),
        realized=i * 100,
        funding=-i * 10,
        fees=i * 20,
    )


def fill(i: int, side: str = "buy", price: int = 99_500_000) -> FillRow:
    return FillRow(
        ts=T0 + i * BAR,
        order_id=i + 1,
        side=side,
        price=price,
        base=1_000_000_000,
        quote=-price if side == "buy" else price,
        fee=-10_000,
        liquidity="maker",
        reduce_only=False,
    )


def small_run() -> tuple[list[SnapshotRow], list[FillRow]]:
    states = ("APPROVE", "CLAMP", "REDUCE_ONLY", "PAUSE", "APPROVE")
    snaps = [snapshot(i, state=states[i % 5], liq=None if i % 7 == 0 else 80_000_000) for i in range(40)]
    return snaps, [fill(5), fill(9, "sell", 100_500_000), fill(20)]


def chart_data(page: str) -> dict[str, Any]:
    block = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S)
    assert block is not None
    data: dict[str, Any] = json.loads(block.group(1))
    return data


def charts(page: str) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in chart_data(page)["charts"]}


def values(chart: dict[str, Any], label: str) -> list[float | None]:
    (series,) = [s for s in chart["series"] if s["label"] == label]
    out: list[float | None] = series["values"]
    return out


@pytest.fixture(scope="module")
def year_run() -> tuple[list[SnapshotRow], list[FillRow], str]:
    """~100k five-minute bars (a year) with a one-bar spike and 20k fills, rendered once for several tests."""
    n = 100_000
    snaps = [
        snapshot(i, mark=500_000_000 if i == 61_234 else None, state=STATES[(i // 5000) % 4], liq=None if i % 9 else 1)
        for i in range(n)
    ]
    fills = [fill(i, "buy" if i % 10 else "sell") for i in range(0, n, 5)]
    return snaps, fills, render_report(summary(), snaps, fills)


# --- the page -----------------------------------------------------------------------------------------------------


def test_same_input_renders_byte_identical_pages() -> None:
    snaps, fills = small_run()
    assert render_report(summary(), snaps, fills) == render_report(summary(), snaps[::-1], list(fills))


def test_page_is_self_contained_one_file_with_its_library_inline() -> None:
    page = render_report(summary(), *small_run())
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"""\b(src|href)\s*=|url\(|@import""", page)  # nothing is fetched from anywhere
    assert not re.search(r"fetch\(|XMLHttpRequest|WebSocket|localStorage", page)
    assert "uPlot v1.6.32" in page or "(v1.6.32)" in page  # the vendored library, inline
    assert "window.__report" in page  # the report's own script, inline
    assert [c["id"] for c in chart_data(page)["charts"]] == ALL_CHARTS
    for chart_id in ALL_CHARTS:
        assert f'<div class="chart" id="chart-{chart_id}"></div>' in page


def test_every_chart_has_aligned_series_and_sorted_times() -> None:
    for chart in chart_data(render_report(summary(), *small_run()))["charts"]:
        xs = chart["x"]
        assert xs == sorted(xs), chart["id"]
        assert all(len(s["values"]) == len(xs) for s in chart["series"]), chart["id"]
        assert chart["title"] and chart["unit"]


def test_price_chart_carries_range_ladder_and_fills() -> None:
    price = charts(render_report(summary(), *small_run()))["price"]
    assert [s["label"] for s in price["series"]] == ["mark", "range low", "range high"]
    assert price["bands"] == [{"upper": 2, "lower": 1, "fill": "rgba(158,202,225,0.35)"}]
    assert values(price, "range low")[:3] == [None, None, None]  # the strategy had no range yet: a gap
    layers = {layer["label"]: layer for layer in price["layers"]}
    assert set(layers) == {"resting bids", "resting asks", "buy fills (2)", "sell fills (1)"}
    assert layers["sell fills (1)"]["p"] == [100.5]
    assert layers["buy fills (2)"]["up"] is True


def test_pnl_chart_lines_add_up_to_the_total() -> None:
    snaps, fills = small_run()
    pnl = charts(render_report(summary(), snaps, fills))["pnl"]
    parts = ["realized", "unrealized", "funding (+ received)", "fees (− paid, + rebates)"]
    for i in range(len(pnl["x"])):
        total = values(pnl, "total")[i]
        assert total == pytest.approx(sum(values(pnl, p)[i] or 0 for p in parts), abs=0.011)
    fees = values(pnl, "fees (− paid, + rebates)")
    assert fees[-1] == -round(snaps[-1].fees / 1e6, 2)  # fees paid pull the line down


def test_liquidation_distance_axis_is_clipped_to_a_meaningful_range() -> None:
    # a tiny short's liquidation price 10,000 × the price away: a 1,000,000 % distance
    snaps = [snapshot(i, liq=1_000_000_000_000 if i % 2 else 80_000_000) for i in range(20)]
    distance = charts(render_report(summary(), snaps, []))["distance"]
    shown = [v for v in values(distance, "liquidation distance") if v is not None]
    assert max(shown) == LIQ_DISTANCE_CAP_PCT
    assert min(shown) == pytest.approx(20.0, abs=1.0)  # an 80 USD liquidation price under a ~100 USD oracle
    assert distance["y"] == [0, LIQ_DISTANCE_CAP_PCT * 1.05]
    assert "10 of 20 snapshots" in distance["caption"]


def test_risk_strip_has_one_run_per_state_change() -> None:
    snaps = [snapshot(i, state=s) for i, s in enumerate(["APPROVE", "APPROVE", "PAUSE", "NOVEL", "APPROVE"])]
    risk = charts(render_report(summary(), snaps, []))["risk"]
    (strip,) = risk["layers"]
    assert strip["labels"] == [*STATES, "NOVEL"]  # a state outside the closed set still gets a colour
    assert strip["runs"] == [
        [T0, T0 + 2 * BAR, 0],
        [T0 + 2 * BAR, T0 + 3 * BAR, 3],
        [T0 + 3 * BAR, T0 + 4 * BAR, 4],
        [T0 + 4 * BAR, T0 + 4 * BAR, 0],  # the last state holds to the end of the data
    ]


# --- tables -------------------------------------------------------------------------------------------------------


def table(page: str, caption: str) -> list[tuple[str, str]]:
    body = page.split(f"<caption>{caption}</caption>")[1].split("</table>", maxsplit=1)[0]
    return re.findall(r"<tr[^>]*><th>(.*?)</th><td[^>]*>(.*?)</td>", body)


def test_summary_is_a_table_of_the_figures_a_trader_asks_for() -> None:
    page = render_report(summary(), *small_run())
    returns = dict(table(page, "Returns"))
    assert returns["Total PnL"] == "+15.25"
    assert returns["Total return"] == "+0.15 %"
    assert returns["CAGR"] == "+1.87 %"
    assert returns["Buy and hold, same capital"] == "-1,286.71 · -12.87 %"
    risk = dict(table(page, "Risk"))
    assert risk["Max drawdown"] == "1.75 %"
    assert risk["Max drawdown duration"] == "1 d 1 h (not recovered)"
    assert (risk["Sharpe"], risk["Sortino"], risk["Calmar"]) == ("1.23", "2.50", "1.07")
    trading = dict(table(page, "Trading"))
    assert trading["Win rate"] == "75.00 % · 3 of 4"
    assert trading["Profit factor"] == "3.50"
    assert trading["Completed grid cycles"] == "12"
    assert trading["Profit per cycle"] == "+0.7500"
    assert trading["Grid annualised return"] == "+1.10 %"
    states = page.split("<caption>Time in each risk state</caption>")[1].split("</table>")[0]
    assert "APPROVE</th><td>10 min</td><td>" in states
    assert "PAUSE</th><td>5 min</td><td>" in states


def test_pnl_by_source_shows_costs_and_incomes_that_add_up_to_the_total() -> None:
    rows = table(render_report(summary(), *small_run()), "PnL by source (USD, effect on equity)")
    assert rows == [
        ("realized trading PnL", "+12.50"),
        ("unrealized PnL", "+2.00"),
        ("funding received", "+3.00"),
        ("funding paid", "-1.00"),
        ("fees paid", "-1.50"),
        ("rebates earned", "+0.25"),
        ("total", "+15.25"),  # = summary's pnl.total: realized + unrealized + funding − fees
    ]


def test_a_summary_without_the_gross_split_still_reads_fees_as_a_cost_or_an_income() -> None:
    doc = {k: v for k, v in summary().items() if k != "pnl_gross"}
    doc["pnl"] = {**doc["pnl"], "fees": "-0.500000", "total": "17.000000"}  # a net rebate
    rows = dict(table(render_report(doc, [], []), "PnL by source (USD, effect on equity)"))
    assert (rows["fees paid"], rows["rebates earned"], rows["total"]) == ("0.00", "+0.50", "+17.00")


def test_monthly_and_daily_pnl_tables_sum_to_the_run() -> None:
    snaps, fills = small_run()
    start = LedgerPoint(T0, 10_000_000_000)
    end = LedgerPoint(T0 + 40 * BAR, 10_000_050_000, snaps[-1].realized, snaps[-1].funding, snaps[-1].fees)
    page = render_report(summary(), snaps, fills, metrics.equity_curve(start, snaps, end))
    monthly = page.split("<h2>Monthly PnL</h2>")[1].split("</table>")[0]
    assert re.findall(r"<tr><td>(\d{4}-\d\d)</td><td[^>]*>([^<]*)</td>", monthly) == [("2024-01", "+0.05")]
    daily = page.split("<h2>Daily PnL</h2>")[1]
    assert "<summary>1 UTC days</summary>" in daily
    assert charts(page)["daily"]["series"][0]["values"] == [0.05]


def test_round_trip_list_shows_each_trip_and_caps_long_lists() -> None:
    page = render_report(summary(), [], [fill(1), fill(2, "sell", 100_500_000)])
    trips = page.split("<h2>Round trips</h2>")[1].split("</table>")[0]
    (row,) = re.findall(r"<tr><td>1</td>(.*?)</tr>", trips)
    assert "long" in row and "+1.00</td>" in row and "99.5000" in row and "100.5000" in row
    many = [fill(i, "buy" if i % 2 == 0 else "sell") for i in range(2 * MAX_TRIP_ROWS + 10)]
    long_page = render_report(summary(), [], many)
    assert f"the last {MAX_TRIP_ROWS:,} of {MAX_TRIP_ROWS + 5:,} round trips" in long_page


def test_fills_table_gives_exact_decimals_and_fees_as_cost_and_income() -> None:
    page = render_report(summary(), [], [fill(1), fill(2), fill(3, "sell")])
    assert "<tr><th>buy volume (SOL)</th><td>2.000000000</td></tr>" in page
    assert "<tr><th>buy average price (USD)</th><td>99.500000</td></tr>" in page
    assert "<tr><th>fees paid (USD, a cost)</th><td>0.000000</td></tr>" in page
    assert "<tr><th>rebates earned (USD, an income)</th><td>0.030000</td></tr>" in page


def test_other_summary_fields_stay_reachable_under_run_details() -> None:
    page = render_report(summary(), [], [])
    details = page.split("<h2>Run details</h2>")[1]
    assert "<tr><th>paper_venue.fees.maker_ppm</th><td>-25</td></tr>" in details
    assert "<tr><th>run_id</th><td>r1</td></tr>" in details


def test_empty_inputs_give_notes_instead_of_charts() -> None:
    page = render_report({}, [], [])
    assert chart_data(page)["charts"] == []
    assert "No snapshots and no fills were recorded" in page
    assert "The summary is empty." in page
    assert "No fills." in page
    assert "No round trips" in page


def test_fills_without_snapshots_still_get_a_price_chart() -> None:
    page = render_report(summary(), [], [fill(1), fill(4, "sell")])
    assert [c["id"] for c in chart_data(page)["charts"]] == ["price"]
    assert "No snapshots were recorded" in page


def test_a_single_snapshot_renders() -> None:
    page = render_report(summary(), [snapshot(0)], [])
    assert "price" in charts(page)
    text = json.dumps(chart_data(page))
    assert "NaN" not in text and "Infinity" not in text


def test_text_is_escaped_in_the_html_and_in_the_data() -> None:
    evil = '<script>alert("x")</script>'
    doc = {"bot": evil, evil: {"k&<": evil}}
    snaps = [snapshot(i, state=evil) for i in range(5)]
    page = render_report(doc, snaps, [])
    assert page.count("<script") == 3  # the data block, uPlot, the report's script: nothing from the inputs
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert charts(page)["risk"]["layers"][0]["labels"][-1] == evil  # intact once parsed, inert in the page


# --- long runs ----------------------------------------------------------------------------------------------------


def test_year_run_series_are_bounded(year_run: tuple[list[SnapshotRow], list[FillRow], str]) -> None:
    _, _, page = year_run
    columns = {"price": 3, "position": 3, "equity": 2, "drawdown": 2, "pnl": 5, "health": 2, "distance": 2}
    for chart in chart_data(page)["charts"]:
        if chart["id"] in columns:  # keep_indices' bound for the columns the chart was thinned on
            assert len(chart["x"]) <= CHART_BUCKETS * (2 + 3 * columns[chart["id"]]), chart["id"]
    assert len(charts(page)["price"]["x"]) > CHART_BUCKETS  # downsampled, not decimated to nothing


def test_year_run_keeps_a_one_bar_spike(year_run: tuple[list[SnapshotRow], list[FillRow], str]) -> None:
    _, _, page = year_run
    assert max(v for v in values(charts(page)["price"], "mark") if v is not None) == 500.0


def test_year_run_page_stays_under_three_megabytes(year_run: tuple[list[SnapshotRow], list[FillRow], str]) -> None:
    _, _, page = year_run
    assert len(page.encode()) < 3_000_000


def test_year_run_is_deterministic(year_run: tuple[list[SnapshotRow], list[FillRow], str]) -> None:
    snaps, fills, page = year_run
    assert render_report(summary(), snaps[::-1], fills) == page  # input order does not matter either


# --- downsampling -------------------------------------------------------------------------------------------------


def test_keep_indices_of_100k_rows_is_bounded_and_keeps_extremes() -> None:
    xs = list(range(100_000))
    ys: list[float | None] = [float((i * 7919) % 1000) for i in xs]
    ys[4242], ys[77_777] = -5.0, 5000.0
    kept = keep_indices(xs, [ys], buckets=500)
    assert len(kept) <= 500 * 5
    assert 4242 in kept and 77_777 in kept


def test_keep_indices_breaks_lines_at_gaps() -> None:
    xs = list(range(10_000))
    ys: list[float | None] = [None if 4000 <= i < 6000 else float(i) for i in xs]
    kept = keep_indices(xs, [ys], buckets=100)
    assert any(ys[i] is None for i in kept)  # the gap stays a gap when drawn


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.floats(-1e9, 1e9)), min_size=1, max_size=400),
    st.lists(st.one_of(st.none(), st.floats(-1e9, 1e9)), min_size=1, max_size=400),
    st.integers(min_value=1, max_value=60),
)
def test_keep_indices_never_exceeds_the_budget_and_keeps_every_columns_extremes(
    a: list[float | None], b: list[float | None], buckets: int
) -> None:
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    xs = [i * 3 for i in range(n)]
    kept = keep_indices(xs, [a, b], buckets)
    assert kept == sorted(set(kept))
    assert len(kept) <= buckets * (2 + 3 * 2)
    assert kept[0] == 0 and kept[-1] == n - 1
    for column in (a, b):
        present = [v for v in column if v is not None]
        if present:
            assert min(present) in [column[i] for i in kept]
            assert max(present) in [column[i] for i in kept]


def test_money_in_tables_is_rounded_half_to_even_from_exact_decimals() -> None:
    doc = {**summary(), "pnl": {**summary()["pnl"], "total": "0.125000"}}
    returns = dict(table(render_report(doc, [], []), "Returns"))
    assert returns["Total PnL"] == "+0.12"  # 0.125 → 0.12 (half to even), never a float's 0.12499…
    assert Decimal("0.125").quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN) == Decimal("0.12")
