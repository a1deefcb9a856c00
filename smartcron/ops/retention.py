"""Retention (`smartcron prune`): old runs are rolled up into `task_daily_stats`, then deleted.

Work goes in batches, each one transaction: read a batch of the oldest runs, add their figures
to the daily totals, delete them, commit. A crash between batches loses nothing and counts
nothing twice, and the database is never locked for long. Resolved alerts and health checks
older than the cut-off are deleted in batches the same way.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from smartcron.db.engine import db_errors
from smartcron.db.runs import WAIT_PREFIX
from smartcron.db.schema import (
    alerts,
    claims,
    executions,
    health_checks,
    state,
    task_daily_stats,
)
from smartcron.model.outcome import FAILURE_OUTCOMES


@dataclass
class PruneResult:
    runs: int = 0
    alerts: int = 0
    health_checks: int = 0
    claims: int = 0
    waits: int = 0
    batches: int = 0
    days: int = 0  # (task, day) totals created or added to


def _old_runs(cutoff: dt.datetime) -> Any:
    return sa.and_(
        executions.c.outcome != "running",
        sa.or_(
            executions.c.started_at < cutoff,
            sa.and_(executions.c.started_at.is_(None), executions.c.recorded_at < cutoff),
        ),
    )


def _roll_up(conn: Connection, rows: Sequence[Any]) -> int:
    """Add a batch of runs to the daily totals; return how many (task, day) totals changed."""
    totals: dict[tuple[str, dt.date], list[float]] = defaultdict(lambda: [0, 0, 0, 0.0, 0.0])
    for row in rows:
        moment = row.started_at or row.recorded_at
        entry = totals[(row.task_name, moment.astimezone(dt.UTC).date())]
        entry[0] += 1
        entry[1] += row.outcome == "success"
        entry[2] += row.outcome in FAILURE_OUTCOMES
        entry[3] += row.duration_s or 0.0
        entry[4] = max(entry[4], row.duration_s or 0.0)
    for (task, day), (runs, ok, failed, total, longest) in totals.items():
        key = (task_daily_stats.c.task_name == task, task_daily_stats.c.day == day)
        existing = conn.execute(sa.select(task_daily_stats).where(*key)).first()
        if existing is None:
            conn.execute(
                task_daily_stats.insert().values(
                    task_name=task,
                    day=day,
                    runs=runs,
                    successes=ok,
                    failures=failed,
                    total_duration_s=total,
                    max_duration_s=longest,
                )
            )
        else:
            conn.execute(
                task_daily_stats.update()
                .where(*key)
                .values(
                    runs=existing.runs + runs,
                    successes=existing.successes + ok,
                    failures=existing.failures + failed,
                    total_duration_s=existing.total_duration_s + total,
                    max_duration_s=max(existing.max_duration_s, longest),
                )
            )
    return len(totals)


def _delete_in_batches(engine: Engine, table: sa.Table, where: Any, batch: int) -> tuple[int, int]:
    deleted = batches = 0
    while True:
        with engine.begin() as conn:
            ids = list(conn.execute(sa.select(table.c.id).where(where).limit(batch)).scalars())
            if not ids:
                return deleted, batches
            conn.execute(table.delete().where(table.c.id.in_(ids)))
        deleted += len(ids)
        batches += 1


def prune(
    engine: Engine, older_than: dt.timedelta, now: dt.datetime, batch: int = 5000
) -> PruneResult:
    """Given a retention period, roll up and delete older runs, alerts and health checks."""
    cutoff = now - older_than
    result = PruneResult()
    with db_errors(engine):
        while True:
            with engine.begin() as conn:
                rows = conn.execute(
                    sa.select(
                        executions.c.id,
                        executions.c.task_name,
                        executions.c.started_at,
                        executions.c.recorded_at,
                        executions.c.outcome,
                        executions.c.duration_s,
                    )
                    .where(_old_runs(cutoff))
                    .order_by(executions.c.started_at)
                    .limit(batch)
                ).all()
                if not rows:
                    break
                result.days += _roll_up(conn, rows)
                conn.execute(executions.delete().where(executions.c.id.in_([r.id for r in rows])))
            result.runs += len(rows)
            result.batches += 1
        gone, batches = _delete_in_batches(
            engine,
            alerts,
            sa.and_(alerts.c.state == "resolved", alerts.c.resolved_at < cutoff),
            batch,
        )
        result.alerts, result.batches = gone, result.batches + batches
        gone, batches = _delete_in_batches(
            engine, health_checks, health_checks.c.checked_at < cutoff, batch
        )
        result.health_checks, result.batches = gone, result.batches + batches
        # Claims only matter while their slot can still be run (gate.py); old ones are noise.
        gone, batches = _delete_in_batches(engine, claims, claims.c.claimed_at < cutoff, batch)
        result.claims, result.batches = gone, result.batches + batches
        # A group wait kept for a run whose row was never written (db/runs.record_wait).
        old_wait = sa.and_(state.c.key.startswith(WAIT_PREFIX), state.c.updated_at < cutoff)
        with engine.begin() as conn:  # a handful of rows at most: one statement
            result.waits = conn.execute(state.delete().where(old_wait)).rowcount
    return result
