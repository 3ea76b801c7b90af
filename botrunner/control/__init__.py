"""The runner's control socket: a JSON-lines protocol over a Unix domain socket in the run directory.

``protocol`` is the pure wire format (requests, replies, the command table, error codes); ``server`` serves it to
a blocking dispatcher (the supervisor); ``client`` talks to it (``botrunner ctl``). This module holds the few
conventions both ends share: where the run directory and its socket are, and the length limit of a socket path.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

RUN_DIR_ENV = "BOTRUNNER_RUN_DIR"
DEFAULT_RUN_DIR = Path("run")
SOCKET_NAME = "control.sock"

# sockaddr_un.sun_path is 108 bytes on Linux (104 on the BSDs and macOS), one of them the terminating NUL.
MAX_SOCKET_PATH_BYTES = 107


class SocketPathError(ValueError):
    """A control socket path that a Unix socket cannot use (too long, or with a NUL byte)."""


def resolve_run_dir(explicit: Path | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """The run directory: ``explicit`` when given, else ``$BOTRUNNER_RUN_DIR`` when set, else ``./run``."""
    if explicit is not None:
        return explicit
    env = os.environ if environ is None else environ
    value = env.get(RUN_DIR_ENV, "").strip()
    return Path(value) if value else DEFAULT_RUN_DIR


def control_socket_path(run_dir: Path) -> Path:
    """The control socket inside ``run_dir``."""
    return run_dir / SOCKET_NAME


def check_socket_path(path: Path) -> None:
    """Raise ``SocketPathError`` naming ``path`` when a Unix socket cannot be bound or reached there.

    The limit applies to the path as given (relative paths are resolved by the kernel against the working
    directory, so a relative path is the way to reach a socket whose absolute path is too long)."""
    raw = os.fsencode(path)
    if b"\0" in raw:
        raise SocketPathError(f"control socket path contains a NUL byte: {path!r}")
    if len(raw) > MAX_SOCKET_PATH_BYTES:
        raise SocketPathError(
            f"control socket path is {len(raw)} bytes, over the {MAX_SOCKET_PATH_BYTES}-byte limit of Unix "
            f"sockets: {path} (use a shorter run directory)"
        )
