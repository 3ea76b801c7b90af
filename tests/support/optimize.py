"""Helpers for the tests of ``botrunner optimize``: a short search over the bundled data, reading back what its
workers did, and a throwaway PostgreSQL server.

The server is Debian's ``postgresql`` (``make setup`` installs it as root when missing: ops/ensure_postgresql.sh):
a cluster made with ``initdb`` in a fresh directory under /tmp, started with ``pg_ctl`` on 127.0.0.1 and a private
unix socket directory, owned by an unprivileged user when the tests run as root (the server refuses to run as
root), stopped and deleted after the test. Without the binaries the test is skipped, except in CI (``CI`` set),
where it fails: CI's setup installs them.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BOT = ROOT / "config" / "bots" / "sol-neutral-grid.yaml"
SPACE = """\
execution.step_bps: {low: 20, high: 80, step: 10}
execution.grid_levels: {low: 3, high: 8}
strategy.grid.bias: [bullish, neutral, bearish]
"""
# three days of the bundled SOL 5-minute bars: one trial is a fraction of a second of backtest
WINDOW = ("--from", "2025-09-25", "--to", "2025-09-27")


def optimize_args(tmp_path: Path, out: Path, *extra: str) -> list[str]:
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    return [
        "optimize",
        str(BOT),
        "--space",
        str(space),
        *WINDOW,
        "--objective",
        "return",
        "--trials",
        "4",
        "--lag",
        "2",
        "--seed",
        "11",
        "--out",
        str(out),
        "--json",
        "--quiet",
        *extra,
    ]


def trials_started(out: Path) -> list[int]:
    """Every trial number a local worker started, from the workers' JSON-lines logs."""
    numbers = []
    for log in sorted((out / "workers").glob("worker-*.log")):
        for line in log.read_text().splitlines():
            if line.startswith("{"):
                event = json.loads(line)
                if event.get("event") == "trial_started":
                    numbers.append(int(event["trial"]))
    return numbers


def _postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def postgres_server() -> Iterator[str]:
    """Start a throwaway PostgreSQL server; yields its URL (user ``botrunner``, trust auth on 127.0.0.1 only)."""
    bindir = _postgres_bin()
    if bindir is None:
        message = "PostgreSQL's initdb/pg_ctl are missing (Debian: apt-get install postgresql; make setup does it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    base = Path(tempfile.mkdtemp(prefix="botrunner-pg-", dir="/tmp"))
    run_as: list[str] = []
    if os.geteuid() == 0:  # postgres refuses to run as root: the cluster belongs to an unprivileged user
        user = "postgres" if _has_user("postgres") else "nobody"
        entry = pwd.getpwnam(user)
        os.chown(base, entry.pw_uid, entry.pw_gid)
        run_as = ["runuser", "-u", user, "--"]
    data = base / "data"

    def run(*command: str) -> None:
        subprocess.run([*run_as, *command], check=True, capture_output=True, timeout=120)

    try:
        run(str(bindir / "initdb"), "-D", str(data), "-U", "botrunner", "-A", "trust", "--no-sync")
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(base, ignore_errors=True)
        raise RuntimeError(f"could not initialise PostgreSQL: {exc.stderr.decode(errors='replace')}") from exc
    # _free_port only says the port was free a moment ago: another test run on this machine can bind it before
    # PostgreSQL does (seen when two suites ran at once), so a failed start is retried on a fresh port.
    attempts = 3
    for attempt in range(1, attempts + 1):
        port = _free_port()
        try:
            run(
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(base / "server.log"),
                "-o",
                f"-h 127.0.0.1 -p {port} -k {base} -F",
                "-w",
                "start",
            )
            break
        except subprocess.CalledProcessError as exc:
            if attempt == attempts:
                log = (base / "server.log").read_text(errors="replace") if (base / "server.log").exists() else ""
                shutil.rmtree(base, ignore_errors=True)
                detail = exc.stderr.decode(errors="replace")
                raise RuntimeError(f"could not start PostgreSQL after {attempts} ports: {detail}\n{log}") from exc
    try:
        yield f"postgresql://botrunner@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            timeout=120,
            check=False,
        )
        shutil.rmtree(base, ignore_errors=True)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
