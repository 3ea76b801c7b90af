"""ctl pause latency through the control socket of a real ``botrunner run`` against the fake Solana node, while the
bot's first transaction takes 20 s to confirm. Usage, from the repository root (each run takes ~25 s):

    PYTHONPATH=$PWD .venv/bin/python ops/measure_live_pause.py RUNS
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time

from botrunner.control.client import ControlClient
from botrunner.core.operator import Pause, Shutdown
from botrunner.runtime.snapshots import BotState
from tests.integration.test_live_runtime import ROOT, _env, _fleet, _run_cmd
from tests.integration.test_live_venue import KP, funded_user, serve_chain
from tests.support.fake_rpc import FakeRpc
from tests.support.runtime import short_dir

CONFIRMATION_DELAY_S = 20


def run_once() -> float:
    """One runner, one live band bot: seconds from sending ``pause`` to its answer, while the ladder confirms."""
    work = short_dir()
    with FakeRpc() as fake:
        serve_chain(fake, user=funded_user())
        fleet = _fleet(work, fake.url)
        yaml = (fleet / "live-band.yaml").read_text()
        yaml = yaml.replace("confirm_timeout_s: 1", "confirm_timeout_s: 30")
        (fleet / "live-band.yaml").write_text(yaml.replace("status_timeout_s: 1", "status_timeout_s: 5"))
        fake.confirm_after_s(CONFIRMATION_DELAY_S)
        cmd = [*_run_cmd(work), "--quiet"]
        proc = subprocess.Popen(cmd, cwd=ROOT, env=_env(str(KP)), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            sock = work / "run" / "control.sock"
            while not (sock.exists() and fake.sent):
                time.sleep(0.05)
            time.sleep(1)  # well into the confirmation wait
            with ControlClient(sock) as client:
                started = time.monotonic()
                reply = client.call(Pause(name="live-band"), BotState)
                latency = time.monotonic() - started
            if reply.state != "paused" or len(fake.sent) != 1:
                raise SystemExit(f"unexpected: state {reply.state}, {len(fake.sent)} transactions sent")
            with ControlClient(sock) as client:
                client.call_raw(Shutdown())
            proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            shutil.rmtree(work, ignore_errors=True)
    return latency


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    latencies = [run_once() for _ in range(runs)]
    median, worst = statistics.median(latencies), max(latencies)
    sys.stdout.write(f"ctl pause latency under a {CONFIRMATION_DELAY_S} s confirmation, {runs} runs: ")
    sys.stdout.write(f"p50 {median * 1000:.1f} ms, max {worst * 1000:.1f} ms\n")


if __name__ == "__main__":
    main()
