"""The search's report.html in Debian's Chromium (headless, playwright; never a downloaded browser): every chart
draws (history, importance, one per parameter, the best's equity) without a console message or a network request.
Skips only when /usr/bin/chromium is absent (``make setup`` installs it as root: ops/ensure_chromium.sh)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from botrunner.cli import main
from tests.support.optimize import optimize_args

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file(),
    reason=f"Chromium is absent ({CHROMIUM}): install Debian's chromium (ops/ensure_chromium.sh does, as root)",
)


def test_search_report_when_opened_in_chromium_then_every_chart_draws_offline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(optimize_args(tmp_path, out, "--workers", "1")) == 0
    capsys.readouterr()
    messages: list[str] = []
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, timeout=60_000)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            page.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e: messages.append(f"error: {e}"))
            page.on("request", lambda r: requests.append(r.url) if not r.url.startswith("file:") else None)
            page.goto((out / "report.html").as_uri())
            page.wait_for_function("window.__report && window.__report.ready", timeout=30_000)
            titles = page.evaluate("window.__report.charts.map(u => u.root.querySelector('.u-title')?.textContent)")
            canvases = page.locator("canvas").count()
        finally:
            browser.close()
    assert messages == []
    assert requests == []
    # history, importance, equity, then one chart per searched parameter (3 in the support space)
    assert titles[0].startswith("In-sample return by trial")
    assert "Parameter importance" in titles
    assert any(t.startswith("Equity of the best configuration") for t in titles)
    assert {"execution.step_bps", "execution.grid_levels", "strategy.grid.bias"} <= set(titles)
    assert canvases >= len(titles)
