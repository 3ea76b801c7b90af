"""Debian's Chromium for the browser tests, driven by playwright (never a downloaded browser): where it is, how it
is launched, and the rule that a missing browser skips locally but FAILS in CI (``CI=true``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def chromium_marks() -> list[pytest.MarkDecorator]:
    """A browser test module's ``pytestmark``: nothing when Chromium is there, a skip when it is absent; in CI an
    absent browser fails the run (the browser tests are part of CI, never silently skipped there)."""
    if CHROMIUM.is_file():
        return []
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI: Chromium is absent ({CHROMIUM}); the browser tests must run in CI", pytrace=False)
    return [pytest.mark.skip(reason=f"Chromium is absent ({CHROMIUM}): ops/ensure_chromium.sh installs it")]


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, timeout=60_000)
        try:
            yield b
        finally:
            b.close()
