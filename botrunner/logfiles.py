"""Per-bot log files: structlog JSON lines, one file per bot plus ``supervisor.log``, rotated daily at UTC midnight.

Every line carries ``timestamp`` (ISO 8601 UTC, microseconds, ``Z``), ``level``, ``event`` and ``bot``. In a bot's
file ``bot`` is always that bot (a caller cannot bind another name into it); the supervisor's lines say
``"supervisor"`` unless the caller binds ``bot=<name>`` for a line about one bot.

Rotation: ``<name>.log`` holds one UTC day. When the first line of a later day is written, the file is renamed
``<name>.log.YYYY-MM-DD`` (the day it covers) and a new one started; a file left by an earlier run is dated by its
first line. Retention: at each rotation (and when a file is first opened) the rotated files of that name covering a
day more than ``retention_days`` before today are deleted — only names matching ``<name>.log.YYYY-MM-DD``, nothing
else in the directory is touched. A clock stepping back never rotates backwards: lines go on into the current file.

Concurrency: one lock per file; the clock is read, the line rendered and written under it, so lines never interleave
and timestamps in a file never go backwards (given a non-decreasing clock). Nothing here touches stdlib ``logging``
or structlog's global configuration, so any number of :class:`LogFiles` live side by side in one process.

Durability: with ``flush_interval_s=0`` (the default) each line is flushed at once, so a ``kill -9`` loses at most
the line being written. The runtime passes a short interval instead: lines below WARNING then wait in the file's
pending lines (written sooner once they reach 8 KiB) and a flusher thread writes every file out each interval, so
a ``kill -9`` loses at most that interval of INFO lines, while WARNING and above are still written at once. Why: a
flush is a system call, and a system call releases the GIL; with a hundred bot threads each flushing its decision
line, every release handed the GIL to another bot and the bot's own step waited behind it (``make bench`` R3
measured the log flush as the largest part of a bot's step). The store, not the log, is the record of what a bot
did.

Failures: a line that cannot be written (disk full, file gone, a symlink where the file should be) is dropped and
never fails the caller; standard error, the last channel left, says so once per outage of the whole directory, and
once more when it is over, with the number of lines lost. An outage ends with a line written ``OUTAGE_QUIET_S``
after the last failure, not with the first line that goes through: a nearly full disk lets one write through and
fails the next, and announcing each end and start of such flaps (two lines a flap) buried all else on the terminal.
The lines a failed write did not get onto the disk are counted and let go, not kept for a retry (a long outage
would pile them up in memory); a line torn by the failure is ended before new ones follow.

Files: 0600 and directories 0700 whatever the umask (an existing file is made 0600 when it is opened), never opened
through a symlink (``O_NOFOLLOW``): a link planted in the directory cannot make the runner append its lines to
somebody else's file (``botrunner.private_files``).

Secrets: key-based ``redact`` before rendering, and the finished line is scrubbed of every value registered with
:func:`botrunner.logsetup.register_secret`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import json
import logging
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any, Final, cast

import msgspec
import structlog
from structlog.typing import FilteringBoundLogger

from botrunner.logsetup import base_processors, level_from_env, scrub_line
from botrunner.private_files import DIR_MODE, open_private

SUPERVISOR: Final = "supervisor"
_DAY_S: Final = 86_400  # unix time has no leap seconds: every UTC day is exactly this long
_NAME_RE: Final = re.compile(r"[a-z0-9_-]+")  # the fleet config's bot-name alphabet: no separator, no dot
_EPOCH: Final = dt.date(1970, 1, 1)
_render_json = structlog.processors.JSONRenderer(sort_keys=True)
# The fast path: ~10x cheaper than json.dumps; values JSON has no type for are rendered by repr, as structlog does.
_encode_json = msgspec.json.Encoder(order="sorted", enc_hook=repr)
# The ``level`` values add_log_level writes at WARNING and above (it maps ``warn`` and ``exception`` onto these).
_URGENT_LEVELS: Final = frozenset({"warning", "error", "critical", "fatal"})
# Pending lines are written once they reach this size, whatever the flush interval (as a file's buffer would be).
_BUFFER_CHARS: Final = 8192
# An outage of the log directory ends with a line written this long after its last failure (module doc: Failures).
OUTAGE_QUIET_S: Final = 60.0


def _day_of(ts: float) -> int:
    return int(ts // _DAY_S)


def _date_of(day: int) -> dt.date:
    return _EPOCH + dt.timedelta(days=day)


def _render(event_dict: MutableMapping[str, Any]) -> str:
    """One JSON object with sorted keys. A dict with non-string keys somewhere inside is beyond the fast encoder;
    structlog's renderer (json.dumps) takes those lines."""
    try:
        return _encode_json.encode(event_dict).decode()
    except TypeError:
        return str(_render_json(None, "", event_dict))


class _Stamper:
    """ISO 8601 UTC stamps with microseconds, as datetime gives them; the date-and-time part up to the second is
    formatted once per second (``strftime`` was most of a stamp's cost)."""

    __slots__ = ("_prefix", "_second")

    def __init__(self) -> None:
        self._second: dt.datetime | None = None
        self._prefix = ""

    def __call__(self, ts: float) -> str:
        moment = dt.datetime.fromtimestamp(ts, tz=dt.UTC)
        second = moment.replace(microsecond=0)
        if second != self._second:
            self._second = second
            self._prefix = second.strftime("%Y-%m-%dT%H:%M:%S")
        return f"{self._prefix}.{moment.microsecond:06d}Z"


class _Outage:
    """The "cannot write" notices of one log directory: one when writing first fails, one when an outage is over.

    Shared by the directory's files (each calls it under its own lock; this lock is always taken second)."""

    def __init__(self, directory: Path, clock: Callable[[], float]) -> None:
        self._directory = directory
        self._clock = clock
        self._lock = threading.Lock()
        self._since: float | None = None  # when the current outage began; None: no outage
        self._last_failure = 0.0
        self._lost = 0  # lines that could not be written since then

    def failed(self, path: Path, exc: OSError, lines: int) -> None:
        with self._lock:
            now = self._clock()
            self._last_failure = now
            self._lost += lines
            if self._since is None:
                self._since = now
                sys.stderr.write(
                    f"botrunner: cannot write {path}: {exc.strerror or exc}; dropping log lines in "
                    f"{self._directory} until writing works again\n"
                )

    def written(self) -> None:
        if self._since is None:  # read without the lock: a stale None only defers the notice to the next line
            return
        with self._lock:
            if self._since is None:
                return
            now = self._clock()
            # a clock that stepped back: the quiet period starts again from here
            self._last_failure = min(self._last_failure, now)
            if now - self._last_failure < OUTAGE_QUIET_S:
                return  # a flap: the disk let this one through but failed a moment ago; still the same outage
            since = dt.datetime.fromtimestamp(self._since, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            sys.stderr.write(
                f"botrunner: writing log files in {self._directory} again; {self._lost} lines could not be "
                f"written since {since}\n"
            )
            self._since = None
            self._lost = 0


class _Appender:
    """An open log file, written with ``os.write`` (no Python buffer: ``DailyFile`` keeps its own pending lines, so
    it knows exactly which lines reached the file when a write fails)."""

    __slots__ = ("_fd",)

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def write(self, data: memoryview) -> int:
        """Bytes written (maybe fewer than given: a disk filling up mid-write)."""
        return os.write(self._fd, data)

    def close(self) -> None:
        os.close(self._fd)


def _open_append(path: Path) -> _Appender:
    """``path`` opened to append: created 0600, made 0600, never through a symlink (``open_private``).

    A file whose last line was torn (a ``kill -9`` mid-line) is first ended with a newline, so the torn line does
    not swallow the next one."""
    fd = open_private(path, os.O_RDWR | os.O_APPEND | os.O_CREAT)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            os.write(fd, b"\n")
    except BaseException:
        os.close(fd)
        raise
    return _Appender(fd)


class DailyFile:
    """One JSON-lines file rotated at UTC midnight; the structlog "logger" at the end of a bound logger's chain.

    Opened lazily at the first line, so a bot that never logs leaves no empty file.
    """

    def __init__(
        self,
        directory: Path,
        name: str,
        *,
        retention_days: int,
        clock: Callable[[], float],
        flush_each_line: bool = True,
        outage: _Outage | None = None,
    ) -> None:
        self.path = directory / f"{name}.log"
        self._directory = directory
        self._name = name
        self._retention_days = retention_days
        self._clock = clock
        self._rotated_re = re.compile(rf"{re.escape(name)}\.log\.(\d{{4}}-\d{{2}}-\d{{2}})")
        self._lock = threading.Lock()
        self._out: _Appender | None = None
        self._day: int | None = None  # the UTC day the current file covers
        self._closed = False
        self._flush_each_line = flush_each_line
        self._pending: list[str] = []  # lines not written yet, each with its newline
        self._pending_chars = 0
        self._torn = False  # a failed write ended mid-line: the next write starts with a newline
        self._stamp = _Stamper()
        self._outage = outage if outage is not None else _Outage(directory, clock)

    def msg(self, event_dict: MutableMapping[str, Any]) -> None:
        """Stamp, render, scrub and append one line (called by structlog with the processed event dict)."""
        with self._lock:
            if self._closed:
                return  # a straggler after close(), e.g. an actor thread at shutdown: dropped, never a crash
            now = self._clock()
            event_dict["timestamp"] = self._stamp(now)
            line = scrub_line(_render(event_dict)) + "\n"
            try:
                self._open_for(_day_of(now))
            except OSError as exc:
                lost = len(self._pending) + 1
                self._pending.clear()
                self._pending_chars = 0
                self._cannot_write(exc, lost)
                return
            self._pending.append(line)
            self._pending_chars += len(line)
            if (
                self._flush_each_line
                or event_dict.get("level") in _URGENT_LEVELS
                or self._pending_chars >= _BUFFER_CHARS
            ):
                self._drain()

    def flush(self) -> None:
        """Write out the pending lines (the flusher thread's call)."""
        with self._lock:
            if self._pending:
                self._drain()

    # structlog calls the method named after the level; every level is the same line.
    debug = info = warning = warn = error = err = critical = fatal = exception = log = msg

    def close(self) -> None:
        """Flush and close; later lines are dropped."""
        with self._lock:
            self._closed = True
            if self._pending:
                self._drain()
            if self._out is not None:
                out, self._out = self._out, None
                try:
                    out.close()
                except OSError as exc:
                    self._cannot_write(exc, 0)

    def _drain(self) -> None:
        """Write every pending line (a failure is counted and told, never raised: the caller's step goes on)."""
        out = self._out
        assert out is not None, "lines are pending only once the file is open"
        lines = len(self._pending)
        prefix = b"\n" if self._torn else b""
        data = prefix + "".join(self._pending).encode()
        self._pending.clear()
        self._pending_chars = 0
        done = 0
        view = memoryview(data)
        try:
            while done < len(data):
                wrote = out.write(view[done:])
                if wrote <= 0:
                    raise OSError(errno.EIO, "the write wrote nothing")
                done += wrote
        except OSError as exc:
            if done:
                self._torn = data[done - 1] != ord("\n")
            whole = max(0, data.count(b"\n", 0, done) - len(prefix))
            self._cannot_write(exc, lines - whole)
            return
        self._torn = False
        self._outage.written()

    def _cannot_write(self, exc: OSError, lost: int) -> None:
        """A log that cannot be written (disk full, file gone, a symlink in its place) must never fail the step that
        logged: the ``lost`` lines are dropped (they are not kept for later: a long outage would pile them up in
        memory) and the directory's outage is told (``_Outage``)."""
        self._outage.failed(self.path, exc, lost)

    def _open_for(self, today: int) -> None:
        """Open the file (rotating it first when ``today`` is past the day it covers)."""
        if self._out is None:
            self._day = self._existing_day()
            self._prune(today)
        if self._day is not None and today > self._day:
            self._rotate(self._day, today)
        if self._out is None:
            self._out = _open_append(self.path)
        if self._day is None:
            self._day = today

    def _existing_day(self) -> int | None:
        """The day a file left by an earlier run covers: its first line's, else its modification time's."""
        try:
            fd = open_private(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        with open(fd, encoding="utf-8", errors="replace") as existing:
            first = existing.readline()
            mtime = os.fstat(fd).st_mtime
        if not first:
            return None  # empty: it covers no day yet, the next line decides
        try:
            stamp = json.loads(first)["timestamp"]
            return (dt.date.fromisoformat(stamp[:10]) - _EPOCH).days
        except (ValueError, KeyError, TypeError):
            return _day_of(mtime)

    def _rotate(self, covered: int, today: int) -> None:
        if self._out is not None:
            if self._pending:
                self._drain()  # the day's last lines go into the day's file
            out, self._out = self._out, None
            self._torn = False  # a torn tail stays with its day; the next file starts clean
            out.close()
        target = self._directory / f"{self._name}.log.{_date_of(covered).isoformat()}"
        # Housekeeping failures must not stop the logging: the current file simply goes on growing.
        with contextlib.suppress(OSError):
            if target.exists():
                # Only after a clock jump or a crash mid-rotation: keep one file per day by appending.
                src_fd = open_private(self.path, os.O_RDONLY)
                with open(src_fd, "rb") as src, open(open_private(target, os.O_WRONLY | os.O_APPEND), "ab") as dst:
                    shutil.copyfileobj(src, dst)
                self.path.unlink()
            else:
                self.path.rename(target)
        self._day = today
        self._prune(today)

    def _prune(self, today: int) -> None:
        oldest_kept = _date_of(today - self._retention_days)
        entries: list[Path] = []
        with contextlib.suppress(OSError):
            entries = list(self._directory.iterdir())
        for entry in entries:
            match = self._rotated_re.fullmatch(entry.name)
            if match is None:
                continue
            try:
                covered = dt.date.fromisoformat(match.group(1))
            except ValueError:
                continue  # e.g. 2024-13-40: not a name we wrote
            if covered < oldest_kept and not entry.is_symlink() and entry.is_file():
                with contextlib.suppress(OSError):
                    entry.unlink()


def _level(level: int | str | None) -> int:
    if level is None:
        return level_from_env()
    if isinstance(level, str):
        number = logging.getLevelNamesMapping().get(level.strip().upper())
        if number is None:
            raise ValueError(f"{level!r} is not a log level (DEBUG, INFO, WARNING, ERROR, CRITICAL)")
        return number
    return level


def _to_file(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    # The last processor hands the dict itself to DailyFile.msg, which stamps the time under its lock.
    return (event_dict,), {}


def _stamp_bot(name: str) -> Callable[[Any, str, MutableMapping[str, Any]], MutableMapping[str, Any]]:
    def stamp(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        event_dict["bot"] = name  # a bot's file names only that bot, whatever was bound
        return event_dict

    return stamp


def _default_bot(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    event_dict.setdefault("bot", SUPERVISOR)
    return event_dict


class LogFiles:
    """The fleet's log directory: one :class:`DailyFile` per bot and one for the supervisor.

    ``level`` is a level number or name; None reads ``BOTRUNNER_LOG_LEVEL`` (default INFO). ``clock`` returns unix
    seconds (wall time); it stamps lines and decides rotation, and is injectable so tests need not wait for midnight.
    ``flush_interval_s``: 0 flushes every line; more buffers lines below WARNING for at most that long (module doc).
    """

    def __init__(
        self,
        directory: Path,
        *,
        retention_days: int = 30,
        level: int | str | None = None,
        clock: Callable[[], float] = time.time,
        flush_interval_s: float = 0.0,
    ) -> None:
        if isinstance(retention_days, bool) or not isinstance(retention_days, int) or retention_days < 1:
            raise ValueError(f"retention_days must be a whole number of days >= 1, got {retention_days!r}")
        if not 0 <= flush_interval_s <= 60:  # also refuses NaN
            raise ValueError(f"flush_interval_s must be between 0 and 60 seconds, got {flush_interval_s!r}")
        self.directory = Path(directory)
        self.retention_days = retention_days
        self.level = _level(level)
        self._clock = clock
        # Typed Any: the generated class is typed as the FilteringBoundLogger protocol, which has no constructor.
        self._wrapper: Any = structlog.make_filtering_bound_logger(self.level)
        self._lock = threading.Lock()
        self._files: dict[str, DailyFile] = {}
        self._loggers: dict[str, FilteringBoundLogger] = {}
        self._closed = False
        self._flush_interval_s = flush_interval_s
        self._stop_flusher = threading.Event()
        self._flusher: threading.Thread | None = None
        self._outage = _Outage(self.directory, clock)
        self.directory.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        if flush_interval_s > 0:
            self._flusher = threading.Thread(target=self._flush_loop, name=f"log-flusher:{directory}", daemon=True)
            self._flusher.start()

    def for_bot(self, name: str) -> FilteringBoundLogger:
        """The logger writing to ``<directory>/<name>.log``; the same one for the same name."""
        if not _NAME_RE.fullmatch(name):
            raise ValueError(f"bot name {name!r} must be lowercase letters, digits, '-' or '_' (no path parts)")
        if name == SUPERVISOR:
            raise ValueError(f"a bot cannot be named {SUPERVISOR!r}: that is the supervisor's log file")
        return self._logger(name, _stamp_bot(name))

    def supervisor(self) -> FilteringBoundLogger:
        """The logger writing to ``<directory>/supervisor.log``."""
        return self._logger(SUPERVISOR, _default_bot)

    def route_default_logging(self) -> None:
        """Send ``structlog.get_logger()`` — the runtime's own modules (feeds, control socket, store writer) — to
        ``supervisor.log`` with the same processors, level and secret scrubbing (a process-wide setting)."""
        self.supervisor()
        daily = self._files[SUPERVISOR]
        structlog.configure(
            processors=[*base_processors(_default_bot), _to_file],
            wrapper_class=structlog.make_filtering_bound_logger(self.level),
            logger_factory=lambda *_args: daily,
            cache_logger_on_first_use=False,
        )

    def flush(self) -> None:
        """Write out every file's buffered lines now."""
        with self._lock:
            files = list(self._files.values())
        for daily in files:
            daily.flush()

    def close(self) -> None:
        """Flush and close every file; lines logged afterwards are dropped."""
        self._stop_flusher.set()
        if self._flusher is not None and self._flusher is not threading.current_thread():
            self._flusher.join()
        with self._lock:
            self._closed = True
            files = list(self._files.values())
        for daily in files:
            daily.close()

    def _flush_loop(self) -> None:
        while not self._stop_flusher.wait(self._flush_interval_s):
            self.flush()

    def __enter__(self) -> LogFiles:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _logger(
        self, name: str, bot_field: Callable[[Any, str, MutableMapping[str, Any]], MutableMapping[str, Any]]
    ) -> FilteringBoundLogger:
        with self._lock:
            if self._closed:
                raise RuntimeError(f"log files in {self.directory} are closed")
            logger = self._loggers.get(name)
            if logger is None:
                daily = DailyFile(
                    self.directory,
                    name,
                    retention_days=self.retention_days,
                    clock=self._clock,
                    flush_each_line=self._flush_interval_s == 0,
                    outage=self._outage,
                )
                processors = [*base_processors(bot_field), _to_file]
                logger = cast(FilteringBoundLogger, self._wrapper(daily, processors=processors, context={}))
                self._files[name] = daily
                self._loggers[name] = logger
            return logger
