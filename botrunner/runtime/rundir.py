"""The run directory, made the runner's own before anything is written into it.

What the runner keeps there (``botrunner.runner``)::

    botrunner.db, -wal, -shm, -journal    the store (SQLite)
    runner.lock                           one runner per directory (botrunner.runtime.exclusive)
    control.sock                          the control socket (botrunner.control)
    logs/NAME.log, logs/NAME.log.DATE     per-bot logs and their rotated days (botrunner.logfiles)

All of it holds positions, orders, PnL and the means to command the fleet, so :func:`prepare_run_dir` makes the
directory and ``logs/`` 0700 and each of those files that already exists 0600 (a directory or file from an earlier
run, or made by hand, keeps whatever mode it had: 0755, 0777), whatever the umask. Each component then creates its
own files 0600 itself (``botrunner.private_files``), and the process umask is set to 0o077 as well, for whatever
SQLite or a library creates on its own.

Refused, with one line naming the path and what to do (nothing is changed then):

* a directory or one of those files owned by another user: it could read or swap what the runner writes;
* a symlink as the run directory, as ``logs/`` or as one of those files. Why refuse rather than resolve: every
  component, and ``botrunner ctl``, reaches these files by path again and again for as long as the fleet runs, and
  a symlink can be re-pointed at any moment by whoever owns it or the directory it sits in, so checking where it
  points at start would prove nothing about the next open. A real directory that is ours and 0700 can be changed
  only by us (or root). Symlinks higher up the path (``/tmp`` -> ``/private/tmp``) are the system's and followed.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Final

from botrunner.private_files import DIR_MODE, FILE_MODE, not_ours

# The names of the run directory's own files: runner.DB_NAME (and the files SQLite keeps beside it),
# runner.LOCK_NAME, control.SOCKET_NAME (tests/integration/test_runtime_rundir.py checks they agree).
RUN_FILES: Final = frozenset(
    {"botrunner.db", "botrunner.db-wal", "botrunner.db-shm", "botrunner.db-journal", "runner.lock", "control.sock"}
)
LOGS_DIR: Final = "logs"
# botrunner.logfiles' names, current and rotated
LOG_FILE: Final = re.compile(r"[a-z0-9_-]+\.log(\.\d{4}-\d{2}-\d{2})?")
# The process umask from the runner's start on, never restored: whatever SQLite or a library creates on its own is
# owner-only too (defence in depth; our own files are made 0600 explicitly).
RUNNER_UMASK: Final = 0o077


class RunDirError(Exception):
    """The run directory (or the lock directory) cannot be made the runner's own; one line saying why."""


def prepare_run_dir(run_dir: Path) -> None:
    """Set the process umask to 0o077, then make ``run_dir`` and ``run_dir/logs`` 0700 (created if missing) and
    every file of the runner's already in them 0600; raise :class:`RunDirError` for another user's directory or
    file, or a symlink (module doc). Nothing is written into the directory."""
    os.umask(RUNNER_UMASK)
    private_directory(run_dir, "run directory", RUN_FILES.__contains__)
    private_directory(run_dir / LOGS_DIR, "log directory", LOG_FILE.fullmatch)


def private_directory(  # noqa: PLR0912  one check per way a path can be unsafe, in the order that keeps it race-free
    path: Path, what: str, ours: Callable[[str], object]
) -> None:
    """Make ``path`` a 0700 directory of ours (created with its missing parents if need be) and each entry whose
    name ``ours`` accepts 0600; :class:`RunDirError` for a symlink or another user's directory or entry.

    The directory itself is checked, then made 0700 before its entries are looked at: from then on no other user
    can add, swap or rename one between their check and their ``chmod`` (which follows a symlink). A refused
    entry therefore leaves its directory 0700 and everything else as it was."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        try:
            path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
            info = os.lstat(path)
        except OSError as exc:
            raise RunDirError(f"cannot create the {what} {path}: {exc.strerror or exc}") from exc
    except OSError as exc:  # e.g. a path under a file: "Not a directory"
        raise RunDirError(f"cannot create the {what} {path}: {exc.strerror or exc}") from exc
    if stat.S_ISLNK(info.st_mode):
        raise RunDirError(
            f"the {what} {path} is a symbolic link (to {os.readlink(path)}); refusing it, as a link can be "
            f"re-pointed while the fleet runs. Give the real directory instead ({path.resolve()})"
        )
    if not stat.S_ISDIR(info.st_mode):
        raise RunDirError(f"the {what} {path} is not a directory")
    why = not_ours(info.st_uid)
    if why is not None:
        raise RunDirError(
            f"the {what} {path} is {why}; refusing it, as its owner could read or replace what the runner writes "
            "there. Use a directory of your own, or run as its owner"
        )
    try:
        if stat.S_IMODE(info.st_mode) != DIR_MODE:
            os.chmod(path, DIR_MODE)
        entries = [(entry, os.lstat(entry)) for entry in _named(path, ours)]
    except OSError as exc:
        raise RunDirError(f"cannot make the {what} {path} owner-only: {exc.strerror or exc}") from exc
    for entry, entry_info in entries:
        if stat.S_ISLNK(entry_info.st_mode):
            raise RunDirError(
                f"{entry} in the {what} is a symbolic link (to {os.readlink(entry)}); refusing it, as the runner "
                "would write through it to a file of someone else's choosing. Remove the link"
            )
        why = not_ours(entry_info.st_uid)
        if why is not None:
            raise RunDirError(
                f"{entry} in the {what} is {why}; refusing it, as its owner could read what the runner writes. "
                "Remove it (or run as its owner)"
            )
    try:
        for entry, entry_info in entries:
            # a directory or FIFO where a file should be is refused by what opens it, with its own words
            if (stat.S_ISREG(entry_info.st_mode) or stat.S_ISSOCK(entry_info.st_mode)) and stat.S_IMODE(
                entry_info.st_mode
            ) != FILE_MODE:
                os.chmod(entry, FILE_MODE)
    except OSError as exc:
        raise RunDirError(f"cannot make the {what} {path} owner-only: {exc.strerror or exc}") from exc


def _named(path: Path, ours: Callable[[str], object]) -> Iterable[Path]:
    with os.scandir(path) as entries:
        return [path / entry.name for entry in entries if ours(entry.name)]
