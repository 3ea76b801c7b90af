"""The run directory is the runner's own: 0700 with its files 0600 whatever the umask or their earlier modes, never
reached through a symlink, refused in one line when it (or a file in it) is another user's; and a whole run under
``umask 000`` leaves nothing in it that another user can read."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from botrunner import control
from botrunner import runner as runner_module
from botrunner.runner import Runner, RunnerError, RunOptions
from botrunner.runtime import rundir
from botrunner.runtime.rundir import LOG_FILE, LOGS_DIR, RUN_FILES, RunDirError, prepare_run_dir
from tests.support.files import give_away, umask
from tests.support.runtime import short_dir, small_fleet, small_market

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def work() -> Iterator[Path]:
    path = short_dir()  # a control socket is bound in some tests: Unix socket paths are short
    with umask(0o022):  # whatever the test's runner sets, the next test starts from the usual umask
        yield path
    shutil.rmtree(path, ignore_errors=True)


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def _modes(top: Path) -> dict[str, int]:
    """Every path under ``top`` (``top`` itself as ".") with its mode, symlinks not followed."""
    found = {".": _mode(top)}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            found[str(path.relative_to(top))] = _mode(path)
    return found


def _socket_at(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    return sock


def test_the_run_directory_s_own_names_are_the_runner_s() -> None:
    db = runner_module.DB_NAME
    expected = {db, f"{db}-wal", f"{db}-shm", f"{db}-journal", runner_module.LOCK_NAME, control.SOCKET_NAME}
    assert expected == RUN_FILES


def test_a_new_run_directory_and_its_log_directory_are_created_owner_only_under_umask_000(work: Path) -> None:
    run_dir = work / "deep" / "run"
    with umask(0):
        prepare_run_dir(run_dir)
        assert os.umask(0) == 0o077  # and the process umask is the runner's from now on
    assert _modes(work / "deep") == {".": 0o700, "run": 0o700, "run/logs": 0o700}


def test_an_existing_run_directory_and_every_runner_file_in_it_are_made_owner_only(work: Path) -> None:
    run_dir = work / "run"
    logs = run_dir / LOGS_DIR
    logs.mkdir(parents=True)
    names = [*sorted(RUN_FILES - {"control.sock"}), "logs/sol.log", "logs/sol.log.2024-01-01", "logs/supervisor.log"]
    for name in names:
        (run_dir / name).write_text("x\n")
    sock = _socket_at(run_dir / "control.sock")
    try:
        (run_dir / "notes.txt").write_text("the operator's own\n")
        (logs / "README").write_text("the operator's own\n")
        for path in [run_dir / name for name in [*names, "control.sock", "notes.txt", "logs/README"]]:
            path.chmod(0o666)
        run_dir.chmod(0o777)
        logs.chmod(0o755)
        prepare_run_dir(run_dir)
        modes = _modes(run_dir)
    finally:
        sock.close()
    assert modes == {
        ".": 0o700,
        "logs": 0o700,
        **{name: 0o600 for name in [*names, "control.sock"]},
        "notes.txt": 0o666,  # not the runner's: left as it is
        "logs/README": 0o666,
    }


def test_a_symlinked_run_directory_is_refused_in_one_line_naming_the_real_one(work: Path) -> None:
    real = work / "real"
    real.mkdir(mode=0o755)
    real.chmod(0o755)
    (work / "run").symlink_to(real)
    with pytest.raises(RunDirError) as refused:
        prepare_run_dir(work / "run")
    assert str(refused.value) == (
        f"the run directory {work / 'run'} is a symbolic link (to {real}); refusing it, as a link can be re-pointed "
        f"while the fleet runs. Give the real directory instead ({real})"
    )
    assert _modes(real) == {".": 0o755}  # untouched


def test_a_symlinked_log_directory_is_refused(work: Path) -> None:
    elsewhere = work / "elsewhere"
    elsewhere.mkdir()
    (work / "run").mkdir()
    (work / "run" / "logs").symlink_to(elsewhere)
    with pytest.raises(RunDirError, match=r"the log directory .*/run/logs is a symbolic link"):
        prepare_run_dir(work / "run")


@pytest.mark.parametrize("name", ["botrunner.db-wal", "runner.lock", "logs/sol.log"])
def test_a_symlink_planted_as_a_runner_file_is_refused_and_nothing_is_written_through_it(work: Path, name: str) -> None:
    run_dir = work / "run"
    (run_dir / "logs").mkdir(parents=True)
    victim = work / "victim"
    victim.write_text("someone else's file\n")
    victim.chmod(0o644)
    (run_dir / name).symlink_to(victim)
    sibling = run_dir / {"logs/sol.log": "logs/eth.log"}.get(name, "botrunner.db")  # a runner file beside it
    sibling.write_text("")
    sibling.chmod(0o644)
    run_dir.chmod(0o777)
    (run_dir / "logs").chmod(0o777)
    with pytest.raises(RunDirError, match=rf"{run_dir / name} in the .* directory is a symbolic link \(to {victim}\)"):
        prepare_run_dir(run_dir)
    assert victim.read_text() == "someone else's file\n" and _mode(victim) == 0o644
    # its directory was made 0700 first (so nobody could swap an entry meanwhile); no file in it was changed
    assert _mode(sibling.parent) == 0o700
    assert _mode(sibling) == 0o644


def test_a_run_directory_owned_by_another_user_is_refused_naming_it_its_owner_and_what_to_do(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir = work / "run"
    run_dir.mkdir(mode=0o755)
    run_dir.chmod(0o755)
    owner = os.geteuid()
    monkeypatch.setattr(os, "geteuid", lambda: owner + 1)  # this process is now somebody else
    with pytest.raises(RunDirError) as refused:
        prepare_run_dir(run_dir)
    message = str(refused.value)
    assert message.startswith(f"the run directory {run_dir} is owned by uid {owner}")
    assert f"not by this user (uid {owner + 1}" in message
    assert message.endswith("Use a directory of your own, or run as its owner")
    assert "\n" not in message
    assert _mode(run_dir) == 0o755


@pytest.mark.parametrize("name", ["botrunner.db", "logs/supervisor.log"])
def test_a_runner_file_owned_by_another_user_is_refused(work: Path, name: str) -> None:
    run_dir = work / "run"
    (run_dir / "logs").mkdir(parents=True)
    (run_dir / name).write_text("")
    (run_dir / name).chmod(0o666)
    owner = give_away(run_dir / name)
    with pytest.raises(RunDirError, match=rf"{run_dir / name} in the .* directory is owned by uid {owner}"):
        prepare_run_dir(run_dir)
    assert _mode(run_dir / name) == 0o666


@pytest.mark.parametrize("runner_umask", [0o077, 0], ids=["as-is", "without-the-umask-defence"])
def test_a_whole_run_under_umask_000_leaves_nothing_another_user_can_read(
    work: Path, monkeypatch: pytest.MonkeyPatch, runner_umask: int
) -> None:
    """The runner's files while it runs (store with its -wal and -shm, lock, socket, logs) and after it stops,
    from a run directory an earlier, careless run left world-readable. Each file is made owner-only by what
    creates it, so this holds even without the runner's own umask (its second layer)."""
    monkeypatch.setattr(rundir, "RUNNER_UMASK", runner_umask)
    small_market(work / "data")
    fleet = small_fleet(work / "fleet", ("alpha",))
    run_dir = work / "run"
    (run_dir / "logs").mkdir(parents=True)
    (run_dir / "logs" / "alpha.log.2024-01-01").write_text("{}\n")  # an old rotated day
    (run_dir / "logs" / "alpha.log.2024-01-01").chmod(0o666)
    run_dir.chmod(0o777)
    with umask(0):
        runner = Runner(RunOptions(fleet=fleet, run_dir=run_dir, speed="max", data_dir=work / "data", exit_at_end=True))
        try:
            runner.start()
            runner.wait(every_s=0.05)
            running = _modes(run_dir)
        finally:
            runner.shutdown()
    stopped = _modes(run_dir)
    assert {"botrunner.db-wal", "botrunner.db-shm", "control.sock", "runner.lock", "logs/alpha.log"} <= set(running)
    for modes in (running, stopped):
        dirs = {name for name in modes if name in (".", "logs")}
        assert {name: modes[name] for name in dirs} == {".": 0o700, "logs": 0o700}
        assert {name: mode for name, mode in modes.items() if name not in dirs} == dict.fromkeys(
            set(modes) - dirs, 0o600
        )
        # every file the runner made is one the run-directory check knows (so it is checked on the next start)
        for name in set(modes) - dirs:
            assert name in RUN_FILES or (name.startswith("logs/") and LOG_FILE.fullmatch(name[5:])), name


def test_botrunner_run_on_a_symlinked_run_directory_says_one_line_and_makes_nothing(work: Path) -> None:
    real = work / "real"
    real.mkdir()
    (work / "run").symlink_to(real)
    cmd = [sys.executable, "-m", "botrunner", "run", "--run-dir", str(work / "run"), "--quiet", "--speed", "max"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith(f"botrunner run: error: the run directory {work / 'run'} is a symbolic link")
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert list(real.iterdir()) == []


def test_the_runner_refuses_another_user_s_run_directory_before_locking_or_writing_anything(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir = work / "run"
    run_dir.mkdir()
    owner = os.geteuid()
    monkeypatch.setattr(os, "geteuid", lambda: owner + 1)
    runner = Runner(RunOptions(fleet=ROOT / "config" / "bots", run_dir=run_dir))
    try:
        with pytest.raises(RunnerError, match=f"the run directory {run_dir} is owned by uid {owner}"):
            runner.start()
    finally:
        runner.shutdown()
    assert list(run_dir.iterdir()) == []
