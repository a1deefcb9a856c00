"""Recording a run: one `executions` row per invocation, written idempotently.

Shared by the watchdog's writer and the OnFailure= fallback, so a run is recorded the same way
whichever of the two sees it first.
"""

from __future__ import annotations

import datetime as dt
import signal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcron.db.schema import executions, utcnow
from smartcron.db.state import MANUAL_PREFIX, get_state
from smartcron.db.tasks import find_task
from smartcron.model.outcome import RUNNING, explain
from smartcron.model.task import Task
from smartcron.systemd.journal import Journal
from smartcron.watchdog.events import RunEvent
from smartcron.watchdog.triggers import trigger_of

CLD_KILLED, CLD_DUMPED = 2, 3
SPAWN_STATUS = 200  # exit statuses from 200 up are systemd's own: it could not start the command


def needs_reason(event: RunEvent) -> bool:
    """Return True for a run that failed before its command ran (systemd's 2xx statuses)."""
    return (
        event.kind == "finished"
        and event.result != "success"
        and (event.exec_status or 0) >= SPAWN_STATUS
    )


def systemd_reason(journal: Journal, invocation_id: str) -> str:
    """Return systemd's own sentence on why a run could not start (from the journal), or ""."""
    messages = journal.systemd_messages(invocation_id)
    return next((m for m in messages if "Failed at step" in m or "Failed to" in m), "")


def signal_name(number: int | None) -> str | None:
    """Return SIGTERM for 15 (the number as text when unknown, None for no number)."""
    try:
        return signal.Signals(number or 0).name
    except ValueError:
        return None if number is None else str(number)


def run_values(
    conn: Connection, event: RunEvent, task: Task | None, reason: str = ""
) -> dict[str, Any]:
    """Given a run event and its task, return the `executions` column values for it."""
    manual = get_state(conn, MANUAL_PREFIX + event.task)
    manual_at = dt.datetime.fromisoformat(manual) if manual else None
    values: dict[str, Any] = {
        "task_id": task.id if task else None,
        "task_name": event.task,
        "invocation_id": event.invocation_id,
        "attempt": event.attempt,
        "trigger": trigger_of(event, task, manual_at),
        "started_at": event.started_at,
        "recorded_at": utcnow(),
    }
    if event.kind == "started":
        return {**values, "outcome": RUNNING, "meaning": "Running."}
    duration = None
    if event.started_at and event.finished_at:
        duration = max(0.0, (event.finished_at - event.started_at).total_seconds())
    retries = task.retries if task else 0
    verdict = explain(
        event.result or "unknown",
        event.exec_code or 0,
        event.exec_status or 0,
        duration=duration,
        timeout=task.timeout if task else None,
        memory_max=task.memory_max if task else None,
        attempt=event.attempt,
        retries=retries,
        will_retry=event.result != "success" and event.attempt <= retries,
        retry_delay=task.retry_delay if task else 30,
        systemd_reason=reason,
    )
    killed = event.exec_code in (CLD_KILLED, CLD_DUMPED)
    return {
        **values,
        "finished_at": event.finished_at,
        "duration_s": duration,
        "result": event.result,
        "exit_code": None if killed else event.exec_status,
        "exit_signal": signal_name(event.exec_status) if killed else None,
        "outcome": verdict.outcome,
        "meaning": verdict.meaning,
    }


def write_event(conn: Connection, event: RunEvent, reason: str = "") -> bool:
    """Record a run event in the caller's transaction; return False if it was already there.

    Idempotent by invocation id: a "started" event never overwrites a row, a "finished" one
    completes a running row once.
    """
    existing = conn.execute(
        sa.select(executions.c.id, executions.c.outcome).where(
            executions.c.invocation_id == event.invocation_id
        )
    ).first()
    if existing is not None and (event.kind == "started" or existing.outcome != RUNNING):
        return False
    values = run_values(conn, event, find_task(conn, event.task), reason)
    if existing is None:
        conn.execute(executions.insert().values(**values))
    else:
        values.pop("trigger", None)
        conn.execute(executions.update().where(executions.c.id == existing.id).values(**values))
    return True
