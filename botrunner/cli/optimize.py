"""``botrunner optimize BOT.yaml --space SPACE.yaml``: search a bot's parameters with walk-forward validation.

Without ``--worker``: checks everything (bad input is one line, exit 2, nothing written), starts ``--workers``
local worker processes on one study, shows a progress bar, waits for every trial (remote workers' too), then runs
the best trials out of sample and writes ``report.html``, ``best.yaml`` and ``summary.json`` into ``--out``. With
``--worker``: joins the study and runs trials until it is full (what each machine of a distributed search runs).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from botrunner.cli import CliError
from botrunner.cli.backtest import parse_when
from botrunner.logsetup import configure, register_secret
from botrunner.optimize import results
from botrunner.optimize.evaluate import Evaluator, Objective
from botrunner.optimize.launch import start_workers
from botrunner.optimize.output import BEST_YAML, REPORT, SUMMARY, WORKER_LOGS, write_files
from botrunner.optimize.report import render
from botrunner.optimize.search import Search, SearchError, parse_pct_bps, prepare
from botrunner.optimize.storage import StorageError, check_reachable, default_url, open_storage, redacted
from botrunner.optimize.worker import StudyMismatch, open_study, quiet_optuna, run_worker, wait_for_launch


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "optimize", help="search a bot's parameters (Optuna TPE, walk-forward folds, local or distributed workers)"
    )
    p.add_argument("bot", type=Path, help="bot YAML file, e.g. config/bots/sol-neutral-grid.yaml")
    p.add_argument("--space", type=Path, required=True, help="SPACE.yaml: config paths with ranges or choices")
    p.add_argument("--trials", type=int, default=100, help="trials in the study (default 100)")
    p.add_argument("--workers", type=int, help="local worker processes (default: the cores, here %(default)s)")
    p.add_argument("--from", dest="start", help="first day of the window (YYYY-MM-DD or ISO time, UTC)")
    p.add_argument("--to", dest="end", help="last day of the window, inclusive (YYYY-MM-DD), or an ISO time")
    p.add_argument("--data", type=Path, help="data directory (shared or bundled layout; default: bundled)")
    p.add_argument(
        "--objective", choices=[o.value for o in Objective], default="sharpe", help="what to maximise (sharpe)"
    )
    p.add_argument("--max-drawdown", metavar="PCT", help="reject trials whose drawdown in a fold exceeds PCT %%")
    p.add_argument("--min-round-trips", type=int, default=0, help="reject trials with fewer round trips in sample")
    p.add_argument("--folds", type=int, default=1, help="walk-forward in-sample/out-of-sample pairs (default 1)")
    p.add_argument("--oos-pct", type=int, default=25, help="out-of-sample share of each fold, %% (default 25)")
    p.add_argument(
        "--min-oos-share", type=float, default=0.5, help="flag overfitting below this share of in sample (0.5)"
    )
    p.add_argument("--storage", metavar="URL", help="Optuna RDB storage (default: sqlite in --out)")
    p.add_argument("--study", metavar="NAME", help="study name (default: BOT-<digest of the search>)")
    p.add_argument("--seed", type=int, default=0, help="the search's seed (default 0)")
    p.add_argument("--lag", type=int, default=8, help="trial n learns from trials below n-LAG (default 8)")
    p.add_argument("--top", type=int, default=5, help="best trials run out of sample and listed (default 5)")
    p.add_argument("--out", type=Path, help="output directory (default: out/optimize/BOT_NAME)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--worker", action="store_true", help="join the study and run trials; no report")
    p.add_argument("--launch", help=argparse.SUPPRESS)  # TOKEN:INDEX:COUNT, set on the workers a launch starts
    p.set_defaults(handler=run_optimize)


def _check_options(args: argparse.Namespace) -> int:
    workers = _cores() if args.workers is None else args.workers
    if workers < 1:
        raise CliError(f"--workers must be at least 1, got {workers}")
    if args.top < 1:
        raise CliError(f"--top must be at least 1, got {args.top}")
    if not 0 < args.min_oos_share <= 1:
        raise CliError(f"--min-oos-share must be in (0, 1], got {args.min_oos_share}")
    return workers


def _prepare(args: argparse.Namespace) -> tuple[Search, Any]:
    try:
        max_dd = None if args.max_drawdown is None else parse_pct_bps(args.max_drawdown, "--max-drawdown")
        return prepare(
            bot_path=args.bot,
            space_path=args.space,
            data_dir=args.data,
            start=parse_when(args.start, end=False) if args.start else None,
            end=parse_when(args.end, end=True) if args.end else None,
            objective=Objective(args.objective),
            max_drawdown_bps=max_dd,
            min_round_trips=args.min_round_trips,
            folds=args.folds,
            oos_pct=args.oos_pct,
            trials=args.trials,
            seed=args.seed,
            lag=args.lag,
        )
    except SearchError as exc:
        raise CliError(str(exc)) from exc


def _worker_arguments(args: argparse.Namespace, storage_url: str, study: str) -> list[str]:
    """The command line of a local worker: the same search, the same storage and study."""
    out = [str(args.bot.resolve()), "--space", str(args.space.resolve())]
    out += ["--trials", str(args.trials), "--objective", args.objective, "--folds", str(args.folds)]
    out += ["--oos-pct", str(args.oos_pct), "--seed", str(args.seed), "--lag", str(args.lag)]
    out += ["--min-round-trips", str(args.min_round_trips), "--storage", storage_url, "--study", study]
    for flag, value in (("--from", args.start), ("--to", args.end), ("--max-drawdown", args.max_drawdown)):
        if value is not None:
            out += [flag, value]
    if args.data is not None:
        out += ["--data", str(args.data.resolve())]
    return out


def run_optimize(args: argparse.Namespace) -> int:
    workers = _check_options(args)
    quiet_optuna()
    search, data = _prepare(args)
    out: Path = args.out if args.out is not None else Path("out") / "optimize" / search.bot.name
    if out.exists() and not out.is_dir():
        raise CliError(f"--out {out}: exists and is not a directory")
    if args.storage is not None:
        try:
            check_reachable(args.storage)
        except StorageError as exc:
            raise CliError(str(exc)) from exc
    storage_url = args.storage if args.storage is not None else default_url(out)
    name = args.study or search.default_study_name()
    password = make_url(storage_url).password
    if password:
        register_secret(str(password))
    if args.storage is None:
        out.mkdir(parents=True, exist_ok=True)  # the first write: every input has been checked
    try:
        study = open_study(search, open_storage(storage_url), name)
    except StudyMismatch as exc:
        raise CliError(str(exc)) from exc
    except SQLAlchemyError as exc:
        raise CliError(f"--storage {redacted(storage_url)}: {str(getattr(exc, 'orig', exc)).strip()}") from exc
    if args.worker:
        return _run_as_worker(args, search, data, study)
    return _run_search(args, search, data, study, storage_url=storage_url, out=out, workers=workers)


def _run_as_worker(args: argparse.Namespace, search: Search, data: Any, study: Any) -> int:
    configure(sys.stderr)
    evaluator = Evaluator(data, search.paper)
    if args.launch:
        token, index, count = args.launch.split(":")
        wait_for_launch(study, token, int(index), int(count))
    bar = _Bar(enabled=not args.quiet)

    def on_trial(_trial: Any) -> None:
        bar.draw(results.progress(study, search.trials))

    ran = run_worker(study, search, evaluator, on_trial=on_trial)
    bar.close()
    print(f"worker ran {ran} trial(s) of study {study.study_name}", file=sys.stderr)
    return 0


class _Bar:
    """A one-line progress bar on stderr, drawn only on a terminal: trials done, best so far, ETA."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.started = time.monotonic()
        self.first: int | None = None
        self.drawn = False

    def draw(self, p: results.Progress) -> None:
        if not self.enabled:
            return
        if self.first is None:
            self.first = p.finished
        elapsed = time.monotonic() - self.started
        done_here = p.finished - self.first
        eta = "–"
        if done_here > 0 and p.finished < p.total:
            left = elapsed / done_here * (p.total - p.finished)
            eta = f"{int(left // 60)}m{int(left % 60):02d}s"
        best = "–" if p.best_value is None else f"{p.best_value:.4f} (trial {p.best_trial})"
        width = 30
        filled = width * p.finished // max(1, p.total)
        sys.stderr.write(
            f"\r  [{'#' * filled}{'.' * (width - filled)}] {p.finished}/{p.total} trials, {p.running} running, "
            f"best {best}, ETA {eta}   "
        )
        sys.stderr.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _run_search(
    args: argparse.Namespace, search: Search, data: Any, study: Any, *, storage_url: str, out: Path, workers: int
) -> int:
    bar = _Bar(enabled=not args.quiet)
    before = results.progress(study, search.trials)
    if before.finished < search.trials:
        print(
            f"optimize {search.bot.name}: study {study.study_name} in {redacted(storage_url)}, "
            f"{search.trials} trials, {workers} local worker(s), {len(search.folds)} fold(s)",
            file=sys.stderr,
        )
        local = start_workers(_worker_arguments(args, storage_url, study.study_name), workers, out / WORKER_LOGS)
        try:
            while local.poll():
                bar.draw(results.progress(study, search.trials))
                time.sleep(1.0)
            failed = local.failed()
            if failed:
                index, code, last = failed[0]
                raise CliError(
                    f"worker {index + 1} exited with code {code}: {last} (log: {local.logs[index]})", exit_code=1
                )
            while (p := results.progress(study, search.trials)).finished < search.trials:  # remote workers
                bar.draw(p)
                results.fail_stale(study)  # a remote worker that died: its trial fails after the grace period
                time.sleep(1.0)
        except KeyboardInterrupt:
            local.stop()
            raise
        bar.draw(results.progress(study, search.trials))
        bar.close()
    return _report(args, search, data, study, storage_url=storage_url, out=out)


def _report(args: argparse.Namespace, search: Search, data: Any, study: Any, *, storage_url: str, out: Path) -> int:
    evaluator = Evaluator(data, search.paper)
    best = results.ranked(study, search, args.top)
    if not args.quiet:
        print(
            f"running the best {len(best)} trial(s) on the {len(search.folds)} out-of-sample window(s) and the best "
            "over the whole window ...",
            file=sys.stderr,
        )
    results.run_out_of_sample(search, evaluator, best, args.min_oos_share)
    best_run = results.whole_window(search, evaluator, best[0]) if best else None
    best_text = None
    if best:
        text, _ = search.candidate(best[0].values, f"trial {best[0].trial.number}")
        r = best[0]
        best_text = (
            f"# botrunner optimize: the best trial ({r.trial.number}) of study {study.study_name}\n"
            f"# {r.compared_on}: {r.is_score:.4f} in sample, {r.oos_score:.4f} out of sample"
            f"{' (overfitting warning: see report.html)' if r.overfit else ''}\n{text}"
        )
    importance = results.importance(study, search)
    files = {REPORT: str(out / REPORT), SUMMARY: str(out / SUMMARY)}
    if best_text is not None:
        files[BEST_YAML] = str(out / BEST_YAML)
    doc = results.summary(
        study,
        search,
        storage_url=storage_url,
        best=best,
        importance=importance,
        min_oos_share=args.min_oos_share,
        files=files,
    )
    trials = [t for t in study.get_trials(deepcopy=False) if t.number < search.trials]
    page = render(doc, search, trials=trials, best=best, best_run=best_run, best_yaml=best_text)
    contents = {REPORT: page, SUMMARY: json.dumps(doc, indent=2) + "\n"}
    if best_text is not None:
        contents[BEST_YAML] = best_text
    try:
        write_files(out, contents)
    except OSError as exc:
        raise CliError(f"cannot write to {out}: {exc.strerror or exc}", exit_code=1) from exc
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        _print_summary(doc)
    if not best:
        print("no trial completed: every one was pruned, rejected or invalid (see report.html)", file=sys.stderr)
        return 1
    return 0


def _fmt(value: Any, places: int = 4) -> str:
    return "-" if value is None else f"{value:.{places}f}"


def _print_summary(doc: dict[str, Any]) -> None:
    t = doc["trials"]
    print(
        f"study {doc['study']}: {t['requested']} trials: {t['complete']} complete, {t['pruned']} pruned, "
        f"{t['rejected']} rejected, {t['invalid']} invalid, {t['failed']} failed; workers: "
        + ", ".join(f"{w} ran {n}" for w, n in doc["workers"].items())
    )
    best = doc["best"]
    if best is not None:
        params = "  ".join(f"{k}={v}" for k, v in best["params"].items())
        print(f"best trial {best['trial']}: {params}")
        for side in ("in_sample", "out_of_sample"):
            for i, f in enumerate(best[side]):
                print(
                    f"  {side.replace('_', ' '):<13} fold {i + 1}  {f['from'][:10]}..{f['to'][:10]}  "
                    f"return {f['return_pct']:8.3f} %  sharpe {_fmt(f['sharpe']):>8}  sortino {_fmt(f['sortino']):>8}"
                    f"  calmar {_fmt(f['calmar']):>8}  max DD {f['max_drawdown_pct']:6.2f} %  "
                    f"round trips {f['round_trips']}"
                )
        print(
            f"  {best['compared_on']}: {_fmt(best['in_sample_mean'])} in sample, {_fmt(best['out_of_sample_mean'])} "
            "out of sample"
        )
        if best["overfit"]:
            print(
                f"  WARNING: out of sample is below {doc['min_oos_share']:.0%} of in sample: the best trial may be "
                "overfitted"
            )
    print(f"wrote {', '.join(Path(p).name for p in doc['files'].values())} to {Path(doc['files'][REPORT]).parent}")
