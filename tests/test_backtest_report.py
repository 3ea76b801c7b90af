"""report.html: deterministic, self-contained, bounded in size, honest about empty inputs and spikes."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from botrunner.backtest.report import MAX_POINTS, downsample, render_report
from botrunner.core.records import FillRow, SnapshotRow

T0 = 1_704_067_200  # 2024-01-01T00:00:00Z
BAR = 300
STATES = ("APPROVE", "CLAMP", "REDUCE_ONLY", "PAUSE")
CHART_COUNT = 5  # price, position, equity, health, risk


def summary() -> dict[str, Any]:
    return {
        "run_id": "r1",
        "bot": "grid-sol",
        "market": "SOL-PERP",
        "from": "2024-01-01T00:00:00Z",
        "to": "2024-12-31T00:00:00Z",
        "bars": 3,
        "starting_equity": "10000.000000",
        "pnl": {"realized": "12.500000", "fees": "1.250000"},
        "time_in_state_s": {"APPROVE": 600, "PAUSE": 300},
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
        equity=10_000_000_000 + i * 1_000,
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


def fill(i: int, side: str = "buy") -> FillRow:
    return FillRow(
        ts=T0 + i * BAR,
        order_id=i + 1,
        side=side,
        price=99_500_000,
        base=1_000_000_000,
        quote=-99_500_000 if side == "buy" else 99_500_000,
        fee=-10_000,
        liquidity="maker",
        reduce_only=False,
    )


def small_run() -> tuple[list[SnapshotRow], list[FillRow]]:
    states = ("APPROVE", "CLAMP", "REDUCE_ONLY", "PAUSE", "APPROVE")
    snaps = [snapshot(i, state=states[i % 5], liq=None if i % 7 == 0 else 80_000_000) for i in range(40)]
    return snaps, [fill(5), fill(9, "sell"), fill(20)]


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


def path_points(page: str, stroke: str) -> int:
    """How many coordinates the longest line drawn in ``stroke`` has (one <path> per line, legend swatches too)."""
    paths = re.findall(rf'<path d="([^"]*)" class="line" stroke="{stroke}"', page)
    assert paths
    return max(len(re.findall(r"[ML]-?\d", d)) for d in paths)


def test_same_input_renders_byte_identical_pages() -> None:
    snaps, fills = small_run()
    assert render_report(summary(), snaps, fills) == render_report(summary(), list(snaps), list(fills))


def test_page_is_self_contained_with_one_svg_per_chart() -> None:
    page = render_report(summary(), *small_run())
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<svg") == CHART_COUNT
    assert page.count("</svg>") == CHART_COUNT
    assert "<script" not in page
    assert not re.search(r"(src|href)=|url\(|@import", page)  # nothing fetched from anywhere


def test_every_chart_has_a_title_legend_and_time_labels() -> None:
    page = render_report(summary(), *small_run())
    for title in (
        "Price (USD)",
        "Position vs approved band (SOL)",
        "Equity and cumulative PnL split",
        "Health",
        "Risk",
    ):
        assert f'class="title">{title}' in page
    for legend in ("mark", "strategy range", "resting bids", "resting asks", "buy fills (2)", "sell fills (1)"):
        assert f">{legend}</text>" in page
    for legend in ("approved band", "position", "equity", "realized", "unrealized", "funding", "−fees", "health"):
        assert f">{legend}</text>" in page
    for state in STATES:
        assert f">{state}</text>" in page
    assert ">2024-01-01 00:00</text>" in page  # UTC ISO time labels


def test_summary_table_flattens_nested_keys_in_order() -> None:
    page = render_report(summary(), [], [])
    keys = re.findall(r"<tr><th>([^<]*)</th>", page)
    assert keys[:11] == [
        "run_id",
        "bot",
        "market",
        "from",
        "to",
        "bars",
        "starting_equity",
        "pnl.realized",
        "pnl.fees",
        "time_in_state_s.APPROVE",
        "time_in_state_s.PAUSE",
    ]
    assert "<td>12.500000</td>" in page


def test_fills_table_gives_exact_decimal_figures() -> None:
    page = render_report(summary(), [], [fill(1), fill(2), fill(3, "sell")])
    assert "<tr><th>buy volume (SOL)</th><td>2.000000000</td></tr>" in page
    assert "<tr><th>buy average price (USD)</th><td>99.500000</td></tr>" in page
    assert "<tr><th>fees net (USD, + paid)</th><td>-0.030000</td></tr>" in page


def test_empty_inputs_give_notes_instead_of_charts() -> None:
    page = render_report({}, [], [])
    assert "<svg" not in page
    assert "No snapshots and no fills were recorded" in page
    assert "The summary is empty." in page
    assert "No fills." in page


def test_fills_without_snapshots_still_get_a_price_chart() -> None:
    page = render_report(summary(), [], [fill(1), fill(4, "sell")])
    assert page.count("<svg") == 1
    assert "No snapshots were recorded" in page


def test_snapshots_without_fills_say_so() -> None:
    page = render_report(summary(), small_run()[0], [])
    assert page.count("<svg") == CHART_COUNT
    assert "no fills" in page
    assert "fills (" not in page


def test_a_single_snapshot_renders() -> None:
    page = render_report(summary(), [snapshot(0)], [])
    assert page.count("<svg") == CHART_COUNT
    assert "nan" not in page.lower()


def test_a_series_with_no_values_is_labelled_no_data() -> None:
    page = render_report(summary(), [snapshot(i, liq=None) for i in range(10)], [])
    assert ">no data</text>" in page


def test_text_is_escaped() -> None:
    evil = '<script>alert("x")</script>'
    s = {"bot": evil, evil: {"k&<": evil}}
    snaps = [snapshot(i, state=evil) for i in range(5)]
    page = render_report(s, snaps, [])
    assert "<script" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;.k&amp;&lt;" in page


def test_year_run_lines_are_bounded_to_max_points(year_run: tuple[list[SnapshotRow], list[FillRow], str]) -> None:
    _, _, page = year_run
    for stroke in ("#1f4e79", "#6a3d9a", "#2ca02c"):  # mark (and equity), position, realized/health
        assert path_points(page, stroke) <= MAX_POINTS
    assert path_points(page, "#1f4e79") > MAX_POINTS // 2  # downsampled, not decimated to nothing


def test_year_run_keeps_a_one_bar_spike_in_the_price_axis(
    year_run: tuple[list[SnapshotRow], list[FillRow], str],
) -> None:
    _, _, page = year_run
    price_chart = page[page.index("Price (USD)") : page.index("</svg>")]
    labels = [float(v.replace(",", "")) for v in re.findall(r'text-anchor="end">(-?[\d,.]+)</text>', price_chart)]
    assert max(labels) >= 500  # the 500 USD bar among ~100 USD bars still sets the axis


def test_year_run_page_stays_under_three_megabytes(year_run: tuple[list[SnapshotRow], list[FillRow], str]) -> None:
    _, _, page = year_run
    assert len(page.encode()) < 3_000_000
    assert page.count("<svg") == CHART_COUNT


def test_year_run_is_deterministic(year_run: tuple[list[SnapshotRow], list[FillRow], str]) -> None:
    snaps, fills, page = year_run
    assert render_report(summary(), snaps[::-1], fills) == page  # input order does not matter either


def test_downsample_of_100k_rows_is_bounded_and_keeps_extremes() -> None:
    xs = list(range(100_000))
    ys: list[float | None] = [float((i * 7919) % 1000) for i in xs]
    ys[4242], ys[77_777] = -5.0, 5000.0
    segments = downsample(xs, ys)
    points = [p for seg in segments for p in seg]
    assert len(points) <= MAX_POINTS
    assert (4242, -5.0) in points
    assert (77_777, 5000.0) in points


def test_downsample_breaks_lines_at_long_gaps() -> None:
    xs = list(range(10_000))
    ys: list[float | None] = [None if 4000 <= i < 6000 else float(i) for i in xs]
    segments = downsample(xs, ys)
    assert len(segments) == 2
    assert segments[0][-1][0] < 4000
    assert segments[1][0][0] >= 6000


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.floats(-1e9, 1e9)), min_size=1, max_size=400),
    st.integers(min_value=2, max_value=60),
)
def test_downsample_never_exceeds_the_budget_and_keeps_the_extremes(ys: list[float | None], budget: int) -> None:
    xs = [i * 3 for i in range(len(ys))]
    points = [p for seg in downsample(xs, ys, max_points=budget) for p in seg]
    values = [y for y in ys if y is not None]
    assert len(points) <= budget
    assert [x for x, _ in points] == sorted({x for x, _ in points})  # time order, no duplicates
    if values:
        assert min(values) in [y for _, y in points]
        assert max(values) in [y for _, y in points]
    else:
        assert points == []
