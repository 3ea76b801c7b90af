"""Test-wide settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

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


@pytest.fixture
def fake() -> Iterator[FakeRpc]:
    """A fake Solana RPC node on 127.0.0.1 (``tests.support.fake_rpc``); fails the test on a double send."""
    yield from fake_rpc()
