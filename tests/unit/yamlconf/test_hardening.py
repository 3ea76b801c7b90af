"""The config loader refuses what YAML would silently get wrong or blow up on: duplicate keys at any depth, anchors
and aliases (the alias bomb), deep nesting, oversized files, bytes that are not UTF-8. Each is one line naming the
file and the position, on every loader this PyYAML offers (libyaml's parser and the pure-Python one)."""

from __future__ import annotations

import re
import tracemalloc
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings

from botrunner.yamlconf import LOADERS, MAX_DEPTH, MAX_FILE_BYTES, ConfigError, Loader, parse_yaml, read_text
from tests.support.yaml_documents import Map, documents, documents_with_a_duplicate, key_marks, render

SOURCE = "fleet/x.yaml"


@pytest.fixture(params=LOADERS, ids=lambda loader: loader.__name__)
def loader(request: pytest.FixtureRequest) -> Loader:
    return request.param  # type: ignore[no-any-return]  # pytest types params as Any


# ----------------------------------------------------------------------------------------------- duplicates


@pytest.mark.slow  # ~8 s of CPU alone: 300 generated documents, each parsed and refused
@settings(max_examples=300, deadline=None)
@given(case=documents_with_a_duplicate())
def test_a_duplicate_key_at_any_depth_block_or_flow_is_one_line_naming_file_both_lines_and_key(
    case: tuple[str, str, str],
) -> None:
    text, path, key = case
    first, second = key_marks(text, path, key)[:2]
    field = f"{path}.{key}".lstrip(".")
    for loader in LOADERS:
        with pytest.raises(ConfigError) as err:
            parse_yaml(text, SOURCE, loader)
        message = str(err.value)
        assert message.startswith(f"{SOURCE}:{second.line + 1}:{second.column + 1}: {field}: duplicate key '{key}'")
        assert f"first given at line {first.line + 1}, column {first.column + 1}" in message
        assert f"then again at line {second.line + 1}" in message
        assert "\n" not in message


@settings(max_examples=200, deadline=None)
@given(root=documents())
def test_a_document_without_duplicates_reads_exactly_as_plain_yaml_does(root: Map) -> None:
    text = render(root)
    for loader in LOADERS:
        assert parse_yaml(text, SOURCE, loader)[0] == yaml.safe_load(text)


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ("market: SOL-PERP\nsize: 5\nmarket: BTC-PERP\n", 3, 1),
        ('market: SOL-PERP\n"market": BTC-PERP\n', 2, 1),  # quoting does not make another key
        ("levels: {1: a, 0x1: b}\n", 1, 16),  # one int, two spellings
        ("levels: {1: a, true: b}\n", 1, 16),  # two YAML types, but one key once loaded (1 == True)
        ("risk:\n  max_daily_loss_usd: 500\nrisk: {max_leverage: 2}\n", 3, 1),  # a whole section replaced
        ("a:\n  - b: 1\n    c: 2\n    b: 3\n", 4, 5),
    ],
)
def test_named_duplicates_are_refused_where_they_repeat(loader: Loader, text: str, line: int, column: int) -> None:
    with pytest.raises(ConfigError, match="duplicate key") as err:
        parse_yaml(text, SOURCE, loader)
    assert (err.value.line, err.value.column) == (line, column)


def test_keys_that_only_look_alike_are_different_keys(loader: Loader) -> None:
    data, _ = parse_yaml('levels: {1: a, "1": b, "true": c, "null": d, null: e}\n', SOURCE, loader)
    assert data == {"levels": {1: "a", "1": "b", "true": "c", "null": "d", None: "e"}}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: 1\n<<: {b: 2}\n", "merge keys (<<) are not allowed"),
        ("? [a, b]\n: 1\n", "a key must be a plain word"),
        ("a: 1\n---\nb: 2\n", "expected a single document"),
    ],
)
def test_merge_keys_complex_keys_and_several_documents_are_refused(loader: Loader, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)) as err:
        parse_yaml(text, SOURCE, loader)
    assert err.value.line is not None and err.value.column is not None


# ----------------------------------------------------------------------------------------------- aliases


def alias_bomb(levels: int = 7, width: int = 10) -> str:
    """``levels`` levels of ``width`` aliases each: ``width ** levels`` strings from a few hundred bytes."""
    lines = [f"a0: &a0 [{', '.join(['lol'] * width)}]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    return "name: bomb\n" + "\n".join(lines) + "\n"


def test_the_alias_bomb_is_refused_at_its_first_anchor_in_little_memory(loader: Loader) -> None:
    text = alias_bomb()
    tracemalloc.start()
    try:
        with pytest.raises(ConfigError) as err:
            parse_yaml(text, SOURCE, loader)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(err.value) == (
        f"{SOURCE}:2:5: &a0: anchors and aliases are not allowed in a config file; write the value out"
    )
    assert peak < 1_000_000, f"refusing the bomb took {peak:,} bytes"  # expanded, it is ten million strings


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("a: &x 5\nb: 1\n", (1, 4)),
        ("a: 1\nb: *x\n", (2, 4)),  # an alias to nothing is refused the same way, not as "undefined alias"
        ("a: [&x 1, *x]\n", (1, 5)),
    ],
)
def test_every_anchor_and_alias_is_refused_with_its_position(loader: Loader, text: str, where: tuple[int, int]) -> None:
    with pytest.raises(ConfigError, match="anchors and aliases are not allowed") as err:
        parse_yaml(text, SOURCE, loader)
    assert (err.value.line, err.value.column) == where


# ----------------------------------------------------------------------------------------------- nesting, bytes


@pytest.mark.parametrize(
    "text",
    [
        "name: x\nlevels: " + "[" * 3000 + "]" * 3000 + "\n",
        "name: x\nlevels: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n",
        "name: x\n" + "".join(" " * d + f"k{d}:\n" for d in range(3000)) + " " * 3000 + "v: 1\n",
    ],
    ids=["3000 [", "3000 {", "3000 block levels"],
)
def test_deep_nesting_is_a_one_line_error_with_a_position(loader: Loader, text: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_yaml(text, SOURCE, loader)
    assert err.value.line is not None and err.value.column is not None
    assert "\n" not in str(err.value)
    assert str(err.value).startswith(f"{SOURCE}:")


def test_nesting_just_past_the_limit_names_the_limit(loader: Loader) -> None:
    brackets = MAX_DEPTH - 1  # under the top-level mapping: MAX_DEPTH levels in all
    parse_yaml("a: " + "[" * brackets + "]" * brackets + "\n", SOURCE, loader)  # the limit itself is fine
    with pytest.raises(ConfigError, match=f"nested more than {MAX_DEPTH} levels deep") as err:
        parse_yaml("a: " + "[" * (brackets + 1) + "]" * (brackets + 1) + "\n", SOURCE, loader)
    assert (err.value.line, err.value.column) == (1, 3 + MAX_DEPTH)


def test_bytes_that_are_not_utf8_name_the_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bot.yaml"
    path.write_bytes(b"name: x\nmarket: \xc3\xa9 SOL\xff-PERP\n")  # an e-acute, then a byte no UTF-8 has
    with pytest.raises(ConfigError) as err:
        read_text(path)
    assert str(err.value) == f"{path}:2:14: not UTF-8: byte 0xff (invalid start byte); save the file as UTF-8"


def test_a_control_character_names_the_line_and_column(loader: Loader) -> None:
    with pytest.raises(ConfigError) as err:
        parse_yaml("name: x\nmarket: SO\x00L\n", SOURCE, loader)
    assert (err.value.line, err.value.column) == (2, 11)
    assert "'\\x00' is not allowed" in str(err.value)


def test_a_file_over_the_size_limit_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"#" * MAX_FILE_BYTES)
    assert read_text(path) == "#" * MAX_FILE_BYTES
    path.write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    with pytest.raises(ConfigError, match=f"larger than {MAX_FILE_BYTES // 1024} KiB"):
        read_text(path)
