"""Read YAML config files safely and decode them into frozen msgspec structs, with errors that name the place.

Every error is one line ``file:line:column: field: what is wrong``, and the loader accepts only the part of YAML a
config file needs. It refuses, before anything is built:

* a key given twice in one mapping, at any depth, block or flow style. Plain YAML keeps the last one silently, so a
  second ``market:`` further down would re-point a bot at another market with the first one's sizes.
* anchors, aliases and merge keys (``&a``, ``*a``, ``<<:``). A config file never needs them, and an alias can
  stand for a whole subtree: seven levels of ten aliases each are ten million values from a few hundred bytes.
  Refusing them at the first ``&`` keeps a hostile file as cheap to reject as it is to read.
* nesting deeper than ``MAX_DEPTH`` (the composer recurses: thousands of ``[`` would overflow Python's stack),
  files larger than ``MAX_FILE_BYTES``, bytes that are not UTF-8, and keys that are not plain scalars.

msgspec does the typing and rejects unknown keys (``forbid_unknown_fields`` on the structs); the node tree gives
every key's position, so ``$.risk.cool_down_s`` in a msgspec error becomes ``bots/sol.yaml:14:3: risk.cool_down_s``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import msgspec
import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

T = TypeVar("T")

MAX_FILE_BYTES = 256 * 1024  # a bot file is about 1 KiB; a quarter megabyte of YAML is a mistake or an attack
MAX_DEPTH = 32  # a bot file nests 4 deep (live.jito.enabled); the YAML composer recurses once per level

_PATH_IN_MESSAGE = re.compile(r"`\$(?P<path>[^`]*)`")
_MERGE_TAG = "tag:yaml.org,2002:merge"


class Position(NamedTuple):
    """Where a key or value starts: 1-based line and column, as editors count them."""

    line: int
    column: int


Positions = dict[str, Position]
"""``$``-less JSON paths (``""``, ``.risk``, ``.strategy.grid.lookbacks_s[0]``) -> where they are in the file."""


def where(source: str, line: int | None, column: int | None = None) -> str:
    """``file:line:column`` (or less, when the position is unknown)."""
    if line is None:
        return source
    return f"{source}:{line}:{column}" if column is not None else f"{source}:{line}"


class ConfigError(ValueError):
    """A configuration that does not validate; ``str()`` is one line: ``file:line:column: field: what is wrong``."""

    def __init__(self, source: str, line: int | None, field: str, message: str, column: int | None = None) -> None:
        self.source, self.line, self.column, self.field, self.message = source, line, column, field, message
        place = where(source, line, column)
        super().__init__(f"{place}: {field}: {message}" if field else f"{place}: {message}")

    @classmethod
    def at(cls, source: str, position: Position | None, field: str, message: str) -> ConfigError:
        """The error at ``position`` (``None``: the file as a whole)."""
        if position is None:
            return cls(source, None, field, message)
        return cls(source, position.line, field, message, position.column)


def _position(mark: Any) -> Position | None:
    """A PyYAML mark (0-based; pure-Python or libyaml's class) as a 1-based ``Position``."""
    return Position(mark.line + 1, mark.column + 1) if mark is not None else None


Loader = Callable[[str, str], Any]
"""A loader class: ``Loader(text, source)`` is a PyYAML loader with the rules of ``_Rules``."""


class _Rules(Composer):
    """PyYAML's composer minus anchors and aliases, with a depth limit. Both are checked as the parser's events
    arrive, so a refused file costs no more than the bytes read up to the first offence."""

    source: str
    depth: int

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event: Any = self.peek_event()  # type: ignore[attr-defined]  # the parser half of the loader has it
        if isinstance(event, yaml.NodeEvent) and event.anchor is not None:  # aliases are node events too
            sigil = "*" if isinstance(event, yaml.AliasEvent) else "&"
            raise ConfigError.at(
                self.source,
                _position(event.start_mark),
                "",
                f"{sigil}{event.anchor}: anchors and aliases are not allowed in a config file; write the value out",
            )
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise ConfigError.at(
                    self.source, _position(event.start_mark), "", f"nested more than {MAX_DEPTH} levels deep"
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


class _PurePythonLoader(_Rules, Reader, Scanner, Parser, SafeConstructor, Resolver):
    """The loader on PyYAML's pure-Python parser (PyYAML built without libyaml)."""

    def __init__(self, text: str, source: str) -> None:
        Reader.__init__(self, text)
        Scanner.__init__(self)
        Parser.__init__(self)
        _Rules.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self.source, self.depth = source, 0


def _libyaml_loader() -> Loader | None:
    """The loader on libyaml's parser (events from C, about 6x faster on a large file), if PyYAML has it."""
    try:
        from yaml._yaml import CParser
    except ImportError:
        return None

    class _LibyamlLoader(_Rules, CParser, SafeConstructor, Resolver):
        def __init__(self, text: str, source: str) -> None:
            CParser.__init__(self, text)
            _Rules.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            self.source, self.depth = source, 0

        # CParser composes in C; these must be the Python composer's, where the rules above apply
        get_single_node = _Rules.get_single_node
        get_node = _Rules.get_node
        check_node = _Rules.check_node

    return _LibyamlLoader


LOADERS: tuple[Loader, ...] = tuple(loader for loader in (_libyaml_loader(), _PurePythonLoader) if loader is not None)
"""The loaders available here, fastest first; ``parse_yaml`` uses the first (the tests run them all)."""


def _key_text(node: yaml.Node) -> str:
    return str(node.value)


def _walk(loader: Any, node: yaml.Node, path: str, out: Positions) -> None:
    """Record every key's and item's position; refuse duplicate, merge and non-scalar keys."""
    out.setdefault(path, Position(node.start_mark.line + 1, node.start_mark.column + 1))
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, yaml.Node] = {}
        for key_node, value_node in node.value:
            at = Position(key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if not isinstance(key_node, yaml.ScalarNode):
                message = "a key must be a plain word, not a list or map"
                raise ConfigError.at(loader.source, at, path.lstrip("."), message)
            key = f"{path}.{_key_text(key_node)}"
            if key_node.tag == _MERGE_TAG:
                raise ConfigError.at(
                    loader.source, at, path.lstrip("."), "merge keys (<<) are not allowed in a config file"
                )
            # Equal as loaded: `1` and `0x1` are one key, `"1"` and `1` two; `1` and `true` are two keys to YAML
            # but one once loaded (1 == True), where the later would silently replace the earlier: refused too.
            identity = loader.construct_object(key_node)
            first = seen.get(identity)
            if first is not None:
                raise ConfigError.at(
                    loader.source,
                    at,
                    key.lstrip("."),
                    f"duplicate key {_key_text(key_node)!r}: first given at line {first.start_mark.line + 1}, "
                    f"column {first.start_mark.column + 1}, then again at line {at.line}, column {at.column}; "
                    "remove one (YAML would silently keep only the last)",
                )
            seen[identity] = key_node
            out[key] = at
            _walk(loader, value_node, key, out)
            out[key] = at  # a key's own position, not its nested block's
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(loader, item, f"{path}[{i}]", out)


_NON_PRINTABLE = Reader.NON_PRINTABLE  # the characters YAML forbids in a document


def _line_column(text: str, offset: int) -> tuple[int, int]:
    return text.count("\n", 0, offset) + 1, offset - (text.rfind("\n", 0, offset) + 1) + 1


def parse_yaml(text: str, source: str, loader: Loader | None = None) -> tuple[Any, Positions]:
    """Parse one YAML document safely (see the module doc for what is refused); return the data and the position
    of every key and item by its ``$``-less JSON path (``.a.b[0]``)."""
    if bad := _NON_PRINTABLE.search(text):
        line, column = _line_column(text, bad.start())
        raise ConfigError(source, line, "", f"character {bad.group()!r} is not allowed in YAML", column)
    parser = (loader or LOADERS[0])(text, source)
    try:
        node = parser.get_single_node()
        positions: Positions = {}
        if node is None:
            return None, positions
        _walk(parser, node, "", positions)
        return parser.construct_document(node), positions
    except yaml.MarkedYAMLError as exc:
        at = _position(exc.problem_mark or exc.context_mark)
        what = ", ".join(p for p in (exc.context, exc.problem) if p) or "not valid YAML"
        raise ConfigError.at(source, at, "", f"malformed YAML: {what}") from exc
    except yaml.YAMLError as exc:  # a ReaderError the check above did not foresee
        raise ConfigError(source, None, "", f"malformed YAML: {exc}") from exc
    finally:
        parser.dispose()


def read_text(path: Path, limit: int = MAX_FILE_BYTES) -> str:
    """The UTF-8 text of a config file of at most ``limit`` bytes; anything else is a ``ConfigError``."""
    source = str(path)
    try:
        with path.open("rb") as file:
            raw = file.read(limit + 1)  # never more: the file may be huge, growing, or /dev/zero
    except OSError as exc:
        raise ConfigError(source, None, "", f"cannot read: {exc.strerror or exc}") from exc
    if len(raw) > limit:
        raise ConfigError(source, None, "", f"larger than {limit // 1024} KiB: not a config file")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = raw.rfind(b"\n", 0, exc.start) + 1
        line = raw.count(b"\n", 0, exc.start) + 1
        column = len(raw[line_start : exc.start].decode("utf-8", errors="replace")) + 1
        raise ConfigError(
            source, line, "", f"not UTF-8: byte 0x{raw[exc.start]:02x} ({exc.reason}); save the file as UTF-8", column
        ) from exc


def position_of(positions: Positions, path: str) -> Position | None:
    """Position of the deepest existing prefix of ``path`` (a missing field reports its parent's)."""
    while True:
        if path in positions:
            return positions[path]
        cut = max(path.rfind("."), path.rfind("["))
        if cut < 0:
            return positions.get("")
        path = path[:cut]


def line_of(positions: Positions, path: str) -> int | None:
    """Line of the deepest existing prefix of ``path``."""
    at = position_of(positions, path)
    return at.line if at is not None else None


def _dotted(*parts: str | int) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


def field_position(positions: Positions, *parts: str | int) -> Position | None:
    """Position of a field given as path parts, for semantic errors raised after decoding."""
    return position_of(positions, _dotted(*parts))


def field_line(positions: Positions, *parts: str | int) -> int | None:
    """Line of a field given as path parts."""
    at = position_of(positions, _dotted(*parts))
    return at.line if at is not None else None


def _type_at(type_: Any, path: str) -> Any:
    """msgspec's type info of the value at ``path`` (``.risk.cool_down_s``) inside ``type_``, or ``None``."""
    info: Any = msgspec.inspect.type_info(type_)
    for part in (p for p in re.split(r"\.|\[\d+\]", path) if p):
        info = _as_struct(info)
        if info is None:
            return None
        found = next((f for f in info.fields if f.encode_name == part), None)
        if found is None:
            return None
        info = found.type
    return info


def _struct_fields(type_: Any, path: str) -> list[str]:
    """The field names of the struct at ``path`` inside ``type_`` (for "did you mean"), or none."""
    info = _as_struct(_type_at(type_, path))
    return [f.encode_name for f in info.fields] if info is not None else []


def _enum_values(type_: Any, path: str) -> list[str]:
    info = _type_at(type_, path)
    if isinstance(info, msgspec.inspect.UnionType):
        info = next((t for t in info.types if isinstance(t, msgspec.inspect.EnumType)), None)
    if not isinstance(info, msgspec.inspect.EnumType):
        return []
    return [str(member.value) for member in info.cls]


def _as_struct(info: Any) -> Any:
    if isinstance(info, msgspec.inspect.StructType):
        return info
    if isinstance(info, msgspec.inspect.UnionType):
        return next((t for t in info.types if isinstance(t, msgspec.inspect.StructType)), None)
    return None


def decode(
    data: Any,
    positions: Positions,
    source: str,
    type_: type[T],
    words: Mapping[str, str] | None = None,
) -> T:
    """Convert parsed YAML into ``type_``; a validation error names file, position and field.

    ``words`` maps a struct path to the YAML path the file writes it as (``capital_quote`` -> ``capital_usdc``),
    for configs that convert human units before decoding: errors speak the file's words, never the struct's.
    """
    words = words or {}
    try:
        return msgspec.convert(data, type_, strict=True)
    except msgspec.ValidationError as exc:
        message = str(exc)
        match = _PATH_IN_MESSAGE.search(message)
        path = match.group("path") if match else ""
        text = re.sub(r"\s*-\s*at\s*$", "", _PATH_IN_MESSAGE.sub("", message)).strip() or message
        if unknown := re.search(r"unknown field `([^`]+)`", text):
            path = f"{path}.{unknown.group(1)}"
            allowed = [*_struct_fields(type_, path.rsplit(".", 1)[0]), *_words_under(words, path.rsplit(".", 1)[0])]
            close = difflib.get_close_matches(unknown.group(1), allowed, n=1)
            text = "unknown key" + (f"; did you mean {close[0]}?" if close else "")
        elif missing := re.search(r"missing required field `([^`]+)`", text):
            path = f"{path}.{missing.group(1)}"
            text = "required, but missing"
        elif (bad := re.match(r"Invalid enum value (.+)$", text)) and (values := _enum_values(type_, path)):
            text = f"must be one of {', '.join(values)}, got {bad.group(1)}"
        else:  # msgspec's "Expected `int`, got `str`"
            text = text.replace("`", "")
            text = text[:1].lower() + text[1:]
        yaml_path = _translate(path.lstrip("."), words)
        at = position_of(positions, "." + yaml_path if yaml_path else "")
        raise ConfigError.at(source, at, yaml_path or "(top level)", text) from exc


def _translate(path: str, words: Mapping[str, str]) -> str:
    """The YAML spelling of a struct path (longest translated prefix wins)."""
    for internal, written in sorted(words.items(), key=lambda kv: -len(kv[0])):
        if path == internal or path.startswith((internal + ".", internal + "[")):
            return written + path[len(internal) :]
    return path


def _words_under(words: Mapping[str, str], parent: str) -> list[str]:
    parent = parent.lstrip(".")
    prefix = parent + "." if parent else ""
    return [w[len(prefix) :] for w in words.values() if w.startswith(prefix) and "." not in w[len(prefix) :]]


def load_yaml_file(path: Path, type_: type[T]) -> T:
    """Read, parse and decode one YAML file."""
    data, positions = parse_yaml(read_text(path), str(path))
    return decode(data, positions, str(path), type_)
