"""Two workers share one study in a real PostgreSQL server (Debian's, started and stopped by the fixture): the
distributed set-up of ``--storage postgresql://…`` on one machine."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest

from botrunner.cli import main
from tests.support.optimize import optimize_args, postgres_server, trials_started


@pytest.fixture
def postgres() -> Iterator[str]:
    yield from postgres_server()


def test_optimize_when_two_workers_share_a_postgresql_study_then_both_run_trials_once_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], postgres: str
) -> None:
    out = tmp_path / "out"
    args = optimize_args(tmp_path, out, "--workers", "2", "--storage", postgres, "--study", "pg-shared")
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["storage"] == postgres
    assert len(doc["workers"]) == 2 and all(n >= 1 for n in doc["workers"].values()), doc["workers"]
    assert sorted(trials_started(out)) == [0, 1, 2, 3]
    assert not (out / "study.sqlite3").exists()  # the study lives in the server
    study = optuna.load_study(
        study_name="pg-shared", storage=postgres.replace("postgresql://", "postgresql+psycopg://")
    )
    assert sorted(t.number for t in study.trials) == [0, 1, 2, 3]
    assert {t.user_attrs["worker"] for t in study.trials} == set(doc["workers"])

    # a worker joining the full study (what another machine runs, in its own process) finds nothing left to do
    joined = subprocess.run(
        [sys.executable, "-m", "botrunner", *args, "--worker"], capture_output=True, text=True, timeout=300, check=False
    )
    assert joined.returncode == 0, joined.stderr
    assert "worker ran 0 trial(s) of study pg-shared" in joined.stderr
