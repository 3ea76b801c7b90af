"""The signing key: every accepted spelling, every refusal names the variable and never the value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from solders.keypair import Keypair

from botrunner.live.keys import SigningKeyError, load_key, parse_key
from botrunner.logsetup import scrub

KP = Keypair.from_seed(bytes(range(32)))
ENV = "DRIFT_PRIVATE_KEY"


def test_key_when_base58_then_loaded_and_scrubbed() -> None:
    secret = str(KP)
    assert load_key(ENV, {ENV: secret}) == KP
    assert secret not in scrub(f"leak {secret} here")


def test_key_when_json_array_or_comma_list_then_loaded() -> None:
    raw = list(bytes(KP))
    assert parse_key(json.dumps(raw), ENV) == KP
    assert parse_key(",".join(map(str, raw)), ENV) == KP
    assert json.dumps(raw) not in scrub(json.dumps(raw))


def test_key_when_keypair_file_then_loaded(tmp_path: Path) -> None:
    path = tmp_path / "id.json"
    path.write_text(json.dumps(list(bytes(KP))))
    assert load_key(ENV, {ENV: str(path)}) == KP


def test_key_when_missing_then_error_names_the_variable() -> None:
    with pytest.raises(SigningKeyError, match=f"^{ENV}: not set"):
        load_key(ENV, {})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", "is empty"),
        ("[1,2", "not valid JSON"),
        ("[1,2,3]", "has 3"),
        ("[1,2,300]", "integers 0..255"),
        ("1,x,3", "non-integer"),
        ("/no/such/dir/id.json", "no such file"),
        ("0OIl0OIl0OIl", "not a keypair file path"),
        (str(KP)[:-4] + "1111", "not a valid ed25519 keypair"),
    ],
)
def test_key_when_malformed_then_one_line_error_without_the_value(value: str, expected: str) -> None:
    with pytest.raises(SigningKeyError) as info:
        parse_key(value, ENV)
    message = str(info.value)
    assert message.startswith(ENV) and expected in message and "\n" not in message
    if len(value) >= 8 and "/" not in value:
        assert value not in message


@settings(max_examples=50, deadline=None)
@given(st.binary(min_size=32, max_size=32), st.integers(32, 63), st.integers(1, 255))
def test_key_property_when_64_bytes_then_real_keypair_loaded_and_corrupted_public_half_refused(
    seed: bytes, index: int, flip: int
) -> None:
    # Random 64 bytes are (almost) never a keypair, so draw a real one from a seed and corrupt a copy of it.
    raw = bytes(Keypair.from_seed(seed))
    assert bytes(parse_key(json.dumps(list(raw)), ENV)) == raw
    corrupted = bytearray(raw)
    corrupted[index] ^= flip  # the public half no longer matches the secret
    text = json.dumps(list(corrupted))
    with pytest.raises(SigningKeyError, match="not a valid ed25519 keypair") as info:
        parse_key(text, ENV)
    assert text not in str(info.value)
