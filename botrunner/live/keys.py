"""The signing key: read from one environment variable, inside the runner only, and never shown again.

The variable (``live.key_env``, default ``DRIFT_PRIVATE_KEY``) holds one of:

* a path to a keypair file (``solana-keygen`` format: a JSON array of 64 bytes; a base58 string also works);
* a base58 secret key (64 bytes, as Phantom and Solflare export it; 32 bytes is taken as the seed);
* a JSON array of 64 (or 32) bytes, with or without the brackets.

Every spelling of the secret the process holds is registered with the log scrubber before anything else happens,
so no log line, traceback or reply can carry it out. Errors name the variable and what is wrong, never the value.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import base58
from solders.keypair import Keypair

from botrunner.logsetup import MIN_SECRET_LEN, register_secret

_SECRET_LEN = 64
_SEED_LEN = 32
_MAX_KEY_FILE_BYTES = 4096  # a keypair file is ~230 bytes; anything large is not one


class SigningKeyError(ValueError):
    """The signing key is missing or is not a Solana keypair. The message never contains the key."""


def _scrub_all(*values: str) -> None:
    for value in values:
        if len(value) >= MIN_SECRET_LEN:
            register_secret(value)


def _from_bytes(raw: bytes, where: str) -> Keypair:
    if len(raw) == _SECRET_LEN:
        try:
            keypair = Keypair.from_bytes(raw)
        except ValueError:
            raise SigningKeyError(
                f"{where}: the 64 bytes are not a valid ed25519 keypair (public half does not match)"
            ) from None
    elif len(raw) == _SEED_LEN:
        keypair = Keypair.from_seed(raw)
    else:
        raise SigningKeyError(f"{where}: a keypair has 64 bytes (or a 32-byte seed), this has {len(raw)}")
    _scrub_all(str(keypair), json.dumps(list(bytes(keypair))), json.dumps(list(raw)))
    return keypair


def _byte_list(text: str, where: str) -> bytes | None:
    """Bytes of ``[1,2,...]`` or ``1,2,...``; None when ``text`` is not that shape."""
    body = text.strip()
    if body.startswith("["):
        try:
            values = json.loads(body)
        except ValueError:
            raise SigningKeyError(f"{where}: looks like a JSON byte array but is not valid JSON") from None
    elif "," in body:
        try:
            values = [int(v) for v in body.split(",")]
        except ValueError:
            raise SigningKeyError(f"{where}: looks like a comma-separated byte list but holds a non-integer") from None
    else:
        return None
    if not isinstance(values, list) or not all(type(v) is int and 0 <= v <= 255 for v in values):
        raise SigningKeyError(f"{where}: a byte array must hold integers 0..255")
    return bytes(values)


def _base58(text: str, where: str) -> bytes:
    try:
        return bytes(base58.b58decode(text.strip()))
    except ValueError:
        raise SigningKeyError(
            f"{where}: not a keypair file path, a base58 secret key, or a JSON array of 64 bytes"
        ) from None


def parse_key(text: str, where: str) -> Keypair:
    """A keypair from the variable's text (a path, base58, or a byte array). Raises ``SigningKeyError``."""
    _scrub_all(text, text.strip())
    stripped = text.strip()
    if not stripped:
        raise SigningKeyError(f"{where}: is empty")
    raw = _byte_list(stripped, where)
    if raw is not None:
        return _from_bytes(raw, where)
    if os.sep in stripped or stripped.endswith(".json") or stripped.startswith("~"):
        return _from_file(Path(stripped).expanduser(), where)
    return _from_bytes(_base58(stripped, where), where)


def _from_file(path: Path, where: str) -> Keypair:
    what = f"{where} (file {path})"
    try:
        if path.stat().st_size > _MAX_KEY_FILE_BYTES:
            raise SigningKeyError(f"{what}: too large to be a keypair file")
        content = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SigningKeyError(f"{what}: no such file") from None
    except OSError as exc:
        raise SigningKeyError(f"{what}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise SigningKeyError(f"{what}: not a text keypair file") from None
    _scrub_all(content, content.strip())
    raw = _byte_list(content, what)
    if raw is not None:
        return _from_bytes(raw, what)
    return _from_bytes(_base58(content, what), what)


def load_key(env_var: str, environ: Mapping[str, str] | None = None) -> Keypair:
    """The keypair named by ``env_var`` in ``environ`` (the process environment by default)."""
    source = os.environ if environ is None else environ
    text = source.get(env_var)
    if text is None:
        raise SigningKeyError(
            f"{env_var}: not set; export it with a keypair file path, a base58 secret key or a JSON byte array"
        )
    return parse_key(text, env_var)
