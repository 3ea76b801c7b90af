"""One trader per live Drift subaccount on this machine, whatever run directory each runner uses.

Two runners trading one subaccount would each reconcile the other's orders as their own, adopt them, cancel them on a
requote or at shutdown, and size their bands against a position the other one moves. The run-directory lock cannot
see this (the runners may use different directories), so each live bot's subaccount is locked in a machine-wide
directory: ``$BOTRUNNER_LOCK_DIR``, else ``$XDG_STATE_HOME/botrunner/locks`` (``~/.local/state/botrunner/locks``).
Paper bots trade simulated subaccounts that live in their run directory, and monitor bots never trade: neither is
locked. Another machine cannot be seen from here: one subaccount, one machine, is the operator's rule.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from botrunner.config import BotConfig, BotMode
from botrunner.runtime.exclusive import ExclusiveLock, LockHeld
from botrunner.runtime.rundir import RunDirError, private_directory

LOCK_DIR_ENV = "BOTRUNNER_LOCK_DIR"


class AccountInUse(RuntimeError):
    """A live bot's subaccount is already traded by another runner; the message names the bot and the holder."""


def lock_dir() -> Path:
    explicit = os.environ.get(LOCK_DIR_ENV)
    if explicit:
        return Path(explicit)
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "botrunner" / "locks"


def _is_lock_file(name: str) -> bool:
    return name.endswith(".lock")


def _account_key(config: BotConfig) -> tuple[str, int]:
    return config.account.authority, config.account.subaccount_id


class AccountLocks:
    """The subaccount locks of one runner's live bots, held until released or the process ends."""

    def __init__(self, run_dir: Path, directory: Path | None = None) -> None:
        self.run_dir = run_dir
        self.directory = directory if directory is not None else lock_dir()
        self._held: dict[tuple[str, int], ExclusiveLock] = {}

    @property
    def held(self) -> frozenset[tuple[str, int]]:
        return frozenset(self._held)

    def acquire(self, configs: Iterable[BotConfig]) -> None:
        """Lock the subaccount of every live bot in ``configs`` not locked yet: all of them or, when one is held
        elsewhere, none (``AccountInUse`` names the bot and who holds it; the ones taken here are given back)."""
        taken: list[tuple[str, int]] = []
        try:
            for config in configs:
                key = _account_key(config)
                if config.mode is not BotMode.LIVE or key in self._held:
                    continue
                try:
                    # owner only like the run directory: a lock file names the bot and its run directory
                    private_directory(self.directory, "subaccount lock directory", _is_lock_file)
                except RunDirError as exc:
                    raise AccountInUse(f"{config.source or config.name}: {exc}") from None
                lock = ExclusiveLock(self.directory / f"{key[0]}-{key[1]}.lock", f"bot {config.name} in {self.run_dir}")
                try:
                    lock.acquire()
                except LockHeld as exc:
                    raise AccountInUse(
                        f"{config.source or config.name}: subaccount {key[0]}/{key[1]} is traded by another "
                        f"runner ({exc.holder or 'starting'}); two runners on one subaccount would adopt and cancel "
                        "each other's orders"
                    ) from None
                except OSError as exc:
                    raise AccountInUse(f"cannot lock subaccount {key[0]}/{key[1]} in {self.directory}: {exc}") from exc
                self._held[key] = lock
                taken.append(key)
        except AccountInUse:
            for key in taken:
                self._held.pop(key).release()
            raise

    def keep_only(self, configs: Iterable[BotConfig]) -> None:
        """Release the subaccounts of live bots no longer in ``configs`` (after a reload removed them)."""
        wanted = {_account_key(c) for c in configs if c.mode is BotMode.LIVE}
        for key in [k for k in self._held if k not in wanted]:
            self._held.pop(key).release()

    def release_all(self) -> None:
        for lock in self._held.values():
            lock.release()
        self._held.clear()
