"""The store on SQLite and MariaDB: migrations match the model, DDL cannot drift, UTC in and out."""

from __future__ import annotations

import datetime as dt
import secrets

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from smartcron.db.migrate import current_revision, head_revision, mysql_ddl
from smartcron.db.schema import executions, metadata, tasks
from smartcron.db.tasks import get_task, insert_task
from smartcron.model.validate import validate_task

from support import ROOT, TestDB, signer

SCHEMA_FILE = ROOT / "sql" / "schema.mysql.sql"


def test_migrations_match_table_definitions(db: TestDB) -> None:
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    assert current_revision(db.engine) == head_revision()


def test_schema_mysql_sql_matches_migrations() -> None:
    assert SCHEMA_FILE.read_text() == mysql_ddl(), (
        "sql/schema.mysql.sql drifted: regenerate with `smartcron db schema > sql/schema.mysql.sql`"
    )


def test_schema_mysql_sql_creates_the_same_tables_on_mariadb(mysql_server: str) -> None:
    server = sa.create_engine(mysql_server, connect_args={"connect_timeout": 3})
    name = f"smartcron_ddl_check_{secrets.token_hex(4)}"
    with server.begin() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        engine = sa.create_engine(sa.make_url(mysql_server).set(database=name))
        statements = [s for s in SCHEMA_FILE.read_text().split(";") if s.strip(" \n-").strip()]
        with engine.begin() as conn:
            for statement in statements:
                body = "\n".join(
                    line for line in statement.splitlines() if not line.startswith("--")
                )
                if body.strip():
                    conn.exec_driver_sql(body)
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
            charset = conn.execute(
                sa.text(
                    "SELECT CCSA.character_set_name FROM information_schema.TABLES T "
                    "JOIN information_schema.COLLATION_CHARACTER_SET_APPLICABILITY CCSA "
                    "ON CCSA.collation_name = T.table_collation "
                    "WHERE T.table_schema = :db AND T.table_name = 'tasks'"
                ),
                {"db": name},
            ).scalar()
        assert diff == []
        assert charset == "utf8mb4"
        engine.dispose()
    finally:
        with server.begin() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        server.dispose()


def test_timestamps_keep_utc_and_microseconds(db: TestDB) -> None:
    local = dt.timezone(dt.timedelta(hours=13))
    started = dt.datetime(2026, 3, 8, 2, 30, 15, 123456, tzinfo=local)
    with db.engine.begin() as conn:
        conn.execute(
            executions.insert().values(
                task_name="t",
                invocation_id="a" * 32,
                trigger="timer",
                outcome="success",
                started_at=started,
                recorded_at=started,
            )
        )
        back = conn.execute(sa.select(executions.c.started_at)).scalar_one()
    assert back == started
    assert back.tzinfo == dt.UTC
    assert back.microsecond == 123456


def test_naive_timestamps_are_refused(db: TestDB) -> None:
    with pytest.raises(sa.exc.StatementError, match="naive datetime"), db.engine.begin() as conn:
        conn.execute(
            executions.insert().values(
                task_name="t",
                invocation_id="b" * 32,
                trigger="timer",
                outcome="success",
                recorded_at=dt.datetime(2026, 1, 1),  # noqa: DTZ001 - the point of the test
            )
        )


def test_invocation_id_is_unique(db: TestDB) -> None:
    row = {
        "task_name": "t",
        "invocation_id": "c" * 32,
        "trigger": "timer",
        "outcome": "success",
        "recorded_at": dt.datetime.now(dt.UTC),
    }
    with db.engine.begin() as conn:
        conn.execute(executions.insert().values(**row))
    with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as conn:
        conn.execute(executions.insert().values(**row))


def test_task_round_trips_through_store_with_unicode(db: TestDB) -> None:
    task = validate_task(
        {
            "name": "caf\u00e9-report".replace("\u00e9", "e"),
            "command": ["/bin/echo", "Caf\u00e9 \u2615 100%", "$HOME"],
            "schedule": "Mon..Fri *-*-* 09:00:00",
            "timezone": "Pacific/Auckland",
            "env": {"GREETING": "kia ora \u0101"},
            "memory_max": "1G",
            "description": "Daily \u2615 report",
        }
    )
    with db.engine.begin() as conn:
        stored = insert_task(conn, task, "test", signer=signer())
    with db.engine.connect() as conn:
        back = get_task(conn, task.name)
        count = conn.execute(sa.select(sa.func.count()).select_from(tasks)).scalar_one()
    assert back == task and back.id == stored.id
    assert count == 1


def test_task_retry_backoff_round_trips_exactly_and_keeps_its_signature(db: TestDB) -> None:
    # A single-precision column would give 1.1 back as 1.100000023841858: a different task,
    # and a signature that no longer matches.
    task = validate_task(
        {
            "name": "backoff",
            "command": ["/bin/true"],
            "schedule": "@daily",
            "retries": 3,
            "retry_backoff": "1.1",
            "retry_max_delay": "10m",
        }
    )
    with db.engine.begin() as conn:
        insert_task(conn, task, "test", signer=signer())
    with db.engine.connect() as conn:
        back = get_task(conn, task.name)
    assert back == task and back.retry_backoff == 1.1 and back.retry_max_delay == 600
    assert signer().verify(back)
