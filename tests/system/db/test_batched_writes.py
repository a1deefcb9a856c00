"""The writer records a batch of run events in one transaction with what it reads once
(watchdog/lookups.py): every run once, its totals counted once, on SQLite and MariaDB."""

from __future__ import annotations

import datetime as dt
import secrets

import sqlalchemy as sa

from smartcron.db.runs import WAIT_PREFIX, record_wait
from smartcron.db.schema import executions, run_totals, state
from smartcron.db.state import manual_key, set_state
from smartcron.watchdog.events import RunEvent
from smartcron.watchdog.lookups import Lookups
from smartcron.watchdog.record import write_event

from support import TestDB

T0 = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)


def _pair(task: str, inv: str, at: dt.datetime) -> tuple[RunEvent, RunEvent]:
    started = RunEvent("started", task, inv, started_at=at, trigger_unit="")
    finished = RunEvent("finished", task, inv, started_at=at, finished_at=at + dt.timedelta(seconds=2),
                        result="success", exec_code=1, exec_status=0, trigger_unit="")  # fmt: skip
    return started, finished


def _write(db: TestDB, batch: list[RunEvent]) -> list[dict[str, object]]:
    recorded: list[dict[str, object]] = []
    with db.engine.begin() as conn:
        lookups = Lookups(conn)
        lookups.prefetch((e.invocation_id for e in batch), {e.task for e in batch})
        for event in batch:
            recorded += write_event(conn, event, lookups=lookups)
    return recorded


def test_batched_writes_record_each_run_once_with_its_wait_and_trigger(db: TestDB) -> None:
    invs = [secrets.token_hex(16) for _ in range(4)]
    pairs = [_pair(f"job-{i % 2}", inv, T0 + dt.timedelta(minutes=i)) for i, inv in enumerate(invs)]
    with db.engine.begin() as conn:
        record_wait(conn, invs[0], 1.5)  # a group wait recorded before the row
        set_state(conn, manual_key("job-1"), T0.isoformat())  # `task run` at T0
    # One batch: the start and the finish of runs 0-2, the finish of run 0 twice (a signal
    # and the journal), the start of run 3; the next batch finishes run 3 (twice).
    first = [pairs[0][0], pairs[0][1], pairs[1][0], pairs[1][1], pairs[0][1]]
    first += [pairs[2][0], pairs[2][1], pairs[3][0]]
    recorded = _write(db, first)
    recorded += _write(db, [pairs[3][1], pairs[3][1], pairs[3][0]])
    assert sorted(str(r["invocation_id"]) for r in recorded) == sorted(invs)
    with db.engine.connect() as conn:
        rows = {r.invocation_id: r for r in conn.execute(sa.select(executions))}
        totals = conn.execute(sa.select(run_totals.c.task_name, run_totals.c.runs)).all()
        waits = conn.execute(sa.select(state).where(state.c.key.startswith(WAIT_PREFIX))).all()
    assert sorted(rows) == sorted(invs)
    assert {r.outcome for r in rows.values()} == {"success"}
    assert rows[invs[0]].wait_seconds == 1.5 and rows[invs[2]].wait_seconds is None
    assert waits == []
    # job-1's run at T0 + 1 min is within a minute of `task run`: manual; the others too
    # (trigger_unit "" is a start by hand), but job-0 has no manual mark.
    assert rows[invs[1]].trigger == "manual"
    assert sorted((t, int(n)) for t, n in totals) == [("job-0", 2), ("job-1", 2)]


def test_batched_writes_never_finish_a_run_another_recorder_finished(db: TestDB) -> None:
    inv = secrets.token_hex(16)
    started, finished = _pair("job", inv, T0)
    _write(db, [started])
    with db.engine.begin() as conn:  # the OnFailure= fallback recorded the end meanwhile
        conn.execute(
            executions.update().where(executions.c.invocation_id == inv).values(outcome="failed")
        )
    assert _write(db, [finished, finished]) == []
    with db.engine.connect() as conn:
        outcome = conn.execute(
            sa.select(executions.c.outcome).where(executions.c.invocation_id == inv)
        ).scalar_one()
        counted = conn.execute(sa.select(sa.func.count()).select_from(run_totals)).scalar_one()
    assert outcome == "failed" and counted == 0


def test_batched_writes_label_one_run_manual_per_request(db: TestDB) -> None:
    # `task run` at T0, then the timer fires 44 s later: one request starts one run, so the
    # timer's run is not labelled manual (it was, within the 60 s window).
    by_hand, by_timer = secrets.token_hex(16), secrets.token_hex(16)
    with db.engine.begin() as conn:
        set_state(conn, manual_key("job-1"), T0.isoformat())
    _write(db, [*_pair("job-1", by_hand, T0 + dt.timedelta(seconds=0.3))])
    at, unit = T0 + dt.timedelta(seconds=44), "smartcron-job-1.timer"
    started = RunEvent("started", "job-1", by_timer, started_at=at, trigger_unit=unit)
    finished = RunEvent("finished", "job-1", by_timer, started_at=at, trigger_unit=unit,
                        finished_at=at + dt.timedelta(seconds=2), result="success",
                        exec_code=1, exec_status=0)  # fmt: skip
    _write(db, [started, finished])
    with db.engine.connect() as conn:
        rows = {r.invocation_id: r.trigger for r in conn.execute(sa.select(executions))}
    assert rows[by_hand] == "manual"
    assert rows[by_timer] != "manual", rows
