"""The runs a chain did not make: a follower whose predecessor failed for good.

systemd starts a follower through `OnSuccess=` of its predecessor's service (model/chains.py),
so after a failure nothing happens and nothing is logged. The watchdog, which records the
failed run, writes one `not-run` row for each follower in the same transaction, saying which
predecessor failed and why the follower did not run: never silently absent.
"""

from __future__ import annotations

import hashlib
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcron.db.schema import executions, tasks, utcnow
from smartcron.db.tasks import list_tasks
from smartcron.model import chains
from smartcron.model.outcome import FAILURE_OUTCOMES, NOT_RUN, not_run_meaning

TRIGGER = "chain"


def not_run_id(invocation: str, follower: str) -> str:
    """The invocation id of a follower's not-run row: derived from the predecessor's failed
    run, so recording the same failure twice writes the row once."""
    return hashlib.sha256(f"{invocation}|{follower}".encode()).hexdigest()[:32]


def record_not_run(
    conn: Connection, values: dict[str, Any], retrying: bool
) -> list[dict[str, Any]]:
    """Given the column values of a finished run just written and whether systemd retries
    it, write a not-run row for each follower when it failed for good; return the rows
    written (their column values, with their ids)."""
    if retrying or values.get("outcome") not in FAILURE_OUTCOMES:
        return []
    predecessor = str(values["task_name"])
    followers = chains.followers(list_tasks(conn)).get(predecessor, ())
    finished = values.get("finished_at") or utcnow()
    written = []
    for follower in followers:
        invocation = not_run_id(str(values["invocation_id"]), follower)
        exists = conn.execute(
            sa.select(executions.c.id).where(executions.c.invocation_id == invocation)
        ).first()
        if exists is not None:
            continue
        task_id = conn.execute(sa.select(tasks.c.id).where(tasks.c.name == follower)).scalar()
        row: dict[str, Any] = {
            "task_id": task_id,
            "task_name": follower,
            "invocation_id": invocation,
            "trigger": TRIGGER,
            "attempt": 1,
            "started_at": finished,
            "finished_at": finished,
            "outcome": NOT_RUN,
            "meaning": not_run_meaning(
                predecessor, str(values["outcome"]), finished.strftime("%Y-%m-%d %H:%M:%S UTC")
            ),
            "recorded_at": utcnow(),
        }
        key = conn.execute(executions.insert().values(**row)).inserted_primary_key
        written.append({**row, "id": int(key[0]) if key else None})
    return written
