"""``botrunner optimize`` on bad input: one line on stderr, exit code 2, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from botrunner.cli import main

ROOT = Path(__file__).resolve().parents[2]
BOT = ROOT / "config" / "bots" / "sol-neutral-grid.yaml"
BAND_BOT = """\
name: band-bot
mode: paper
account: {authority: paper-wallet, subaccount_id: 3}
market: SOL-PERP
capital_usdc: 10000
strategy:
  kind: band
  band: {min_base: -2, max_base: 2}
execution:
  grid_levels: 3
  step_bps: 30
  base_size_per_level: 0.1
"""


def optimize(tmp_path: Path, space: str, *extra: str, bot: Path = BOT) -> list[str]:
    (tmp_path / "space.yaml").write_text(space)
    return [
        "optimize",
        str(bot),
        "--space",
        str(tmp_path / "space.yaml"),
        "--out",
        str(tmp_path / "out"),
        "--from",
        "2025-09-25",
        "--to",
        "2025-09-27",
        "--trials",
        "2",
        "--workers",
        "1",
        "--quiet",
        *extra,
    ]


@pytest.mark.parametrize(
    ("space", "extra", "message"),
    [
        (
            "execution.stepbps: {low: 10, high: 20}\n",
            (),
            "space.yaml:1: execution.stepbps: not a setting of a bot file",
        ),
        ("execution.step_bps: {low: 30, high: 20}\n", (), "space.yaml:1: execution.step_bps: empty range"),
        (
            "execution.grid_levels: {low: 4, high: 40}\n",
            (),
            "space.yaml:1: execution.grid_levels: 40 does not validate in",
        ),
        (
            "execution.step_bps: {low: 10, high: 20}\n",
            ("--storage", "postgresql://bot:hunter22@127.0.0.1:1/optuna"),
            "--storage postgresql://bot:***@127.0.0.1:1/optuna: cannot connect",
        ),
        ("execution.step_bps: {low: 10, high: 20}\n", ("--storage", "nosuchdb://x/y"), "--storage nosuchdb://x/y"),
        (
            "execution.step_bps: {low: 10, high: 20}\n",
            ("--objective", "carry_apr"),
            "--objective carry_apr: a grid bot reports no funding carry",
        ),
        (
            "execution.step_bps: {low: 10, high: 20}\n",
            ("--objective", "calmar"),
            "--objective calmar needs in-sample windows of at least 7 days",
        ),
        ("execution.step_bps: {low: 10, high: 20}\n", ("--folds", "0"), "--folds must be at least 1"),
        ("execution.step_bps: {low: 10, high: 20}\n", ("--max-drawdown", "0"), "--max-drawdown '0'"),
        ("execution.step_bps: {low: 10, high: 20}\n", ("--trials", "0"), "--trials must be at least 1"),
    ],
)
def test_optimize_when_input_is_bad_then_one_line_exit_2_and_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], space: str, extra: tuple[str, ...], message: str
) -> None:
    code = main(optimize(tmp_path, space, *extra))
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1, err
    assert err.startswith("botrunner optimize: error: ")
    assert message in err, err
    assert "hunter22" not in err
    assert not (tmp_path / "out").exists()


def test_optimize_when_a_band_bot_asks_for_carry_then_refused_as_well(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bot = tmp_path / "band.yaml"
    bot.write_text(BAND_BOT)
    code = main(optimize(tmp_path, "execution.step_bps: [20, 30]\n", "--objective", "carry_apr", bot=bot))
    assert code == 2
    assert "a band bot reports no funding carry" in capsys.readouterr().err


def test_optimize_when_the_sqlite_directory_is_missing_then_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/nowhere/study.db"
    code = main(optimize(tmp_path, "execution.step_bps: [20, 30]\n", "--storage", url))
    assert code == 2
    assert f"directory {tmp_path}/nowhere does not exist" in capsys.readouterr().err
    assert not (tmp_path / "nowhere").exists()
