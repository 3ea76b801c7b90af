"""Random YAML documents for the loader's property tests: trees of mappings (lists of pairs, so a key can repeat),
lists and scalars, each container in block or flow style, rendered to text; and one such tree with a key repeated
in a mapping at a random depth."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

_WORDS = ("true", "false", "yes", "no", "on", "off", "null", "y", "n")  # plain words YAML reads as non-strings
keys = st.from_regex(r"[a-z][a-z0-9_]{0,7}", fullmatch=True).filter(lambda k: k not in _WORDS)
scalars = st.one_of(st.integers(-1000, 10**12), keys.map(lambda k: f"v_{k}"))


class Map:
    """A mapping as written: its pairs in order (a key may repeat), in flow (``{a: 1}``) or block style."""

    def __init__(self, pairs: list[tuple[str, Any]], flow: bool) -> None:
        self.pairs, self.flow = pairs, flow


class Seq:
    def __init__(self, items: list[Any], flow: bool) -> None:
        self.items, self.flow = items, flow


def unique(pairs: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """The pairs with each key's first occurrence only."""
    seen: dict[str, Any] = {}
    for key, value in pairs:
        seen.setdefault(key, value)
    return list(seen.items())


def tree() -> st.SearchStrategy[Any]:
    def extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.one_of(
            st.builds(lambda p, f: Map(unique(p), f), st.lists(st.tuples(keys, children), max_size=4), st.booleans()),
            st.builds(Seq, st.lists(children, max_size=3), st.booleans()),
        )

    return st.recursive(scalars, extend, max_leaves=16)


def documents() -> st.SearchStrategy[Map]:
    """A top-level block mapping of random trees, without repeated keys."""
    return st.lists(st.tuples(keys, tree()), min_size=1, max_size=4).map(lambda p: normalise(Map(unique(p), False)))


def flow_text(node: Any) -> str:
    if isinstance(node, Map):
        return "{" + ", ".join(f"{k}: {flow_text(v)}" for k, v in node.pairs) + "}"
    if isinstance(node, Seq):
        return "[" + ", ".join(flow_text(v) for v in node.items) + "]"
    return str(node)


def _is_block(node: Any) -> bool:
    return isinstance(node, Map | Seq) and not node.flow and bool(node.pairs if isinstance(node, Map) else node.items)


def block_lines(node: Any, indent: int) -> list[str]:
    """``node`` as lines of a block collection at ``indent`` (a flow or scalar node is one line)."""
    pad = " " * indent
    if isinstance(node, Map) and _is_block(node):
        lines: list[str] = []
        for key, value in node.pairs:
            if _is_block(value):
                lines += [f"{pad}{key}:", *block_lines(value, indent + 2)]
            else:
                lines.append(f"{pad}{key}: {flow_text(value)}")
        return lines
    if isinstance(node, Seq) and _is_block(node):
        lines = []
        for item in node.items:
            lines += [f"{pad}-", *block_lines(item, indent + 2)] if _is_block(item) else [f"{pad}- {flow_text(item)}"]
        return lines
    return [pad + flow_text(node)]


def render(root: Map) -> str:
    return "\n".join(block_lines(root, 0)) + "\n"


def force_flow(node: Any) -> Any:
    """``node`` with every container in flow style (what a flow container must hold)."""
    if isinstance(node, Map):
        return Map([(k, force_flow(v)) for k, v in node.pairs], True)
    if isinstance(node, Seq):
        return Seq([force_flow(v) for v in node.items], True)
    return node


def normalise(node: Any) -> Any:
    """``node`` with the contents of every flow container in flow style too."""
    if isinstance(node, Map):
        return Map([(k, force_flow(v) if node.flow else normalise(v)) for k, v in node.pairs], node.flow)
    if isinstance(node, Seq):
        return Seq([force_flow(v) if node.flow else normalise(v) for v in node.items], node.flow)
    return node


def mappings(node: Any, path: str = "") -> list[tuple[str, Map]]:
    """Every mapping of the tree with its path (``.a[0].b``)."""
    found: list[tuple[str, Map]] = []
    if isinstance(node, Map):
        found.append((path, node))
        for key, value in node.pairs:
            found += mappings(value, f"{path}.{key}")
    elif isinstance(node, Seq):
        for i, item in enumerate(node.items):
            found += mappings(item, f"{path}[{i}]")
    return found


@st.composite
def repeat_a_key(draw: st.DrawFn, root: Map, values: st.SearchStrategy[Any]) -> tuple[str, str]:
    """Repeat one key of one mapping of ``root`` (in place), later in the same mapping, with a value drawn from
    ``values``; return (path of that mapping, the key). Deeper mappings are rarer in a random tree, so each is
    weighted by its depth and every depth gets its share."""
    candidates = [(p, m) for p, m in mappings(root) if m.pairs]
    weighted = [pm for pm in candidates for _ in range(1 + 2 * (pm[0].count(".") + pm[0].count("[")))]
    path, mapping = draw(st.sampled_from(weighted))
    key, _ = draw(st.sampled_from(mapping.pairs))
    value = draw(values)
    value = force_flow(value) if mapping.flow else normalise(value)
    first = next(i for i, (k, _) in enumerate(mapping.pairs) if k == key)
    mapping.pairs.insert(draw(st.integers(first + 1, len(mapping.pairs))), (key, value))
    return path, key


@st.composite
def documents_with_a_duplicate(draw: st.DrawFn) -> tuple[str, str, str]:
    """(YAML text, path of the mapping holding the repeated key, the key)."""
    root = draw(documents())
    path, key = draw(repeat_a_key(root, tree()))
    return render(root), path, key


def key_marks(text: str, path: str, key: str) -> list[Any]:
    """Where plain PyYAML (which allows repeated keys) sees ``key`` in the mapping at ``path``: the tests' oracle."""
    import yaml

    node: Any = yaml.compose(text, Loader=yaml.SafeLoader)
    for part in (p for p in path.replace("[", ".[").split(".") if p):
        if part.startswith("["):
            node = node.value[int(part[1:-1])]
        else:
            node = next(v for k, v in node.value if k.value == part)
    return [k.start_mark for k, _ in node.value if k.value == key]


@st.composite
def styled(draw: st.DrawFn, value: Any) -> Any:
    """Plain data (dicts, lists, scalars) as a tree whose every container is drawn block or flow."""
    if isinstance(value, dict):
        return Map([(k, draw(styled(v))) for k, v in value.items()], draw(st.booleans()))
    if isinstance(value, list):
        return Seq([draw(styled(v)) for v in value], draw(st.booleans()))
    return value
