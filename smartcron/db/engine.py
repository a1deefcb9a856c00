"""Database engines: SQLite (the embedded default) and MySQL/MariaDB, with readable errors."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.engine.url import make_url

from smartcron.errors import InvalidInput, OperationFailed


def redact(url: str) -> str:
    """Given a database URL, return it with any password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<unparseable URL>"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    # WAL lets the dashboard read while the watchdog writes; busy_timeout waits out short locks
    # instead of failing; foreign keys are off by default in SQLite.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Root opens a file the smartcron account can write: never run functions that a view or
    # trigger in that file's schema names (defence in depth; signatures guard the tasks).
    cursor.execute("PRAGMA trusted_schema=OFF")
    cursor.close()


def make_engine(url: str) -> Engine:
    """Given a database URL, return an Engine (no connection is made yet)."""
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError:
        raise InvalidInput(
            "database_url",
            url,
            "expected sqlite:////path/file.db or mysql+pymysql://user:password@host/dbname",
        ) from None
    if parsed.get_backend_name() not in {"sqlite", "mysql"}:
        raise InvalidInput(
            "database_url",
            redact(url),
            "only sqlite and mysql+pymysql (MySQL/MariaDB) are supported",
        )
    if parsed.get_backend_name() == "sqlite":
        engine = sa.create_engine(parsed)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # pool_pre_ping survives MariaDB restarts and wait_timeout disconnects.
    return sa.create_engine(
        parsed,
        pool_pre_ping=True,
        pool_recycle=3600,
        connect_args={"connect_timeout": 10, "charset": "utf8mb4"},
    )


def integrity_problem(engine: Engine, budget: float | None = None) -> str | None:
    """Return what SQLite's quick_check finds wrong with the database file (damaged pages
    that no query has read yet), or None when it is sound or not SQLite.

    With a `budget` (seconds), a check that takes longer is abandoned and counts as sound: every
    command checks a small database this way at start, doctor always checks it all.
    """
    path = engine.url.database
    if engine.dialect.name != "sqlite" or not path or not Path(path).is_file():
        return None  # a server, or nothing to check yet (SQLite creates the file)
    try:
        raw = engine.raw_connection()
    except sa.exc.DBAPIError as exc:
        return str(getattr(exc, "orig", exc))
    except sqlite3.DatabaseError as exc:  # raised by the connect hook, unwrapped
        return str(exc)
    driver: Any = raw.driver_connection
    timer = threading.Timer(budget, driver.interrupt) if budget is not None else None
    try:
        if timer is not None:
            timer.start()
        found = [str(r[0]) for r in driver.execute("PRAGMA quick_check(3)")]
    except sqlite3.OperationalError as exc:
        return None if str(exc) == "interrupted" else str(exc)
    except sqlite3.DatabaseError as exc:
        return str(exc)
    finally:
        if timer is not None:
            timer.cancel()
        raw.close()
    if found == ["ok"]:
        return None
    lines = [line for row in found for line in row.splitlines() if not line.startswith("***")]
    return "; ".join(lines) or "quick_check failed"


def check_integrity(engine: Engine, budget: float = 0.1) -> None:
    """Raise OperationFailed, with what to do, if the SQLite file is damaged (as far as a
    check within `budget` seconds can tell)."""
    problem = integrity_problem(engine, budget)
    if problem:
        raise OperationFailed(damaged_message(str(engine.url), problem))


def ensure_sqlite_dir(url: str) -> Path | None:
    """Given a database URL, create the SQLite file's directory if needed and return it."""
    parsed = make_url(url)
    if (
        parsed.get_backend_name() != "sqlite"
        or not parsed.database
        or parsed.database == ":memory:"
    ):
        return None
    directory = Path(parsed.database).parent
    directory.mkdir(parents=True, exist_ok=True, mode=0o750)
    return directory


_DAMAGED = ("file is not a database", "malformed", "disk image", "corrupt")


def damaged_message(url: str, detail: str) -> str:
    """Return the one line for a damaged SQLite file: what happened and what to do."""
    return (
        f"the database at {redact(url)} is damaged ({detail}): stop the watchdog and the "
        "dashboard (systemctl stop smartcron-watchdog smartcron-dashboard), move the damaged "
        "file aside, then restore the newest backup with `smartcron restore FILE` "
        '(docs/operations.md, "A damaged database")'
    )


def database_problem(exc: BaseException, url: str) -> str:
    """Given a database error, return one line saying what happened and what to do."""
    where = redact(url)
    orig = str(getattr(exc, "orig", None) or exc).splitlines()[0]
    lowered = orig.lower()
    if isinstance(exc, sa.exc.DatabaseError) and any(word in lowered for word in _DAMAGED):
        return damaged_message(url, orig)
    if "no such table" in lowered or isinstance(exc, sa.exc.ProgrammingError):
        return (
            f"database error at {where}: {orig}. If the schema is missing or old, run "
            "`smartcron db upgrade` (or `smartcron init`)."
        )
    if "unable to open database file" in lowered:
        return (
            f"cannot open the database at {where} ({orig}): check that its directory exists "
            "and that this account may read and write it (the services run as smartcron)"
        )
    if isinstance(exc, sa.exc.IntegrityError | sa.exc.DataError):
        return f"the database at {where} refused the change: {orig}"
    return (
        f"database error at {where}: {orig}. Check that the database server is running and "
        "that database_url (config file or SMARTCRON_DATABASE_URL) points at it."
    )


@contextmanager
def db_errors(engine: Engine) -> Iterator[None]:
    """Turn driver errors into one readable OperationFailed naming the database."""
    try:
        yield
    except sa.exc.DBAPIError as exc:
        raise OperationFailed(database_problem(exc, str(engine.url))) from None
