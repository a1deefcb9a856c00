"""Recording a run: one `executions` row per invocation, written idempotently.

Shared by the watchdog's writer and the OnFailure= fallback, so a run is recorded the same way
whichever of the two sees it first.
"""

from __future__ import annotations

import datetime as dt
import signal
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcron.db.schema import executions, utcnow
from smartcron.db.state import manual_key
from smartcron.db.totals import add_run
from smartcron.model.outcome import RUNNING, explain, explain_skip
from smartcron.model.task import Task
from smartcron.systemd.journal import Journal
from smartcron.systemd.units import PREFIX
from smartcron.watchdog.chains import JoinBook, joins_ready, record_not_run
from smartcron.watchdog.events import RunEvent
from smartcron.watchdog.lookups import Lookups
from smartcron.watchdog.triggers import MANUAL_WINDOW, trigger_of

CLD_KILLED, CLD_DUMPED = 2, 3
REASON_TRIES = 5  # times 0.2 s
SPAWN_STATUS = 200  # exit statuses from 200 up are systemd's own: it could not start the command


@dataclass(frozen=True)
class Evidence:
    """What the journal adds to systemd's Result: why a run could not start, and whether the
    kernel (or systemd) said it was killed for running out of memory."""

    reason: str = ""
    out_of_memory: bool = False


# systemd's generic lines say nothing the exit status does not; the specific ones name the
# cause ("Failed to locate executable /opt/x: No such file or directory").
_GENERIC = ("Failed to start", "Failed with result")


def _sigkilled(event: RunEvent) -> bool:
    return event.exec_code == CLD_KILLED and event.exec_status == signal.SIGKILL


def needs_evidence(event: RunEvent) -> bool:
    """Return True for a finished run whose meaning depends on the journal: it failed before
    its command ran (systemd's 2xx statuses), or it was killed with SIGKILL."""
    if event.kind != "finished" or event.result == "success":
        return False
    return (event.exec_status or 0) >= SPAWN_STATUS or _sigkilled(event)


def _spawn_reason(messages: list[str]) -> str:
    said = [m for m in messages if not m.split(": ", 1)[-1].startswith(_GENERIC)]
    specific = [m for m in said if "Failed to locate" in m or "Failed to execute" in m]
    steps = [m for m in said if "Failed at step" in m or "Failed to" in m]
    return (specific or steps or [""])[0]


def gather_evidence(journal: Journal, event: RunEvent) -> Evidence:
    """Read the journal for what systemd's Result alone does not say (see needs_evidence)."""
    if not needs_evidence(event):
        return Evidence()
    reason = ""
    if (event.exec_status or 0) >= SPAWN_STATUS and not _sigkilled(event):
        # The forked process logs why it could not exec a moment before systemd reports the
        # exit; journald may still be storing it: look again for a short while.
        for _ in range(REASON_TRIES):
            reason = _spawn_reason(journal.systemd_messages(event.invocation_id))
            if reason:
                break
            time.sleep(0.2)
    oom = False
    if _sigkilled(event) and event.result != "oom-kill" and event.started_at:
        unit = f"{PREFIX}{event.task}.service"
        oom = journal.out_of_memory(unit, event.started_at, event.finished_at or event.started_at)
    return Evidence(reason, oom)


def signal_name(number: int | None) -> str | None:
    """Return SIGTERM for 15 (the number as text when unknown, None for no number)."""
    try:
        return signal.Signals(number or 0).name
    except ValueError:
        return None if number is None else str(number)


def _wait_before_next(task: Task | None, attempt: int) -> int:
    """Given the task and the attempt that just ended, return the wait before the next
    (the backoff grows it; model/task.Task.retry_waits)."""
    if task is None:
        return 30
    waits = task.retry_waits()
    return waits[attempt - 1] if 0 < attempt <= len(waits) else task.retry_delay


def _request_used(conn: Connection, event: RunEvent, asked: dt.datetime) -> bool:
    """Given a run and when `task run` / Run now last asked for its task, return True if an
    earlier run already answered that request: one request starts one run, so a timer run
    that follows it within MANUAL_WINDOW is the timer's (it was labelled manual)."""
    began = event.started_at
    if began is None or not MANUAL_WINDOW[0] <= began - asked <= MANUAL_WINDOW[1]:
        return False  # not near the request: nothing to decide
    earlier = conn.execute(
        sa.select(executions.c.id)
        .where(
            executions.c.task_name == event.task,
            executions.c.invocation_id != event.invocation_id,
            executions.c.trigger == "manual",
            executions.c.started_at >= asked + MANUAL_WINDOW[0],
            executions.c.started_at < began,
        )
        .limit(1)
    ).first()
    return earlier is not None


def run_values(
    conn: Connection,
    event: RunEvent,
    task: Task | None,
    evidence: Evidence = Evidence(),
    host: str | None = None,
    lookups: Lookups | None = None,
    waited: float | None = None,
) -> dict[str, Any]:
    """Given a run event and its task (and the seconds the run waited for a slot of its
    concurrency group, if known), return the `executions` column values for it."""
    manual = (lookups or Lookups(conn)).state(manual_key(event.task))
    manual_at = dt.datetime.fromisoformat(manual) if manual else None
    if manual_at is not None and _request_used(conn, event, manual_at):
        manual_at = None
    values: dict[str, Any] = {
        "task_id": task.id if task else None,
        "task_name": event.task,
        "invocation_id": event.invocation_id,
        "attempt": event.attempt,
        "trigger": trigger_of(event, task, manual_at),
        "started_at": event.started_at,
        "recorded_at": utcnow(),
        "host": host,
    }
    if event.kind == "started":
        return {**values, "outcome": RUNNING, "meaning": "Running."}
    duration = None
    if event.started_at and event.finished_at:
        duration = max(0.0, (event.finished_at - event.started_at).total_seconds())
    if event.condition_said_no:
        # ExecCondition= said no and nothing recorded why (the gate writes its own row first).
        skip = explain_skip("skipped", "")
        return {
            **values,
            "finished_at": event.finished_at or event.started_at,
            "duration_s": 0.0,
            "result": "exec-condition",
            "outcome": skip.outcome,
            "meaning": skip.meaning,
        }
    retries = task.retries if task else 0
    verdict = explain(
        "oom-kill" if evidence.out_of_memory else event.result or "unknown",
        event.exec_code or 0,
        event.exec_status or 0,
        duration=duration,
        timeout=task.timeout if task else None,
        memory_max=task.memory_max if task else None,
        attempt=event.attempt,
        retries=retries,
        will_retry=event.result != "success" and event.attempt <= retries,
        retry_delay=_wait_before_next(task, event.attempt),
        systemd_reason=evidence.reason,
        command_started=event.command_started,
        group=task.concurrency_group if task else None,
        waited=waited,
    )
    killed = event.exec_code in (CLD_KILLED, CLD_DUMPED)
    if not event.command_started:
        # No command ran: systemd's ExecMainStatus 0 is no exit status of it.
        return {
            **values,
            "finished_at": event.finished_at,
            "duration_s": duration,
            "result": event.result,
            "exit_code": None,
            "exit_signal": None,
            "outcome": verdict.outcome,
            "meaning": verdict.meaning,
        }
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


def write_event(
    conn: Connection,
    event: RunEvent,
    evidence: Evidence = Evidence(),
    host: str | None = None,
    joins: JoinBook | None = None,
    lookups: Lookups | None = None,
) -> list[dict[str, Any]]:
    """Record a run event in the caller's transaction; return the finished runs it recorded
    (the run, and the not-run rows of its chained followers), each as its column values with
    its id: empty for a "started" event, or one that was already there.

    Idempotent by invocation id: a "started" event never overwrites a row, a "finished" one
    completes a running row once. The caller writes the journal entries of the runs returned
    once its transaction is committed (systemd/entries.py). With `joins`, a success that
    completes a join (a follower of several predecessors) adds the follower to joins.ready,
    for the caller to start after the commit. `lookups` (watchdog/lookups.py) is the
    transaction's cache of what the batch reads, shared by the events of one batch.
    """
    look = lookups or Lookups(conn)
    existing = look.row(event.invocation_id)
    if existing is not None and (event.kind == "started" or existing[1] != RUNNING):
        return []
    task = look.task(event.task)
    waited = look.take_wait(event.invocation_id)  # a group wait recorded before this row
    known_wait = waited
    if known_wait is None and existing is not None and not event.command_started:
        # ops/groups.py wrote the wait on the running row: the meaning names it.
        known_wait = conn.execute(
            sa.select(executions.c.wait_seconds).where(executions.c.id == existing[0])
        ).scalar()
    values = run_values(conn, event, task, evidence, host, look, known_wait)
    if waited is not None:
        values["wait_seconds"] = waited
    if existing is None:
        key = conn.execute(executions.insert().values(**values)).inserted_primary_key
        run_id = int(key[0]) if key else None
    else:
        values.pop("trigger", None)
        done = conn.execute(
            executions.update()
            .where(executions.c.id == existing[0], executions.c.outcome == RUNNING)
            .values(**values)
        )
        if not done.rowcount:
            look.wrote(event.invocation_id, None, "")  # read it again if asked
            return []  # another recorder (alert@ or the watchdog) finished it meanwhile
        run_id = existing[0]
    look.wrote(event.invocation_id, run_id, values["outcome"])
    if values["outcome"] != RUNNING:
        add_run(
            conn,
            event.task,
            values["outcome"],
            values.get("duration_s"),
            values["started_at"] or values["recorded_at"],
            host=values["host"],
        )
    if event.kind == "started":
        return []
    retrying = event.result != "success" and event.attempt <= (task.retries if task else 0)
    if joins is not None and not retrying:
        joins.ready.extend(joins_ready(conn, values, joins.started, look))
    return [{**values, "id": run_id}, *record_not_run(conn, values, retrying, look)]


NOTE_AT_START = dt.timedelta(seconds=1)


def record_drops(
    conn: Connection, task: str, notes: list[tuple[str, dt.datetime, int]]
) -> list[tuple[int, int]]:
    """Given journald's suppression notes for a task's unit, write each run's dropped lines
    (set, not added: the same notes are read again later); return the runs that changed.

    A note names the run that was logging when journald wrote it: within its first second,
    the lines were lost at the end of the run before (a job that exits at once); later, in
    that run itself.
    """
    totals: dict[int, int] = {}
    for invocation, when, count in notes:
        named = conn.execute(
            sa.select(executions.c.id, executions.c.started_at).where(
                executions.c.invocation_id == invocation
            )
        ).first()
        target = named.id if named is not None else None
        if named is not None and named.started_at and when - named.started_at < NOTE_AT_START:
            target = conn.execute(
                sa.select(executions.c.id)
                .where(executions.c.task_name == task, executions.c.started_at < named.started_at)
                .order_by(executions.c.started_at.desc())
                .limit(1)
            ).scalar()
        if target is not None:
            totals[int(target)] = totals.get(int(target), 0) + count
    changed = []
    for run_id, total in totals.items():
        updated = conn.execute(
            executions.update()
            .where(executions.c.id == run_id, executions.c.lines_dropped.is_distinct_from(total))
            .values(lines_dropped=total)
        ).rowcount
        if updated:
            changed.append((run_id, total))
    return changed
