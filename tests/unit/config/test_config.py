"""Bot YAML: the examples load; every kind of bad input is one line naming file, line and field."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from botrunner.config import BotMode, check_fleet, load_fleet, parse_bot
from botrunner.yamlconf import ConfigError

ROOT = Path(__file__).resolve().parents[3]

GOOD = """\
name: sol-test
mode: paper
account:
  authority: paper-wallet
  subaccount_id: 7
market: SOL-PERP
capital_usdc: 1000
strategy:
  kind: grid
execution:
  base_size_per_level: 0.25
risk:
  max_leverage: 4
"""


def test_example_fleet_loads_with_exact_human_units() -> None:
    bots = {b.name: b for b in load_fleet(ROOT / "config" / "bots")}
    assert set(bots) == {"sol-neutral-grid", "btc-bullish-infinity", "eth-bearish-stepwise", "sol-delta-neutral"}
    sol = bots["sol-neutral-grid"]
    assert sol.mode is BotMode.PAPER
    assert sol.capital_quote == 10_000 * 10**6
    assert sol.execution.base_size_per_level == 500_000_000  # 0.5 SOL
    assert sol.risk.max_leverage_x10000 == 30_000
    assert sol.risk.max_daily_loss_quote == 500 * 10**6
    assert bots["btc-bullish-infinity"].risk.max_notional_quote == 40_000 * 10**6


def test_minimal_bot_gets_defaults() -> None:
    bot = parse_bot(GOOD, "x.yaml")
    assert bot.execution.base_size_per_level == 250_000_000
    assert bot.strategy.grid.weights_bps == (3500, 3000, 2500, 1000)
    assert bot.source == "x.yaml"


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "message"),
    [
        ("  subaccount_id: 7", "  subaccount_id: 7\n  colour: red", 6, "account.colour", "unknown key"),
        ("market: SOL-PERP", "market: DOGE-PERP", 6, "market", "DOGE-PERP"),
        ("  base_size_per_level: 0.25", "  base_size_per_level: 0.255", 11, "execution.base_size_per_level", "step"),
        (
            "  base_size_per_level: 0.25",
            "  base_size_per_level: 0.0000000001",
            11,
            "execution.base_size_per_level",
            "decimals",
        ),
        (
            "  base_size_per_level: 0.25",
            "  base_size_per_level: lots",
            11,
            "execution.base_size_per_level",
            "not a number",
        ),
        ("  max_leverage: 4", "  max_leverage: 25", 13, "risk.max_leverage", "exceeds SOL-PERP's maximum 20"),
        ("  max_leverage: 4", "  max_leverage: 4\n  cool_down_s: -5", 14, "risk.cool_down_s", ">= 0"),
        ("capital_usdc: 1000", "capital_usdc: 0", 7, "capital_usdc", "must be > 0"),
        ("capital_usdc: 1000", "capital_usdc: nan", 7, "capital_usdc", "finite"),
        ("mode: paper", "mode: yolo", 2, "mode", "must be one of paper, live, monitor, got 'yolo'"),
        (
            "  kind: grid",
            "  kind: grid\n  grid:\n    weights_bps: [1, 2, 3, 4]",
            11,
            "strategy.grid.weights_bps",
            "sum to 10000",
        ),
        ("name: sol-test", "name: Sol Test", 1, "name", "lowercase"),
        (
            "  base_size_per_level: 0.25",
            "  base_size_per_level: 0.25\n  grid_levels: 0",
            12,
            "execution.grid_levels",
            "must be >= 1, got 0",
        ),
        (
            "  base_size_per_level: 0.25",
            "  base_size_per_level: 0.25\n  ramp_in:\n    duration_s: -1",
            13,
            "execution.ramp_in.duration_s",
            "must be >= 0, got -1",
        ),
    ],
)
def test_bad_field_is_one_line_with_file_line_and_field(
    old: str, new: str, line: int, field: str, message: str
) -> None:
    assert old in GOOD
    text = GOOD.replace(old, new)
    with pytest.raises(ConfigError) as err:
        parse_bot(text, "bots/x.yaml")
    assert (err.value.line, err.value.field) == (line, field), str(err.value)
    assert message in str(err.value)
    column = text.splitlines()[line - 1].index(field.rsplit(".", 1)[-1]) + 1  # where the key starts
    assert str(err.value).startswith(f"bots/x.yaml:{line}:{column}: {field}: ")
    assert "\n" not in str(err.value)


def test_both_human_and_raw_unit_is_ambiguous() -> None:
    with pytest.raises(ConfigError, match="either max_leverage or max_leverage_x10000"):
        parse_bot(GOOD.replace("  max_leverage: 4", "  max_leverage: 4\n  max_leverage_x10000: 40000"), "x")


def test_two_bots_on_one_subaccount_are_rejected() -> None:
    a = parse_bot(GOOD, "a.yaml")
    b = parse_bot(GOOD.replace("name: sol-test", "name: other"), "b.yaml")
    with pytest.raises(ConfigError, match="1 bot = 1 subaccount") as err:
        check_fleet([a, b])
    assert err.value.source == "b.yaml"
    c = parse_bot(GOOD.replace("subaccount_id: 7", "subaccount_id: 8"), "c.yaml")
    with pytest.raises(ConfigError, match=r"already used by a\.yaml"):
        check_fleet([a, c])


def test_empty_directory_and_missing_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no \*\.yaml bot files"):
        load_fleet(tmp_path)
    with pytest.raises(ConfigError, match="no such file"):
        load_fleet(tmp_path / "absent.yaml")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "botrunner", *args], check=False, capture_output=True, text=True, cwd=ROOT, timeout=120
    )


def test_validate_cli_reports_each_bot_and_one_line_errors(tmp_path: Path) -> None:
    ok = _cli("validate")
    assert ok.returncode == 0, ok.stderr
    assert "4 bot(s) valid" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("  max_leverage: 4", "  max_levrage: 4"))
    res = _cli("validate", str(bad))
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0
    assert f"{bad}:13:3: risk.max_levrage: unknown key; did you mean max_leverage?" in res.stderr
    assert "Traceback" not in res.stderr


def test_a_bot_may_not_take_the_supervisors_log_name() -> None:
    from botrunner.config import parse_bot

    text = (
        (ROOT / "config" / "bots" / "sol-neutral-grid.yaml")
        .read_text()
        .replace("name: sol-neutral-grid", "name: supervisor")
    )
    with pytest.raises(ConfigError, match="reserved"):
        parse_bot(text, "fleet/supervisor.yaml")
