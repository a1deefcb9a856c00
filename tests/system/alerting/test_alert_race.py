"""Two recorders of one failed run (the watchdog and the OnFailure= fallback) at the same
moment open one alert, on SQLite and on real MariaDB (where both used to read "no open
alert" and both insert one: two alerts, two messages)."""

from __future__ import annotations

import threading
import time

import sqlalchemy as sa

from smartcron.alerting.policy import record_failure
from smartcron.db.schema import alerts, claims, executions
from smartcron.db.tasks import find_task

from support import TestDB
from support.dashboard import add_run, add_task


def test_alert_race_two_recorders_of_one_run_open_one_alert(db: TestDB) -> None:
    add_task(db.engine, "bank", hosts=["*"])
    run_id = add_run(db.engine, "bank", "failed", host="a")
    with db.engine.connect() as conn:
        run = conn.execute(sa.select(executions).where(executions.c.id == run_id)).one()
        task = find_task(conn, "bank")
    got: dict[str, int | None] = {}
    first = db.engine.connect()
    trans = first.begin()
    got["first"] = record_failure(first, run, task)  # opened, not committed yet

    def second() -> None:
        with db.engine.begin() as conn:
            got["second"] = record_failure(conn, run, task)

    other = threading.Thread(target=second)
    other.start()
    time.sleep(1.0)  # the second recorder is now waiting on the first one's claim
    trans.commit()
    first.close()
    other.join(30)
    assert not other.is_alive()
    with db.engine.connect() as conn:
        rows = conn.execute(sa.select(alerts)).fetchall()
    assert len(rows) == 1, rows
    assert got == {"first": rows[0].id, "second": rows[0].id}
    assert rows[0].failure_count == 1  # the same run, counted once


def test_alert_claim_rolls_back_with_the_alert(db: TestDB) -> None:
    # The claim on the run and the alert it guards commit together or not at all: a claim
    # left behind by a rolled-back recorder would keep every later recorder of that run
    # from opening the alert (a failure nobody is told about). On SQLite the savepoint the
    # claim used to sit in was released as a commit of its own (pysqlite opens no
    # transaction before it).
    add_task(db.engine, "bank", hosts=["*"])
    run_id = add_run(db.engine, "bank", "failed", host="a")
    with db.engine.connect() as conn:
        run = conn.execute(sa.select(executions).where(executions.c.id == run_id)).one()
        task = find_task(conn, "bank")
    with db.engine.connect() as conn:
        trans = conn.begin()
        assert record_failure(conn, run, task) is not None
        trans.rollback()
    with db.engine.connect() as conn:
        assert conn.execute(sa.select(claims)).fetchall() == []
        assert conn.execute(sa.select(alerts)).fetchall() == []
    with db.engine.begin() as conn:
        assert record_failure(conn, run, task) is not None  # the next recorder opens it


def test_alert_failure_count_of_two_failures_recorded_at_once_counts_both(db: TestDB) -> None:
    # Two hosts' engines record two failed runs of one task at the same moment: the open
    # alert counts both (each used to write the count it had read).
    add_task(db.engine, "bank", hosts=["*"])
    ids = [add_run(db.engine, "bank", "failed", host=h) for h in ("a", "b", "c")]
    with db.engine.connect() as conn:
        runs = conn.execute(sa.select(executions).order_by(executions.c.id)).all()
        task = find_task(conn, "bank")
    with db.engine.begin() as conn:
        opened = record_failure(conn, runs[0], task)
    first = db.engine.connect()
    trans = first.begin()
    assert record_failure(first, runs[1], task) == opened  # counted, not committed yet
    errors: list[BaseException] = []

    def second() -> None:
        try:
            with db.engine.begin() as conn:
                record_failure(conn, runs[2], task)
        except sa.exc.OperationalError as exc:  # SQLite refuses the stale writer: retried
            errors.append(exc)

    other = threading.Thread(target=second)
    other.start()
    time.sleep(1.0)
    trans.commit()
    first.close()
    other.join(30)
    if errors:
        with db.engine.begin() as conn:
            record_failure(conn, runs[2], task)
    with db.engine.connect() as conn:
        count = conn.execute(sa.select(alerts.c.failure_count)).scalar_one()
    assert count == len(ids)
