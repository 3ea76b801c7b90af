"""``botrunner ctl`` starts fast: it imports the control client and the operator's vocabulary, never the backtest
engine, the store, the actors or the chain libraries (measured: ~350 ms of imports before, ~65 ms after)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

HEAVY = (
    "botrunner.backtest",
    "botrunner.store",
    "botrunner.runner",
    "botrunner.runtime.views",
    "actors",
    "pykka",
    "sqlite_utils",
    "driftpy",
    "solana",
    "solders",
    "numpy",
)

_PROBE = """
import json, sys
from botrunner.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def _modules_after(*argv: str) -> tuple[int, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    return outcome["code"], outcome["modules"]


def _heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]


def test_ctl_imports_neither_the_backtest_engine_nor_the_store_nor_the_chain_libraries() -> None:
    code, modules = _modules_after("ctl", "--socket", "/tmp/no-runner-here.sock", "status")
    assert code == 2  # no runner listening: the command ran to its end
    assert "botrunner.control.client" in modules and "botrunner.core.operator" in modules
    assert _heavy(modules) == []


def test_the_top_level_help_still_lists_every_sub_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "botrunner", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0
    for name in ("account", "backtest", "ctl", "demo", "monitor", "run", "validate"):
        assert name in done.stdout
