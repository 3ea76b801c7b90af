"""The process-wide event loop of live mode: one asyncio loop on one thread hosts every live bot's Drift venue
(its RPC client, its transactions) and every live bot's ticker.

A live bot no longer owns a loop thread and a ticker thread of its own: it takes a lease on the shared loop when it
starts and gives it back when it stops; a transaction still in flight holds a lease of its own, so the loop
outlives the bot that sent it until the outcome is known (and logged). The loop thread starts with the first lease
and stops when the last one is returned, so a process without live bots runs no loop at all.

What runs on the loop must never block: the venues are asynchronous (solana's ``AsyncClient``), and what the loop
hands back to an actor goes through the actor's mailbox (a callback that ``tell``s it), so the actor is the only
thread that steps its bot. No pykka here (the import-linter layers): callbacks are plain callables.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog

T = TypeVar("T")

_log = structlog.get_logger("live.loop")


class Ticker:
    """A repeating call on the loop every ``period_s`` (the first one ``period_s`` after the start); ``stop`` ends
    it from any thread. Each call is timed from the previous one's due time, so a slow callback does not drift it."""

    def __init__(self, loop: asyncio.AbstractEventLoop, period_s: float, callback: Callable[[], bool]) -> None:
        self._loop = loop
        self._period = period_s
        self._callback = callback
        self._handle: asyncio.TimerHandle | None = None
        self._stopped = False
        self._due = 0.0

    def begin(self) -> None:
        """Schedule the first call (on the loop thread)."""
        self._due = self._loop.time() + self._period
        self._handle = self._loop.call_at(self._due, self._fire)

    def _fire(self) -> None:
        if self._stopped:
            return
        try:
            keep = self._callback()
        except Exception:  # a ticker must not take the loop down with it
            _log.exception("ticker_failed")
            keep = True
        if not keep or self._stopped:
            return
        self._due = max(self._due + self._period, self._loop.time())
        self._handle = self._loop.call_at(self._due, self._fire)

    def stop(self) -> None:
        """Stop ticking (idempotent; a call already running finishes)."""
        self._stopped = True
        handle = self._handle
        if handle is not None:
            self._loop.call_soon_threadsafe(handle.cancel)


class LiveLoop:
    """One asyncio loop on one daemon thread, started with the first lease and stopped after the last (see the
    module doc). Thread-safe."""

    def __init__(self, name: str = "live-loop") -> None:
        self._name = name
        self._lock = threading.Lock()
        self._leases = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._in_flight: dict[str, set[concurrent.futures.Future[object]]] = {}  # key -> work not done yet

    # -------------------------------------------------------------- leases

    def acquire(self) -> None:
        """Take a lease: the loop runs (it is started if it was not) until this lease is released."""
        with self._lock:
            self._leases += 1
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()
                thread = threading.Thread(target=self._run, args=(loop, ready), name=self._name, daemon=True)
                thread.start()
                ready.wait()
                self._loop, self._thread = loop, thread

    def release(self) -> None:
        """Give a lease back; the last one stops the loop (after the callbacks already scheduled)."""
        with self._lock:
            if self._leases <= 0:
                raise RuntimeError("live loop: release without a lease")
            self._leases -= 1
            if self._leases or self._loop is None:
                return
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    @property
    def running(self) -> bool:
        with self._lock:
            return self._loop is not None

    @staticmethod
    def _run(loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        try:
            loop.run_forever()
        finally:
            # what is still pending belongs to bots already stopped: cancel it rather than leave it dangling
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is None:
            raise RuntimeError("live loop: not running (take a lease first)")
        return loop

    # -------------------------------------------------------------- work

    def call(self, fn: Callable[[], Awaitable[T]], timeout: float | None = None) -> T:
        """Run ``fn()`` on the loop and wait for its result (never from the loop thread itself)."""
        loop = self._running_loop()
        if threading.current_thread() is self._thread:
            raise RuntimeError("live loop: call() from the loop thread would deadlock")

        async def run() -> T:
            return await fn()

        return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout)

    def spawn(
        self,
        fn: Callable[[], Awaitable[T]],
        on_done: Callable[[concurrent.futures.Future[T]], None],
        *,
        key: str | None = None,
    ) -> concurrent.futures.Future[T]:
        """Start ``fn()`` on the loop and return at once; ``on_done(future)`` runs (on the loop thread) when it has
        an outcome. The task holds a lease until then, so the loop outlives whoever spawned it. ``key`` (a Drift
        subaccount) makes it work that ``wait_idle(key)`` waits for."""
        loop = self._running_loop()
        self.acquire()

        async def run() -> T:
            return await fn()

        future = asyncio.run_coroutine_threadsafe(run(), loop)
        if key is not None:
            with self._lock:
                self._in_flight.setdefault(key, set()).add(future)  # type: ignore[arg-type]  # kept only to wait on

        def done(f: concurrent.futures.Future[T]) -> None:
            try:
                if key is not None:
                    with self._lock:
                        self._in_flight.get(key, set()).discard(f)
                on_done(f)
            except Exception:  # the outcome's delivery failed: log it, the loop goes on
                _log.exception("outcome_delivery_failed")
            finally:
                self.release()

        future.add_done_callback(done)
        return future

    def wait_idle(self, key: str, timeout: float | None) -> bool:
        """Wait until no work spawned under ``key`` is under way (a restarted bot waits for the transactions its
        previous actor left confirming, so it re-reads the chain after their outcome and reuses none of their
        order ids). True when idle, False on timeout."""
        with self._lock:
            pending = set(self._in_flight.get(key, ()))
        if not pending:
            return True
        _, not_done = concurrent.futures.wait(pending, timeout=timeout)
        return not not_done

    def every(self, period_s: float, callback: Callable[[], bool]) -> Ticker:
        """Call ``callback()`` on the loop every ``period_s`` until it returns False or the ticker is stopped."""
        loop = self._running_loop()
        ticker = Ticker(loop, period_s, callback)
        loop.call_soon_threadsafe(ticker.begin)
        return ticker


LIVE_LOOP = LiveLoop()
"""The process's one live loop (every live bot actor leases it; see the module doc)."""
