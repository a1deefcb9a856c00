"""The task store: engine set-up, migrations and task reads/writes.

Every write runs in one transaction together with its audit-log row, so a failure leaves the
database exactly as it was.
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.url import make_url

from smartcron.db.schema import audit_log, tasks, utcnow
from smartcron.errors import InvalidInput, NotFound, OperationFailed
from smartcron.model.task import Task


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


# Alembic is imported inside the functions that need it: it costs ~0.13 s at start-up, and
# only init/db upgrade use it.


def _alembic_config(connection: Connection) -> Any:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    location = resources.files("smartcron.sql") / "migrations"
    cfg.set_main_option("script_location", str(location))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """Return the newest migration revision shipped with this version."""
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(resources.files("smartcron.sql") / "migrations"))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    if head is None:  # only possible in a broken install
        raise OperationFailed("no schema migrations found; reinstall smartcron")
    return head


def known_revisions() -> set[str]:
    """Return every migration revision this version knows (head and all before it)."""
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(resources.files("smartcron.sql") / "migrations"))
    return {rev.revision for rev in ScriptDirectory.from_config(cfg).walk_revisions()}


def current_revision(engine: Engine) -> str | None:
    """Return the database's migration revision, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with db_errors(engine), engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Migrate the database to the newest schema; return (revision before, revision after)."""
    from alembic import command as alembic_command
    from alembic.runtime.migration import MigrationContext

    with db_errors(engine), engine.begin() as conn:
        before = MigrationContext.configure(conn).get_current_revision()
        alembic_command.upgrade(_alembic_config(conn), "head")
    return before, head_revision()


def actor() -> str:
    """Return who is acting from the command line, e.g. "cli:alice" (via sudo) or "cli:root"."""
    return "cli:" + (os.environ.get("SUDO_USER") or getpass.getuser())


def audit(conn: Connection, who: str, action: str, target: str | None, details: Any = None) -> None:
    """Append one row to the audit log inside the caller's transaction."""
    conn.execute(
        audit_log.insert().values(
            at=utcnow(),
            actor=who,
            action=action,
            target=target,
            details=None if details is None else json.dumps(details, sort_keys=True, default=str),
        )
    )


def task_values(task: Task) -> dict[str, Any]:
    """Given a Task, return its column values."""
    return {
        "name": task.name,
        "description": task.description,
        "command": list(task.command),
        "schedule": task.schedule,
        "timezone": task.timezone,
        "timeout_s": task.timeout,
        "retries": task.retries,
        "retry_delay_s": task.retry_delay,
        "memory_max": task.memory_max,
        "cpu_quota": task.cpu_quota,
        "nice": task.nice,
        "run_user": task.user,
        "run_group": task.group,
        "workdir": task.workdir,
        "env": dict(task.env),
        "category": task.category,
        "priority": task.priority,
        "alert_on": list(task.alert_on),
        "alert_after": task.alert_after,
        "warn_after_s": task.warn_after,
        "channels": list(task.channels),
        "paused": task.paused,
        "catch_up": task.catch_up,
    }


def row_to_task(row: sa.Row[Any]) -> Task:
    """Given a tasks row, return the Task."""
    m = row._mapping
    return Task(
        id=m["id"],
        name=m["name"],
        description=m["description"],
        command=tuple(m["command"]),
        schedule=m["schedule"],
        timezone=m["timezone"],
        timeout=m["timeout_s"],
        retries=m["retries"],
        retry_delay=m["retry_delay_s"],
        memory_max=m["memory_max"],
        cpu_quota=m["cpu_quota"],
        nice=m["nice"],
        user=m["run_user"],
        group=m["run_group"],
        workdir=m["workdir"],
        env=tuple(sorted(m["env"].items())),
        category=m["category"],
        priority=m["priority"],
        alert_on=tuple(m["alert_on"]),
        alert_after=m["alert_after"],
        warn_after=m["warn_after_s"],
        channels=tuple(m["channels"]),
        paused=bool(m["paused"]),
        catch_up=bool(m["catch_up"]),
    )


def list_tasks(conn: Connection) -> list[Task]:
    """Return every task, ordered by name."""
    return [row_to_task(r) for r in conn.execute(sa.select(tasks).order_by(tasks.c.name))]


def find_task(conn: Connection, name: str) -> Task | None:
    """Return the task called `name`, or None."""
    row = conn.execute(sa.select(tasks).where(tasks.c.name == name)).first()
    return None if row is None else row_to_task(row)


def get_task(conn: Connection, name: str) -> Task:
    """Return the task called `name`, or raise NotFound with a hint."""
    task = find_task(conn, name)
    if task is None:
        raise NotFound(f"no task named {name!r}; `smartcron task list` shows the tasks that exist")
    return task


def insert_task(conn: Connection, task: Task, who: str) -> Task:
    """Insert a new task (inside the caller's transaction) and audit it; return it with its id."""
    if find_task(conn, task.name) is not None:
        raise InvalidInput(
            "name",
            task.name,
            "a task with this name already exists; use `smartcron task edit` to change it",
        )
    now = utcnow()
    result = conn.execute(
        tasks.insert().values(**task_values(task), created_at=now, updated_at=now)
    )
    audit(conn, who, "task.add", task.name, task.to_dict())
    key = result.inserted_primary_key
    return Task(**{**_fields(task), "id": key[0] if key else None})


def update_task(conn: Connection, task: Task, who: str) -> Task:
    """Replace the stored task of the same name (inside the caller's transaction)."""
    before = get_task(conn, task.name)
    conn.execute(
        tasks.update()
        .where(tasks.c.name == task.name)
        .values(**task_values(task), updated_at=utcnow())
    )
    changes = {
        k: [v, task.to_dict()[k]] for k, v in before.to_dict().items() if task.to_dict()[k] != v
    }
    audit(conn, who, "task.edit", task.name, changes)
    return Task(**{**_fields(task), "id": before.id})


def delete_task(conn: Connection, name: str, who: str) -> None:
    """Delete a task (its run history stays, keyed by name) inside the caller's transaction."""
    task = get_task(conn, name)
    conn.execute(tasks.delete().where(tasks.c.name == name))
    audit(conn, who, "task.rm", name, task.to_dict())


def _fields(task: Task) -> dict[str, Any]:
    return {f: getattr(task, f) for f in task.__dataclass_fields__}


def mysql_ddl() -> str:
    """Return the MySQL/MariaDB DDL of all migrations, as sql/schema.mysql.sql holds it."""
    import io

    from alembic import command as alembic_command
    from alembic.config import Config as AlembicConfig

    buffer = io.StringIO()
    cfg = AlembicConfig(output_buffer=buffer)
    cfg.set_main_option("script_location", str(resources.files("smartcron.sql") / "migrations"))
    cfg.set_main_option("sqlalchemy.url", "mysql+pymysql://")
    alembic_command.upgrade(cfg, "head", sql=True)
    header = (
        "-- smartcron schema for MySQL 8 / MariaDB 10.6+, generated from the Alembic migrations.\n"
        "-- Do not edit: regenerate with `smartcron db schema > sql/schema.mysql.sql`.\n"
        "-- Prefer `smartcron db upgrade`, which applies the same migrations and records them.\n\n"
    )
    body = "\n".join(line.rstrip() for line in buffer.getvalue().splitlines())
    return header + body + "\n"
