"""A search space (``SPACE.yaml``) over a bot file, and the candidate bot files it produces.

``SPACE.yaml`` maps config paths of the bot file to a range or a list of choices::

    execution.step_bps: {low: 10, high: 120, step: 5}      # integers (step default 1; log: true for log scale)
    execution.base_size_per_level: {low: 0.1, high: 1, step: 0.1}   # decimals need a step: values are exact
    strategy.grid.bias: [bullish, neutral, bearish]         # choices

A candidate is the bot file's own text with the chosen values put in place of the old ones (comments and layout
kept), validated by ``botrunner.config.parse_bot``, the very rules of ``botrunner validate``: the text that
validated is the text a best trial is written as. A path the file does not spell out (a default) is set in the
parsed document and the whole file dumped again, without its comments.

Bad input is a ``ConfigError`` naming the space file, the line and the path: an unknown path, an empty range, a
range whose ends the bot's validation refuses.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import yaml
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from botrunner.config import BotConfig, parse_bot
from botrunner.yamlconf import ConfigError, field_line, parse_yaml, where

# What a search may not move: who and where the bot is. A backtest of another market or subaccount is another bot.
FIXED_PATHS: Final = frozenset({"name", "mode", "account", "market", "live", "on_shutdown"})
_RANGE_KEYS: Final = frozenset({"low", "high", "step", "log"})

Scalar = str | int | float | bool | Decimal | None


@dataclass(frozen=True)
class Param:
    """One searched setting: its config path, its Optuna distribution and how a sampled value becomes YAML."""

    path: str
    distribution: BaseDistribution
    line: int | None  # in the space file
    decimal_step: Decimal | None = None  # decimal ranges: values are low + k × step, exactly

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(self.path.split("."))

    def config_value(self, sampled: Any) -> Scalar:
        """The value written into the bot file for Optuna's ``sampled`` value."""
        dist = self.distribution
        if self.decimal_step is not None:
            assert isinstance(dist, FloatDistribution)
            low = _decimal(dist.low)
            k = round((Decimal(repr(float(sampled))) - low) / self.decimal_step)
            return (low + k * self.decimal_step).quantize(self.decimal_step)
        if isinstance(dist, IntDistribution):
            return int(sampled)
        scalar: Scalar = sampled
        return scalar

    def ends(self) -> list[Any]:
        """The sampled values at the edges of the range (every choice of a list): each must validate alone."""
        dist = self.distribution
        if isinstance(dist, CategoricalDistribution):
            return list(dist.choices)
        if isinstance(dist, IntDistribution | FloatDistribution):
            return [dist.low, dist.high] if dist.low != dist.high else [dist.low]
        raise TypeError(f"unexpected distribution {dist!r}")

    def describe(self) -> dict[str, Any]:
        """The range as plain data (part of the search's definition)."""
        dist = self.distribution
        if isinstance(dist, CategoricalDistribution):
            return {"path": self.path, "choices": list(dist.choices)}
        if isinstance(dist, IntDistribution):
            return {"path": self.path, "low": dist.low, "high": dist.high, "step": dist.step, "log": dist.log}
        assert isinstance(dist, FloatDistribution) and self.decimal_step is not None
        return {
            "path": self.path,
            "low": str(self.config_value(dist.low)),
            "high": str(self.config_value(dist.high)),
            "step": str(self.decimal_step),
        }


@dataclass(frozen=True)
class Space:
    params: tuple[Param, ...]
    source: str

    @property
    def distributions(self) -> dict[str, BaseDistribution]:
        return {p.path: p.distribution for p in self.params}

    def config_values(self, sampled: Mapping[str, Any]) -> dict[str, Scalar]:
        return {p.path: p.config_value(sampled[p.path]) for p in self.params}

    def describe(self) -> list[dict[str, Any]]:
        return [p.describe() for p in self.params]


def _decimal(value: Any) -> Decimal:
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_space(text: str, source: str) -> Space:
    """Parse ``SPACE.yaml`` text (ranges and choices only; the bot file checks the values: ``check_space``)."""
    data, lines = parse_yaml(text, source)
    if not isinstance(data, dict) or not data:
        raise ConfigError(source, field_line(lines), "", "expected a mapping of config paths to ranges or choices")
    params: list[Param] = []
    for path, spec in data.items():
        at = lines.get(f".{path}")
        line = at.line if at is not None else None

        def fail(message: str, path: Any = path, line: int | None = line) -> ConfigError:
            return ConfigError(source, line, str(path), message)

        if not isinstance(path, str) or not path or any(not k for k in path.split(".")):
            raise fail("not a config path (dotted keys of the bot file, e.g. execution.step_bps)")
        if path.split(".")[0] in FIXED_PATHS:
            raise fail(f"{path.split('.')[0]} is not searched: it says which bot this is, not how it trades")
        params.append(_param(path, spec, line, fail))
    return Space(tuple(params), source)


def _param(  # noqa: PLR0912  one refusal per way a range or a choice list can be malformed
    path: str, spec: Any, line: int | None, fail: Any
) -> Param:
    if isinstance(spec, list):
        if not spec:
            raise fail("empty range: no choices")
        for choice in spec:
            if isinstance(choice, dict | list):
                raise fail(f"choice {choice!r} is not a scalar (give strings, numbers or booleans)")
        if len({json.dumps(c) for c in spec}) != len(spec):
            raise fail("a choice is listed twice")
        return Param(path, CategoricalDistribution(spec), line)
    if not isinstance(spec, dict):
        raise fail("expected {low: ..., high: ..., step: ...} or a list of choices")
    unknown = set(spec) - _RANGE_KEYS
    if unknown:
        raise fail(f"unknown key(s) {', '.join(sorted(map(str, unknown)))} (a range has low, high, step, log)")
    if "low" not in spec or "high" not in spec:
        raise fail("a range needs low and high")
    low, high, step, log = spec["low"], spec["high"], spec.get("step"), spec.get("log", False)
    for name, value in (("low", low), ("high", high), ("step", step)):
        if value is not None and not _is_number(value):
            raise fail(f"{name} must be a number, got {value!r}")
    if not isinstance(log, bool):
        raise fail(f"log must be true or false, got {log!r}")
    if step is not None and step <= 0:
        raise fail(f"step must be > 0, got {step}")
    if low > high:
        raise fail(f"empty range: low {low} > high {high}")
    if all(isinstance(v, int) for v in (low, high, step) if v is not None):
        if log and step not in (None, 1):
            raise fail("log: true takes no step")
        if log and low < 1:
            raise fail(f"log: true needs low >= 1, got {low}")
        return Param(path, IntDistribution(int(low), int(high), log=log, step=int(step or 1)), line)
    if step is None:
        raise fail("a decimal range needs a step (values go into the bot file exactly: 0.1, not 0.1000000001)")
    if log:
        raise fail("log: true is for integer ranges")
    try:
        d_low, d_high, d_step = _decimal(low), _decimal(high), _decimal(step)
    except InvalidOperation as exc:
        raise fail(f"not a decimal number: {exc}") from exc
    count = (d_high - d_low) / d_step
    if count != count.to_integral_value():
        raise fail(f"high - low ({d_high - d_low}) is not a multiple of step {d_step}")
    exponent = d_step.normalize().as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    quantum = Decimal(1).scaleb(-places)
    return Param(
        path, FloatDistribution(float(d_low), float(d_high), step=float(d_step)), line, d_step.quantize(quantum)
    )


# --- candidates ---------------------------------------------------------------------------------------------------


class CandidateError(ValueError):
    """A candidate bot file that does not validate; ``reason`` is the validation message without a location."""

    def __init__(self, reason: str, unknown_path: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.unknown_path = unknown_path


def _render(value: Scalar) -> str:
    """One YAML scalar, as a flow item would spell it (strings quoted when they would read as something else)."""
    if isinstance(value, Decimal):
        return format(value, "f")
    text = yaml.safe_dump([value], default_flow_style=True, width=10**6).strip()
    assert text.startswith("[") and text.endswith("]"), text
    return text[1:-1]


def _find_scalar(node: yaml.Node, keys: tuple[str, ...]) -> yaml.ScalarNode | None:
    for key in keys:
        if not isinstance(node, yaml.MappingNode):
            return None
        found = next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == key), None)
        if found is None:
            return None
        node = found
    return node if isinstance(node, yaml.ScalarNode) else None


def candidate_text(bot_text: str, values: Mapping[str, Scalar], source: str) -> str:
    """The bot file's text with ``values`` (config path -> value) put in. Each value replaces the old scalar in
    place when the file spells the path out (a comment after a changed value becomes ``# botrunner optimize: was
    OLD``); otherwise the document is set and dumped again (comments lost)."""
    root = yaml.compose(bot_text, Loader=yaml.SafeLoader)
    spans: list[tuple[int, int, str]] = []
    for path, value in values.items():
        node = _find_scalar(root, tuple(path.split("."))) if root is not None else None
        if node is None:
            return _dumped(bot_text, values, source)
        new = _render(value)
        if new == bot_text[node.start_mark.index : node.end_mark.index]:
            continue
        end = node.end_mark.index
        line_end = len(bot_text) if (found := bot_text.find("\n", end)) < 0 else found
        rest = bot_text[end:line_end]
        if rest.lstrip().startswith("#"):  # the old value's comment would now mislead: say what it was instead
            gap = rest[: len(rest) - len(rest.lstrip())]
            new = f"{new}{gap}# botrunner optimize: was {node.value}"
            end = line_end
        spans.append((node.start_mark.index, end, new))
    text = bot_text
    for start, end, new in sorted(spans, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def _dumped(bot_text: str, values: Mapping[str, Scalar], source: str) -> str:
    data, _ = parse_yaml(bot_text, source)
    for path, value in values.items():
        holder = data
        keys = path.split(".")
        for i, key in enumerate(keys[:-1]):
            if not isinstance(holder, dict):
                raise CandidateError(f"{'.'.join(keys[:i])} is not a section", unknown_path=True)
            holder = holder.setdefault(key, {})
        if not isinstance(holder, dict):
            raise CandidateError(f"{'.'.join(keys[:-1])} is not a section", unknown_path=True)
        holder[keys[-1]] = float(value) if isinstance(value, Decimal) else value
    header = f"# {source}, with searched settings put in (re-written whole: its comments are not kept)\n"
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def validate_candidate(text: str, source: str) -> BotConfig:
    """``parse_bot`` on a candidate; its ``ConfigError`` becomes a ``CandidateError`` carrying the field and the
    message (a location in a generated text would mislead)."""
    try:
        return parse_bot(text, source)
    except ConfigError as exc:
        reason = str(exc).removeprefix(f"{where(exc.source, exc.line, exc.column)}: ")
        # the loader's words for a key the bot file does not have ("unknown key; did you mean ...?")
        raise CandidateError(reason, unknown_path="unknown key" in reason or "unknown field" in reason) from exc


def check_space(space: Space, bot_text: str, bot_source: str) -> None:
    """Every end of every range (every choice) must validate on its own in the bot file: an unknown path or a
    range the bot's rules refuse is bad input (``ConfigError`` at the space file's line), not a pruned trial."""
    for param in space.params:
        for end in param.ends():
            value = param.config_value(end)
            try:
                validate_candidate(candidate_text(bot_text, {param.path: value}, bot_source), bot_source)
            except CandidateError as exc:
                if exc.unknown_path:
                    raise ConfigError(
                        space.source, param.line, param.path, f"not a setting of a bot file ({exc.reason})"
                    ) from exc
                raise ConfigError(
                    space.source,
                    param.line,
                    param.path,
                    f"{_render(value)} does not validate in {bot_source}: {exc.reason}",
                ) from exc
