"""The command line as a user meets it: `validate` lists every bad file and every warning of a fleet in one run,
`backtest` and `run` refuse a repeated key the same way, `--version` prints the package version, `--help` is
written for users."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.unit.config.test_hardening import SOL, _bad_files, _line_of

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "botrunner", *args], check=False, capture_output=True, text=True, cwd=ROOT, timeout=120
    )


def _small_bot(fleet: Path) -> Path:
    """A $100 bot with 5 x 5 SOL rungs: valid, but its ladder is ~50x its capital."""
    path = fleet / "small.yaml"
    text = SOL.read_text().replace("capital_usdc: 10000", "capital_usdc: 100").replace("name: sol-", "name: s-")
    path.write_text(text.replace("base_size_per_level: 0.5 ", "base_size_per_level: 5   "))
    return path


def test_validate_lists_every_bad_file_prints_warnings_and_fails(tmp_path: Path) -> None:
    expected = _bad_files(tmp_path)
    small = _small_bot(tmp_path)
    res = _cli("validate", str(tmp_path))
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    errors = [line for line in res.stderr.splitlines() if line.startswith("botrunner validate: error: ")]
    assert len(errors) == 3
    for line, (name, start) in zip(errors, expected.items(), strict=True):
        assert line.startswith(f"botrunner validate: error: {tmp_path / name}:{start}"), line
    (warning,) = [line for line in res.stderr.splitlines() if "warning:" in line]
    assert warning.startswith(f"botrunner validate: warning: {small}:{_line_of(small.read_text(), '  base_size')}:3: ")
    assert "25 SOL" in warning and "max_leverage 3x" in warning and "SOL-PERP's last close in the bundled" in warning
    assert "ok  s-neutral-grid" in res.stdout
    assert res.stdout.splitlines()[-1] == "1 bot(s) valid, 3 of 4 file(s) invalid (3 error(s)), 1 warning(s)"


def test_warnings_alone_do_not_fail_validation(tmp_path: Path) -> None:
    _small_bot(tmp_path)
    res = _cli("validate", str(tmp_path), "--price", "SOL-PERP=100")
    assert res.returncode == 0, res.stderr
    assert "25 SOL ~ $2,500.00 at $100.00 (--price): 25.0x the $100.00 capital" in res.stderr
    assert res.stdout.splitlines()[-1] == "1 bot(s) valid, 1 warning(s)"
    bad = _cli("validate", str(tmp_path), "--price", "DOGE-PERP=1")
    assert bad.returncode == 2 and bad.stderr.startswith("botrunner validate: error: --price DOGE-PERP=1: ")


def test_backtest_and_run_refuse_a_repeated_key_naming_both_lines(tmp_path: Path) -> None:
    text = SOL.read_text() + "market: BTC-PERP\n"
    bot = tmp_path / "sol.yaml"
    bot.write_text(text)
    first, second = _line_of(text, "market: SOL"), _line_of(text, "market: BTC")
    where = f"{bot}:{second}:1: market: duplicate key 'market': first given at line {first}, column 1"
    for args in (("backtest", str(bot)), ("run", "--fleet", str(tmp_path), "--run-dir", str(tmp_path / "run"))):
        res = _cli(*args)
        assert res.returncode == 2, res.stderr
        assert res.stderr.startswith(f"botrunner {args[0]}: error: {where}"), res.stderr
        assert res.stderr.count("\n") == 1
    assert not (tmp_path / "run").exists()  # refused before anything was made


def test_version_is_the_packages() -> None:
    res = _cli("--version")
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert res.returncode == 0
    assert res.stdout == f"botrunner {pyproject}\n"
    assert importlib.metadata.version("botrunner") == pyproject


def test_help_is_written_for_users() -> None:
    res = _cli("--help")
    assert res.returncode == 0
    for internal in ("output layer", "structlog", "``", "sub-command is a module"):
        assert internal not in res.stdout
    for wanted in ("Drift", "config/bots", "botrunner validate", "botrunner ctl reload", "--version", "Exit status"):
        assert wanted in res.stdout
    validate = _cli("validate", "--help")
    assert "FILE:LINE:COLUMN" in validate.stdout and "--price MARKET=USD" in validate.stdout
