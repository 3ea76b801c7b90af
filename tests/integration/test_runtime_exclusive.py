"""One runner per run directory: ``ExclusiveLock`` keeps a second process out, says who holds the lock, and never
outlives its holder (a ``kill -9`` releases it, so crash recovery is never blocked by a stale lock)."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from botrunner.control.protocol import ControlError
from botrunner.core.operator import Shutdown, Status
from botrunner.runner import Runner, RunnerError, RunOptions
from botrunner.runtime.exclusive import ExclusiveLock, LockHeld
from botrunner.store import Store
from tests.support.files import give_away, umask
from tests.support.runtime import ask


def test_a_second_holder_is_refused_with_the_first_ones_name_until_it_releases(tmp_path: Path) -> None:
    path = tmp_path / "runner.lock"
    first = ExclusiveLock(path, "botrunner run --run-dir A")
    first.acquire()
    assert first.held
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    second = ExclusiveLock(path, "botrunner run --run-dir A")
    with pytest.raises(LockHeld) as refused:
        second.acquire()
    assert refused.value.holder.startswith(f"pid {os.getpid()}: botrunner run --run-dir A, since ")
    assert not second.held
    with pytest.raises(RuntimeError, match="already locked"):
        first.acquire()
    first.release()
    first.release()  # idempotent
    second.acquire()
    assert second.held
    second.release()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    path = tmp_path / "runner.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from pathlib import Path\n"
            "from botrunner.runtime.exclusive import ExclusiveLock\n"
            f"ExclusiveLock(Path({str(path)!r}), 'child').acquire()\n"
            "print('locked', flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(LockHeld, match=f"pid {holder.pid}: child"):
            ExclusiveLock(path, "parent").acquire()
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(10)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(10)
    after = ExclusiveLock(path, "parent")
    after.acquire()  # the kernel dropped the dead process's lock
    assert after.held
    after.release()


def test_a_refused_start_says_one_line_and_prints_nothing_else(tmp_path: Path) -> None:
    """A run directory whose store is not SQLite: one error line naming the file, nothing on stdout (the runner's
    own logs do not exist yet, so nothing may fall back to the console), and the lock given back."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "botrunner.db").write_bytes(b"SQLite format 3\x00garbage")
    root = Path(__file__).resolve().parents[2]
    cmd = [sys.executable, "-m", "botrunner", "run", "--run-dir", str(run_dir), "--quiet", "--speed", "max"]
    done = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{run_dir / 'botrunner.db'}: not a usable SQLite store" in lines[0], done.stderr


def test_a_refused_start_gives_the_run_directory_back_once_shut_down(tmp_path: Path) -> None:
    # In one process: the kernel drops a dead process's lock anyway, so only a live runner shows a missing release
    # (flock conflicts between two open files of the same process).
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "botrunner.db").write_bytes(b"SQLite format 3\x00garbage")
    root = Path(__file__).resolve().parents[2]
    runner = Runner(RunOptions(fleet=root / "config" / "bots", run_dir=run_dir))
    with pytest.raises(RunnerError, match="not a usable SQLite store"):
        runner.start()
    with pytest.raises(LockHeld):  # held until the caller shuts the runner down, as `botrunner run` does
        ExclusiveLock(run_dir / "runner.lock", "test").acquire()
    runner.shutdown()
    relock = ExclusiveLock(run_dir / "runner.lock", "test")
    relock.acquire()
    relock.release()


def test_a_run_directory_that_cannot_be_made_is_one_error_line(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    root = Path(__file__).resolve().parents[2]
    cmd = [sys.executable, "-m", "botrunner", "run", "--run-dir", str(blocker / "run"), "--quiet"]
    done = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip() == (
        f"botrunner run: error: cannot create the run directory {blocker / 'run'}: Not a directory"
    ), done.stderr


def test_a_control_socket_path_taken_by_something_else_is_refused_before_any_bot_starts(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    (run_dir / "control.sock").mkdir(parents=True)
    root = Path(__file__).resolve().parents[2]
    cmd = [sys.executable, "-m", "botrunner", "run", "--run-dir", str(run_dir), "--quiet", "--speed", "max"]
    done = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip() == (
        f"botrunner run: error: {run_dir / 'control.sock'} exists and is not a socket; not replacing it"
    ), done.stderr
    with Store.open(run_dir / "botrunner.db", readonly=True) as store:
        assert store.audit_rows() == ()  # no bot reconciled, started or stopped: the socket was bound first
    assert sorted(p.name for p in (run_dir / "logs").iterdir()) == ["supervisor.log"]


def test_requests_that_arrive_while_the_bots_start_are_told_so(tmp_path: Path) -> None:
    """The control socket is bound before the bots start (so a blocked path refuses the start first); until the
    supervisor is up a request gets a clear ``conflict``, and ``shutdown`` is still heard."""
    runner = Runner(RunOptions(fleet=tmp_path / "fleet", run_dir=tmp_path / "run"))
    with pytest.raises(ControlError) as starting:
        ask(runner, Status())
    assert starting.value.code == "conflict" and "still starting its bots" in starting.value.message
    assert ask(runner, Shutdown()) == {"message": "shutting down"}
    assert runner.shutdown_requested.is_set()


def test_the_lock_file_is_owner_only_whatever_the_umask_and_its_earlier_mode(tmp_path: Path) -> None:
    path = tmp_path / "runner.lock"
    path.write_text("pid 1: an earlier runner\n")
    path.chmod(0o666)
    with umask(0):
        lock = ExclusiveLock(path, "botrunner run --run-dir A")
        lock.acquire()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    lock.release()


def test_a_symlink_where_the_lock_file_should_be_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("someone else's file\n")
    (tmp_path / "runner.lock").symlink_to(victim)
    lock = ExclusiveLock(tmp_path / "runner.lock", "botrunner run --run-dir A")
    with pytest.raises(OSError, match="symbolic links"):
        lock.acquire()
    assert not lock.held
    assert victim.read_text() == "someone else's file\n"


def test_another_user_s_lock_file_is_refused_naming_its_owner(tmp_path: Path) -> None:
    path = tmp_path / "runner.lock"
    path.write_text("")
    path.chmod(0o666)
    owner = give_away(path)
    with pytest.raises(PermissionError, match=f"owned by uid {owner} .*not by this user"):
        ExclusiveLock(path, "botrunner run --run-dir A").acquire()
    assert stat.S_IMODE(path.stat().st_mode) == 0o666  # refused, not changed
