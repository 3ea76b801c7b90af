"""Exclusive use of something shared between processes (a run directory), by an advisory ``flock`` on a file.

Why a kernel lock and not a pid file: the kernel drops a ``flock`` when its process ends, however it ends
(``kill -9`` included), so a crash never leaves a stale lock for the next ``botrunner run`` to trip over, and there
is no window between "is anyone there?" and "it is mine". The lock file also says who holds it (pid, what, since),
for the error the next process prints. Advisory: it keeps out other botrunner processes, which all take it first.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
from pathlib import Path

from botrunner.private_files import open_private


class LockHeld(RuntimeError):
    """Another process holds the lock; ``holder`` is what it wrote in the lock file ("" if nothing yet)."""

    def __init__(self, path: Path, holder: str) -> None:
        super().__init__(f"{path} is held by {holder or 'another process'}")
        self.path = path
        self.holder = holder


class ExclusiveLock:
    """An exclusive, non-blocking ``flock`` on ``path``, held until ``release`` or the process ends. Not re-entrant:
    a second ``ExclusiveLock`` on the same path fails even in the same process.

    The file is made 0600 whatever the umask or its earlier mode, and is never reached through a symlink; another
    user's file is refused (``botrunner.private_files.open_private``): the holder line names who runs what."""

    def __init__(self, path: Path, purpose: str) -> None:
        self.path = path
        self.purpose = purpose
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock or raise ``LockHeld`` at once (never waits). ``OSError`` if the file cannot be opened."""
        if self._fd is not None:
            raise RuntimeError(f"{self.path} is already locked by this object")
        fd = open_private(self.path, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise LockHeld(self.path, holder) from None
        except BaseException:
            os.close(fd)
            raise
        since = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}: {self.purpose}, since {since}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Give the lock up (idempotent). The file stays: removing it would race with a process about to lock it."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)  # closing the only descriptor releases the flock


def _read_holder(fd: int) -> str:
    try:
        return os.pread(fd, 512, 0).decode("utf-8", "replace").strip()
    except OSError:
        return ""
