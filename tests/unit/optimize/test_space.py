"""SPACE.yaml and candidate bot files: ranges parsed exactly, every end checked by the bot's own validation, values
put into the bot file's text with its comments kept, and a candidate that does not validate refused with why."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from botrunner.config import parse_bot
from botrunner.optimize.space import (
    CandidateError,
    candidate_text,
    check_space,
    parse_space,
    validate_candidate,
)
from botrunner.yamlconf import ConfigError

ROOT = Path(__file__).resolve().parents[3]
BOT = ROOT / "config" / "bots" / "sol-neutral-grid.yaml"
BOT_TEXT = BOT.read_text()


def test_space_when_ranges_and_choices_then_optuna_distributions() -> None:
    space = parse_space(
        "execution.step_bps: {low: 10, high: 120, step: 5}\n"
        "execution.grid_levels: {low: 2, high: 16, log: true}\n"
        "execution.base_size_per_level: {low: 0.1, high: 1, step: 0.05}\n"
        "strategy.grid.bias: [bullish, neutral, bearish]\n",
        "space.yaml",
    )
    dists = space.distributions
    assert dists["execution.step_bps"] == IntDistribution(10, 120, step=5)
    assert dists["execution.grid_levels"] == IntDistribution(2, 16, log=True)
    assert dists["execution.base_size_per_level"] == FloatDistribution(0.1, 1.0, step=0.05)
    assert dists["strategy.grid.bias"] == CategoricalDistribution(["bullish", "neutral", "bearish"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("execution.step_bps: {low: 50, high: 10}\n", "empty range: low 50 > high 10"),
        ("strategy.grid.bias: []\n", "empty range: no choices"),
        ("execution.step_bps: {low: 10}\n", "a range needs low and high"),
        ("execution.step_bps: {low: 10, high: 20, stp: 1}\n", "unknown key(s) stp"),
        ("execution.step_bps: {low: 10, high: 20, step: 0}\n", "step must be > 0"),
        ("execution.base_size_per_level: {low: 0.1, high: 1}\n", "a decimal range needs a step"),
        ("execution.base_size_per_level: {low: 0.1, high: 1, step: 0.2}\n", "is not a multiple of step 0.2"),
        ("execution.step_bps: 40\n", "expected {low: ..., high: ..., step: ...} or a list of choices"),
        ("market: [SOL-PERP, BTC-PERP]\n", "market is not searched"),
        ("strategy.grid.bias: [neutral, neutral]\n", "a choice is listed twice"),
        ("[]\n", "expected a mapping of config paths"),
    ],
)
def test_space_when_malformed_then_one_line_naming_file_line_and_path(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_space(text, "space.yaml")
    assert message in str(info.value)
    assert str(info.value).startswith("space.yaml:1:")
    assert "\n" not in str(info.value)


def test_check_space_when_the_path_is_no_setting_then_unknown_path() -> None:
    space = parse_space("execution.stepbps: {low: 10, high: 20}\n", "space.yaml")
    with pytest.raises(ConfigError) as info:
        check_space(space, BOT_TEXT, str(BOT))
    assert "space.yaml:1: execution.stepbps: not a setting of a bot file" in str(info.value)


def test_check_space_when_the_path_runs_through_a_value_then_unknown_path() -> None:
    space = parse_space("capital_usdc.amount: {low: 10, high: 20}\n", "space.yaml")
    with pytest.raises(ConfigError, match="not a setting of a bot file"):
        check_space(space, BOT_TEXT, str(BOT))


def test_check_space_when_an_end_is_outside_what_validation_allows_then_refused_with_its_reason() -> None:
    space = parse_space("execution.grid_levels: {low: 3, high: 20}\n", "space.yaml")
    with pytest.raises(ConfigError) as info:
        check_space(space, BOT_TEXT, str(BOT))
    text = str(info.value)
    assert text.startswith("space.yaml:1: execution.grid_levels: 20 does not validate in")
    assert "grid_levels" in text and "16" in text


def test_check_space_when_every_end_validates_then_silent() -> None:
    space = parse_space(
        "execution.step_bps: {low: 10, high: 120, step: 5}\nexecution.grid_levels: {low: 2, high: 16}\n"
        "strategy.grid.bias: [bullish, neutral, bearish]\nrisk.max_notional_usd: {low: 1000, high: 5000, step: 1000}\n",
        "space.yaml",
    )
    check_space(space, BOT_TEXT, str(BOT))


def test_candidate_when_the_file_spells_the_paths_out_then_values_replace_in_place_and_comments_stay() -> None:
    text = candidate_text(
        BOT_TEXT, {"execution.step_bps": 55, "strategy.grid.bias": "bearish", "execution.grid_levels": 7}, "b.yaml"
    )
    assert "  step_bps: 55                # botrunner optimize: was 40\n" in text
    assert "    bias: bearish\n" in text
    assert "  grid_levels: 7              # botrunner optimize: was 5\n" in text
    assert "# 1h 4h 1D 1W" in text  # comments elsewhere stay
    assert text.count("\n") == BOT_TEXT.count("\n")
    bot = parse_bot(text, "b.yaml")
    assert (bot.execution.step_bps, bot.execution.grid_levels, bot.strategy.grid.bias.value) == (55, 7, "bearish")


def test_candidate_when_a_path_is_a_default_then_the_document_is_rewritten_and_still_validates() -> None:
    text = candidate_text(BOT_TEXT, {"risk.max_notional_usd": 2500, "execution.step_bps": 30}, "b.yaml")
    assert text.startswith("# b.yaml, with searched settings put in")
    bot = parse_bot(text, "b.yaml")
    assert bot.risk.max_notional_quote == 2_500_000_000
    assert bot.execution.step_bps == 30
    assert bot.name == "sol-neutral-grid"


def test_candidate_when_a_string_reads_as_another_type_then_it_is_quoted() -> None:
    text = candidate_text("a:\n  b: x\n", {"a.b": "true"}, "s")
    assert text == "a:\n  b: 'true'\n"


def test_validate_candidate_when_invalid_then_the_reason_without_a_location() -> None:
    text = candidate_text(BOT_TEXT, {"execution.base_size_per_level": Decimal("0.005")}, "b.yaml")
    with pytest.raises(CandidateError) as info:
        validate_candidate(text, "b.yaml (trial 3)")
    assert info.value.reason == "execution.base_size_per_level: 0.005 is not a multiple of SOL-PERP's order step 0.01"
    assert not info.value.unknown_path


@given(k=st.integers(min_value=0, max_value=90))
def test_decimal_range_when_sampled_then_the_bot_file_gets_an_exact_multiple_of_the_step(k: int) -> None:
    space = parse_space("execution.base_size_per_level: {low: 0.1, high: 1.0, step: 0.01}\n", "s.yaml")
    (param,) = space.params
    sampled = 0.1 + k * 0.01  # what Optuna hands back: a float near the grid point
    value = param.config_value(sampled)
    assert value == Decimal("0.10") + k * Decimal("0.01")
    bot = validate_candidate(candidate_text(BOT_TEXT, {param.path: value}, "b.yaml"), "b.yaml")
    assert bot.execution.base_size_per_level == (10 + k) * 10_000_000
