"""The dashboard in a real browser: Debian's Chromium, headless, driven by playwright (never a downloaded browser).
The page loads with the token and is refused without it; the fleet table fills; Pause on the page pauses the bot
(as ctl sees it); a deposit above $100 asks for confirmation and shows the runner's structured error; after the
runner restarts the page reconnects by itself.

Skips when /usr/bin/chromium is absent (``make test`` installs it as root, ops/ensure_chromium.sh) — except in CI
(``CI=true``), where a missing browser FAILS: the browser tests are part of CI, never silently skipped there."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from botrunner.control.client import ControlClient
from botrunner.core.operator import ShowBot
from botrunner.runner import Runner, RunOptions
from botrunner.runtime.snapshots import BotSnapshot
from botrunner.web.server import DashboardOptions
from tests.support.browser import chromium, chromium_marks
from tests.support.runtime import short_dir, small_fleet, small_market

TOKEN = "browser-test-token-" + "y" * 32

pytestmark = chromium_marks()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Fleet:
    """A paper fleet of three bots whose runner can be stopped and started again on the same port and token."""

    def __init__(self) -> None:
        self.work = short_dir()
        self.fleet = small_fleet(self.work / "fleet", ("alpha", "beta", "gamma"))
        self.data = small_market(self.work / "data")
        self.port = _free_port()
        self.runner: Runner | None = None

    def start(self) -> Runner:
        options = RunOptions(
            fleet=self.fleet,
            run_dir=self.work / "run",
            speed=600.0,
            data_dir=self.data,
            ui=DashboardOptions(port=self.port, token=TOKEN),
        )
        self.runner = Runner(options)
        self.runner.start()
        return self.runner

    def stop(self) -> None:
        if self.runner is not None:
            self.runner.shutdown()
            self.runner = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/?token={TOKEN}"


@pytest.fixture(scope="module")
def fleet() -> Iterator[Fleet]:
    f = Fleet()
    f.start()
    try:
        yield f
    finally:
        f.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


def _open(browser: Browser, url: str) -> tuple[Page, list[str], list[str]]:
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    errors: list[str] = []
    requests: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda request: requests.append(request.url))
    page.goto(url)
    return page, errors, requests


def test_without_the_token_the_page_is_refused(fleet: Fleet, browser: Browser) -> None:
    page = browser.new_page()
    response = page.goto(f"http://127.0.0.1:{fleet.port}/")
    assert response is not None and response.status == 401
    assert "dashboard.js" not in page.content()
    page.close()


def test_the_fleet_table_fills_and_nothing_is_fetched_from_elsewhere(fleet: Fleet, browser: Browser) -> None:
    page, errors, requests = _open(browser, fleet.url)
    rows = page.locator("#fleet-table tbody tr")
    expect(rows).to_have_count(3, timeout=15_000)
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    expect(rows.nth(0)).to_contain_text("alpha")
    expect(rows.nth(0).locator("[data-risk]")).to_have_attribute("data-risk", "normal")
    rows.nth(0).click()
    expect(page.locator("#bot-name")).to_have_text("alpha")
    expect(page.locator("#chart-price canvas")).to_have_count(1)
    assert errors == []
    assert all(url.startswith(f"http://127.0.0.1:{fleet.port}/") or url.startswith("data:") for url in requests)
    page.close()


def _ctl_state(runner: Runner, bot: str) -> str | None:
    return ControlClient(runner.socket_path).call(ShowBot(name=bot), BotSnapshot).state


def test_pause_from_the_page_pauses_the_bot(fleet: Fleet, browser: Browser) -> None:
    assert fleet.runner is not None
    page, errors, _ = _open(browser, fleet.url)
    row = page.locator('#fleet-table tbody tr[data-bot="beta"]')
    row.locator('button[data-cmd="PAUSE"]').click()
    expect(page.locator("#confirm")).to_be_visible()
    expect(page.locator("#confirm-text")).to_contain_text("Pause beta")
    page.locator("#confirm-ok").click()
    expect(page.locator("#messages")).to_contain_text("Pause beta: done (paused)", timeout=10_000)
    assert _ctl_state(fleet.runner, "beta") == "paused"
    expect(row.locator("[data-risk]")).to_have_attribute("data-risk", "paused", timeout=5_000)
    row.locator('button[data-cmd="RESUME"]').click()
    page.locator("#confirm-ok").click()
    expect(page.locator("#messages")).to_contain_text("Resume beta: done (running)", timeout=10_000)
    assert _ctl_state(fleet.runner, "beta") == "running"
    assert errors == []
    page.close()


def test_a_deposit_above_the_limit_asks_to_confirm_and_shows_the_structured_error(
    fleet: Fleet, browser: Browser
) -> None:
    page, errors, _ = _open(browser, fleet.url)
    page.locator('#fleet-table tbody tr[data-bot="alpha"]').click()
    page.fill("#amount", "500")
    page.locator('#capital-form button[data-cmd="DRIFT_DEPOSIT"]').click()
    expect(page.locator("#confirm-warning")).to_be_visible()
    expect(page.locator("#confirm-warning")).to_contain_text("Above $100")
    page.locator("#confirm-ok").click()
    message = page.locator("#messages .msg.error")
    expect(message).to_contain_text("bad_request", timeout=10_000)
    expect(message).to_contain_text("only live bots move funds")
    assert errors == []
    page.close()


def test_the_page_reconnects_by_itself_after_the_runner_restarts(fleet: Fleet, browser: Browser) -> None:
    page, errors, _ = _open(browser, fleet.url)
    expect(page.locator("#fleet-table tbody tr")).to_have_count(3, timeout=15_000)
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    fleet.stop()
    expect(page.locator("#conn")).to_have_attribute("data-state", "closed", timeout=10_000)
    expect(page.locator("#conn")).to_contain_text("reconnecting")
    fleet.start()
    expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=20_000)
    expect(page.locator("#fleet-table tbody tr")).to_have_count(3)
    assert errors == []
    page.close()
