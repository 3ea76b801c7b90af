"""Logging: JSON lines, level from the environment, secrets redacted."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st

from botrunner import logsetup
from botrunner.logsetup import LEVEL_ENV, REDACTED, configure, level_from_env, register_secret, scrub


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


# --- value-based scrubbing: a registered secret never reaches a line, whatever key or shape carries it ---

_SECRET_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz" + '"\\/ +=-_~é€'


@contextmanager
def _restored_secrets() -> Iterator[None]:
    # Secrets are process-wide by design; keep this test's from redacting other tests' lines.
    saved = logsetup._secrets
    try:
        yield
    finally:
        logsetup._secrets = saved


@settings(max_examples=200, deadline=None)
@given(
    secret=st.text(alphabet=_SECRET_ALPHABET, min_size=8, max_size=90).filter(lambda s: s not in REDACTED),
    prefix=st.text(alphabet=_SECRET_ALPHABET, max_size=12),
    suffix=st.text(alphabet=_SECRET_ALPHABET, max_size=12),
    where=st.sampled_from(["event", "value", "nested", "key", "exception"]),
)
def test_a_registered_secret_never_appears_in_a_rendered_line(
    secret: str, prefix: str, suffix: str, where: str
) -> None:
    carried = prefix + secret + suffix
    out = io.StringIO()
    with _restored_secrets():
        register_secret(secret)
        configure(out, level=10)
        log = structlog.get_logger()
        match where:
            case "event":
                log.info(carried)
            case "value":
                log.info("e", note=carried)
            case "nested":
                log.info("e", cfg={"a": [1, {"b": carried}]})
            case "key":
                log.info("e", **{carried: 1})
            case "exception":
                try:
                    raise RuntimeError(carried)
                except RuntimeError:
                    log.exception("e")
    text = out.getvalue()
    assert json.dumps(secret)[1:-1] not in text
    assert secret not in text
    assert not any(secret in s for s in _strings(json.loads(text)))  # nor once the JSON escapes are undone


def _strings(value: Any) -> Iterator[str]:
    match value:
        case str():
            yield value
        case dict():
            for k, v in value.items():
                yield k
                yield from _strings(v)
        case list():
            for item in value:
                yield from _strings(item)
        case _:
            pass


def test_a_json_byte_array_key_is_scrubbed_as_text_as_a_list_and_as_bytes() -> None:
    key = [(i * 53 + 7) % 256 for i in range(64)]  # built at run time: no key-shaped literal in the repository
    file_text = json.dumps(key, separators=(",", ":"))
    out = io.StringIO()
    with _restored_secrets():
        register_secret(file_text)
        configure(out, level=20)
        structlog.get_logger().info("loaded", text=file_text, as_list=key, as_bytes=bytes(key), spaced=json.dumps(key))
    line = json.loads(out.getvalue())
    assert line["text"] == line["as_list"] == line["as_bytes"] == line["spaced"] == "[redacted]"


def test_replacing_never_leaves_a_secret_formed_from_the_marker_and_its_neighbours() -> None:
    secret = "]abcdefgh"
    with _restored_secrets():
        register_secret(secret)
        assert secret not in scrub(secret + "abcdefgh" + "abcdefgh")


@pytest.mark.parametrize("value", ["short", "", "redacted", "[redacted]"])
def test_secrets_too_short_or_inside_the_marker_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="secret"):
        register_secret(value)


def test_registering_from_many_threads_loses_none() -> None:
    secrets = [f"thread-secret-{i:04d}-xyz" for i in range(64)]
    with _restored_secrets():
        workers = [threading.Thread(target=register_secret, args=(s,)) for s in secrets]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        assert scrub(" ".join(secrets)) == " ".join(["[redacted]"] * len(secrets))
