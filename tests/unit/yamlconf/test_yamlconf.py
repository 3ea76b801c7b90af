"""YAML decoding names file, line and field for every kind of bad input."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from botrunner.yamlconf import ConfigError, decode, field_line, load_yaml_file, parse_yaml


class Limits(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    max_leverage_x10000: int = 50_000


class Bot(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    levels: list[int] = []
    limits: Limits = Limits()


def _decode(text: str) -> Bot:
    data, lines = parse_yaml(text, "bots/x.yaml")
    return decode(data, lines, "bots/x.yaml", Bot)


def test_valid_yaml_decodes_into_frozen_struct() -> None:
    bot = _decode("name: sol\nlimits:\n  max_leverage_x10000: 30000\n")
    assert bot == Bot(name="sol", limits=Limits(max_leverage_x10000=30_000))


def test_when_nested_field_has_wrong_type_then_error_names_file_line_and_field() -> None:
    with pytest.raises(ConfigError) as err:
        _decode("name: sol\nlimits:\n  max_leverage_x10000: lots\n")
    assert str(err.value) == "bots/x.yaml:3:3: limits.max_leverage_x10000: expected int, got str"


def test_when_unknown_key_then_rejected_with_its_line() -> None:
    with pytest.raises(ConfigError) as err:
        _decode("name: sol\nlimits:\n  max_leverage: 3\n")
    assert err.value.line == 3
    assert err.value.field == "limits.max_leverage"
    assert "unknown key; did you mean max_leverage_x10000?" in str(err.value)


def test_when_list_item_is_wrong_then_error_points_at_the_item() -> None:
    with pytest.raises(ConfigError) as err:
        _decode("name: sol\nlevels:\n  - 1\n  - two\n")
    assert (err.value.line, err.value.field) == (4, "levels[1]")


def test_when_required_field_missing_then_error_says_so() -> None:
    with pytest.raises(ConfigError, match="name: required, but missing"):
        _decode("levels: []\n")


def test_when_yaml_is_malformed_then_error_names_the_line() -> None:
    with pytest.raises(ConfigError) as err:
        _decode("name: sol\nlevels: [1,\n")
    assert err.value.line is not None
    assert "malformed YAML" in str(err.value)


def test_when_yaml_is_not_a_mapping_then_clear_error() -> None:
    with pytest.raises(ConfigError, match="expected object, got array"):
        _decode("- a\n- b\n")


def test_when_file_missing_then_error_names_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_yaml_file(tmp_path / "nope.yaml", Bot)


def test_field_line_finds_semantic_error_lines() -> None:
    _, lines = parse_yaml("name: sol\nlimits:\n  max_leverage_x10000: 1\n", "x")
    assert field_line(lines, "limits", "max_leverage_x10000") == 3
    assert field_line(lines, "limits", "absent") == 2  # falls back to the parent
