"""``strategy: kind: delta_neutral``: its sections load with exact human units, and bad input fails at load time
with one line naming the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from botrunner.bot.pipeline import BotDefinition
from botrunner.config import StrategyKind, load_bot, parse_bot
from botrunner.yamlconf import ConfigError

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "config" / "bots" / "sol-delta-neutral.yaml"


def _text() -> str:
    return EXAMPLE.read_text(encoding="utf-8")


def test_example_delta_neutral_bot_loads_with_exact_units_and_two_legs() -> None:
    bot = load_bot(EXAMPLE)
    assert bot.strategy.kind is StrategyKind.DELTA_NEUTRAL
    assert bot.strategy.two_legs
    rules = bot.strategy.delta_neutral
    assert rules.target_base == 40 * 10**9
    assert rules.min_trade_base == 10_000_000
    assert rules.mismatch_quote == 500 * 10**6
    assert rules.max_leverage_x10000 == 30_000
    assert bot.strategy.carry.half_life_s == 86_400 and bot.strategy.carry.min_hold_s == 48 * 3_600
    assert bot.paper.interest is not None and bot.paper.interest.sol.utilization == 375_678
    definition = BotDefinition.from_config(bot)
    assert definition.legs is not None and definition.legs.spot.market_index == 1
    # the carry engine counts the SOL deposit APR the venue pays: the curve at 37.5678 % (1.9758 %/yr)
    assert definition.legs.deposit.at(0) == 19_758


def test_grid_bot_has_no_legs() -> None:
    definition = BotDefinition.from_config(load_bot(ROOT / "config" / "bots" / "sol-neutral-grid.yaml"))
    assert definition.legs is None


@pytest.mark.parametrize(
    ("old", "new", "field", "words"),
    [
        (
            "drift_tolerance_bps: 100",
            "drift_tolerance_bps: 0",
            "strategy.delta_neutral.drift_tolerance_bps",
            "(0, 10000]",
        ),
        ("cooldown_s: 1800", "cooldown_s: 1800\n    cooldown_min: 3", "strategy.delta_neutral", "cooldown_min"),
        (
            "emergency_exit_apr: 1000000",
            "emergency_exit_apr: 5000",
            "strategy.carry.emergency_exit_apr",
            "exit_band_apr",
        ),
        ("half_life_s: 86400", "half_life_s: 0", "strategy.carry.half_life_s", "> 0"),
        ("half_life_s: 86400", "smoothing_prints: 24", "strategy.carry", "smoothing_prints"),
        ("utilization: 375678", "utilization: 2000000", "paper", "interest.sol.utilization"),
        ("every_s: 3600", "every_s: 0", "paper", "every_s"),
        ("slippage_tolerance_bps: 50", "slippage_tolerance_bps: 0", "strategy.carry.slippage_tolerance_bps", ""),
        ("market: SOL-PERP", "market: BTC-PERP", "market", "SOL-PERP"),
        ("target_sol: 40", "target_sol: -1", "strategy.delta_neutral.target_sol", "> 0"),
    ],
)
def test_delta_neutral_bad_field_names_file_and_field(old: str, new: str, field: str, words: str) -> None:
    text = _text()
    assert old in text
    with pytest.raises(ConfigError) as err:
        parse_bot(text.replace(old, new), "bots/dn.yaml")
    message = str(err.value)
    assert "bots/dn.yaml" in message and field in message and words in message
    assert "\n" not in message


def test_delta_neutral_section_on_a_grid_bot_is_refused() -> None:
    text = (ROOT / "config" / "bots" / "sol-neutral-grid.yaml").read_text(encoding="utf-8")
    text = text.replace("  kind: grid\n", "  kind: grid\n  carry:\n    always_in: true\n")
    with pytest.raises(ConfigError, match=r"strategy\.carry.*belongs to kind: delta_neutral"):
        parse_bot(text, "bots/g.yaml")
