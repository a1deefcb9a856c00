"""The alert engine's cursor over runs: a run that is still running when later rows are
evaluated is evaluated when it finishes (the cursor used to pass it, so a long run's failure
never alerted)."""

from __future__ import annotations

import sqlalchemy as sa

from smartcron.alerting.engine import AlertEngine
from smartcron.db.schema import alerts, executions
from smartcron.db.state import ALERT_WAITING, get_state
from smartcron.model import config

from support import TestDB
from support.dashboard import add_run, add_task


def _engine(db: TestDB) -> AlertEngine:
    cfg = config.load(environ={"SMARTCRON_CHANNELS": '{"ops": "json://localhost/"}'})
    alerter = AlertEngine(db.engine, cfg)
    alerter.initialize()
    return alerter


def _failure_alerts(db: TestDB) -> list[str]:
    with db.engine.connect() as conn:
        return list(
            conn.execute(sa.select(alerts.c.task_name).where(alerts.c.kind == "failure")).scalars()
        )


def test_alert_cursor_evaluates_a_long_run_that_finishes_after_later_runs(db: TestDB) -> None:
    add_task(db.engine, "stock-take", hosts=["*"])
    add_task(db.engine, "pos-sync", hosts=["*"])
    alerter = _engine(db)
    long_run = add_run(db.engine, "stock-take", "running", finished_at=None, duration_s=None)
    add_run(db.engine, "pos-sync", "success")
    alerter.tick()  # the cursor passes the long run while it runs
    assert _failure_alerts(db) == []
    with db.engine.begin() as conn:
        conn.execute(
            executions.update().where(executions.c.id == long_run).values(outcome="failed")
        )
    alerter.tick()
    assert _failure_alerts(db) == ["stock-take"]
    alerter.tick()  # evaluated once: no second alert, nothing left waiting
    assert _failure_alerts(db) == ["stock-take"]


def test_alert_cursor_forgets_a_waiting_run_that_was_pruned(db: TestDB) -> None:
    add_task(db.engine, "stock-take", hosts=["*"])
    alerter = _engine(db)
    long_run = add_run(db.engine, "stock-take", "running", finished_at=None, duration_s=None)
    add_run(db.engine, "stock-take", "success")
    alerter.tick()
    with db.engine.connect() as conn:
        assert get_state(conn, ALERT_WAITING) == f"[{long_run}]"
    with db.engine.begin() as conn:
        conn.execute(executions.delete().where(executions.c.id == long_run))
    alerter.tick()
    with db.engine.connect() as conn:
        assert get_state(conn, ALERT_WAITING) == "[]"
    add_run(db.engine, "stock-take", "failed")
    alerter.tick()
    assert _failure_alerts(db) == ["stock-take"]
