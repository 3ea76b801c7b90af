"""structlog configuration: JSON lines to a stream or file, level from ``BOTRUNNER_LOG_LEVEL`` (default INFO).

Only the imperative shell logs. Secrets never reach a log, by two independent guards:

* ``redact`` replaces the value of any key that names a secret (``private_key=...``), before rendering;
* a value registered with :func:`register_secret` is replaced wherever it occurs: ``scrub_values`` walks keys and
  nested values just before rendering (after the exception is formatted, so its text too), and ``scrub_rendered``
  scrubs the finished line, so no path through the renderer (a ``repr``, a JSON escape) can carry it out.

Per-bot files with daily rotation are :mod:`botrunner.logfiles`; it uses the same processors.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
from collections.abc import MutableMapping
from typing import Any, Final, TextIO

import structlog
from structlog.typing import Processor

LEVEL_ENV = "BOTRUNNER_LOG_LEVEL"
REDACTED: Final = "[redacted]"
# A registered value shorter than this would blank out ordinary words and numbers all over the logs.
MIN_SECRET_LEN: Final = 8
_SCRUB_PASSES: Final = 4
_SECRET_MARKERS = ("private_key", "secret", "keypair", "seed", "mnemonic", "password", "signing_key")

_secrets_lock = threading.Lock()


class _Secrets:
    """Everything registered so far, in the shapes a scrubber matches; immutable, swapped whole under the lock."""

    __slots__ = ("byte_values", "forms")

    def __init__(self, forms: tuple[str, ...], byte_values: frozenset[bytes]) -> None:
        # Longest first: a secret that contains another is replaced whole, not left half-visible.
        self.forms = forms
        self.byte_values = byte_values


# A logging thread reads this reference once per line, without locking: it is replaced, never mutated.
_secrets = _Secrets((), frozenset())


def level_from_env(default: str = "INFO") -> int:
    """The configured level; an unknown name is an error naming the variable, not a silent default."""
    name = os.environ.get(LEVEL_ENV, default).strip().upper()
    level = logging.getLevelNamesMapping().get(name)
    if level is None:
        raise ValueError(f"{LEVEL_ENV}={name!r} is not a log level (DEBUG, INFO, WARNING, ERROR, CRITICAL)")
    return level


@functools.lru_cache(maxsize=4096)
def _names_a_secret(key: str) -> bool:
    # Cached: a process logs the same few dozen keys over and over, and this ran for every key of every line.
    lowered = key.lower()
    return any(marker in lowered for marker in _SECRET_MARKERS)


def redact(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Replace the value of any key that looks like it holds a secret."""
    for key in [k for k in event_dict if _names_a_secret(k)]:
        event_dict[key] = REDACTED
    return event_dict


def _byte_array(value: str) -> bytes | None:
    """The bytes of a JSON byte-array secret (a Solana keypair file's format), else None."""
    try:
        parsed = json.loads(value)
    except ValueError:
        return None
    if isinstance(parsed, list) and parsed and all(type(x) is int and 0 <= x <= 255 for x in parsed):
        return bytes(parsed)
    return None


def _forms(value: str, raw: bytes | None) -> set[str]:
    """The spellings of ``value`` that can appear in a rendered JSON line."""
    forms = {value}
    if raw is not None:
        # Once loaded, a keypair may be logged as a list of ints, rendered with ", " unlike the file's spelling.
        forms |= {json.dumps(list(raw)), json.dumps(list(raw), separators=(",", ":"))}
    # Inside a JSON string a quote, backslash or non-ASCII character is escaped, so the raw form would not match.
    forms |= {json.dumps(form)[1:-1] for form in forms}
    return forms


def register_secret(value: str) -> None:
    """From now on, replace ``value`` with ``[redacted]`` wherever it occurs in any line any logger renders.

    Thread-safe; registering twice is harmless. Register every secret the process holds as soon as it is read
    (key file contents, base58 key, RPC URL with an API key), in each spelling it is held in: a base58 key is not
    recognised from its decoded bytes. A JSON byte array is also recognised as a list, tuple or ``bytes`` value.
    A value shorter than ``MIN_SECRET_LEN`` is refused: scrubbing it would mangle unrelated text.
    """
    if len(value) < MIN_SECRET_LEN:
        raise ValueError(f"a secret to scrub must be at least {MIN_SECRET_LEN} characters, got {len(value)}")
    if value in REDACTED:
        raise ValueError(f"a secret cannot be part of the marker {REDACTED!r} that replaces it")
    global _secrets  # noqa: PLW0603 - one process-wide set: a secret must be scrubbed by every logger
    with _secrets_lock:
        raw = _byte_array(value)
        forms = set(_secrets.forms) | _forms(value, raw)
        byte_values = _secrets.byte_values | ({raw} if raw is not None else set())
        _secrets = _Secrets(tuple(sorted(forms, key=lambda f: (-len(f), f))), frozenset(byte_values))


def scrub(text: str) -> str:
    """``text`` with every registered secret replaced by ``[redacted]``.

    Replacing can join a ``[redacted]`` to its neighbours into a new occurrence (a secret ``]abcdefgh`` in
    ``]abcdefghabcdefgh``), so it repeats until nothing matches; text that still matches after a few passes is
    replaced whole.
    """
    forms = _secrets.forms
    for _ in range(_SCRUB_PASSES):
        hit = False
        for secret in forms:
            if secret in text:
                text = text.replace(secret, REDACTED)
                hit = True
        if not hit:
            return text
    return REDACTED


def scrub_line(line: str) -> str:
    """A rendered JSON line scrubbed; a line that had to be replaced whole stays a JSON object."""
    scrubbed = scrub(line)
    return scrubbed if scrubbed != REDACTED or line == REDACTED else json.dumps({"event": REDACTED})


def _scrub_value(value: Any, secrets: _Secrets) -> Any:
    match value:
        case str():
            return scrub(value)
        case bytes() | bytearray():
            return REDACTED if bytes(value) in secrets.byte_values else value
        case dict():
            return {_scrub_value(k, secrets): _scrub_value(v, secrets) for k, v in value.items()}
        case list() | tuple():
            if value and all(type(x) is int and 0 <= x <= 255 for x in value) and bytes(value) in secrets.byte_values:
                return REDACTED
            return [_scrub_value(item, secrets) for item in value]
        case _:
            return value  # rendered by repr: the line is scrubbed again after rendering


def scrub_values(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A processor placed just before the renderer: replace registered secrets inside keys and nested values.

    Here a secret held as a list or bytes is replaced by the string ``[redacted]``, keeping the line valid JSON;
    :func:`scrub_rendered` after the renderer is the net for anything rendered through ``repr``.
    """
    secrets = _secrets
    if not secrets.forms:
        return event_dict
    return {_scrub_value(k, secrets): _scrub_value(v, secrets) for k, v in event_dict.items()}


def scrub_rendered(_logger: Any, _method: str, rendered: Any) -> str:
    """A processor placed after the renderer: scrub the finished line."""
    if not isinstance(rendered, str):
        # Before the renderer it would see a dict and let secrets through: a wiring error, not a line to drop.
        raise TypeError(f"scrub_rendered must follow a str renderer, got {type(rendered).__name__}")
    return scrub_line(rendered)


def base_processors(field: Processor) -> list[Processor]:
    """The processors every botrunner logger starts with, in this order: bound context, ``level``, ``field`` (the
    time stamp, or the ``bot`` field of a per-bot file), key-based ``redact``, the exception formatted, then
    ``scrub_values`` (after the exception, so its text is scrubbed too). The caller appends its renderer: a str
    renderer must be followed by ``scrub_rendered``."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        field,
        redact,
        structlog.processors.format_exc_info,
        scrub_values,
    ]


def configure(stream: TextIO, level: int | None = None) -> None:
    """Render JSON lines to ``stream`` at ``level`` (from the environment when None)."""
    structlog.configure(
        processors=[
            *base_processors(structlog.processors.TimeStamper(fmt="iso", utc=True)),
            structlog.processors.JSONRenderer(sort_keys=True),
            scrub_rendered,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level_from_env() if level is None else level),
        logger_factory=structlog.WriteLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
