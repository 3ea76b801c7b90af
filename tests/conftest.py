"""Test-wide settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from botrunner import logsetup
from botrunner.runtime.account_locks import LOCK_DIR_ENV
from tests.support.fake_rpc import FakeRpc, fake_rpc

INTEGRATION = Path(__file__).resolve().parent / "integration"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/integration/ is an integration test, marked by where it lives rather than by hand."""
    for item in items:
        if item.path.is_relative_to(INTEGRATION):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True)
def _private_account_lock_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Live bots lock their subaccount in a machine-wide directory: each test gets its own, never the user's."""
    monkeypatch.setenv(LOCK_DIR_ENV, str(tmp_path_factory.mktemp("account-locks")))
    yield


@pytest.fixture(autouse=True)
def _forget_registered_secrets() -> Iterator[None]:
    """The log scrubber's secrets are process-wide (a key must be scrubbed by every logger): a test's keys are
    forgotten after it, or every later test's log lines are scanned for them all (tests/unit/live/test_keys.py
    registered enough to slow the log-file tests after it from 0.13 s to 8-17 s)."""
    saved = logsetup._secrets
    yield
    logsetup._secrets = saved


@pytest.fixture
def fake() -> Iterator[FakeRpc]:
    """A fake Solana RPC node on 127.0.0.1 (``tests.support.fake_rpc``); fails the test on a double send."""
    yield from fake_rpc()
