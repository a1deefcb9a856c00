"""A chain's not-run rows name the host whose watchdog recorded them, as every other run
does (`runs --host`, `runs --json`, the dashboard's host filter), on SQLite and MariaDB."""

from __future__ import annotations

import datetime as dt
import secrets

import sqlalchemy as sa

from smartcron.db.schema import executions
from smartcron.watchdog.chains import record_join_refused
from smartcron.watchdog.events import RunEvent
from smartcron.watchdog.record import write_event

from support import TestDB
from support.dashboard import add_task

T0 = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)


def test_not_run_row_of_a_follower_names_the_recording_host(db: TestDB) -> None:
    add_task(db.engine, "bank-import")
    add_task(db.engine, "payroll", schedule="", after=["bank-import"])
    failed = RunEvent("finished", "bank-import", secrets.token_hex(16), started_at=T0,
                      finished_at=T0 + dt.timedelta(seconds=2), result="exit-code",
                      exec_code=1, exec_status=4, trigger_unit="")  # fmt: skip
    with db.engine.begin() as conn:
        recorded = write_event(conn, failed, host="web1")
    assert [(r["task_name"], r["outcome"], r["host"]) for r in recorded] == [
        ("bank-import", "failed", "web1"),
        ("payroll", "not-run", "web1"),
    ]
    with db.engine.connect() as conn:
        rows = conn.execute(sa.select(executions.c.task_name, executions.c.host)).all()
    assert sorted(tuple(r) for r in rows) == [("bank-import", "web1"), ("payroll", "web1")]


def test_join_refused_row_names_the_host_that_tried_to_start_it(db: TestDB) -> None:
    add_task(db.engine, "out")
    with db.engine.begin() as conn:
        row = record_join_refused(conn, "out", "Unit smartcron-out.service not found.", "web2")
    assert row["host"] == "web2"
    with db.engine.connect() as conn:
        stored = conn.execute(
            sa.select(executions.c.host).where(executions.c.id == row["id"])
        ).scalar_one()
    assert stored == "web2"
