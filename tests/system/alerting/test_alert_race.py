"""Two recorders of one failed run (the watchdog and the OnFailure= fallback) at the same
moment open one alert, on SQLite and on real MariaDB (where both used to read "no open
alert" and both insert one: two alerts, two messages)."""

from __future__ import annotations

import threading
import time

import sqlalchemy as sa

from smartcron.alerting.policy import record_failure
from smartcron.db.schema import alerts, executions
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
