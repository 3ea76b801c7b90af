"""The dashboard shows a delta-neutral bot in a real browser (Debian's Chromium, headless, through playwright):
the fleet table's position column holds both legs with the drift and the carry beside them, and the bot view's
two-leg panel fills (legs, drift against its tolerance band, carry now/smoothed, break-even, stance and why, gates,
engine vault) at desktop and at phone width, where the page does not scroll sideways. Screenshots of both go to
``$BOTRUNNER_SHOTS`` (default: the test's temporary directory).

Skips when /usr/bin/chromium is absent, except in CI (``CI=true``), where that FAILS (as the other browser test)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, WebSocket, expect

from botrunner.runner import Runner
from tests.support.browser import chromium, chromium_marks
from tests.support.delta_neutral import NAME, dashboard_fleet

TOKEN = "dn-browser-token-" + "w" * 32

pytestmark = chromium_marks()


@pytest.fixture(scope="module")
def runner() -> Iterator[Runner]:
    with dashboard_fleet(("alpha", "beta"), TOKEN) as r:
        yield r


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


def _shots(tmp_path: Path) -> Path:
    where = Path(os.environ.get("BOTRUNNER_SHOTS") or tmp_path)
    where.mkdir(parents=True, exist_ok=True)
    return where


def _open_delta_neutral(browser: Browser, runner: Runner, width: int, height: int) -> tuple[Page, list[str]]:
    assert runner.dashboard is not None
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(runner.dashboard.url)
    row = page.locator(f'#fleet-table tbody tr[data-bot="{NAME}"]')
    expect(row).to_contain_text("spot", timeout=15_000)
    expect(row).to_contain_text("perp")
    row.click()
    expect(page.locator("#bot-name")).to_have_text(NAME)
    # the panel fills once the bot's detail (ctl bot's legs and vault) has reached the page
    expect(page.locator("#leg-vault")).to_contain_text("allocated", timeout=15_000)
    return page, errors


SCREENS = {"desktop": (1280, 800), "phone": (390, 844)}


@pytest.mark.parametrize("label", SCREENS)
def test_the_two_leg_panel_fills(runner: Runner, browser: Browser, tmp_path: Path, label: str) -> None:
    page, errors = _open_delta_neutral(browser, runner, *SCREENS[label])
    panel = page.locator("#legs-panel")
    expect(panel).to_be_visible()
    expect(page.locator("#leg-spot")).to_contain_text("SOL")
    expect(page.locator("#leg-perp")).to_contain_text("net delta")
    expect(page.locator("#leg-drift")).to_contain_text("tolerance ±1.00 %")
    expect(page.locator("#leg-drift .gauge-band")).to_have_count(1)
    expect(page.locator("#chart-drift canvas")).to_have_count(1)  # the drift over time against ±tolerance
    expect(page.locator("#leg-carry")).to_contain_text("smoothed")
    expect(page.locator("#leg-carry")).to_contain_text("days")
    expect(page.locator("#leg-stance [data-stance]")).to_have_attribute("data-stance", "in")
    expect(page.locator("#leg-gates")).to_contain_text("last blocked")
    expect(page.locator("#leg-vault")).to_contain_text("interest")
    for card in ("#leg-spot", "#leg-perp", "#leg-carry", "#leg-vault"):
        assert "NaN" not in page.locator(card).inner_text(), card
    # a grid bot shows no two-leg panel
    page.locator('#fleet-table tbody tr[data-bot="alpha"]').click()
    expect(page.locator("#bot-name")).to_have_text("alpha")
    expect(panel).to_be_hidden()
    page.locator(f'#fleet-table tbody tr[data-bot="{NAME}"]').click()
    expect(panel).to_be_visible()
    # nothing wider than the screen: a phone scrolls down, never sideways (the table scrolls in its own box)
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{label}: the page is {overflow}px wider than the screen"
    page.locator("#legs-panel").scroll_into_view_if_needed()
    page.screenshot(path=str(_shots(tmp_path) / f"dn-{label}.png"), full_page=True)
    assert errors == []
    page.close()


def test_open_from_the_page_when_two_leg_bot_then_sent_without_a_side(runner: Runner, browser: Browser) -> None:
    # a two-leg bot's open takes no side (the bot refuses one as bad_args): the page must leave it out
    page, errors = _open_delta_neutral(browser, runner, *SCREENS["desktop"])
    sent: list[str] = []
    answers: list[str] = []

    def watch(ws: WebSocket) -> None:
        ws.on("framesent", lambda payload: sent.append(str(payload)))
        ws.on("framereceived", lambda payload: answers.append(str(payload)))

    page.on("websocket", watch)
    page.reload()  # the socket opened before the watch: open it again, watched
    page.locator(f'#fleet-table tbody tr[data-bot="{NAME}"]').click(timeout=15_000)
    expect(page.locator("#bot-name")).to_have_text(NAME)
    expect(page.locator("#leg-vault")).to_contain_text("allocated", timeout=15_000)
    page.locator("#size").fill("0.5")
    page.locator('button[data-cmd="DRIFT_OPEN_POSITION"]').click()
    expect(page.locator("#confirm-text")).to_contain_text("hedged 0.5")
    page.locator("#confirm-ok").click()
    deadline = time.monotonic() + 15
    opens: list[dict[str, object]] = []
    while time.monotonic() < deadline and not any(opens and str(opens[0]["id"]) in a for a in answers):
        page.wait_for_timeout(100)
        opens = [json.loads(s) for s in sent if "DRIFT_OPEN_POSITION" in s]
    assert len(opens) == 1 and "side" not in opens[0], opens
    [answer] = [json.loads(a) for a in answers if str(opens[0]["id"]) in a and "COMMAND_RESULT" in a][-1:]
    assert answer["ok"] or answer["error"]["code"] != "bad_args", answer
    assert errors == []
    page.close()
