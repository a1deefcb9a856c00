"""A concurrency group's wait (db/runs.record_wait) reaches the run's row whichever comes
first: the helper's record or the watchdog's row. On SQLite and MariaDB."""

from __future__ import annotations

import datetime as dt
import secrets

import sqlalchemy as sa

from smartcron.db.records import run_dict
from smartcron.db.runs import WAIT_PREFIX, record_wait
from smartcron.db.schema import executions, state
from smartcron.watchdog.events import RunEvent
from smartcron.watchdog.record import write_event

from support import TestDB

T0 = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)


def _events(inv: str) -> tuple[RunEvent, RunEvent]:
    started = RunEvent("started", "job", inv, trigger_unit="")
    finished = RunEvent("finished", "job", inv, started_at=T0, finished_at=T0 + dt.timedelta(seconds=3),
                        result="success", exec_code=1, exec_status=0, trigger_unit="")  # fmt: skip
    return started, finished


def _row(db: TestDB, inv: str) -> sa.Row[object]:
    with db.engine.connect() as conn:
        row = conn.execute(sa.select(executions).where(executions.c.invocation_id == inv)).one()
        left = conn.execute(sa.select(state).where(state.c.key == WAIT_PREFIX + inv)).all()
    assert left == []  # nothing stays behind in the state table
    return row


def test_waits_recorded_before_the_watchdogs_row_reach_the_row(db: TestDB) -> None:
    inv = secrets.token_hex(16)
    started, finished = _events(inv)
    with db.engine.begin() as conn:
        record_wait(conn, inv, 3.25)  # the helper ran before the watchdog saw the start
    with db.engine.begin() as conn:
        write_event(conn, started)
    with db.engine.begin() as conn:
        write_event(conn, finished)
    row = _row(db, inv)
    assert row.outcome == "success" and row.wait_seconds == 3.25
    assert run_dict(row)["wait_seconds"] == 3.25


def test_waits_recorded_after_the_start_survive_the_finish(db: TestDB) -> None:
    inv = secrets.token_hex(16)
    started, finished = _events(inv)
    with db.engine.begin() as conn:
        write_event(conn, started)
    with db.engine.begin() as conn:
        record_wait(conn, inv, 6.5)
    with db.engine.begin() as conn:
        write_event(conn, finished)
    row = _row(db, inv)
    assert row.outcome == "success" and row.wait_seconds == 6.5


def test_waits_absent_for_a_run_without_a_group(db: TestDB) -> None:
    inv = secrets.token_hex(16)
    started, finished = _events(inv)
    with db.engine.begin() as conn:
        write_event(conn, started)
        write_event(conn, finished)
    assert _row(db, inv).wait_seconds is None
