"""The store's single writer: one thread owns the write connection and commits everything pending at once.

Bots (actors, any thread) call :meth:`StoreWriter.submit` with a :class:`~botrunner.store.store.StepRecord`; it
only enqueues, so a bot never waits for the disk. The writer thread takes whatever is queued (up to
``max_batch`` records) and writes it in ONE transaction (group commit): at 1 fsync per batch instead of per step,
a slow disk makes batches bigger rather than bots slower. :meth:`flush` waits until everything submitted before
it is committed; :meth:`close` flushes and stops the thread.

Failures are never dropped silently. A batch that fails is retried record by record, so the records before the
bad one are still committed; the bad one and everything after it are not (writing later steps of a bot after a
missing one would break its fill numbering). The writer then stops accepting work: the error is logged, exposed
as :attr:`StoreWriter.failed`, and raised as :class:`StoreWriteError` by ``submit``, ``flush`` and ``close``.
The runtime must then stop trading: it can no longer persist what it does.

Readers use their own connections (``Store.open(path, readonly=True)``); WAL lets them read while this writes.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

import structlog

from botrunner.store.store import AuditRow, StepRecord, Store, StoreError, Synchronous, audit_row

_log = structlog.get_logger("botrunner.store")

Item = StepRecord | AuditRow
DEFAULT_MAX_BATCH: Final = 5_000


class StoreWriteError(StoreError):
    """The writer failed (or was closed): what was submitted from the failed record on is not stored."""


class _Stop:
    """The sentinel that ends the writer thread once everything before it is written."""


_STOP: Final = _Stop()


class StoreWriter:
    """The one writer of a store file (see the module docstring). Opening migrates the store; errors opening it
    are raised here, in the caller's thread."""

    def __init__(
        self,
        store_path: str | Path,
        *,
        synchronous: Synchronous = "FULL",
        max_batch: int = DEFAULT_MAX_BATCH,
        on_failure: Callable[[StoreWriteError], None] | None = None,
        on_commit: Callable[[int, float], None] | None = None,
    ) -> None:
        """``on_failure`` is called once, from the writer thread, when the writer fails (the runtime stops its
        fleet then: it can no longer persist what it does)."""
        if max_batch < 1:
            raise ValueError(f"StoreWriter: max_batch must be >= 1, got {max_batch}")
        self.path = Path(store_path)
        self._on_failure = on_failure
        self._on_commit = on_commit  # (records, seconds) after each group commit: the store write latency metric
        self._store = Store.open(self.path, synchronous=synchronous)
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[Item | _Stop] = queue.SimpleQueue()
        self._cond = threading.Condition()
        self._submitted = 0  # records accepted by submit/audit
        self._done = 0  # records committed
        self._batches = 0
        self._failed: StoreWriteError | None = None
        self._closing = False
        self._thread = threading.Thread(target=self._run, name=f"store-writer:{self.path.name}", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ callers (any thread)

    def submit(self, record: StepRecord) -> None:
        """Queue ``record`` to be written; returns at once. Raises :class:`StoreWriteError` once the writer has
        failed or is closed."""
        self._enqueue(record)

    def audit(self, *, ts: int, actor: str, cmd: str, args: Mapping[str, Any], outcome: str) -> None:
        """Queue an audit row (operator command, reconciliation, adoption), written in order with the steps."""
        self._enqueue(audit_row(ts=ts, actor=actor, cmd=cmd, args=args, outcome=outcome))

    def _enqueue(self, item: Item) -> None:
        with self._cond:
            if self._failed is not None:
                raise self._failed
            if self._closing:
                raise StoreWriteError(f"{self.path}: the store writer is closed")
            self._submitted += 1
            self._queue.put(item)

    def flush(self, timeout: float | None = None) -> None:
        """Wait until everything submitted before this call is committed. Raises :class:`StoreWriteError` if the
        writer failed, ``TimeoutError`` if ``timeout`` seconds pass first."""
        with self._cond:
            target = self._submitted
            if not self._cond.wait_for(lambda: self._done >= target or self._failed is not None, timeout):
                raise TimeoutError(f"{self.path}: {target - self._done} records not written after {timeout} s")
            if self._failed is not None:
                raise self._failed

    def close(self, timeout: float | None = None) -> None:
        """Flush, stop the thread and close the connection. Idempotent. Raises :class:`StoreWriteError` if the
        writer had failed (after stopping it)."""
        with self._cond:
            already = self._closing
            self._closing = True
        if not already:
            self._queue.put(_STOP)
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"{self.path}: the store writer did not stop within {timeout} s")
        if self._failed is not None:
            raise self._failed

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def failed(self) -> StoreWriteError | None:
        """The error that stopped the writer, if any."""
        return self._failed

    @property
    def pending(self) -> int:
        """Records submitted and not yet committed."""
        with self._cond:
            return self._submitted - self._done

    @property
    def batches(self) -> int:
        """Transactions committed so far (group commit: many records each)."""
        return self._batches

    # ------------------------------------------------------------------ the writer thread

    def _run(self) -> None:
        try:
            stop = False
            while not stop:
                first = self._queue.get()
                batch: list[Item] = []
                if isinstance(first, _Stop):
                    stop = True
                else:
                    batch.append(first)
                while not stop and len(batch) < self._max_batch:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if isinstance(item, _Stop):
                        stop = True
                    else:
                        batch.append(item)
                if batch and self._failed is None:
                    self._write(batch)
        except BaseException as e:  # a bug in this loop: still surface it rather than leave flush() waiting
            self._fail("writer loop", e)
            raise
        finally:
            self._store.close()

    def _write(self, batch: list[Item]) -> None:
        started = time.perf_counter()
        try:
            self._store.write(batch)
        except Exception:
            self._write_one_by_one(batch)
            return
        if self._on_commit is not None:
            try:
                self._on_commit(len(batch), time.perf_counter() - started)
            except Exception as exc:  # a metrics hook's bug never stops the writer
                _log.warning("store.on_commit_failed", error=repr(exc))
        self._committed(len(batch))

    def _write_one_by_one(self, batch: list[Item]) -> None:
        """After a failed batch: commit the records before the bad one, then fail with its error."""
        for item in batch:
            try:
                self._store.write((item,))
            except Exception as e:
                what = f"step of {item.bot!r} at {item.ts}" if isinstance(item, StepRecord) else f"audit {item.cmd!r}"
                self._fail(what, e)
                return
            self._committed(1)

    def _fail(self, what: str, cause: BaseException) -> None:
        with self._cond:
            first = self._failed is None
            lost = self._submitted - self._done  # this record, the rest of its batch, and whatever is queued
            error = StoreWriteError(f"{self.path}: writing the {what} failed; {lost} records not written: {cause}")
            error.__cause__ = cause
            self._failed = error
            self._cond.notify_all()
        _log.error("store.write_failed", path=str(self.path), record=what, lost=lost, error=str(cause))
        if first and self._on_failure is not None:
            try:
                self._on_failure(error)
            except Exception as exc:  # the hook's own bug must not hide the store's failure
                _log.error("store.on_failure_failed", error=repr(exc))

    def _committed(self, n: int) -> None:
        with self._cond:
            self._done += n
            self._batches += 1
            self._cond.notify_all()
