"""Local worker processes: ``--workers K`` starts K ``botrunner optimize … --worker`` processes on this machine.

They are the same command a remote machine runs (the same code path, the same checks against the study's
definition), started with a launch token so they begin trials together, each writing its log to
``OUT/workers/worker-I.log``. A worker is one process running one trial at a time; numerical libraries are held to
one thread each (``OMP_NUM_THREADS`` and friends), so K workers use K cores and no more.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

_ONE_THREAD: Final = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


@dataclass
class LocalWorkers:
    processes: list[subprocess.Popen[bytes]]
    logs: list[Path]
    token: str
    exit_codes: dict[int, int] = field(default_factory=dict)

    def poll(self) -> bool:
        """True while any worker still runs; records the exit codes of those that ended."""
        running = False
        for i, process in enumerate(self.processes):
            code = process.poll()
            if code is None:
                running = True
            else:
                self.exit_codes[i] = code
        return running

    def failed(self) -> list[tuple[int, int, str]]:
        """(worker index, exit code, last line of its log) of every worker that ended badly."""
        out = []
        for i, code in sorted(self.exit_codes.items()):
            if code != 0:
                lines = self.logs[i].read_text(errors="replace").strip().splitlines() if self.logs[i].exists() else []
                out.append((i, code, lines[-1] if lines else "(empty log)"))
        return out

    def stop(self) -> None:
        """Stop the workers this launch started (Ctrl-C), each by its own process id: SIGINT first, which Optuna
        answers by marking the running trial failed before it exits; SIGKILL for one still there after 30 s."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def start_workers(arguments: Sequence[str], count: int, log_dir: Path) -> LocalWorkers:
    """Start ``count`` workers running ``botrunner optimize ARGUMENTS --worker``."""
    log_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(6)
    env = dict(os.environ)
    env.update(dict.fromkeys(_ONE_THREAD, "1"))
    processes: list[subprocess.Popen[bytes]] = []
    logs: list[Path] = []
    for i in range(count):
        log = log_dir / f"worker-{i + 1}.log"
        command = [
            sys.executable,
            "-m",
            "botrunner",
            "optimize",
            *arguments,
            "--worker",
            "--quiet",
            "--launch",
            f"{token}:{i}:{count}",
        ]
        with log.open("wb") as sink:
            processes.append(
                subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT, env=env)
            )
        logs.append(log)
    return LocalWorkers(processes, logs, token)
