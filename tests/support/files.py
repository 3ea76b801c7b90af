"""Owner and umask helpers for the tests of owner-only files (``botrunner.private_files`` and its users)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

NOBODY = 65534  # the conventional uid of "nobody": a uid that is not the test's


@contextmanager
def umask(mask: int) -> Iterator[None]:
    """The process umask set to ``mask`` for the block (the runner sets its own: this puts the test's back)."""
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def give_away(path: Path) -> int:
    """Make ``path`` (not following a symlink) another user's; returns that uid. Only root can: skipped otherwise."""
    if os.geteuid() != 0:
        pytest.skip("giving a file to another user needs root")
    os.chown(path, NOBODY, NOBODY, follow_symlinks=False)
    return NOBODY
