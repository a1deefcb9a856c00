"""Which runs the alert engine evaluates: every finished run once (executions.alert_pending),
however long it ran, whenever its row was committed, and by one host's engine only. An id
cursor passed a run still running (a long run's failure never alerted) and a row committed
after a higher id had been read."""

from __future__ import annotations

import threading
import time

import sqlalchemy as sa

from smartcron.alerting.engine import AlertEngine
from smartcron.db.schema import alerts, executions, outbox
from smartcron.db.state import ALERT_CURSOR, set_state
from smartcron.model import config

from support import TestDB
from support.dashboard import add_run, add_task, migrate


def _engine(db: TestDB) -> AlertEngine:
    cfg = config.load(environ={"SMARTCRON_CHANNELS": '{"ops": "json://localhost/"}'})
    alerter = AlertEngine(db.engine, cfg)
    alerter.initialize()
    return alerter


def _failure_alerts(db: TestDB) -> list[str]:
    with db.engine.connect() as conn:
        query = sa.select(alerts.c.task_name).where(alerts.c.kind == "failure")
        return list(conn.execute(query).scalars())


def _pending(db: TestDB) -> list[int]:
    with db.engine.connect() as conn:
        query = sa.select(executions.c.id).where(executions.c.alert_pending)
        return list(conn.execute(query.order_by(executions.c.id)).scalars())


def test_alert_engine_evaluates_a_long_run_that_finishes_after_later_runs(db: TestDB) -> None:
    add_task(db.engine, "stock-take", hosts=["*"])
    add_task(db.engine, "pos-sync", hosts=["*"])
    alerter = _engine(db)
    long_run = add_run(db.engine, "stock-take", "running", finished_at=None, duration_s=None)
    add_run(db.engine, "pos-sync", "success")
    alerter.tick()  # later runs are evaluated while the long one runs
    assert _failure_alerts(db) == [] and _pending(db) == [long_run]
    with db.engine.begin() as conn:
        conn.execute(
            executions.update().where(executions.c.id == long_run).values(outcome="failed")
        )
    alerter.tick()
    assert _failure_alerts(db) == ["stock-take"] and _pending(db) == []


def test_alert_engine_evaluates_a_row_committed_after_a_higher_id(db: TestDB) -> None:
    # MariaDB hands out ids at insert: a watchdog's batch holding id 10 may commit after
    # another writer's id 11 has been read. An explicit lower id stands for that row here.
    add_task(db.engine, "bank", hosts=["*"])
    alerter = _engine(db)
    add_run(db.engine, "bank", "success", id=50)
    alerter.tick()
    add_run(db.engine, "bank", "failed", id=40)
    alerter.tick()
    assert _failure_alerts(db) == ["bank"]


def test_alert_engine_of_two_hosts_evaluates_a_run_once(db: TestDB) -> None:
    # Both hosts' engines read the same finished success while a failure alert is open:
    # one recovery notice, not two.
    add_task(db.engine, "bank", hosts=["*"])
    first, second = _engine(db), _engine(db)
    add_run(db.engine, "bank", "failed")
    first.tick()
    assert _failure_alerts(db) == ["bank"]
    add_run(db.engine, "bank", "success")
    errors: list[BaseException] = []
    conn = db.engine.connect()
    trans = conn.begin()
    first._evaluate(conn)  # evaluated, not committed yet

    def other() -> None:
        try:
            second.tick()
        except sa.exc.OperationalError as exc:  # SQLite: the stale reader is refused, retried
            errors.append(exc)

    thread = threading.Thread(target=other)
    thread.start()
    time.sleep(1.0)  # the second engine now waits on the first one's row lock
    trans.commit()
    conn.close()
    thread.join(30)
    assert not thread.is_alive()
    second.tick()  # what a next tick does after a refused one
    with db.engine.connect() as conn:
        kinds = conn.execute(sa.select(outbox.c.kind)).scalars().all()
    assert sorted(k for k in kinds if k == "recovery") == ["recovery"], kinds


def test_alert_pending_migration_marks_runs_before_the_cursor_evaluated(db: TestDB) -> None:
    add_task(db.engine, "bank", hosts=["*"])
    before = add_run(db.engine, "bank", "failed")
    running = add_run(db.engine, "bank", "running", finished_at=None, duration_s=None)
    after = add_run(db.engine, "bank", "failed")
    migrate(db.engine, "downgrade", "0014")
    with db.engine.begin() as conn:
        set_state(conn, ALERT_CURSOR, str(running))
    migrate(db.engine, "upgrade", "head")
    assert before < running < after
    assert _pending(db) == [running, after]
