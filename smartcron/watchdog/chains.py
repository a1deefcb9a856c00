"""The watchdog's part in chains: the runs a chain did not make (a follower whose
predecessor failed for good), and the joins it starts (followers of several predecessors).

systemd starts a follower through `OnSuccess=` of its predecessor's service (model/chains.py),
so after a failure nothing happens and nothing is logged. The watchdog, which records the
failed run, writes one `not-run` row for each follower in the same transaction, saying which
predecessor failed and why the follower did not run: never silently absent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcron.db.schema import executions, tasks, utcnow
from smartcron.db.tasks import list_tasks
from smartcron.model import chains
from smartcron.model.outcome import (
    FAILURE_OUTCOMES,
    NOT_RUN,
    NOT_RUNS,
    join_refused_meaning,
    not_run_meaning,
)

if TYPE_CHECKING:
    from smartcron.watchdog.lookups import Lookups

TRIGGER = "chain"


def not_run_id(invocation: str, follower: str) -> str:
    """The invocation id of a follower's not-run row: derived from the predecessor's failed
    run, so recording the same failure twice writes the row once."""
    return hashlib.sha256(f"{invocation}|{follower}".encode()).hexdigest()[:32]


def _write_not_run(
    conn: Connection, task: str, invocation: str, at: dt.datetime, meaning: str, host: str | None
) -> dict[str, Any]:
    """Write one not-run row, recorded by the watchdog of `host`; return its column values
    with its id. Every row names the host that recorded it (`runs --host`, the dashboard's
    host filter): a not-run row without one was missed by them."""
    task_id = conn.execute(sa.select(tasks.c.id).where(tasks.c.name == task)).scalar()
    row: dict[str, Any] = {
        "task_id": task_id,
        "task_name": task,
        "invocation_id": invocation,
        "host": host,
        "trigger": TRIGGER,
        "attempt": 1,
        "started_at": at,
        "finished_at": at,
        "outcome": NOT_RUN,
        "meaning": meaning,
        "recorded_at": utcnow(),
    }
    key = conn.execute(executions.insert().values(**row)).inserted_primary_key
    return {**row, "id": int(key[0]) if key else None}


def record_join_refused(
    conn: Connection, task: str, reason: str, host: str | None
) -> dict[str, Any]:
    """Record that a join whose predecessors all succeeded could not be started (by the
    watchdog of `host`, which tried to start it); return the row written."""
    at = utcnow()
    invocation = hashlib.sha256(f"join|{task}|{at.isoformat()}".encode()).hexdigest()[:32]
    return _write_not_run(conn, task, invocation, at, join_refused_meaning(reason), host)


def record_not_run(
    conn: Connection, values: dict[str, Any], retrying: bool, lookups: Lookups | None = None
) -> list[dict[str, Any]]:
    """Given the column values of a finished run just written and whether systemd retries
    it, write a not-run row for each follower when it failed for good; return the rows
    written (their column values, with their ids). `lookups` reads the tasks once per batch
    (watchdog/lookups.py)."""
    if retrying or values.get("outcome") not in FAILURE_OUTCOMES:
        return []
    predecessor = str(values["task_name"])
    if lookups is not None and not lookups.has_followers(predecessor):
        return []
    everyone = lookups.everyone() if lookups is not None else list_tasks(conn)
    followers = chains.followers(everyone).get(predecessor, ())
    finished = values.get("finished_at") or utcnow()
    written = []
    for follower in followers:
        invocation = not_run_id(str(values["invocation_id"]), follower)
        exists = conn.execute(
            sa.select(executions.c.id).where(executions.c.invocation_id == invocation)
        ).first()
        if exists is not None:
            continue
        meaning = not_run_meaning(
            predecessor, str(values["outcome"]), finished.strftime("%Y-%m-%d %H:%M:%S UTC")
        )
        # The host of the watchdog recording the failed run (write_event's `host`).
        host = values.get("host")
        written.append(_write_not_run(conn, follower, invocation, finished, meaning, host))
    return written


@dataclass
class JoinBook:
    """The writer's record of joins: when it last started each, and those to start next."""

    started: dict[str, dt.datetime] = field(default_factory=dict)
    ready: list[str] = field(default_factory=list)


def joins_ready(
    conn: Connection,
    values: dict[str, Any],
    started: Mapping[str, dt.datetime],
    lookups: Lookups | None = None,
) -> list[str]:
    """Given the column values of a finished run just written and when this watchdog last
    started each join, return the joins (followers with several predecessors) that this
    success completes: every predecessor succeeded since the join last ran."""
    if values.get("outcome") != "success":
        return []
    if lookups is not None and not lookups.has_followers(str(values["task_name"]), joins_only=True):
        return []
    everyone = lookups.everyone() if lookups is not None else list_tasks(conn)
    names = chains.joins(everyone).get(str(values["task_name"]), ())
    ready = []
    for task in (t for t in everyone if t.name in names):
        last_success = {
            pred: conn.execute(
                sa.select(sa.func.max(executions.c.finished_at)).where(
                    executions.c.task_name == pred, executions.c.outcome == "success"
                )
            ).scalar()
            for pred in task.after
        }
        own = conn.execute(
            sa.select(sa.func.max(executions.c.started_at)).where(
                executions.c.task_name == task.name,
                executions.c.outcome.not_in(NOT_RUNS),
            )
        ).scalar()
        marks = [m for m in (own, started.get(task.name)) if m is not None]
        if not chains.waiting_for(task.after, last_success, max(marks) if marks else None):
            ready.append(task.name)
    return ready
