"""structlog configuration: JSON lines to a stream or file, level from ``BOTRUNNER_LOG_LEVEL`` (default INFO).

Only the imperative shell logs. Secrets never reach a log: ``redact`` scrubs any key that names one before
rendering, whatever the caller passed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

LEVEL_ENV = "BOTRUNNER_LOG_LEVEL"
_SECRET_MARKERS = ("private_key", "secret", "keypair", "seed", "mnemonic", "password", "signing_key")


def level_from_env(default: str = "INFO") -> int:
    """The configured level; an unknown name is an error naming the variable, not a silent default."""
    name = os.environ.get(LEVEL_ENV, default).strip().upper()
    level = logging.getLevelNamesMapping().get(name)
    if level is None:
        raise ValueError(f"{LEVEL_ENV}={name!r} is not a log level (DEBUG, INFO, WARNING, ERROR, CRITICAL)")
    return level


def redact(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Replace the value of any key that looks like it holds a secret."""
    for key in list(event_dict):
        if any(marker in key.lower() for marker in _SECRET_MARKERS):
            event_dict[key] = "[redacted]"
    return event_dict


def configure(stream: TextIO, level: int | None = None) -> None:
    """Render JSON lines to ``stream`` at ``level`` (from the environment when None)."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(sort_keys=True),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level_from_env() if level is None else level),
        logger_factory=structlog.WriteLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
