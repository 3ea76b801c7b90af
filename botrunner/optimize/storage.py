"""Where a study lives: Optuna's RDB storage, SQLite on one machine or PostgreSQL across machines.

Every worker opens the storage with a heartbeat, so a trial whose worker died is failed after a grace period
instead of holding the others (and the final report) for ever. ``check_reachable`` connects before anything is
written: a storage that cannot be reached is one line of bad input.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Final

import optuna
import sqlalchemy
from optuna.storages import RDBStorage
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

HEARTBEAT_INTERVAL_S: Final = 10
HEARTBEAT_GRACE_S: Final = 60  # a trial not heard of for this long is failed (its worker is gone)
SQLITE_BUSY_TIMEOUT_S: Final = 60  # workers write one SQLite file: wait for the lock rather than fail
CONNECT_TIMEOUT_S: Final = 10


class StorageError(ValueError):
    """A storage URL that is malformed or cannot be reached."""


def default_url(out: Path) -> str:
    return f"sqlite:///{(out / 'study.sqlite3').resolve()}"


def redacted(url: str) -> str:
    """The URL without its password (safe to print and to log)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def with_driver(url: str) -> str:
    """``postgresql://`` means psycopg 3 (the driver this package installs), whatever SQLAlchemy's default."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


def _engine_kwargs(url: str) -> dict[str, Any]:
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        return {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S}}
    if backend == "postgresql":
        return {"connect_args": {"connect_timeout": CONNECT_TIMEOUT_S}}
    return {}


def check_reachable(url: str) -> None:
    """Connect once (nothing is created). SQLite: the file's directory must exist (connecting would create the
    file); an existing file must be a database."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StorageError(f"--storage {url!r}: not a database URL (sqlite:///PATH or postgresql://...)") from exc
    shown = redacted(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if not database or database == ":memory:":
            raise StorageError(f"--storage {shown}: an in-memory database cannot be shared by workers")
        parent = Path(database).resolve().parent
        if not parent.is_dir():
            raise StorageError(f"--storage {shown}: directory {parent} does not exist")
        if not Path(database).exists():
            return
    try:
        engine = sqlalchemy.create_engine(with_driver(url), **_engine_kwargs(url))
    except (NoSuchModuleError, ArgumentError, ImportError) as exc:
        raise StorageError(f"--storage {shown}: {exc}") from exc
    try:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT 1"))
    except SQLAlchemyError as exc:
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        raise StorageError(f"--storage {shown}: cannot connect: {first[0] if first else type(exc).__name__}") from exc
    finally:
        engine.dispose()


def open_storage(url: str) -> RDBStorage:
    """Optuna's RDB storage with a heartbeat (creates its tables on first use)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # the heartbeat's arguments
        return RDBStorage(
            with_driver(url),
            engine_kwargs=_engine_kwargs(url),
            heartbeat_interval=HEARTBEAT_INTERVAL_S,
            grace_period=HEARTBEAT_GRACE_S,
        )
