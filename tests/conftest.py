"""Test-wide settings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from botrunner.runtime.account_locks import LOCK_DIR_ENV
from tests.support_fake_rpc import FakeRpc, fake_rpc


@pytest.fixture(autouse=True)
def _private_account_lock_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Live bots lock their subaccount in a machine-wide directory: each test gets its own, never the user's."""
    monkeypatch.setenv(LOCK_DIR_ENV, str(tmp_path_factory.mktemp("account-locks")))
    # every `botrunner run` a test starts serves its dashboard on a free port: runs side by side never collide
    monkeypatch.setenv("BOTRUNNER_UI_PORT", "0")
    yield


@pytest.fixture
def fake() -> Iterator[FakeRpc]:
    """A fake Solana RPC node on 127.0.0.1 (``tests.support_fake_rpc``); fails the test on a double send."""
    yield from fake_rpc()
