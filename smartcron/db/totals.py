"""Run totals per (task, host, outcome): counted once, when a run is recorded as finished.

`smartcron prune` deletes old runs but never these rows, so the Prometheus counters built from
them never go down. One upsert per finished run, in the transaction that records it.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.engine import Connection

from smartcron.db.schema import DURATION_BUCKETS, bucket_column, run_totals


def bucket_of(duration: float | None) -> str | None:
    """Return the bucket column a duration is counted in (None: unknown or above the last)."""
    if duration is None:
        return None
    for bound in DURATION_BUCKETS:
        if duration <= bound:
            return bucket_column(bound)
    return None


KEYS = ("task_name", "host", "outcome", "last_started_at")  # not added up on conflict


def add_run(
    conn: Connection,
    task: str,
    outcome: str,
    duration: float | None,
    started_at: dt.datetime,
    *,
    host: str | None,
) -> None:
    """Count one finished run of `host` (executions.host; None: unknown, counted as "") in the
    caller's transaction."""
    bucket = bucket_of(duration)
    params: dict[str, Any] = {
        "p_task_name": task,
        "p_host": host or "",
        "p_outcome": outcome,
        "p_runs": 1,
        "p_duration_count": 0 if duration is None else 1,
        "p_duration_sum_s": duration or 0.0,
        "p_last_started_at": started_at,
    }
    if bucket is not None:
        params[f"p_{bucket}"] = 1
    conn.execute(_upsert(conn.dialect.name, bucket), params)


@functools.lru_cache(maxsize=64)
def _upsert(dialect: str, bucket: str | None) -> Any:
    """The upsert of add_run for one dialect and duration bucket, built once: building it
    per run (its `excluded` columns, its cache key) cost more than executing it."""
    c = run_totals.c
    names = ["task_name", "host", "outcome", "runs", "duration_count", "duration_sum_s"]
    names += ["last_started_at", *([bucket] if bucket else [])]
    values = {k: sa.bindparam(f"p_{k}", type_=c[k].type) for k in names}
    added = [k for k in names if k not in KEYS]
    if dialect == "mysql":
        statement = mysql.insert(run_totals).values(**values)
        new: Any = statement.inserted
        changes = {k: c[k] + new[k] for k in added}
        changes["last_started_at"] = sa.func.greatest(
            sa.func.coalesce(c.last_started_at, new.last_started_at), new.last_started_at
        )
        return statement.on_duplicate_key_update(**changes)
    lite = sqlite.insert(run_totals).values(**values)
    excluded: Any = lite.excluded
    changes = {k: c[k] + excluded[k] for k in added}
    changes["last_started_at"] = sa.func.max(
        sa.func.coalesce(c.last_started_at, excluded.last_started_at), excluded.last_started_at
    )
    return lite.on_conflict_do_update(index_elements=["task_name", "host", "outcome"], set_=changes)


def duration_sums() -> sa.Select[Any]:
    """Return the query of (task, host, runs with a duration, their total seconds, then the
    count per bucket in DURATION_BUCKETS order, not cumulative), every outcome together."""
    c = run_totals.c
    return sa.select(
        c.task_name,
        c.host,
        sa.func.sum(c.duration_count),
        sa.func.coalesce(sa.func.sum(c.duration_sum_s), 0.0),
        *[sa.func.sum(c[bucket_column(b)]) for b in DURATION_BUCKETS],
    ).group_by(c.task_name, c.host)
