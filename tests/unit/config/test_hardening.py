"""Bot files as `run`, `reload` and `backtest` load them: a repeated key at any depth is refused naming file, both
lines and the key; a fleet reports every bad file at once; messages speak the YAML's words and units, never the
structs'; and a bot whose own ladder exceeds its leverage or notional cap is valid but warned about."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botrunner.config import (
    FleetError,
    LoadedBot,
    ReferencePrice,
    check_fleet_files,
    exposure_warnings,
    load_bot,
    load_fleet,
    parse_bot,
    read_bot,
)
from botrunner.config.live import LiveSettings
from botrunner.core.policy import ExecutionPolicy
from botrunner.yamlconf import ConfigError
from governors.risk_limits import RiskLimits
from strategies.config import GridConfig
from tests.support.yaml_documents import key_marks, normalise, render, repeat_a_key, styled, tree

ROOT = Path(__file__).resolve().parents[3]
SOL = ROOT / "config" / "bots" / "sol-neutral-grid.yaml"
EXAMPLES = sorted((ROOT / "config" / "bots").glob("*.yaml"))


def _line_of(text: str, start: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith(start))


# ----------------------------------------------------------------------------------------------- duplicate keys


def test_a_second_market_is_refused_not_silently_taken(tmp_path: Path) -> None:
    """The issue's bot: SOL-sized rungs that a later `market: BTC-PERP` silently re-pointed at BTC."""
    text = SOL.read_text() + "market: BTC-PERP\n"
    path = tmp_path / "sol.yaml"
    path.write_text(text)
    first, second = _line_of(text, "market: SOL-PERP"), _line_of(text, "market: BTC-PERP")
    expected = (
        f"{path}:{second}:1: market: duplicate key 'market': first given at line {first}, column 1, then again at "
        f"line {second}, column 1; remove one (YAML would silently keep only the last)"
    )
    for load in (load_bot, load_fleet):  # backtest loads one bot; run and reload load the fleet
        with pytest.raises(ConfigError) as err:
            load(path)
        assert str(err.value) == expected


def test_an_appended_risk_section_is_refused_not_silently_dropping_the_daily_loss_cap(tmp_path: Path) -> None:
    text = SOL.read_text() + "risk: {max_leverage: 2}\n"
    path = tmp_path / "sol.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_bot(path)
    assert (err.value.line, err.value.column, err.value.field) == (_line_of(text, "risk: {"), 1, "risk")
    assert f"first given at line {_line_of(text, 'risk:')}, column 1" in str(err.value)


def _example_data() -> st.SearchStrategy[Any]:
    return st.sampled_from(EXAMPLES).map(lambda p: yaml.safe_load(p.read_text()))


def _scalars(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _scalars(v)]
    if isinstance(value, list):
        return [s for v in value for s in _scalars(v)]
    return [value]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), example=_example_data())
def test_a_repeated_key_anywhere_in_a_real_bot_file_is_refused_by_every_loading_path(
    tmp_path: Path, data: st.DataObject, example: dict[str, Any]
) -> None:
    """Any key of the example bots, at any depth, each section in block or flow style, repeated later in its
    mapping with a plausible value (one of the file's own, or any YAML): never silently last-wins."""
    root = normalise(data.draw(styled(example)))
    assert parse_bot(render(root), "x.yaml") == parse_bot(yaml.safe_dump(example), "x.yaml")  # restyled, same bot
    path_in_file, key = data.draw(repeat_a_key(root, st.sampled_from(_scalars(example)) | tree()))
    text = render(root)
    first, second = key_marks(text, path_in_file, key)[:2]
    fleet = Path(tempfile.mkdtemp(dir=tmp_path))  # one per example: hypothesis reuses tmp_path
    (fleet / "bot.yaml").write_text(text)
    field = f"{path_in_file}.{key}".lstrip(".")
    for load in (load_bot, load_fleet):
        with pytest.raises(ConfigError) as err:
            load(fleet / "bot.yaml" if load is load_bot else fleet)
        assert str(err.value).startswith(
            f"{fleet / 'bot.yaml'}:{second.line + 1}:{second.column + 1}: {field}: duplicate key '{key}': first given "
            f"at line {first.line + 1}, column {first.column + 1}"
        )


# ----------------------------------------------------------------------------------------------- a whole fleet


def _bad_files(fleet: Path) -> dict[str, str]:
    """Three bad files of three kinds; the value is what each one's error must start with."""
    sol = SOL.read_text()
    (fleet / "a-dup.yaml").write_text(sol.replace("name: sol-neutral-grid", "name: a") + "market: BTC-PERP\n")
    bomb = "name: b\n" + "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]\n" for i in range(1, 7))
    (fleet / "b-bomb.yaml").write_text("l0: &l0 [lol, lol]\n" + bomb)
    (fleet / "c-bytes.yaml").write_bytes(b"name: c\nmarket: SOL\xff-PERP\n")
    return {
        "a-dup.yaml": f"{len(sol.splitlines()) + 1}:1: market: duplicate key 'market'",
        "b-bomb.yaml": "1:5: &l0: anchors and aliases are not allowed",
        "c-bytes.yaml": "2:12: not UTF-8: byte 0xff",
    }


def test_a_fleet_with_three_bad_files_lists_all_three_in_file_order(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(SOL.read_text().replace("subaccount_id: 1", "subaccount_id: 9"))
    expected = _bad_files(tmp_path)
    with pytest.raises(FleetError) as err:
        load_fleet(tmp_path)
    lines = str(err.value).splitlines()
    assert len(lines) == 3 == len(err.value.errors)
    for line, (name, start) in zip(lines, expected.items(), strict=True):
        assert line.startswith(f"{tmp_path / name}:"), line
        assert start in line, line
    checked = check_fleet_files(tmp_path)
    assert [b.config.name for b in checked.bots] == ["sol-neutral-grid"]
    assert checked.files == 4


def test_one_bad_file_is_a_plain_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(SOL.read_text())
    (tmp_path / "bad.yaml").write_text("name: bad\nname: worse\n")
    with pytest.raises(ConfigError) as err:
        load_fleet(tmp_path)
    assert not isinstance(err.value, FleetError)
    assert str(err.value).startswith(f"{tmp_path / 'bad.yaml'}:2:1: name: duplicate key 'name'")


def test_a_fleet_rule_names_the_line_of_the_later_bot(tmp_path: Path) -> None:
    text = SOL.read_text()
    (tmp_path / "a.yaml").write_text(text)
    (tmp_path / "b.yaml").write_text(text.replace("subaccount_id: 1", "subaccount_id: 2"))
    with pytest.raises(ConfigError) as err:
        load_fleet(tmp_path)
    assert str(err.value) == (
        f"{tmp_path / 'b.yaml'}:{_line_of(text, 'name:')}:1: name: 'sol-neutral-grid' is already used by "
        f"{tmp_path / 'a.yaml'}"
    )


# ----------------------------------------------------------------------------------------------- the YAML's words

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

# Struct fields a file writes in human units, under another name: no message may show the struct's name.
HUMAN = {
    "capital_quote": "capital_usdc",
    "max_leverage_x10000": "max_leverage",
    "max_daily_loss_quote": "max_daily_loss_usd",
    "max_notional_quote": "max_notional_usd",
    "confirm_above_quote": "confirm_above_usd",
    "max_order_notional_quote": "max_order_notional_usd",
    "gas_reserve_lamports": "gas_reserve_sol",
    "settle_threshold_quote": "settle_threshold_usd",
}
INTERNAL = re.compile(
    "|".join([*HUMAN, "RiskLimits", "ExecutionPolicy", "GridConfig", "BandConfig", "LiveSettings", r"\bNone\b", "`"])
)


def _int_fields(struct: type[msgspec.Struct], section: str) -> list[tuple[str, str]]:
    """(section, YAML key) of every integer field of ``struct``, in the words a file uses."""
    fields = msgspec.structs.fields(struct)
    out = []
    for f in fields:
        if f.type in (int, int | None):
            out.append((section, HUMAN.get(f.name, f.name)))
    return out


KEYS = [
    ("", "capital_usdc"),
    ("execution", "base_size_per_level"),
    *_int_fields(RiskLimits, "risk"),
    *_int_fields(ExecutionPolicy, "execution"),
    *_int_fields(GridConfig, "strategy.grid"),
    *_int_fields(LiveSettings, "live"),
]


def _with(text: str, section: str, key: str, value: str) -> str:
    """``text`` with ``section.key: value`` written in (replacing the key if the file has it)."""
    if section == "":
        return re.sub(rf"^{key}: .*$", f"{key}: {value}", text, flags=re.M)
    indent = "  " * (section.count(".") + 1)
    if re.search(rf"^{indent}{key}: ", text, flags=re.M):
        return re.sub(rf"^{indent}{key}: .*$", f"{indent}{key}: {value}", text, flags=re.M)
    if section == "strategy.grid":
        return text.replace("  kind: grid\n", f"  kind: grid\n  grid:\n    {key}: {value}\n")
    if f"\n{section}:\n" in text:
        return text.replace(f"\n{section}:\n", f"\n{section}:\n{indent}{key}: {value}\n")
    return text + f"{section}:\n{indent}{key}: {value}\n"


values = st.one_of(
    st.sampled_from(["0", "-1", "1", "0.5", "-0.25", "100000", "10000", "10001"]),
    st.integers(-(10**7), 10**7).map(str),
)


@settings(max_examples=400, deadline=None)
@given(changes=st.lists(st.tuples(st.sampled_from(KEYS), values), min_size=1, max_size=3))
def test_every_validation_error_speaks_the_files_words_at_the_files_position(
    changes: list[tuple[tuple[str, str], str]],
) -> None:
    text = GOOD
    for (section, key), value in changes:
        text = _with(text, section, key, value)
    try:
        parse_bot(text, "bots/x.yaml")
    except ConfigError as exc:
        message = str(exc)
        assert not INTERNAL.search(message), message
        assert re.match(r"bots/x\.yaml:\d+:\d+: ", message), message
        assert exc.line is not None and 1 <= exc.line <= len(text.splitlines()), message
        # the field is one the file wrote, or the message says it was left at its default
        assert exc.field.rsplit(".", 1)[-1] in text or "(the default)" in message, message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("risk", "max_leverage", "0"), "13:3: risk.max_leverage: must be > 0, got 0"),
        (("risk", "max_daily_loss_usd", "-5"), "13:3: risk.max_daily_loss_usd: must be >= 0, got -5"),
        (("risk", "max_notional_usd", "0"), "13:3: risk.max_notional_usd: must be > 0 when set, got 0"),
        (("execution", "base_size_per_level", "0"), "11:3: execution.base_size_per_level: must be > 0, got 0"),
        (
            ("risk", "max_leverage", "0.1"),
            "13:3: risk.leverage_hysteresis_x10000: must be below max_leverage, got 2500 (the default), while "
            "max_leverage is 0.1 (= 1000 in leverage_hysteresis_x10000's units)",
        ),
        (
            ("risk", "health_critical", "70"),
            "13:3: risk.health_warning: must exceed health_critical, got 50 (the default), while health_critical is 70",
        ),
        (("", "capital_usdc", "0"), "7:1: capital_usdc: must be > 0, got 0"),
        (("live", "gas_reserve_sol", "-1"), "15:3: live.gas_reserve_sol: must be >= 0"),
    ],
)
def test_named_errors_in_the_files_words(change: tuple[str, str, str], expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_bot(_with(GOOD, *change), "x.yaml")
    assert str(err.value) == f"x.yaml:{expected}"


def test_a_missing_human_unit_field_is_named_as_the_file_writes_it() -> None:
    with pytest.raises(ConfigError) as err:
        parse_bot(GOOD.replace("capital_usdc: 1000\n", ""), "x.yaml")
    assert str(err.value) == "x.yaml:1:1: capital_usdc: required, but missing"


def test_a_band_error_points_at_the_band() -> None:
    text = GOOD.replace("  kind: grid\n", "  kind: band\n  band: {min_base: 3, max_base: 1}\n")
    with pytest.raises(ConfigError) as err:
        parse_bot(text, "x.yaml")
    assert str(err.value) == "x.yaml:10:10: strategy.band.min_base: must be <= max_base, got 3, while max_base is 1"


def test_an_unknown_key_suggests_the_files_word() -> None:
    with pytest.raises(ConfigError) as err:
        parse_bot(GOOD.replace("  max_leverage: 4", "  max_leverage_usd: 4"), "x.yaml")
    assert str(err.value) == "x.yaml:13:3: risk.max_leverage_usd: unknown key; did you mean max_leverage?"


# ----------------------------------------------------------------------------------------------- warnings

SOL_150 = ReferencePrice(150_000_000, "test")


def _bot(text: str) -> LoadedBot:
    return read_bot(text, "x.yaml")


def test_a_100_dollar_bot_with_five_five_sol_rungs_is_warned_about() -> None:
    loaded = _bot(
        GOOD.replace("capital_usdc: 1000", "capital_usdc: 100").replace(
            "  base_size_per_level: 0.25", "  base_size_per_level: 5\n  grid_levels: 5"
        )
    )
    (warning,) = exposure_warnings(loaded, SOL_150)
    assert str(warning) == (
        "x.yaml:11:3: execution.base_size_per_level: the full ladder is 5 bids x 5 SOL = 25 SOL ~ $3,750.00 at "
        "$150.00 (test): 37.5x the $100.00 capital, above max_leverage 4x ($400.00); the risk governor will clamp "
        "it, so part of it never works: lower grid_levels or base_size_per_level, or raise capital_usdc"
    )


@pytest.mark.parametrize(("price", "warned"), [(150_000_000, False), (150_000_001, True)])
def test_the_warning_starts_just_past_the_leverage_cap(price: int, warned: bool) -> None:
    # 4 x 5 SOL = 20 SOL; at $150 that is $3,000 = 3x a $1,000 capital, exactly the cap
    text = _with(_with(GOOD, "execution", "base_size_per_level", "5"), "execution", "grid_levels", "4")
    loaded = _bot(_with(text, "risk", "max_leverage", "3"))
    assert bool(exposure_warnings(loaded, ReferencePrice(price, "test"))) is warned


def test_a_biased_grid_is_sized_by_its_larger_side() -> None:
    text = GOOD.replace("  kind: grid\n", "  kind: grid\n  grid: {bias: bullish}\n")
    text = _with(_with(text, "execution", "base_size_per_level", "5"), "execution", "grid_levels", "5")
    (warning,) = exposure_warnings(_bot(text), SOL_150)  # 2 of 5 ask rungs move to the bids: 7 x 5 SOL
    assert "the full ladder is 7 bids x 5 SOL = 35 SOL ~ $5,250.00" in str(warning)


def test_a_band_and_a_notional_cap_are_checked_too() -> None:
    band = GOOD.replace("  kind: grid\n", "  kind: band\n  band: {min_base: -30, max_base: 5}\n")
    (warning,) = exposure_warnings(_bot(band), SOL_150)
    assert "strategy.band: the band's edge is 30 SOL ~ $4,500.00" in str(warning)
    capped = _with(GOOD, "risk", "max_notional_usd", "100")
    (warning,) = exposure_warnings(_bot(capped), SOL_150)  # 5 x 0.25 SOL = $187.50
    assert "above max_notional_usd $100.00" in str(warning)


def test_the_example_fleet_and_monitor_bots_get_no_warning() -> None:
    prices = {"SOL-PERP": 250, "BTC-PERP": 130_000, "ETH-PERP": 5_000}  # well above the bundled history's
    for path in EXAMPLES:
        loaded = read_bot(path.read_text(), str(path))
        assert exposure_warnings(loaded, ReferencePrice(prices[loaded.config.market] * 10**6, "test")) == []
    monitor = GOOD.replace("mode: paper", "mode: monitor").replace(
        "authority: paper-wallet", "authority: '11111111111111111111111111111111'"
    )
    small = _with(monitor, "", "capital_usdc", "1")
    assert exposure_warnings(_bot(small), SOL_150) == []
