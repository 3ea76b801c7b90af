"""The engine vault's sync rule (botrunner.live.vault_sync): retries, disable after the retries fail, recovery,
freshness; and the interest accrued on a held spot balance between two readings."""

from __future__ import annotations

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from botrunner.live.vault_sync import BACKOFF_S, FRESH_S, RETRIES, SyncChange, VaultSync


def _run(outcomes: list[bool]) -> tuple[VaultSync, list[SyncChange]]:
    sync, changes = VaultSync(), []
    for t, ok in enumerate(outcomes):
        sync, change = sync.succeeded(float(t)) if ok else sync.failed()
        changes.append(change)
    return sync, changes


def test_vault_when_a_read_and_its_three_retries_fail_then_disabled_once_with_backoff() -> None:
    sync = VaultSync()
    waits = []
    for _ in range(RETRIES):
        sync, change = sync.failed()
        assert change is SyncChange.NONE and not sync.disabled
        waits.append(sync.retry_in())
    assert waits == list(BACKOFF_S)
    sync, change = sync.failed()
    assert change is SyncChange.DISABLED and sync.disabled and sync.retry_in() is None
    sync, change = sync.failed()
    assert change is SyncChange.NONE  # one error event, not one per failing read


def test_vault_when_a_good_read_after_disabled_then_enabled() -> None:
    sync, _ = _run([False] * (RETRIES + 1))
    sync, change = sync.succeeded(100.0)
    assert change is SyncChange.ENABLED and not sync.disabled and sync.why_not_trading(100.0) is None


def test_vault_when_older_than_10s_then_not_fresh() -> None:
    sync, _ = VaultSync().succeeded(0.0)
    assert sync.why_not_trading(FRESH_S) is None
    assert sync.why_not_trading(FRESH_S + 1) is not None
    assert VaultSync().why_not_trading(0.0) == "vault never synced"


@given(st.lists(st.booleans(), max_size=40))
def test_vault_disabled_exactly_when_the_last_four_reads_failed_in_a_row(outcomes: list[bool]) -> None:
    sync, changes = _run(outcomes)
    run = 0
    for ok in reversed(outcomes):
        if ok:
            break
        run += 1
    assert sync.disabled == (run > RETRIES)
    assert sync.failures == run
    # each disable is preceded by RETRIES + 1 failures in a row, and each enable follows a disable
    assert changes.count(SyncChange.ENABLED) <= changes.count(SyncChange.DISABLED)
    assert msgspec.structs.replace(sync) == sync


def test_vault_when_the_reading_ages_past_10s_then_disabled_once_and_a_fresh_read_enables_it() -> None:
    sync, _ = VaultSync().succeeded(0.0)
    sync, change = sync.aged(FRESH_S)
    assert change is SyncChange.NONE and not sync.disabled
    sync, change = sync.aged(FRESH_S + 0.5)
    assert change is SyncChange.DISABLED and sync.disabled and "> 10 s" in sync.why
    assert sync.why_not_trading(FRESH_S + 0.5) is not None
    sync, change = sync.aged(FRESH_S + 5)
    assert change is SyncChange.NONE  # one error event, not one per tick
    sync, change = sync.succeeded(20.0, 20.5)
    assert change is SyncChange.ENABLED and sync.why_not_trading(20.5) is None


def test_vault_when_a_read_takes_longer_than_10s_then_stale_on_arrival() -> None:
    sync, _ = VaultSync().succeeded(0.0)
    sync, change = sync.succeeded(5.0, 5.0 + FRESH_S + 1)  # began at 5, answered 11 s later
    assert change is SyncChange.DISABLED and sync.failures == 0
    assert sync.why_not_trading(5.0 + FRESH_S + 1) is not None


@given(
    st.lists(st.tuples(st.booleans(), st.floats(min_value=0, max_value=30)), max_size=30),
    st.floats(min_value=0, max_value=30),
)
def test_vault_never_trades_on_a_reading_older_than_10s(reads: list[tuple[bool, float]], idle: float) -> None:
    # reads one after the other, each taking ``took`` seconds; then ``idle`` seconds without a read
    sync, t = VaultSync().succeeded(0.0)[0], 0.0
    for ok, took in reads:
        started, t = t, t + took
        sync = (sync.succeeded(started, t) if ok else sync.failed(t))[0]
    now = t + idle
    assert sync.synced_at is not None
    if now - sync.synced_at > FRESH_S:
        assert sync.why_not_trading(now) is not None
    if sync.disabled:
        assert sync.why_not_trading(now) is not None
