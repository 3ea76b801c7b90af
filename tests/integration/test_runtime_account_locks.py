"""One runner per live subaccount on a machine: ``AccountLocks`` takes every live bot's subaccount or none, names
the bot and the other runner when one is taken, leaves paper and monitor bots alone, and gives back what a reload
removed."""

from __future__ import annotations

import os
import shutil
import stat
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from actors.proxies import supervisor_proxy
from actors.supervisor import Supervisor
from botrunner import runner as runner_module
from botrunner.config import BotConfig, parse_bot
from botrunner.control.protocol import ControlError
from botrunner.core.operator import Reload
from botrunner.runner import Runner, RunOptions
from botrunner.runtime.account_locks import AccountInUse, AccountLocks
from botrunner.store import Store
from tests.integration.test_live_runtime import BOT, KP
from tests.integration.test_live_venue import funded_user, serve_chain
from tests.support.fake_rpc import FakeRpc
from tests.support.files import umask
from tests.support.runtime import ask, short_dir, small_fleet, small_market


def _bot(name: str, subaccount: int, mode: str = "live") -> BotConfig:
    text = BOT.format(authority=KP.pubkey(), url="http://127.0.0.1:9").replace("name: live-band", f"name: {name}")
    text = text.replace("subaccount_id: 1", f"subaccount_id: {subaccount}").replace("mode: live", f"mode: {mode}")
    return parse_bot(text, f"fleet/{name}.yaml")


def test_a_second_runner_is_refused_a_live_subaccount_and_takes_none_of_the_others(tmp_path: Path) -> None:
    first = AccountLocks(tmp_path / "run-a", tmp_path / "locks")
    first.acquire([_bot("a", 1), _bot("paper", 2, mode="paper"), _bot("watch", 3, mode="monitor")])
    assert first.held == {(str(KP.pubkey()), 1)}  # paper and monitor bots trade nothing real here
    second = AccountLocks(tmp_path / "run-b", tmp_path / "locks")
    with pytest.raises(AccountInUse) as refused:
        second.acquire([_bot("free", 4), _bot("clash", 1)])
    message = str(refused.value)
    assert message.startswith(f"fleet/clash.yaml: subaccount {KP.pubkey()}/1 is traded by another runner (pid ")
    assert f"bot a in {tmp_path / 'run-a'}" in message
    assert second.held == frozenset()  # all or nothing: subaccount 4 was given back
    third = AccountLocks(tmp_path / "run-c", tmp_path / "locks")
    third.acquire([_bot("free", 4)])
    third.release_all()


def test_a_reload_that_removes_a_live_bot_frees_its_subaccount(tmp_path: Path) -> None:
    locks = AccountLocks(tmp_path / "run", tmp_path / "locks")
    kept, removed = _bot("kept", 1), _bot("removed", 2)
    locks.acquire([kept, removed])
    locks.acquire([kept, removed])  # already held by this runner: nothing to take
    locks.keep_only([kept])
    assert locks.held == {(str(KP.pubkey()), 1)}
    other = AccountLocks(tmp_path / "other", tmp_path / "locks")
    other.acquire([removed])
    with pytest.raises(AccountInUse):
        other.acquire([kept])
    locks.release_all()
    other.acquire([kept])
    other.release_all()


def test_a_reload_adding_a_live_bot_on_a_subaccount_traded_elsewhere_is_refused_and_changes_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    work = short_dir()
    small_market(work / "data")
    fleet = small_fleet(work / "fleet", ("alpha",))
    runner = Runner(RunOptions(fleet=fleet, run_dir=work / "run", speed="max", data_dir=work / "data", run_feeds=False))
    runner.start()
    try:
        with FakeRpc() as fake:
            serve_chain(fake, user=funded_user())
            monkeypatch.setenv("DRIFT_PRIVATE_KEY", str(KP))
            (fleet / "live-band.yaml").write_text(BOT.format(authority=KP.pubkey(), url=fake.url))
            elsewhere = AccountLocks(work / "elsewhere")
            elsewhere.acquire([parse_bot((fleet / "live-band.yaml").read_text(), "live-band.yaml")])
            with pytest.raises(ControlError, match=r"reload refused, nothing changed: .* is traded by another runner"):
                ask(runner, Reload())
            elsewhere.release_all()
            assert fake.count("sendTransaction") == 0
        assert runner.account_locks.held == frozenset()
        assert [c.name for c in runner.configs] == ["alpha"]
        with Store.open(work / "run" / "botrunner.db", readonly=True) as store:
            assert [a.bot for a in store.accounts()] == ["alpha"]
    finally:
        runner.shutdown()
        shutil.rmtree(work, ignore_errors=True)


def _wait_for(condition: Any, what: str, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


@pytest.mark.parametrize("refused_meanwhile", [False, True], ids=["alone", "refused-reload-meanwhile"])
def test_a_reload_queued_behind_a_busy_supervisor_frees_the_removed_live_bots_subaccount_once_applied(
    monkeypatch: pytest.MonkeyPatch, refused_meanwhile: bool
) -> None:
    """A reload removing a live bot, answered as queued (the supervisor is busy): the bot trades on until the
    reload applies, so its subaccount lock and key are kept until then (a reload refused meanwhile gives back only
    what it took), and given back as soon as the supervisor has stopped it, not when the runner restarts."""
    work = short_dir()
    small_market(work / "data")
    fleet = small_fleet(work / "fleet", ("alpha",))
    free = threading.Event()
    original = Supervisor.status

    def slow_status(self: Supervisor) -> Any:
        assert free.wait(30)
        return original(self)

    monkeypatch.setattr(Supervisor, "status", slow_status)
    runner = Runner(RunOptions(fleet=fleet, run_dir=work / "run", speed="max", data_dir=work / "data", run_feeds=False))
    runner.start()
    account = (str(KP.pubkey()), 1)
    try:
        with FakeRpc() as fake:
            serve_chain(fake, user=funded_user())
            monkeypatch.setenv("DRIFT_PRIVATE_KEY", str(KP))
            live = fleet / "live-band.yaml"
            live.write_text(BOT.format(authority=KP.pubkey(), url=fake.url))
            assert ask(runner, Reload())["added"] == ["live-band"]
            assert runner.account_locks.held == {account}
            monkeypatch.setattr(runner_module, "ASK_TIMEOUT_S", 0.3)
            assert runner.supervisor is not None
            busy = supervisor_proxy(runner.supervisor).status()  # occupies the supervisor until ``free`` is set
            live.unlink()
            with pytest.raises(ControlError) as queued:
                ask(runner, Reload())
            assert queued.value.code == "timeout"
            assert "it is queued and takes effect when the supervisor finishes" in str(queued.value)
            # not applied yet: live-band still runs, on its subaccount, with its key
            assert runner.account_locks.held == {account}
            assert "live-band" in runner.live_access
            if refused_meanwhile:  # alpha moved subaccount: refused; it gives back what it took, not live-band's lock
                alpha = fleet / "alpha.yaml"
                alpha.write_text(alpha.read_text().replace("subaccount_id: 1", "subaccount_id: 7"))
                with pytest.raises(ControlError, match="reload refused, nothing changed"):
                    ask(runner, Reload())
                assert runner.account_locks.held == {account}
                assert "live-band" in runner.live_access
            free.set()
            busy.get(timeout=30)
            _wait_for(lambda: runner.account_locks.held == frozenset(), "the removed bot's subaccount was kept", 10)
            assert "live-band" not in runner.live_access
            elsewhere = AccountLocks(work / "elsewhere")  # another runner may trade it now
            elsewhere.acquire([parse_bot(BOT.format(authority=KP.pubkey(), url=fake.url), "live-band.yaml")])
            elsewhere.release_all()
    finally:
        free.set()
        runner.shutdown()
        shutil.rmtree(work, ignore_errors=True)


def test_reloads_from_two_clients_run_one_after_the_other(monkeypatch: pytest.MonkeyPatch) -> None:
    """The control server answers clients from several threads; a second reload waits for the first to finish
    (interleaved, one could free the subaccount lock the other had just taken for its new live bot)."""
    work = short_dir()
    small_market(work / "data")
    fleet = small_fleet(work / "fleet", ("alpha",))
    runner = Runner(RunOptions(fleet=fleet, run_dir=work / "run", speed="max", data_dir=work / "data", run_feeds=False))
    runner.start()
    inside = threading.Event()
    release = threading.Event()
    order: list[str] = []
    original = runner_module.load_fleet

    def slow_load(path: Path) -> Any:
        order.append("enter")
        if len(order) == 1:
            inside.set()
            assert release.wait(10)
        result = original(path)
        order.append("leave")
        return result

    monkeypatch.setattr(runner_module, "load_fleet", slow_load)
    try:
        threads = [threading.Thread(target=runner.dispatch, args=(Reload(),)) for _ in range(2)]
        threads[0].start()
        assert inside.wait(10)
        threads[1].start()
        time.sleep(0.2)  # the second reload is waiting now, not loading
        assert order == ["enter"]
        release.set()
        for thread in threads:
            thread.join(30)
        assert order == ["enter", "leave", "enter", "leave"]
    finally:
        release.set()
        runner.shutdown()
        shutil.rmtree(work, ignore_errors=True)


def test_the_lock_directory_and_its_lock_files_are_owner_only_whatever_the_umask(tmp_path: Path) -> None:
    directory = tmp_path / "locks"
    directory.mkdir()
    stale = directory / f"{KP.pubkey()}-1.lock"
    stale.write_text("pid 1: an earlier runner\n")
    stale.chmod(0o644)
    directory.chmod(0o755)
    with umask(0):
        locks = AccountLocks(tmp_path / "run", directory)
        locks.acquire([_bot("a", 1), _bot("b", 2)])
    try:
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in directory.iterdir()}
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        assert modes == {f"{KP.pubkey()}-1.lock": 0o600, f"{KP.pubkey()}-2.lock": 0o600}
    finally:
        locks.release_all()


def test_a_symlinked_or_foreign_lock_directory_is_refused_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "locks").symlink_to(real)
    with pytest.raises(AccountInUse) as refused:
        AccountLocks(tmp_path / "run", tmp_path / "locks").acquire([_bot("a", 1)])
    assert str(refused.value).startswith(
        f"fleet/a.yaml: the subaccount lock directory {tmp_path / 'locks'} is a symbolic link (to {real})"
    )
    assert list(real.iterdir()) == []
    owner = os.geteuid()
    monkeypatch.setattr(os, "geteuid", lambda: owner + 1)
    with pytest.raises(AccountInUse, match=f"the subaccount lock directory {real} is owned by uid {owner}"):
        AccountLocks(tmp_path / "run", real).acquire([_bot("a", 1)])
    assert list(real.iterdir()) == []
