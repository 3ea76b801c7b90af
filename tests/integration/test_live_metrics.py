"""A live bot's decisions feed the decision latency histogram at /metrics: ``botrunner run`` with a live bot on the
fake Solana node, scraped once the bot has decided (its first transaction is sent)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.test_live_runtime import ROOT, _env, _fleet, _run_cmd
from tests.integration.test_live_venue import KP, funded_user, serve_chain
from tests.support.fake_rpc import FakeRpc
from tests.support.runtime import short_dir

pytestmark = pytest.mark.integration
TOKEN = "live-metrics-token-" + "y" * 32


@pytest.fixture
def work() -> Iterator[Path]:
    path = short_dir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _latency(port: int) -> dict[str, float]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    family = next(f for f in text_string_to_metric_families(text) if f.name == "botrunner_decision_latency_seconds")
    return {
        f"{s.name}{{le={s.labels.get('le', '')}}}": s.value
        for s in family.samples
        if s.labels.get("bot") == "live-band"
    }


def test_a_live_bots_decisions_are_timed_in_the_metrics(work: Path, fake: FakeRpc) -> None:
    serve_chain(fake, user=funded_user())
    _fleet(work, fake.url)
    port = _free_port()
    out = (work / "runner.out").open("w")
    env = _env(str(KP)) | {"BOTRUNNER_UI_TOKEN": TOKEN}
    proc = subprocess.Popen(
        [*_run_cmd(work), "--quiet", "--ui-port", str(port)], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        while fake.count("sendTransaction") < 1:  # the bot decided and its commands went out
            assert proc.poll() is None, (work / "runner.out").read_text()
            assert time.monotonic() < deadline, "the live bot never sent its first transaction"
            time.sleep(0.1)
        samples = _latency(port)
        while samples.get("botrunner_decision_latency_seconds_count{le=}", 0) < 1:
            assert time.monotonic() < deadline, f"no live decision timed: {samples}"
            time.sleep(0.1)
            samples = _latency(port)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    count = samples["botrunner_decision_latency_seconds_count{le=}"]
    total = samples["botrunner_decision_latency_seconds_sum{le=}"]
    assert count >= 1 and 0 < total / count < 5.0  # from the reading's return to the commands started
    assert samples["botrunner_decision_latency_seconds_bucket{le=+Inf}"] == count
