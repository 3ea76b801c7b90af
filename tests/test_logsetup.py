"""Logging: JSON lines, level from the environment, secrets redacted."""

from __future__ import annotations

import io
import json

import pytest
import structlog

from botrunner.logsetup import LEVEL_ENV, configure, level_from_env


def test_logs_are_json_lines_and_secrets_are_redacted() -> None:
    out = io.StringIO()
    configure(out, level=20)
    fake_secret = "FAKE" + "k" * 40  # built at run time: no key-shaped literal in the repository
    structlog.get_logger().info("loaded_key", private_key=fake_secret, bot="sol")
    line = json.loads(out.getvalue().strip())
    assert line["event"] == "loaded_key"
    assert line["private_key"] == "[redacted]"
    assert line["bot"] == "sol"
    assert fake_secret not in out.getvalue()


def test_level_filters_and_comes_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LEVEL_ENV, "warning")
    out = io.StringIO()
    configure(out)
    log = structlog.get_logger()
    log.info("hidden")
    log.warning("shown")
    assert [json.loads(x)["event"] for x in out.getvalue().splitlines()] == ["shown"]


def test_unknown_level_is_an_error_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LEVEL_ENV, "LOUD")
    with pytest.raises(ValueError, match=LEVEL_ENV):
        level_from_env()
