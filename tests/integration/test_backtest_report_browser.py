"""report.html in a real browser: Debian's Chromium, headless, driven by playwright (never a downloaded browser)
renders every chart of a real backtest without a console message or a network request, and zoom and the
crosshair follow across charts. Skips only when /usr/bin/chromium is absent (``make test`` installs it as root,
see ops/ensure_chromium.sh)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from botrunner.cli import main

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
CHARTS = ["price", "position", "equity", "drawdown", "pnl", "health", "distance", "risk", "daily"]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file(),
    reason=f"Chromium is absent ({CHROMIUM}): install Debian's chromium (ops/ensure_chromium.sh does, as root)",
)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of sol-neutral-grid over a week of the bundled slice."""
    out = tmp_path_factory.mktemp("report")
    args = ["backtest", str(ROOT / "config/bots/sol-neutral-grid.yaml"), "--from", "2025-09-22", "--to", "2025-09-28"]
    assert main([*args, "--quiet", "--out", str(out)]) == 0
    return out / "report.html"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, timeout=60_000)
        try:
            yield b
        finally:
            b.close()


class Opened:
    """A page with the report loaded, and everything it logged or asked the network for."""

    def __init__(self, browser: Browser, path: Path) -> None:
        self.page: Page = browser.new_page(viewport={"width": 1300, "height": 900})
        self.messages: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.messages.append(f"{m.type}: {m.text}"))
        self.page.on("pageerror", lambda e: self.messages.append(f"pageerror: {e}"))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(path.as_uri())
        self.page.wait_for_function("window.__report && window.__report.ready", timeout=30_000)

    def eval(self, script: str) -> Any:
        return self.page.evaluate(script)

    def ranges(self) -> dict[str, list[float]]:
        return dict(self.eval("window.__report.charts.map(u => [u.__spec.id, [u.scales.x.min, u.scales.x.max]])"))

    def one_range(self) -> list[float]:
        ranges = list(self.ranges().values())
        for r in ranges:
            assert r == pytest.approx(ranges[0], abs=1.0)  # every chart shows the same window
        return ranges[0]

    def plot_box(self, chart: str) -> dict[str, float]:
        """The chart's plot area, scrolled into the viewport (mouse positions are viewport coordinates)."""
        over = self.page.locator(f"#chart-{chart} .u-over")
        over.scroll_into_view_if_needed()
        box = over.bounding_box()
        assert box is not None
        return box


@pytest.fixture
def opened(browser: Browser, report: Path) -> Iterator[Opened]:
    o = Opened(browser, report)
    try:
        yield o
    finally:
        o.page.close()


def test_every_chart_renders_with_ink_and_no_console_message_or_request(opened: Opened) -> None:
    assert opened.messages == []
    assert all(url.startswith("file://") for url in opened.requests), opened.requests  # offline: nothing fetched
    ink = dict(
        opened.eval(
            """window.__report.charts.map(u => {
                const b = u.bbox;
                const d = u.ctx.getImageData(b.left, b.top, b.width, b.height).data;
                let drawn = 0;
                for (let i = 3; i < d.length; i += 4) if (d[i] > 128) drawn++;  // opaque: lines, bars, strips
                return [u.__spec.id, drawn / (b.width * b.height)];
            })"""
        )
    )
    assert list(ink) == CHARTS
    for chart, share in ink.items():
        assert share > 0.001, f"{chart} drew nothing in its plot area"
    assert opened.eval("document.querySelectorAll('.chart canvas').length") == len(CHARTS)
    assert opened.eval("document.getElementById('no-script')") is None  # the "needs JavaScript" note went


def test_drag_zooms_every_chart_and_a_double_click_shows_the_whole_run(opened: Opened) -> None:
    full = opened.one_range()
    box = opened.plot_box("equity")
    y = box["y"] + box["height"] / 2
    opened.page.mouse.move(box["x"] + box["width"] * 0.25, y)
    opened.page.mouse.down()
    opened.page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=5)
    opened.page.mouse.up()
    lo, hi = opened.one_range()
    span = full[1] - full[0]
    assert lo == pytest.approx(full[0] + 0.25 * span, rel=0.01)
    assert hi == pytest.approx(full[0] + 0.5 * span, rel=0.01)
    opened.page.mouse.dblclick(box["x"] + box["width"] * 0.4, y)
    assert opened.one_range() == pytest.approx(full, abs=1.0)
    assert opened.messages == []


def test_the_mouse_wheel_zooms_around_the_cursor_on_every_chart(opened: Opened) -> None:
    full = opened.one_range()
    box = opened.plot_box("price")
    opened.page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2)
    opened.page.mouse.wheel(0, -200)
    opened.page.wait_for_function(
        f"window.__report.charts[0].scales.x.max - window.__report.charts[0].scales.x.min < {full[1] - full[0] - 1}"
    )
    lo, hi = opened.one_range()
    assert hi - lo == pytest.approx(0.75 * (full[1] - full[0]), rel=0.02)
    assert (lo + hi) / 2 == pytest.approx((full[0] + full[1]) / 2, rel=0.001)  # centred where the cursor is
    assert opened.messages == []


def test_the_crosshair_follows_across_charts(opened: Opened) -> None:
    box = opened.plot_box("price")
    opened.page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] / 2)
    legend_time = "document.querySelector('#chart-equity .u-legend .u-series:first-child .u-value').textContent"
    opened.page.wait_for_function(f"{legend_time} !== '–'")
    assert opened.eval(legend_time).startswith("2025-09-2")  # the equity chart's legend shows the hovered time
    risk_value = "document.querySelector('#chart-risk .u-legend .u-series:nth-child(2) .u-value').textContent"
    assert opened.eval(risk_value) in ("APPROVE", "CLAMP", "REDUCE_ONLY", "PAUSE")
    assert opened.messages == []
