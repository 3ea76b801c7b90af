"""Owner-only files: the store, the logs and the locks hold positions, orders, PnL and who runs what.

Why not leave it to the umask: ``os.open``'s mode is masked by the umask, so under ``umask 000`` a file asked for
as 0644 is 0644 and one asked for as 0666 is 0666; and a file that already exists keeps whatever mode it had,
whatever we ask. So every file is opened here with an explicit 0600 and then ``fchmod``-ed to exactly 0600.

Why ``O_NOFOLLOW`` and the checks after opening: a symlink (or a FIFO, or another user's file) planted where the
runner writes would make it append its logs or lock state to a file of someone else's choosing, or hang on a FIFO.
The checks are made on the open descriptor, so nothing can be swapped in between the check and the use.
"""

from __future__ import annotations

import errno
import os
import pwd
import stat
from pathlib import Path
from typing import Final

FILE_MODE: Final = 0o600
DIR_MODE: Final = 0o700


def owner_name(uid: int) -> str:
    """``uid 1001 (bob)``, or ``uid 1001`` for a uid without an account."""
    try:
        return f"uid {uid} ({pwd.getpwuid(uid).pw_name})"
    except KeyError:
        return f"uid {uid}"


def not_ours(uid: int) -> str | None:
    """Why a file owned by ``uid`` is not this process's to use (None when it is): ``owned by uid 1001 (bob), not
    by this user (uid 1000 (alice))``."""
    me = os.geteuid()
    if uid == me:
        return None
    return f"owned by {owner_name(uid)}, not by this user ({owner_name(me)})"


def open_private(path: Path | str, flags: int) -> int:
    """``os.open(path, flags)`` for a regular file of ours, never through a symlink, created 0600 and made 0600.

    ``O_NOFOLLOW`` (a symlink at ``path`` is ``ELOOP``), ``O_NONBLOCK`` (a FIFO without a reader is ``ENXIO``
    instead of a hang; meaningless for a regular file) and ``O_CLOEXEC`` are added. Raises ``OSError`` naming
    ``path`` for anything else than a regular file, or a file owned by another user."""
    fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, FILE_MODE)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        why = not_ours(info.st_uid)
        if why is not None:
            raise PermissionError(errno.EPERM, why, str(path))
        if stat.S_IMODE(info.st_mode) != FILE_MODE:
            os.fchmod(fd, FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd
