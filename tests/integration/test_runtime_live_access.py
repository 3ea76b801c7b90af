"""Preparing live and monitor bots' access (``runner.prepare_live``): each RPC URL is checked once however many bots
share it, a failure names every bot on a dead RPC and no other, and a reload re-checks only the live bots it
(re)starts, so an unchanged fleet of live bots does not spend the control command's answer time on the network."""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from actors.supervisor import LiveAccess
from botrunner.config import BotConfig, parse_bot
from botrunner.core.operator import Reload
from botrunner.live import connect
from botrunner.runner import Runner, RunnerError, RunOptions, prepare_live
from tests.integration.test_live_runtime import BOT, KP
from tests.integration.test_live_venue import funded_user, serve_chain
from tests.support.fake_rpc import FakeRpc
from tests.support.runtime import ask, short_dir, small_fleet, small_market

DEAD_URL = "http://127.0.0.1:9"  # discard port: nothing listens, the connection is refused at once


def _monitor(name: str, url: str, subaccount: int) -> BotConfig:
    text = BOT.format(authority=KP.pubkey(), url=url).replace("name: live-band", f"name: {name}")
    text = text.replace("subaccount_id: 1", f"subaccount_id: {subaccount}").replace("mode: live", "mode: monitor")
    return parse_bot(text, f"fleet/{name}.yaml")


def test_bots_sharing_an_rpc_check_it_once() -> None:
    with FakeRpc() as fake:
        configs = tuple(_monitor(f"watch-{n}", fake.url, n) for n in range(1, 5))
        access = prepare_live(configs)
        assert fake.count("getSlot") == 1
    assert sorted(access) == [c.name for c in configs]
    assert {a.rpc_url for a in access.values()} == {fake.url}
    assert all(a.wallet is None for a in access.values())  # monitors hold no key


def test_a_dead_rpc_names_every_bot_on_it_and_only_those() -> None:
    with FakeRpc() as fake:
        configs = (
            _monitor("ok", fake.url, 1),
            _monitor("dead-a", DEAD_URL, 2),
            _monitor("dead-b", DEAD_URL, 3),
        )
        with pytest.raises(RunnerError) as refused:
            prepare_live(configs)
    lines = str(refused.value).splitlines()
    assert lines == [
        "fleet/dead-a.yaml: RPC http://127.0.0.1:9 unreachable (ConnectError)",
        "fleet/dead-b.yaml: RPC http://127.0.0.1:9 unreachable (ConnectError)",
    ]


def test_known_access_is_kept_without_touching_the_network() -> None:
    kept = LiveAccess(rpc_url=DEAD_URL)  # would fail a check: proves none was made
    with FakeRpc() as fake:
        configs = (_monitor("kept", DEAD_URL, 1), _monitor("new", fake.url, 2))
        access = prepare_live(configs, known={"kept": kept})
        assert fake.count("getSlot") == 1
    assert access["kept"] is kept
    assert access["new"].rpc_url == fake.url


def test_a_reload_checks_only_the_live_bots_it_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[list[str]] = []
    real = connect.probe_rpcs

    def recording(timeouts: Any) -> dict[str, str]:
        checked.append(sorted(timeouts))
        return real(timeouts)

    monkeypatch.setattr(connect, "probe_rpcs", recording)
    monkeypatch.setenv("DRIFT_PRIVATE_KEY", str(KP))
    work = short_dir()
    small_market(work / "data")
    fleet = small_fleet(work / "fleet", ("alpha",))
    runner = Runner(RunOptions(fleet=fleet, run_dir=work / "run", speed="max", data_dir=work / "data", run_feeds=False))
    try:
        with FakeRpc() as fake:
            serve_chain(fake, user=funded_user())
            (fleet / "live-band.yaml").write_text(BOT.format(authority=KP.pubkey(), url=fake.url))
            runner.start()
            assert checked == [[fake.url]]
            assert ask(runner, Reload())["unchanged"] == ["alpha", "live-band"]
            assert checked == [[fake.url]]  # nothing (re)started: no check
            (fleet / "live-band.yaml").write_text(
                BOT.format(authority=KP.pubkey(), url=fake.url).replace("capital_usdc: 1000", "capital_usdc: 900")
            )
            assert ask(runner, Reload())["changed"] == ["live-band"]
            assert checked == [[fake.url], [fake.url]]
            assert runner.live_access["live-band"].wallet is not None
            (fleet / "live-band.yaml").unlink()
            assert ask(runner, Reload())["removed"] == ["live-band"]
            assert checked == [[fake.url], [fake.url]]
            assert "live-band" not in runner.live_access  # a removed bot's key is not kept in memory
            runner.shutdown()
    finally:
        runner.shutdown()
        shutil.rmtree(work, ignore_errors=True)
