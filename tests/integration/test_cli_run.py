"""``botrunner run`` as an operator reads it: status lines when its output is not a terminal, a banner that says
what it resumed (or that it started fresh) and exactly what to type, and ``--fresh`` that never destroys a run."""

from __future__ import annotations

import calendar
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from botrunner.cli.run import ctl_command, fleet_counts, status_lines, status_of
from botrunner.core.operator import Pause, ReduceOnly, Stop
from botrunner.runner import Runner, RunnerError, RunOptions, aside_path
from botrunner.store import Store
from tests.support.runtime import ask, short_dir, small_fleet, small_market

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def work() -> Iterator[Path]:
    path = short_dir()
    small_market(path / "data")
    small_fleet(path / "fleet", ("alpha", "beta"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _cmd(work: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "botrunner",
        "run",
        "--fleet",
        str(work / "fleet"),
        "--run-dir",
        str(work / "run"),
        "--data",
        str(work / "data"),
        *extra,
    ]


def _run_to_end(work: Path, *extra: str) -> str:
    """A whole run to the end of the data, its standard output a pipe; what it printed."""
    done = subprocess.run(
        _cmd(work, "--speed", "max", "--exit-at-end", *extra),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _in_process(work: Path, **options: Any) -> Runner:
    runner = Runner(
        RunOptions(
            fleet=work / "fleet",
            run_dir=work / "run",
            speed="max",
            data_dir=work / "data",
            exit_at_end=True,
            **options,
        )
    )
    runner.start()
    return runner


HEADER = re.compile(
    r"^\[\d\d:\d\d:\d\d\] market time \S+( \(replay ended\))? · 2 bots: (\d) running · (\d) reduce-only · "
    r"(\d) paused · (\d) flattening · (\d) stopped · (\d) failed$"
)


def test_with_its_output_piped_the_runner_prints_the_fleets_status_lines_at_a_steady_interval(work: Path) -> None:
    proc = subprocess.Popen(
        _cmd(work, "--speed", "20000", "--status-every", "0.3"),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    headers = threading.Semaphore(0)

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if HEADER.match(line.rstrip("\n")):
                headers.release()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        for _ in range(3):  # three rounds while the replay runs: a steady stream, not one line at the end
            assert headers.acquire(timeout=30), "\n".join(lines)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        reader.join(timeout=10)
    assert proc.returncode == 0, "\n".join(lines)
    first = next(i for i, line in enumerate(lines) if HEADER.match(line))
    assert re.match(
        r"^  alpha  state=running risk=\S+ position=\S+ mark=\S+ equity=\S+ pnl=\S+ orders=\d+ fills=\d+",
        lines[first + 1],
    )
    assert lines[first + 2].startswith("  beta   state=running ")
    # the banner, first: how this run started and exactly what to type in another terminal
    assert lines[0] == "botrunner: 2 bots in " + str(work / "run") + " (speed 20000×)."
    assert lines[1] == "Started fresh (nothing to resume)."
    assert f"  {sys.executable} -m botrunner ctl status --run-dir {work / 'run'}" in lines


def test_a_second_run_says_what_it_resumed_and_that_the_replay_has_ended(work: Path) -> None:
    runner = _in_process(work)
    try:
        runner.wait(every_s=0.05)
        ask(runner, Pause(name="alpha"))
        ask(runner, ReduceOnly(name="beta"))
    finally:
        runner.shutdown()
    out = _run_to_end(work, "--quiet")
    run = work / "run"
    assert f"Resumed the previous run in {run} (to start over: `{sys.executable} -m botrunner run --fresh`" in out
    assert re.search(r"^  alpha  at market time \S+Z  paused: an operator's, kept from the previous run$", out, re.M)
    assert re.search(
        r"^  beta   at market time \S+Z  reduce_only: an operator's, kept from the previous run$", out, re.M
    )
    assert "The replay has ended (SOL-PERP): its bots will not trade again in this run directory" in out
    assert f"ctl resume alpha --run-dir {run}" in out and f"ctl resume beta --run-dir {run}" in out
    # and the last status lines say the same
    assert re.search(r"^  alpha  state=paused ", out, re.M) and re.search(r"^  beta   state=reduce_only ", out, re.M)


def test_fresh_moves_the_previous_run_aside_and_replays_from_the_start(work: Path) -> None:
    first = _run_to_end(work)
    assert "Started fresh (nothing to resume)." in first
    fills_before = _fills(work / "run")
    assert fills_before["alpha"] > 0
    out = _run_to_end(work, "--fresh")
    (aside,) = work.glob("run.*")
    assert re.fullmatch(r"run\.\d{8}T\d{6}", aside.name)
    assert f"Started fresh; the previous run is kept in {aside}." in out
    assert "Resumed" not in out
    assert _fills(aside) == fills_before  # nothing of the previous run was lost
    assert _fills(work / "run") == fills_before  # the same history replayed from its beginning: the same fills


def _fills(run_dir: Path) -> dict[str, int]:
    with Store.open(run_dir / "botrunner.db", readonly=True) as store:
        return {name: len(store.fills(name)) for name in ("alpha", "beta")}


def test_fresh_is_refused_and_touches_nothing_when_the_run_directory_holds_a_live_bot(work: Path) -> None:
    run = work / "run"
    run.mkdir(mode=0o700)
    with Store.open(run / "botrunner.db") as store:
        store.register_bot(
            bot="live-sol",
            authority="11111111111111111111111111111111",
            subaccount_id=3,
            market="SOL-PERP",
            mode="live",
            created_ts=1,
            config_digest="x",
        )
    before = sorted(p.name for p in run.iterdir())
    runner = Runner(RunOptions(fleet=work / "fleet", run_dir=run, speed="max", data_dir=work / "data", fresh=True))
    try:
        with pytest.raises(RunnerError, match=r"--fresh refused: .* live bot\(s\) live-sol .*nothing was touched"):
            runner.start()
    finally:
        runner.shutdown()
    # the lock it took, SQLite's own side files from reading the store, and the empty owner-only logs/ that
    # preparing the run directory makes before anything else (botrunner.runtime.rundir) are all that is new
    assert not any((run / "logs").iterdir())
    new = sorted(p.name for p in run.iterdir() if not p.name.endswith(("-shm", "-wal", ".lock")))
    assert [n for n in new if n != "logs"] == before
    assert list(work.glob("run.*")) == []
    with Store.open(run / "botrunner.db", readonly=True) as store:
        assert [a.bot for a in store.accounts()] == ["live-sol"]


def test_an_operators_reduce_only_shows_reason_operator_in_the_status_lines(work: Path) -> None:
    runner = _in_process(work)
    try:
        runner.wait(every_s=0.05)
        ask(runner, ReduceOnly(name="alpha"))
        ask(runner, Stop(name="beta"))
        lines = status_lines(status_of(runner), "12:00:00")
    finally:
        runner.shutdown()
    assert lines[0].endswith("· 2 bots: 0 running · 1 reduce-only · 0 paused · 0 flattening · 1 stopped · 0 failed")
    assert lines[1].startswith("  alpha  state=reduce_only risk=REDUCE_ONLY(operator) ")
    assert lines[2].startswith("  beta   state=stopped ")


def test_the_header_counts_what_an_operator_cares_about_and_flags() -> None:
    rows = [
        {"state": "running"},
        {"state": "restarting"},
        {"state": "failed", "flagged": True},
        {"state": "paused", "flagged": True},
        {"state": "flattening"},
    ]
    assert fleet_counts(rows) == (
        "5 bots: 1 running · 0 reduce-only · 1 paused · 1 flattening · 0 stopped · 1 failed · 1 restarting · ⚑ 2"
    )


@pytest.mark.parametrize(
    ("argv0", "on_path", "typed"),
    [
        (".venv/bin/botrunner", None, ".venv/bin/botrunner"),
        ("/opt/br/bin/botrunner", "/opt/br/bin/botrunner", "botrunner"),  # PATH finds this very one
        ("/opt/br/bin/botrunner", "/usr/bin/botrunner", "/opt/br/bin/botrunner"),  # PATH finds another one
        ("botrunner", "/usr/local/bin/botrunner", "botrunner"),
        ("/src/botrunner/__main__.py", None, f"{sys.executable} -m botrunner"),
    ],
)
def test_the_banner_names_the_botrunner_the_operator_started(argv0: str, on_path: str | None, typed: str) -> None:
    assert ctl_command(argv0, which=lambda _name: on_path) == typed


def test_a_second_fresh_run_in_the_same_second_gets_its_own_name(tmp_path: Path) -> None:
    run = tmp_path / "run"
    now = calendar.timegm((2025, 1, 2, 3, 4, 5, 0, 0, 0))
    first = aside_path(run, now)
    assert first.name == "run.20250102T030405"
    first.mkdir()
    assert aside_path(run, now).name == "run.20250102T030405-2"


def test_make_run_starts_fresh_unless_asked_to_resume() -> None:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")

    def recipe(*args: str) -> str:
        # run as a top-level make even under `make test`: an inherited MAKEFLAGS/MAKELEVEL makes it a sub-make that
        # prints "Leaving directory" after the recipe
        env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
        done = subprocess.run(
            ["make", "--no-print-directory", "-n", "run", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        return done.stdout.strip().splitlines()[-1]

    assert recipe().endswith("botrunner run --speed 6000 --fresh")
    assert recipe("RESUME=1").endswith("botrunner run --speed 6000 --resume")
    assert os.path.basename(recipe("SPEED=max").split()[0]) == "botrunner"
