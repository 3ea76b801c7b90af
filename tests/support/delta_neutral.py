"""A paper delta-neutral bot for the runtime's tests: the example bot (config/bots/sol-delta-neutral.yaml) with the
carry engine told to stay hedged (``always_in``) and the cost gate's horizon a year, so that on the two days of
``small_market`` it enters and holds both legs (what a dashboard or ctl test needs to show), every other rule as
configured."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from botrunner.runner import Runner, RunOptions
from botrunner.web.server import DashboardOptions
from tests.support.runtime import short_dir, small_fleet, small_market

ROOT = Path(__file__).resolve().parents[2]
NAME = "sol-delta-neutral"


def write_delta_neutral_bot(directory: Path) -> Path:
    text = (ROOT / "config" / "bots" / f"{NAME}.yaml").read_text()
    anchor = "    slippage_tolerance_bps: 50\n"
    if anchor not in text:
        raise AssertionError(f"config/bots/{NAME}.yaml changed: no {anchor.strip()!r} line to extend")
    text = text.replace(anchor, anchor + "    always_in: true\n  cost_gate:\n    horizon_s: 31536000\n")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{NAME}.yaml"
    path.write_text(text)
    return path


@contextmanager
def dashboard_fleet(grid_bots: tuple[str, ...], token: str) -> Iterator[Runner]:
    """A paper fleet of ``grid_bots`` beside the delta-neutral bot, its dashboard on a free port with ``token``,
    started and drained (every bar replayed), shut down on exit."""
    work = short_dir()
    fleet = small_fleet(work / "fleet", grid_bots)
    write_delta_neutral_bot(fleet)
    runner = Runner(
        RunOptions(
            fleet=fleet,
            run_dir=work / "run",
            speed="max",
            data_dir=small_market(work / "data"),
            ui=DashboardOptions(port=0, token=token),
        )
    )
    runner.start()
    try:
        runner.drain()
        yield runner
    finally:
        runner.shutdown()
