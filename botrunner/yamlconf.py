"""Decode YAML into frozen msgspec structs with errors that name the file, the line and the field.

msgspec does the typing and rejects unknown keys (``forbid_unknown_fields`` on the structs); PyYAML's node tree
gives every value's line, so ``$.risk.max_leverage_x10000`` in a msgspec error becomes ``bots/sol.yaml:14``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import yaml

T = TypeVar("T")

_PATH_IN_MESSAGE = re.compile(r"`\$(?P<path>[^`]*)`")
_PATH_PART = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]")


class ConfigError(ValueError):
    """A configuration that does not validate; ``str()`` is one line: ``file:line: field: what is wrong``."""

    def __init__(self, source: str, line: int | None, field: str, message: str) -> None:
        self.source, self.line, self.field = source, line, field
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {field}: {message}" if field else f"{where}: {message}")


def _node_lines(node: yaml.Node, path: str, out: dict[str, int]) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = f"{path}.{key_node.value}"
            out[key] = key_node.start_mark.line + 1
            _node_lines(value_node, key, out)
            out[key] = key_node.start_mark.line + 1  # a key's own line, not its nested block's
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _node_lines(item, f"{path}[{i}]", out)


def line_of(lines: dict[str, int], path: str) -> int | None:
    """Line of the deepest existing prefix of ``path`` (a missing field reports its parent's line)."""
    while True:
        if path in lines:
            return lines[path]
        cut = max(path.rfind("."), path.rfind("["))
        if cut < 0:
            return lines.get("")
        path = path[:cut]


def parse_yaml(text: str, source: str) -> tuple[Any, dict[str, int]]:
    """Parse YAML text safely; return the data and a map from ``$``-less JSON paths (``.a.b[0]``) to lines."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(source, line, "", f"malformed YAML: {exc.problem}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(source, None, "", f"malformed YAML: {exc}") from exc
    lines: dict[str, int] = {}
    if node is not None:
        _node_lines(node, "", lines)
    return data, lines


def decode(data: Any, lines: dict[str, int], source: str, type_: type[T]) -> T:
    """Convert parsed YAML into ``type_``; a validation error names file, line and field."""
    try:
        return msgspec.convert(data, type_, strict=True)
    except msgspec.ValidationError as exc:
        message = str(exc)
        match = _PATH_IN_MESSAGE.search(message)
        path = match.group("path") if match else ""
        text = re.sub(r"\s*-\s*at\s*$", "", _PATH_IN_MESSAGE.sub("", message)).strip() or message
        if "unknown field" in text:
            unknown = re.search(r"unknown field `([^`]+)`", message)
            if unknown:
                path = f"{path}.{unknown.group(1)}"
        field = path.lstrip(".") or "(top level)"
        raise ConfigError(source, line_of(lines, path), field, text) from exc


def load_yaml_file(path: Path, type_: type[T]) -> T:
    """Read, parse and decode one YAML file."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(str(path), None, "", f"cannot read: {exc.strerror}") from exc
    data, lines = parse_yaml(text, str(path))
    return decode(data, lines, str(path), type_)


def field_line(lines: dict[str, int], *parts: str | int) -> int | None:
    """Line of a field given as path parts, for semantic errors raised after decoding."""
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)
    return line_of(lines, path)
