"""A bot's ``paper: fill_model`` in backtests: ``candle_queue`` runs deterministically on the bundled data and says
so in the summary; the default stays the path model; bad values are one clear error naming the YAML line.

The golden window of sol-neutral-grid (2025-09-21 → 2025-10-14, 6,624 bars) fills 701 times with the path model
(the golden figure) and 703 times with the candle queue: the grid's rungs sit on the $0.0001 tick while the
bundled candles move in $0.01, so a bar's low or high is rarely exactly a rung's price (one touch fill in the
window); nearly every fill is a trade-through, which both models fill (the path model one tick through, within
10 % of the bar's volume, which 0.5 SOL rungs never reach; the queue model strictly through, in full)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import msgspec
import pytest

from botrunner.backtest.data import resolve
from botrunner.backtest.engine import BacktestInputs, run_backtest
from botrunner.cli import main
from botrunner.config import load_bot
from botrunner.config.paper import FillModelKind
from botrunner.paper.config import PaperConfig, with_bot_settings
from botrunner.yamlconf import ConfigError

ROOT = Path(__file__).resolve().parents[3]
SOL = ROOT / "config" / "bots" / "sol-neutral-grid.yaml"
DAYS = ["--from", "2025-09-22", "--to", "2025-09-24", "--quiet"]
START = 1_758_412_800  # 2025-09-21T00:00:00Z, the golden window
END = 1_760_400_000  # 2025-10-14T00:00:00Z


def _bot(tmp_path: Path, paper: str) -> Path:
    bot = tmp_path / "bot.yaml"
    bot.write_text(SOL.read_text() + paper)
    return bot


def test_candle_queue_from_the_yaml_is_deterministic_and_reported(tmp_path: Path) -> None:
    bot = _bot(tmp_path, "paper:\n  fill_model: candle_queue\n")
    assert main(["backtest", str(bot), *DAYS, "--out", str(tmp_path / "a")]) == 0
    assert main(["backtest", str(bot), *DAYS, "--out", str(tmp_path / "b")]) == 0
    for name in ("summary.json", "fills.csv", "orders.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    doc = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert doc["paper_venue"]["fill_model"] == "candle_queue"
    assert doc["paper_venue"]["queue_depth_share_bps"] == 2_000  # the default share: 20 %
    with (tmp_path / "a" / "fills.csv").open() as f:
        assert doc["fills"] == len(list(csv.DictReader(f))) > 0


def test_the_share_can_be_set_and_the_default_stays_the_path_model(tmp_path: Path) -> None:
    bot = load_bot(_bot(tmp_path, "paper:\n  fill_model: candle_queue\n  queue_depth_share_bps: 5000\n"))
    config = with_bot_settings(PaperConfig(), bot.paper).validate()
    assert (config.fill_model, config.queue_depth_share_bps) == (FillModelKind.CANDLE_QUEUE, 5_000)
    plain = load_bot(SOL)
    assert plain.paper.fill_model is FillModelKind.PATH
    assert with_bot_settings(PaperConfig(), plain.paper) == PaperConfig()


def test_fill_counts_of_both_models_over_the_golden_window() -> None:
    bot = load_bot(SOL)
    data = resolve(bot.market)
    counts = {}
    for model in FillModelKind:
        paper = with_bot_settings(PaperConfig(), msgspec.structs.replace(bot.paper, fill_model=model))
        inputs = BacktestInputs(bot=bot, candles=data.candles, funding=data.funding, start=START, end=END, paper=paper)
        result = run_backtest(inputs)
        assert result.venue is not None
        counts[model] = result.venue.ledger.maker_fills
    assert counts == {FillModelKind.PATH: 701, FillModelKind.CANDLE_QUEUE: 703}  # module docstring


@pytest.mark.parametrize(
    ("paper", "field", "message"),
    [
        ("  fill_model: queue\n", "paper.fill_model", "queue"),
        ("  fill_model: candle_queue\n  queue_depth_share_bps: 0\n", "paper", "must be in 1..10000"),
        ("  fill_model: candle_queue\n  queue_depth_share_bps: 10001\n", "paper", "must be in 1..10000"),
        ("  fill_model: candle_queue\n  latency_slots: 2\n", "paper.fill_model", "needs latency_slots: 0"),
    ],
)
def test_a_bad_fill_model_setting_names_the_file_and_line(paper: str, field: str, message: str, tmp_path: Path) -> None:
    bot = _bot(tmp_path, "paper:\n" + paper)
    with pytest.raises(ConfigError) as info:
        load_bot(bot)
    error = str(info.value)
    assert str(bot) in error and field in error and message in error, error
    assert "\n" not in error
