"""The single store writer: group commit, flush, failures surfaced (never dropped), several submitting threads,
and a writer process killed with SIGKILL mid-stream leaving a store whose every committed step is complete."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from botrunner.store.store import StepRecord, Store
from botrunner.store.writer import StoreWriteError, StoreWriter
from tests.unit.store.test_store import T0, register, step, steps

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    p = tmp_path / "botrunner.sqlite"
    with Store.open(p) as s:
        register(s)
    return p


@contextmanager
def write_lock_held(path: Path) -> Iterator[None]:
    """Another connection holds the write lock: the writer's next transaction waits (busy timeout) until the block
    ends, so whatever is submitted meanwhile piles up in its queue."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("COMMIT")
        other.close()


def reader(path: Path) -> Store:
    return Store.open(path, readonly=True)


def test_a_flushed_step_is_visible_to_a_separate_reader(path: Path) -> None:
    with StoreWriter(path) as w:
        w.submit(step("sol-grid", 0, fills_before=0))
        w.flush(timeout=10)
        assert w.pending == 0
        assert len(reader(path).fills("sol-grid")) == 1


def test_steps_submitted_while_the_disk_is_busy_are_committed_together(path: Path) -> None:
    """Group commit: 500 steps submitted while the writer waits for the lock go in at most a few transactions."""
    w = StoreWriter(path)
    with write_lock_held(path):
        for record in steps("sol-grid", 500):
            w.submit(record)
        time.sleep(0.2)
        assert w.pending > 0  # nothing can be committed while the lock is held
    w.flush(timeout=30)
    assert w.batches <= 3
    w.close()
    r = reader(path)
    assert len(r.fills("sol-grid")) == 500
    cp = r.load_checkpoint("sol-grid")
    assert cp is not None and cp.fill_seq == 500


def test_flush_times_out_while_the_store_is_locked_then_completes(path: Path) -> None:
    w = StoreWriter(path)
    with write_lock_held(path):
        w.submit(step("sol-grid", 0, fills_before=0))
        with pytest.raises(TimeoutError, match="1 records not written"):
            w.flush(timeout=0.2)
    w.flush(timeout=10)
    w.close()
    assert len(reader(path).fills("sol-grid")) == 1


def test_submit_returns_without_waiting_for_the_disk(path: Path) -> None:
    w = StoreWriter(path)
    with write_lock_held(path):
        started = time.perf_counter()
        for record in steps("sol-grid", 200):
            w.submit(record)
        assert time.perf_counter() - started < 1.0  # the lock is held for far longer than this takes
        assert w.pending == 200
    w.close()


def test_a_failed_write_is_logged_raised_and_stops_the_writer_keeping_what_came_before(path: Path) -> None:
    good = steps("sol-grid", 3)
    ghost = step("ghost-bot", 0, fills_before=0)  # never registered: the store refuses it
    told: list[StoreWriteError] = []
    w = StoreWriter(path, on_failure=told.append)
    with capture_logs() as logs:
        with write_lock_held(path):
            w.submit(good[0])
            w.submit(good[1])
            w.submit(ghost)
            w.submit(good[2])
        with pytest.raises(StoreWriteError, match=r"ghost-bot.*2 records not written.*FOREIGN KEY"):
            w.flush(timeout=10)
    assert w.failed is not None
    with pytest.raises(StoreWriteError):
        w.submit(step("sol-grid", 3, fills_before=3))
    with pytest.raises(StoreWriteError):
        w.close()
    assert [e["event"] for e in logs if e["log_level"] == "error"] == ["store.write_failed"]
    assert told == [w.failed]  # the runtime is told once, from the writer thread, and stops its fleet
    # the steps before the bad one are stored; the bad one and the one after it are not
    r = reader(path)
    assert len(r.fills("sol-grid")) == 2
    cp = r.load_checkpoint("sol-grid")
    assert cp is not None and cp.fill_seq == 2


def test_close_is_idempotent_and_a_closed_writer_refuses_work(path: Path) -> None:
    w = StoreWriter(path)
    w.submit(step("sol-grid", 0, fills_before=0))
    w.close()
    w.close()
    with pytest.raises(StoreWriteError, match="closed"):
        w.submit(step("sol-grid", 1, fills_before=1))
    assert len(reader(path).fills("sol-grid")) == 1


def test_audit_rows_go_through_the_writer_in_submission_order(path: Path) -> None:
    with StoreWriter(path) as w:
        w.audit(ts=T0, actor="ctl", cmd="pause", args={"bot": "sol-grid"}, outcome="ok")
        w.submit(step("sol-grid", 0, fills_before=0))
        w.audit(ts=T0 + 1, actor="ctl", cmd="resume", args={"bot": "sol-grid"}, outcome="ok")
    assert [a.cmd for a in reader(path).audit_rows()] == ["pause", "resume"]


def test_several_threads_submitting_at_once_lose_and_duplicate_nothing(path: Path) -> None:
    bots = [f"bot-{i}" for i in range(8)]
    with Store.open(path) as s:
        for i, bot in enumerate(bots, start=2):
            register(s, bot, subaccount_id=i)
    per_bot = 150
    w = StoreWriter(path)
    barrier = threading.Barrier(len(bots))

    def run(bot: str) -> None:
        barrier.wait()
        for record in steps(bot, per_bot, fills_per_step=2):
            w.submit(record)
            w.audit(ts=record.ts, actor=bot, cmd="tick", args={"n": record.cursor}, outcome="ok")

    threads = [threading.Thread(target=run, args=(b,)) for b in bots]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    w.close(timeout=60)
    assert w.batches < len(bots) * per_bot * 2  # grouped
    r = reader(path)
    for bot in bots:
        cp = r.load_checkpoint(bot)
        assert cp is not None and cp.fill_seq == 2 * per_bot == len(r.fills(bot))
        assert len(r.orders(bot)) == per_bot
        assert [a.args_json for a in r.audit_rows() if a.actor == bot] == [f'{{"n":{n}}}' for n in range(per_bot)]


# ---------------------------------------------------------------------------------------------- kill -9

CHILD = textwrap.dedent(
    """
    import sys
    from botrunner.core.records import FillRow, FundingRow, OrderRow
    from botrunner.store.store import StepRecord
    from botrunner.store.writer import StoreWriter

    path, bots = sys.argv[1], sys.argv[2:]
    writer = StoreWriter(path, synchronous="NORMAL", max_batch=64)
    blob = bytes(range(256)) * 8  # a venue checkpoint's worth of bytes
    n = 0
    while True:  # until killed
        for bot in bots:
            ts = 1_700_000_000 + n
            writer.submit(
                StepRecord(
                    bot=bot,
                    ts=ts,
                    cursor=n,
                    venue_state=blob,
                    orders=(OrderRow(ts, n + 1, 7, "placed", "buy", 1, 10**9, True, False, ""),),
                    fills=(FillRow(ts, n + 1, "buy", 1, 10**9, -1, 1, "maker", False),),
                    funding=(FundingRow(ts, 10**9, 1, -1),),
                    order_seq=n + 1,
                    fill_seq=n + 1,
                )
            )
        n += 1
        if n % 200 == 0:
            writer.flush()
    """
)


def _committed(path: Path, bot: str) -> int:
    try:
        with sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True) as c:
            row = c.execute("SELECT fill_seq FROM bot_checkpoints WHERE bot = ?", (bot,)).fetchone()
    except sqlite3.Error:
        return 0
    return int(row[0]) if row else 0


@pytest.mark.parametrize("kill_after_steps", [300, 1_000, 2_500])
def test_a_writer_killed_with_sigkill_leaves_only_complete_steps(path: Path, kill_after_steps: int) -> None:
    bots = ["sol-grid", "btc-grid"]
    with Store.open(path) as s:
        register(s, "btc-grid", subaccount_id=2)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), *bots],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while _committed(path, bots[-1]) < kill_after_steps:
            assert child.poll() is None, child.stderr.read().decode() if child.stderr else ""
            assert time.monotonic() < deadline, "the writer made no progress"
            time.sleep(0.005)
        os.kill(child.pid, signal.SIGKILL)  # mid-stream: the writer is committing continuously
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL
    store = Store.open(path)  # as the next `botrunner run` does: recovers the WAL
    assert store.integrity_check() == "ok"
    for bot in bots:
        cp = store.load_checkpoint(bot)
        assert cp is not None and cp.fill_seq >= (kill_after_steps if bot == bots[-1] else 1)
        seqs = [r[0] for r in store.conn.execute("SELECT fill_seq FROM fills WHERE bot = ? ORDER BY 1", (bot,))]
        assert seqs == list(range(1, cp.fill_seq + 1))  # every committed step complete, nothing beyond
        assert len(store.orders(bot)) == cp.order_seq == cp.cursor + 1
        assert len(store.funding(bot)) == cp.fill_seq
    # the bot resumes from its checkpoint: the next step continues the numbering
    cp = store.load_checkpoint("sol-grid")
    assert cp is not None
    store.write_steps(
        [
            StepRecord(
                bot="sol-grid",
                ts=cp.ts + 1,
                cursor=cp.cursor + 1,
                fills=step("sol-grid", 0, fills_before=0).fills,
                order_seq=cp.order_seq,
                fill_seq=cp.fill_seq + 1,
            )
        ]
    )
