"""Search throughput for ``make bench``: trials per hour with 1 and with 2 local workers on the bundled data.

Each measurement is a real ``botrunner optimize`` (a subprocess, its workers subprocesses of it) on the
sol-neutral-grid over the bundled 30 days (after the week of warm-up), into a scratch directory. The same seed
gives both runs the same trials, so they do the same work. Throughput counts trials from the first trial's start
to the last one's end, as the study recorded them: process start-up, data loading and the report are left out
(they are paid once per search, not per trial). This module measures wall time: it is a shell, never imported by
the core.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import optuna
from optuna.trial import TrialState

ROOT = Path(__file__).resolve().parents[2]
BOT = ROOT / "config" / "bots" / "sol-neutral-grid.yaml"
SPACE = "execution.step_bps: {low: 20, high: 80, step: 5}\nexecution.grid_levels: {low: 3, high: 8}\n"


@dataclass(frozen=True)
class Throughput:
    workers: int
    trials: int
    span_s: float  # first trial's start to the last trial's end
    trial_s: float  # mean wall time of one trial (inside its worker)
    trial_cpu_s: float  # mean CPU time of one trial (its worker's process time): what contention cannot inflate

    @property
    def per_hour(self) -> float:
        return self.trials * 3600 / self.span_s


_SPIN = (  # a pure-Python loop: one core's worth of work, nothing shared
    "import time\nt = time.perf_counter()\nx = 0\nfor i in range(20_000_000):\n    x += i\n"
    "print(time.perf_counter() - t)\n"
)


def spare_cores() -> float:
    """How much two CPU-bound Python processes gain over one on this machine now (2.0: two free cores; 1.0: one).
    The machine may be shared: this is the ceiling the search's scaling is to be read against."""
    timings = []
    for count in (1, 2):
        procs = [
            subprocess.Popen([sys.executable, "-c", _SPIN], stdout=subprocess.PIPE, text=True) for _ in range(count)
        ]
        seconds = [float(p.communicate()[0]) for p in procs]
        timings.append(max(seconds) / count)  # wall seconds per spin
    return timings[0] / timings[1]


def measure(workers: int, trials: int) -> Throughput:
    with tempfile.TemporaryDirectory(prefix="botrunner-bench-optimize-") as work:
        space = Path(work) / "space.yaml"
        space.write_text(SPACE)
        out = Path(work) / "out"
        command = [sys.executable, "-m", "botrunner", "optimize", str(BOT), "--space", str(space)]
        command += ["--trials", str(trials), "--workers", str(workers), "--objective", "return", "--seed", "1"]
        command += ["--out", str(out), "--quiet", "--json", "--top", "1"]
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=3600)
        if done.returncode != 0:
            raise RuntimeError(f"botrunner optimize failed ({done.returncode}): {done.stderr.strip()[-500:]}")
        study = json.loads(done.stdout)["study"]
        loaded = optuna.load_study(study_name=study, storage=f"sqlite:///{out / 'study.sqlite3'}")
        ran = [t for t in loaded.get_trials() if t.state is not TrialState.RUNNING and t.datetime_start is not None]
        starts = [t.datetime_start for t in ran if t.datetime_start is not None]
        ends = [t.datetime_complete for t in ran if t.datetime_complete is not None]
        span = (max(ends) - min(starts)).total_seconds()
        each = [
            (t.datetime_complete - t.datetime_start).total_seconds()
            for t in ran
            if t.datetime_complete and t.datetime_start
        ]
        cpu = [
            float(event["cpu_seconds"])
            for log in sorted((out / "workers").glob("worker-*.log"))
            for line in log.read_text().splitlines()
            if line.startswith("{") and (event := json.loads(line)).get("event") == "trial_ended"
        ]
        return Throughput(
            workers=workers,
            trials=len(ran),
            span_s=span,
            trial_s=sum(each) / len(each),
            trial_cpu_s=sum(cpu) / len(cpu),
        )
