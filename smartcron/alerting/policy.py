"""Which runs raise an alert, and who sends it: the alert rows and their claims.

One alert row per (task, kind) is open at a time. Its states: open (to be sent) -> notified
(re-sent every `renotify_interval` while the failure lasts) -> resolved, with a recovery
notice; `acknowledged` stops the re-notifications. The watchdog and the OnFailure= fallback
both write these rows; `claim` decides which of them sends, so a failure is sent once.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcron.db.claims import insert_claim_if_free
from smartcron.db.schema import alerts, executions, utcnow
from smartcron.model.outcome import NOT_RUNS, RUNNING
from smartcron.model.task import Task

ACTIVE = ("open", "notified", "acknowledged")
FAILURE_OUTCOMES_FINAL = {"could-not-start", "start-limit"}


def _consecutive_failures(conn: Connection, task: str, upto_id: int) -> int:
    rows = conn.execute(
        sa.select(executions.c.outcome)
        .where(
            executions.c.task_name == task,
            executions.c.id <= upto_id,
            executions.c.outcome.not_in((RUNNING, *NOT_RUNS)),
        )
        .order_by(executions.c.id.desc())
        .limit(1000)
    ).scalars()
    count = 0
    for outcome in rows:
        if outcome == "success":
            break
        count += 1
    return count


def active_alert(conn: Connection, task: str, kind: str, *, latest: bool = False) -> Any:
    """The task's open alert of `kind`; `latest` reads past the transaction's snapshot (a
    locking read on MariaDB), to see an alert another recorder has just committed."""
    query = sa.select(alerts).where(
        alerts.c.task_name == task, alerts.c.kind == kind, alerts.c.state.in_(ACTIVE)
    )
    return conn.execute(query.with_for_update() if latest else query).first()


RUN_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)  # the claim slot of "one per run"


def _first_to_alert(conn: Connection, run: Any) -> bool:
    """Given a failed run, return True if this recorder is the first to open an alert for
    it. The watchdog and the OnFailure= fallback record the same run at the same moment: on
    MariaDB both read "no open alert" and both inserted one (two alerts, two messages). A
    claim on the run's id (the claims table's unique key, which Galera certifies too)
    leaves one of them to open it; the other waits for it and updates it."""
    return insert_claim_if_free(
        conn, f"alert-run:{run.id}", RUN_EPOCH, run.host or "", run.invocation_id
    )


def is_final(run: Any, task: Task | None) -> bool:
    """Return True if no retry follows this failed run."""
    if run.outcome in FAILURE_OUTCOMES_FINAL or task is None:
        return True
    return int(run.attempt) >= task.retries + 1


def record_failure(conn: Connection, run: Any, task: Task | None) -> int | None:
    """Open (or update) the task's failure alert for a failed run if its policy says so."""
    policy = task.alert_on if task else ("final-failure",)
    final = is_final(run, task)
    if not ("failure" in policy or ("final-failure" in policy and final)):
        return None
    needed = task.alert_after if task else 1
    if final and _consecutive_failures(conn, run.task_name, run.id) < needed:
        return None
    existing = active_alert(conn, run.task_name, "failure")
    if existing is None and not _first_to_alert(conn, run):
        existing = active_alert(conn, run.task_name, "failure", latest=True)
        if existing is None:  # the other recorder's alert was resolved meanwhile
            return None
    if existing is not None:
        conn.execute(
            alerts.update()
            .where(alerts.c.id == existing.id)
            # Counted in the statement, not from the row read above: two hosts' engines
            # recording two failures at once would both write the same count. The count comes
            # first: MariaDB evaluates SET left to right, so it must see the old execution_id.
            .ordered_values(
                (
                    alerts.c.failure_count,
                    sa.case(
                        (alerts.c.execution_id == run.id, alerts.c.failure_count),
                        else_=alerts.c.failure_count + 1,
                    ),
                ),
                (alerts.c.execution_id, run.id),
                (alerts.c.summary, run.meaning),
            )
        )
        return int(existing.id)
    result = conn.execute(
        alerts.insert().values(
            task_name=run.task_name,
            kind="failure",
            state="open",
            severity=task.priority if task else "high",
            summary=run.meaning,
            execution_id=run.id,
            failure_count=1,
            opened_at=utcnow(),
        )
    )
    key = result.inserted_primary_key
    return int(key[0]) if key else None


def claim(conn: Connection, alert_id: int, renotify: dt.timedelta) -> bool:
    """Take the right to announce an alert now, inside the caller's transaction (which then
    writes the message to the outbox); False if it was announced within `renotify` already.

    The watchdog and the OnFailure= fallback may both want to announce the same alert; only
    the one whose conditional UPDATE changes the row does, so one message goes out.
    """
    now = utcnow()
    result = conn.execute(
        alerts.update()
        .where(
            alerts.c.id == alert_id,
            sa.or_(
                alerts.c.state == "open",
                sa.and_(alerts.c.state == "notified", alerts.c.last_notified_at < now - renotify),
            ),
        )
        .values(state="notified", last_notified_at=now, notify_count=alerts.c.notify_count + 1)
    )
    return bool(result.rowcount == 1)
