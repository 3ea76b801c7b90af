"""``botrunner backtest --latency-slots N`` and the bot YAML's ``paper.latency_slots``: 0 changes nothing (the same
bytes as no flag), 2 is deterministic, and bad values are one clear error with nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from botrunner.cli import main
from botrunner.config import load_bot
from botrunner.yamlconf import ConfigError

ROOT = Path(__file__).resolve().parents[3]
BOTS = ROOT / "config" / "bots"
SOL = str(BOTS / "sol-neutral-grid.yaml")
DAYS = ["--from", "2025-09-22", "--to", "2025-09-23", "--quiet"]
FILES = ("summary.json", "fills.csv", "funding.csv", "settlements.csv", "orders.csv", "snapshots.csv", "report.html")


def _files(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in FILES}


def test_latency_zero_writes_the_same_bytes_as_no_flag(tmp_path: Path) -> None:
    assert main(["backtest", SOL, *DAYS, "--out", str(tmp_path / "none")]) == 0
    assert main(["backtest", SOL, *DAYS, "--out", str(tmp_path / "zero"), "--latency-slots", "0"]) == 0
    assert _files(tmp_path / "none") == _files(tmp_path / "zero")
    doc = json.loads((tmp_path / "zero" / "summary.json").read_text())
    assert doc["latency_slots"] == 0
    assert doc["filled_while_cancel_in_flight"] == 0


def test_latency_two_runs_give_the_same_bytes(tmp_path: Path) -> None:
    for name in ("a", "b"):
        assert main(["backtest", SOL, *DAYS, "--out", str(tmp_path / name), "--latency-slots", "2"]) == 0
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    doc = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert doc["latency_slots"] == 2
    assert doc["paper_venue"]["latency_slots"] == 2
    assert "Fills while a cancel was in flight" in (tmp_path / "a" / "report.html").read_text()


@pytest.mark.parametrize("bot", ["btc-bullish-infinity", "eth-bearish-stepwise"])
def test_latency_two_is_deterministic_for_every_example_bot(bot: str, tmp_path: Path) -> None:
    path = str(BOTS / f"{bot}.yaml")
    for name in ("a", "b"):
        assert main(["backtest", path, "--quiet", "--out", str(tmp_path / name), "--latency-slots", "2"]) == 0
    assert _files(tmp_path / "a") == _files(tmp_path / "b")


def test_the_bot_yaml_sets_the_latency_and_the_flag_overrides_it(tmp_path: Path) -> None:
    bot = tmp_path / "bot.yaml"
    bot.write_text(Path(SOL).read_text() + "paper:\n  latency_slots: 3\n")
    assert load_bot(bot).paper.latency_slots == 3
    assert main(["backtest", str(bot), *DAYS, "--out", str(tmp_path / "yaml")]) == 0
    assert json.loads((tmp_path / "yaml" / "summary.json").read_text())["latency_slots"] == 3
    assert main(["backtest", str(bot), *DAYS, "--out", str(tmp_path / "flag"), "--latency-slots", "0"]) == 0
    assert json.loads((tmp_path / "flag" / "summary.json").read_text())["latency_slots"] == 0


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", "must be in 0..150"),
        ("151", "must be in 0..150"),
        ("1000000000000", "must be in 0..150"),
        ("2.5", "not an integer number of slots"),
        ("two", "not an integer number of slots"),
    ],
)
def test_a_bad_latency_flag_is_one_clear_error_and_writes_nothing(
    value: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["backtest", SOL, *DAYS, "--out", str(tmp_path / "x"), f"--latency-slots={value}"])
    err = capsys.readouterr().err
    assert code == 2
    assert "--latency-slots" in err and message in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    ("value", "message"),
    [("-1", "must be in 0..150"), ("151", "must be in 0..150"), ("2.5", "int"), ("true", "int"), ('"2"', "int")],
)
def test_a_bad_latency_in_the_bot_yaml_names_the_field_and_its_line(value: str, message: str, tmp_path: Path) -> None:
    bot = tmp_path / "bot.yaml"
    text = Path(SOL).read_text()
    bot.write_text(text + f"paper:\n  latency_slots: {value}\n")
    with pytest.raises(ConfigError) as info:
        load_bot(bot)
    text_lines = len(text.splitlines())
    error = str(info.value)
    assert "paper.latency_slots" in error and message in error
    assert f":{text_lines + 2}:" in error  # the line of the bad value
    assert "\n" not in error
