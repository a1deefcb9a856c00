"""Database engines: SQLite (the embedded default) and MySQL/MariaDB, with readable errors."""

from __future__ import annotations

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


@contextmanager
def db_errors(engine: Engine) -> Iterator[None]:
    """Turn driver errors into one readable OperationFailed naming the database."""
    try:
        yield
    except sa.exc.OperationalError as exc:
        raise OperationFailed(
            f"database error at {redact(str(engine.url))}: {exc.orig}. Check that the database "
            "server is running and that database_url (config file or SMARTCRON_DATABASE_URL) "
            "points at it."
        ) from None
    except sa.exc.ProgrammingError as exc:
        raise OperationFailed(
            f"database error at {redact(str(engine.url))}: {exc.orig}. If the schema is missing "
            "or old, run `smartcron db upgrade`."
        ) from None
