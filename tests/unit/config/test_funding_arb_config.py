"""``strategy: kind: funding_arb`` in a bot's YAML: it loads (human units converted), its sections belong to it only,
and the fleet (``botrunner run`` / ``validate``) refuses it as backtest only."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from botrunner.config import StrategyKind, check_fleet_files, load_bot, load_fleet, parse_bot
from botrunner.marketdata.venue_data import Venue
from botrunner.yamlconf import ConfigError

ROOT = Path(__file__).resolve().parents[3]
ARB = ROOT / "config" / "bots" / "sol-funding-arb.yaml"


def test_the_bundled_bot_loads_with_its_units_converted() -> None:
    bot = load_bot(ARB)
    assert bot.strategy.kind is StrategyKind.FUNDING_ARB
    arb = bot.strategy.funding_arb
    assert arb.external_venue is Venue.HYPERLIQUID
    assert (arb.entry_score, arb.min_position_quote, arb.depth_quote) == (70, 100_000_000, 250_000_000_000)
    assert arb.exits.take_profit_quote == 40_000_000
    assert bot.strategy.leg_out.bound_ms == 500
    assert bot.strategy.arb_breaker.threshold == 3
    with pytest.raises(ValueError, match="backtest only in this release"):
        bot.strategy.build()


def _with(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new)


def test_impossible_values_and_foreign_sections_name_their_field() -> None:
    text = ARB.read_text()
    with pytest.raises(ConfigError, match=r"strategy\.funding_arb\.entry_score"):
        parse_bot(_with(text, "entry_score: 70", "entry_score: 170"), "arb.yaml")
    with pytest.raises(ConfigError, match="mode: paper"):
        parse_bot(_with(text, "mode: paper", "mode: live"), "arb.yaml")
    grid = (ROOT / "config" / "bots" / "sol-neutral-grid.yaml").read_text()
    with pytest.raises(ConfigError, match="belongs to kind: funding_arb"):
        parse_bot(_with(grid, "strategy:\n", "strategy:\n  leg_out: {bound_ms: 100}\n"), "g.yaml")


def test_the_fleet_refuses_a_funding_arb_bot(tmp_path: Path) -> None:
    single = check_fleet_files(ARB)
    assert not single.bots
    assert "backtest only in this release" in str(single.errors[0])
    with pytest.raises(ConfigError, match="backtest only in this release"):
        load_fleet(ARB)
    fleet = tmp_path / "bots"
    fleet.mkdir()
    shutil.copy(ARB, fleet)
    shutil.copy(ROOT / "config" / "bots" / "sol-neutral-grid.yaml", fleet)
    checked = check_fleet_files(fleet)
    assert [b.config.name for b in checked.bots] == ["sol-neutral-grid"]
    assert not checked.errors
    assert "backtest only in this release" in str(checked.refused[0])
    assert [b.name for b in load_fleet(fleet)] == ["sol-neutral-grid"]
