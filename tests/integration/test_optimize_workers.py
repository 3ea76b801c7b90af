"""Two worker processes on one SQLite study: both run trials, no trial runs twice, the best configuration is a bot
file that validates and backtests to the figures the search reported, and one worker gives the same trials."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest

from botrunner.cli import main
from botrunner.config import load_bot
from tests.support.optimize import WINDOW, optimize_args, trials_started


def _trials(out: Path, study: str) -> dict[int, tuple[str, dict[str, object], float | None, object]]:
    loaded = optuna.load_study(study_name=study, storage=f"sqlite:///{out / 'study.sqlite3'}")
    return {
        t.number: (t.state.name, t.params, t.value, t.user_attrs.get("invalid") or t.user_attrs.get("rejected"))
        for t in loaded.get_trials()
    }


def test_optimize_when_two_workers_share_a_sqlite_study_then_both_work_once_each_trial_and_the_best_backtests(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "two"
    assert main(optimize_args(tmp_path, out, "--workers", "2")) == 0
    doc = json.loads(capsys.readouterr().out)

    # both workers contributed, and together they ran every trial exactly once
    assert len(doc["workers"]) == 2, doc["workers"]
    assert all(n >= 1 for n in doc["workers"].values())
    assert sum(doc["workers"].values()) == 4
    started = trials_started(out)
    assert sorted(started) == [0, 1, 2, 3], started
    assert doc["trials"]["requested"] == 4
    assert doc["trials"]["complete"] + doc["trials"]["pruned"] + doc["trials"]["rejected"] == 4

    # the best configuration is a ready bot file: it validates and backtests to the fold's in-sample figures
    best = out / "best.yaml"
    bot = load_bot(best)
    assert bot.name == "sol-neutral-grid"
    for path, value in doc["best"]["params"].items():
        section, key = path.rsplit(".", 1)
        holder: object = bot
        for part in section.split("."):
            holder = getattr(holder, part)
        found = getattr(holder, key)
        assert str(getattr(found, "value", found)) == str(value), path
    fold = doc["best"]["in_sample"][0]
    assert main(["backtest", str(best), "--from", fold["from"], "--to", fold["to"], "--out", str(tmp_path / "bt")]) == 0
    capsys.readouterr()
    backtest = json.loads((tmp_path / "bt" / "summary.json").read_text())
    assert float(backtest["return_pct"]) == pytest.approx(fold["return_pct"], abs=1e-4)
    assert float(backtest["max_drawdown_pct"]) == pytest.approx(fold["max_drawdown_pct"])
    for name in ("report.html", "summary.json"):
        assert (out / name).is_file()
    assert "uPlot" in (out / "report.html").read_text()

    # the same search on one worker evaluates the same trials with the same results
    single = tmp_path / "one"
    assert main(optimize_args(tmp_path, single, "--workers", "1")) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["study"] == doc["study"]
    assert len(again["workers"]) == 1
    assert _trials(single, again["study"]) == _trials(out, doc["study"])
    assert again["best"]["params"] == doc["best"]["params"]
    assert again["best"]["out_of_sample"] == doc["best"]["out_of_sample"]
    assert WINDOW[1] == doc["window"]["from"][:10]


def test_optimize_when_the_study_is_already_full_then_it_reports_without_running_a_trial(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(optimize_args(tmp_path, out, "--workers", "1", "--trials", "2")) == 0
    first = json.loads(capsys.readouterr().out)
    (out / "workers").rename(tmp_path / "first-workers")
    assert main(optimize_args(tmp_path, out, "--workers", "1", "--trials", "2")) == 0
    second = json.loads(capsys.readouterr().out)
    assert not (out / "workers").exists()  # no worker was started
    assert second["best"] == first["best"]
