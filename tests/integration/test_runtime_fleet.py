"""The actor runtime in-process: a paper fleet replaying real history decides exactly as the backtest does, operator
commands take effect at once, and a failing bot restarts with backoff, then is flagged, while the others trade on
untouched."""

from __future__ import annotations

import shutil
import signal
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actors.bot_actor import BotActor
from botrunner import runner as runner_module
from botrunner.backtest.data import resolve
from botrunner.backtest.engine import BacktestInputs, run_backtest
from botrunner.cli import main as cli_main
from botrunner.config import load_bot
from botrunner.control.protocol import ControlError, ErrorCode
from botrunner.core.operator import Flatten, Pause, ReduceOnly, Reload, Resume, ShowBot, Start, Stop, Subscribe
from botrunner.runner import Runner, RunOptions
from botrunner.runtime.paper_bot import PaperBot
from botrunner.runtime.restart import RestartPolicy
from botrunner.runtime.snapshots import BotEvent, Started, StateChanged
from botrunner.store import StepRecord, Store, StoreError
from tests.support.runtime import ask, fleet_status, short_dir, small_fleet, small_market, write_bot


@pytest.fixture
def workdir() -> Iterator[Path]:
    path = short_dir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _run(workdir: Path, fleet: Path, **options: Any) -> Runner:
    runner = Runner(
        RunOptions(
            fleet=fleet,
            run_dir=workdir / "run",
            speed="max",
            data_dir=workdir / "data",
            exit_at_end=True,
            **options,
        )
    )
    runner.start()
    return runner


def _backtest_fills(workdir: Path, fleet: Path, name: str) -> list[tuple[Any, ...]]:
    bot = load_bot(fleet / f"{name}.yaml")
    data = resolve(bot.market, workdir / "data")
    start = data.default_start(bot.strategy.warmup_s)
    inputs = BacktestInputs(bot=bot, candles=data.candles, funding=data.funding, start=start, end=data.span()[1])
    return [(r.ts, r.side, r.price, r.base, r.fee) for r in run_backtest(inputs).fills]


def _store_fills(workdir: Path, name: str) -> list[tuple[Any, ...]]:
    with Store.open(workdir / "run" / "botrunner.db", readonly=True) as store:
        return [(r.ts, r.side, r.price, r.base, r.fee) for r in store.fills(name)]


def test_a_paper_bot_on_the_actor_runtime_fills_exactly_as_the_backtest_of_the_same_window(workdir: Path) -> None:
    small_market(workdir / "data")
    fleet = small_fleet(workdir / "fleet", ("alpha",))
    runner = _run(workdir, fleet)
    try:
        runner.wait(every_s=0.05)
        status = runner.status()
    finally:
        runner.shutdown()
    expected = _backtest_fills(workdir, fleet, "alpha")
    assert len(expected) > 10  # the window trades: the comparison means something
    assert _store_fills(workdir, "alpha") == expected
    assert status.fleet.replay_finished is True
    assert status.bots[0].fills == len(expected)


def test_operator_commands_take_effect_at_once_and_are_audited(workdir: Path) -> None:
    small_market(workdir / "data")
    fleet = small_fleet(workdir / "fleet", ("alpha",))
    runner = _run(workdir, fleet)
    try:
        assert stat.S_IMODE((workdir / "run").stat().st_mode) == 0o700  # a new run directory is the owner's only
        runner.wait(every_s=0.05)
        assert ask(runner, ShowBot(name="alpha"))["orders"]  # a ladder rests at the end of the data
        assert ask(runner, Pause(name="alpha")) == {"name": "alpha", "state": "paused"}
        detail = ask(runner, ShowBot(name="alpha"))
        assert detail["orders"] == [] and detail["state"] == "paused"
        assert "operator" in detail["risk"]["reasons"]
        assert ask(runner, Resume(name="alpha"))["state"] == "running"
        assert ask(runner, ShowBot(name="alpha"))["orders"]
        assert ask(runner, ReduceOnly(name="alpha"))["state"] == "reduce_only"
        assert ask(runner, Stop(name="alpha"))["state"] == "stopped"
        assert fleet_status(runner)["bots"][0]["state"] == "stopped"
        assert ask(runner, Start(name="alpha"))["name"] == "alpha"
    finally:
        runner.shutdown()
    with Store.open(workdir / "run" / "botrunner.db", readonly=True) as store:
        audited = [row.cmd for row in store.audit_rows() if row.actor == "ctl"]
    assert audited == ["pause", "resume", "reduce-only", "stop", "start"]


def test_a_failing_bot_restarts_with_backoff_then_is_flagged_and_the_other_bot_is_untouched(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_market(workdir / "data")
    fleet = small_fleet(workdir / "fleet", ("alpha", "beta"))
    original = PaperBot.on_event

    def flaky(self: PaperBot, event: Any) -> Any:
        if self.driver.bot.name == "beta" and event.ts % 3600 == 0:
            raise RuntimeError("beta blew up")
        return original(self, event)

    monkeypatch.setattr(PaperBot, "on_event", flaky)
    runner = _run(workdir, fleet, restart=RestartPolicy(base_delay_s=0.01, max_delay_s=0.05, max_failures=3))
    try:
        runner.wait(every_s=0.05)
        deadline = time.monotonic() + 20
        while True:  # beta's last restarts may still be under way when alpha's replay ends
            status = {row["name"]: row for row in fleet_status(runner)["bots"]}
            if status["beta"]["state"] == "failed" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    finally:
        runner.shutdown()
    assert status["beta"]["flagged"] is True and status["beta"]["state"] == "failed", status["beta"]
    assert status["beta"]["restarts"] == 2
    assert status["alpha"]["flagged"] is False and status["alpha"]["restarts"] == 0
    assert _store_fills(workdir, "alpha") == _backtest_fills(workdir, fleet, "alpha")
    log = (workdir / "run" / "logs" / "beta.log").read_text()
    assert "beta blew up" in log and "Traceback" in log


def test_when_the_store_cannot_be_written_the_fleet_stops_and_the_run_ends_with_the_reason(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk six hours into the replay: no bot crash-loops against it, nothing after it is stored, the runner
    stops by itself and says why (``store_failure``), and shutting down raises nothing."""
    small_market(workdir / "data")
    fleet = small_fleet(workdir / "fleet", ("alpha", "beta"))
    original = Store.write
    first_bar = int(resolve("SOL-PERP", workdir / "data").candles.bars[0].ts)
    wall = first_bar + 6 * 3600

    def full_after_six_hours(self: Store, items: Any) -> None:
        if any(isinstance(i, StepRecord) and i.ts >= wall for i in items):
            raise StoreError(f"{self.path}: write of {len(items)} records refused, nothing written") from (
                sqlite3.OperationalError("database or disk is full")
            )
        original(self, items)

    monkeypatch.setattr(Store, "write", full_after_six_hours)
    runner = _run(workdir, fleet)
    try:
        runner.wait(every_s=0.05)
        status = {row["name"]: row for row in fleet_status(runner)["bots"]}
    finally:
        runner.shutdown()
    assert runner.shutdown_requested.is_set()  # stopped by the failure, not by the end of the data
    assert runner.store_failure is not None
    assert isinstance(runner.store_failure.__cause__, StoreError)
    assert [status[name]["restarts"] for name in ("alpha", "beta")] == [0, 0], status
    with Store.open(workdir / "run" / "botrunner.db", readonly=True) as store:
        for name in ("alpha", "beta"):
            saved = store.load_checkpoint(name)
            assert saved is not None and saved.ts < wall
            assert all(f.ts < wall for f in store.fills(name))
    assert "store_failed_stopping_fleet" in (workdir / "run" / "logs" / "supervisor.log").read_text()


def test_botrunner_run_on_a_store_it_cannot_write_exits_with_one_line_saying_why(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    small_market(workdir / "data")
    fleet = small_fleet(workdir / "fleet", ("alpha",))
    original = Store.write
    first_bar = int(resolve("SOL-PERP", workdir / "data").candles.bars[0].ts)

    def full_after_an_hour(self: Store, items: Any) -> None:
        if any(isinstance(i, StepRecord) and i.ts >= first_bar + 3600 for i in items):
            raise StoreError("write refused") from sqlite3.OperationalError("database or disk is full")
        original(self, items)

    monkeypatch.setattr(Store, "write", full_after_an_hour)
    args = ["run", "--fleet", str(fleet), "--run-dir", str(workdir / "run"), "--data", str(workdir / "data")]
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = cli_main([*args, "--speed", "max", "--exit-at-end", "--quiet"])
    finally:  # botrunner run installs its own Ctrl-C handler: give pytest its own back
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err == [
        f"botrunner run: error: the store {workdir / 'run' / 'botrunner.db'} could not be written (database or disk "
        "is full), so the fleet was stopped: each bot applied its shutdown policy on its venue. Fix that and run "
        "again: every bot resumes from its last stored step and reconciles with its venue"
    ]


def test_reload_applies_only_what_changed_and_a_broken_file_changes_nothing(workdir: Path) -> None:
    small_market(workdir / "data")
    fleet = small_fleet(workdir / "fleet", ("alpha", "beta"))
    runner = _run(workdir, fleet)
    events: list[BotEvent] = []
    unsubscribe = runner.subscribe(events.append, Subscribe())
    try:
        runner.wait(every_s=0.05)
        (fleet / "gamma.yaml").write_text("name: gamma\nmode: paper\nmarket: [\n")
        with pytest.raises(ControlError, match=r"gamma\.yaml"):
            ask(runner, Reload())
        assert {r["name"] for r in fleet_status(runner)["bots"]} == {"alpha", "beta"}
        # a paper bot on a market this run replays no data for: refused before its account is registered
        (fleet / "gamma.yaml").write_text(write_bot(fleet, "gamma", 9).read_text().replace("SOL-PERP", "BTC-PERP"))
        with pytest.raises(ControlError, match=r"gamma\.yaml: market BTC-PERP has no replay feed in this run"):
            ask(runner, Reload())
        with Store.open(workdir / "run" / "botrunner.db", readonly=True) as store:
            assert [a.bot for a in store.accounts()] == ["alpha", "beta"]
        write_bot(fleet, "gamma", 9)
        beta = fleet / "beta.yaml"
        beta.write_text(beta.read_text().replace("step_bps: 25", "step_bps: 60"))
        (fleet / "alpha.yaml").unlink()
        result = ask(runner, Reload())
        assert result == {"changed": ["beta"], "added": ["gamma"], "removed": ["alpha"], "unchanged": []}
        assert {r["name"] for r in fleet_status(runner)["bots"]} == {"beta", "gamma"}
        assert ask(runner, ShowBot(name="beta"))["grid"]["step_bps"] == "60"
        deadline = time.monotonic() + 20  # gamma announces itself from its own thread once it has started
        while not any(isinstance(e, Started) and e.bot == "gamma" for e in events):
            assert time.monotonic() < deadline, "gamma never reported its start"
            time.sleep(0.02)
    finally:
        unsubscribe()
        runner.shutdown()


def test_flatten_keeps_only_reduce_only_orders_and_subscribers_see_the_state_change(workdir: Path) -> None:
    small_market(workdir / "data")
    fleet = small_fleet(workdir / "fleet", ("alpha",))
    runner = _run(workdir, fleet)
    events: list[BotEvent] = []
    unsubscribe = runner.subscribe(events.append, Subscribe(bots=("alpha",)))
    try:
        runner.wait(every_s=0.05)
        before = ask(runner, ShowBot(name="alpha"))
        state = ask(runner, Flatten(name="alpha"))["state"]
        after = ask(runner, ShowBot(name="alpha"))
    finally:
        unsubscribe()
        runner.shutdown()
    if before["position"].strip("-0.") == "":
        assert state == "paused" and after["orders"] == []  # already flat: flatten is done at once
    else:
        assert state == "flattening"
        assert after["orders"] and all(o["reduce_only"] for o in after["orders"])
    assert StateChanged(bot="alpha", state=state, command="flatten") in events


def test_a_command_to_a_busy_bot_is_answered_as_queued_audited_and_then_applied(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bot busy past the answer time (a long step, a transaction confirmation): the operator hears at once that
    the pause is queued, not lost, the audit says so, and the pause takes effect when the bot is free."""
    small_market(workdir / "data")
    fleet = small_fleet(workdir / "fleet", ("alpha",))
    monkeypatch.setattr(runner_module, "ASK_TIMEOUT_S", 0.3)
    free = threading.Event()
    original = BotActor.detail

    def slow_detail(self: BotActor) -> Any:
        assert free.wait(10)
        return original(self)

    monkeypatch.setattr(BotActor, "detail", slow_detail)
    runner = _run(workdir, fleet)
    try:
        runner.wait(every_s=0.05)
        ref = runner.supervisor.proxy().bot_ref("alpha").get(timeout=5)  # type: ignore[union-attr]
        busy = ref.proxy().detail()  # occupies alpha's actor until ``free`` is set
        with pytest.raises(ControlError) as queued:
            ask(runner, Pause(name="alpha"))
        assert queued.value.code == "timeout"
        assert "it is queued and takes effect when bot 'alpha' finishes what it is doing" in str(queued.value)
        free.set()
        busy.get(timeout=10)
        assert ask(runner, ShowBot(name="alpha"))["state"] == "paused"
    finally:
        free.set()
        runner.shutdown()
    with Store.open(workdir / "run" / "botrunner.db", readonly=True) as store:
        audited = [(row.cmd, row.outcome) for row in store.audit_rows() if row.actor == "ctl"]
    assert audited == [("pause", "queued: no answer within 0.3 s")]


def test_reload_refuses_a_repeated_key_an_alias_bomb_deep_nesting_and_stray_bytes_each_in_one_line(
    workdir: Path,
) -> None:
    """Before, these answered "internal error" (a traceback in the server), or took the fleet from ~80 MB to
    1.5 GB expanding ten million aliases; now one refusal names each file, position and problem, cheaply."""
    import tracemalloc

    from botrunner.control.protocol import ErrorCode

    small_market(workdir / "data")
    fleet = small_fleet(workdir / "fleet", ("alpha",))
    runner = _run(workdir, fleet, run_feeds=False)
    try:
        dup = write_bot(fleet, "gamma", 7)
        dup.write_text(dup.read_text() + "market: BTC-PERP\n")
        bomb = "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]\n" for i in range(1, 7))
        (fleet / "delta.yaml").write_text("l0: &l0 [" + ", ".join(["lol"] * 10) + "]\n" + bomb)
        (fleet / "epsilon.yaml").write_bytes(b"name: epsilon\nmarket: SOL\xff-PERP\n")
        (fleet / "zeta.yaml").write_text("name: zeta\nlevels: " + "[" * 3000 + "]" * 3000 + "\n")
        tracemalloc.start()
        try:
            with pytest.raises(ControlError) as err:
                ask(runner, Reload())
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert err.value.code is ErrorCode.BAD_REQUEST
        lines = err.value.message.removeprefix("reload refused, nothing changed: ").splitlines()
        dup_line = len(dup.read_text().splitlines())
        assert lines[0].startswith(f"{fleet / 'delta.yaml'}:1:5: &l0: anchors and aliases are not allowed")
        assert lines[1].startswith(f"{fleet / 'epsilon.yaml'}:2:12: not UTF-8: byte 0xff (invalid start byte)")
        assert lines[2].startswith(f"{fleet / 'gamma.yaml'}:{dup_line}:1: market: duplicate key 'market': first given")
        assert lines[3].startswith(f"{fleet / 'zeta.yaml'}:2:")
        assert len(lines) == 4
        assert peak < 5_000_000, f"refusing took {peak:,} bytes"
        assert [c.name for c in runner.configs] == ["alpha"]
        assert {r["name"] for r in fleet_status(runner)["bots"]} == {"alpha"}
    finally:
        runner.shutdown()


def test_after_too_many_failures_a_bot_runs_paused_and_flagged_until_an_operator_starts_and_resumes_it(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_market(workdir / "data")
    fleet = small_fleet(workdir / "fleet", ("alpha", "beta"))
    original = PaperBot.on_event
    failures = [0]

    def fails_three_times(self: PaperBot, event: Any) -> Any:
        if self.driver.bot.name == "beta" and event.ts % 3600 == 0 and failures[0] < 3:
            failures[0] += 1
            raise RuntimeError("beta blew up")
        return original(self, event)

    monkeypatch.setattr(PaperBot, "on_event", fails_three_times)
    runner = _run(workdir, fleet, restart=RestartPolicy(base_delay_s=0.01, max_delay_s=0.05, max_failures=3))
    try:
        runner.wait(every_s=0.05)
        deadline = time.monotonic() + 20
        while True:
            beta = {row["name"]: row for row in fleet_status(runner)["bots"]}["beta"]
            try:
                slot = ask(runner, ShowBot(name="beta"))
            except ControlError as exc:  # caught between a failure and its restart: the runtime says "try again"
                if exc.code is not ErrorCode.CONFLICT or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
                continue
            if slot["supervision"] == "running" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        # its third failure gave it one start PAUSED: it runs (no orders), flagged, and says so
        assert (beta["state"], beta["flagged"], beta["restarts"]) == ("paused", True, 2), beta
        assert slot["orders"] == [] and slot["alive"] is True
        ask(runner, Start(name="beta"))  # clears the flag; the pause is the bot's own, persisted
        deadline = time.monotonic() + 20
        while ask(runner, ShowBot(name="beta"))["supervision"] != "running" and time.monotonic() < deadline:
            time.sleep(0.05)
        beta = {row["name"]: row for row in fleet_status(runner)["bots"]}["beta"]
        assert (beta["state"], beta["flagged"]) == ("paused", False), beta
        assert ask(runner, Resume(name="beta"))["state"] == "running"
    finally:
        runner.shutdown()
