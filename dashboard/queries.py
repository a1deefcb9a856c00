"""What the pages show, read with queries that stay fast on years of runs.

Every query on `executions` uses an index (task_name+started_at, started_at,
task_name+outcome+started_at); the latest run of each task is one index seek per task.
Figures that cost a scan over all tasks (upcoming runs) are cached for a few seconds.
"""

from __future__ import annotations

import datetime as dt
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcron.db import store
from smartcron.db.schema import alerts, audit_log, executions, health_checks, task_daily_stats
from smartcron.db.schema import tasks as tasks_table
from smartcron.model import schedule
from smartcron.model.outcome import FAILURE_OUTCOMES
from smartcron.model.task import Task

PAGE = 50
T = TypeVar("T")
_cache: dict[str, tuple[float, Any]] = {}
_cache_lock = threading.Lock()


def cached(key: str, ttl: float, compute: Callable[[], T]) -> T:
    """Return the cached value of `key` if younger than `ttl` seconds, else compute it."""
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None and now - hit[0] < ttl:
        value: T = hit[1]
        return value
    value = compute()
    with _cache_lock:
        _cache[key] = (now, value)
    return value


_tasks_cache: dict[str, Any] = {}


def all_tasks(conn: Connection) -> list[Task]:
    """Return every task, re-read only when the tasks table has changed.

    Building 1,000 Task objects costs tens of milliseconds; one aggregate query tells whether
    anything was added, edited (updated_at), paused or deleted since the last read.
    """
    version = tuple(
        conn.execute(
            sa.select(
                sa.func.count(),
                sa.func.max(tasks_table.c.updated_at),
                sa.func.max(tasks_table.c.id),
            )
        ).one()
    )
    where = str(conn.engine.url)
    with _cache_lock:
        known = _tasks_cache.get(where)
    if known is not None and known[0] == version:
        return list(known[1])
    found = store.list_tasks(conn)
    with _cache_lock:
        _tasks_cache[where] = (version, found)
    return list(found)


def _per_task(conn: Connection, names: Sequence[str], column: Any) -> dict[str, Any]:
    """Evaluate a correlated scalar subquery for each task in one statement.

    `column` refers to `tasks_table.c.name`; each task costs one index seek on the server, and
    the whole set one round trip, on SQLite and MariaDB alike.
    """
    out: dict[str, Any] = {}
    for chunk in range(0, len(names), 500):
        part = list(names[chunk : chunk + 500])
        query = sa.select(tasks_table.c.name, column.label("value")).where(
            tasks_table.c.name.in_(part)
        )
        out.update({name: value for name, value in conn.execute(query)})
    return out


def last_runs(conn: Connection, names: Sequence[str]) -> dict[str, Any]:
    """Given task names, return {name: its latest run row}."""
    if not names:
        return {}
    latest = (
        sa.select(executions.c.id)
        .where(executions.c.task_name == tasks_table.c.name)
        .order_by(executions.c.started_at.desc(), executions.c.id.desc())
        .limit(1)
        .correlate(tasks_table)
        .scalar_subquery()
    )
    ids = [i for i in _per_task(conn, names, latest).values() if i is not None]
    rows: dict[str, Any] = {}
    for chunk in range(0, len(ids), 500):
        for row in conn.execute(
            sa.select(executions).where(executions.c.id.in_(ids[chunk : chunk + 500]))
        ):
            rows[row.task_name] = row
    return rows


@dataclass(frozen=True)
class Stats:
    runs: int
    successes: int
    median_s: float | None

    @property
    def rate(self) -> float | None:
        return None if not self.runs else 100.0 * self.successes / self.runs


def week_stats(conn: Connection, names: Sequence[str], now: dt.datetime) -> dict[str, Stats]:
    """Given task names, return their success rate and median duration over 7 days."""
    since = now - dt.timedelta(days=7)
    durations: dict[str, list[float]] = {n: [] for n in names}
    runs: dict[str, int] = dict.fromkeys(names, 0)
    for chunk in range(0, len(names), 200):
        part = list(names[chunk : chunk + 200])
        for name, outcome, duration in conn.execute(
            sa.select(executions.c.task_name, executions.c.outcome, executions.c.duration_s).where(
                executions.c.task_name.in_(part),
                executions.c.started_at >= since,
                executions.c.outcome != "running",
            )
        ):
            runs[name] += 1
            if outcome == "success" and duration is not None:
                durations[name].append(duration)
    return {
        n: Stats(
            runs[n], len(durations[n]), statistics.median(durations[n]) if durations[n] else None
        )
        for n in names
    }


_next: dict[tuple[str, str], dt.datetime | None] = {}


def next_run(task: Task, now: dt.datetime) -> dt.datetime | None:
    """Return the task's next scheduled start (None when paused or never).

    A computed next start stays right until it has passed, so it is kept until then: each
    schedule is evaluated about once per run, not once per page view.
    """
    if task.paused:
        return None
    key = (task.schedule, task.timezone)
    with _cache_lock:
        known = _next.get(key)
    if known is not None and known > now:
        return known
    try:
        times = schedule.next_times(task.schedule, task.timezone, now, 1)
    except Exception:  # noqa: BLE001 - a schedule we cannot evaluate shows as "-", never a 500
        return None
    when = times[0] if times else None
    with _cache_lock:
        if len(_next) > 10_000:
            _next.clear()
        _next[key] = when
    return when


def upcoming(
    tasks: Sequence[Task], now: dt.datetime, within: dt.timedelta
) -> list[tuple[dt.datetime, Task]]:
    """Return (start, task) for every run scheduled from now to now + within, soonest first."""
    out = []
    for task in tasks:
        when = next_run(task, now)
        if when is not None and when <= now + within:
            out.append((when, task))
    return sorted(out, key=lambda pair: (pair[0], pair[1].name))


def runs_by_hour(conn: Connection, now: dt.datetime) -> list[tuple[dt.datetime, int, int]]:
    """Return (hour, successes, failures) for each of the last 24 hours, oldest first.

    Counted by the database from indexes alone (started_at; outcome+started_at): no run row is
    read, so the cost stays flat however many runs a day brings.
    """
    start = (now - dt.timedelta(hours=23)).replace(minute=0, second=0, microsecond=0)
    hours = [start + dt.timedelta(hours=i) for i in range(24)]
    bucket = sa.case(
        *[
            (executions.c.started_at < hour + dt.timedelta(hours=1), i)
            for i, hour in enumerate(hours)
        ],
        else_=23,
    ).label("bucket")

    def counts(*where: Any) -> dict[int, int]:
        query = (
            sa.select(bucket, sa.func.count())
            .where(executions.c.started_at >= start, *where)
            .group_by(bucket)
        )
        return {int(b): int(n) for b, n in conn.execute(query)}

    total = counts()
    ok = counts(executions.c.outcome == "success")
    running = counts(executions.c.outcome == "running")
    return [
        (hour, ok.get(i, 0), total.get(i, 0) - ok.get(i, 0) - running.get(i, 0))
        for i, hour in enumerate(hours)
    ]


def task_runs(
    conn: Connection, name: str | None, outcome: str | None, page: int
) -> tuple[list[Any], bool]:
    """Return one page of runs (newest first), of a task or of all, and whether more follow."""
    query = sa.select(executions)
    if name is not None:
        query = query.where(executions.c.task_name == name)
    if outcome == "failures":
        query = query.where(executions.c.outcome.in_(FAILURE_OUTCOMES))
    elif outcome:
        query = query.where(executions.c.outcome == outcome)
    query = query.order_by(executions.c.started_at.desc(), executions.c.id.desc())
    rows = list(conn.execute(query.limit(PAGE + 1).offset((page - 1) * PAGE)))
    return rows[:PAGE], len(rows) > PAGE


def recent_durations(conn: Connection, name: str, count: int = 60) -> list[Any]:
    rows = conn.execute(
        sa.select(
            executions.c.id, executions.c.started_at, executions.c.duration_s, executions.c.outcome
        )
        .where(executions.c.task_name == name, executions.c.outcome != "running")
        .order_by(executions.c.started_at.desc())
        .limit(count)
    ).all()
    return list(reversed(rows))


def alert_rows(conn: Connection, states: Sequence[str], limit: int = 200) -> list[Any]:
    return list(
        conn.execute(
            sa.select(alerts)
            .where(alerts.c.state.in_(states))
            .order_by(alerts.c.opened_at.desc())
            .limit(limit)
        )
    )


def count_alerts(conn: Connection, states: Sequence[str]) -> int:
    return int(
        conn.execute(
            sa.select(sa.func.count()).select_from(alerts).where(alerts.c.state.in_(states))
        ).scalar()
        or 0
    )


def latest_health(conn: Connection) -> tuple[dt.datetime | None, list[Any]]:
    """Return the time of the newest health check round and its checks."""
    at = conn.execute(sa.select(sa.func.max(health_checks.c.checked_at))).scalar()
    if at is None:
        return None, []
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    rows = conn.execute(
        sa.select(health_checks)
        .where(health_checks.c.checked_at == at)
        .order_by(health_checks.c.status.desc(), health_checks.c.check_name)
    ).all()
    return at, list(rows)


def health_history(conn: Connection, name: str, limit: int = 60) -> list[Any]:
    return list(
        conn.execute(
            sa.select(health_checks)
            .where(health_checks.c.check_name == name)
            .order_by(health_checks.c.checked_at.desc())
            .limit(limit)
        )
    )


def audit_rows(conn: Connection, page: int) -> tuple[list[Any], bool]:
    rows = list(
        conn.execute(
            sa.select(audit_log)
            .order_by(audit_log.c.at.desc(), audit_log.c.id.desc())
            .limit(PAGE + 1)
            .offset((page - 1) * PAGE)
        )
    )
    return rows[:PAGE], len(rows) > PAGE


def failures_total(conn: Connection, names: Sequence[str]) -> dict[str, int]:
    """Return each task's number of failed runs ever recorded (a Prometheus counter).

    One count per failure outcome, added up: each is an exact (task_name, outcome) index range,
    where `outcome IN (...)` would make MariaDB read every run of the task.
    """
    counts = [
        sa.select(sa.func.count())
        .where(executions.c.task_name == tasks_table.c.name, executions.c.outcome == outcome)
        .correlate(tasks_table)
        .scalar_subquery()
        for outcome in FAILURE_OUTCOMES
    ]
    # Runs removed by `smartcron prune` live on in the daily totals: the counter never drops.
    rolled_up = (
        sa.select(sa.func.coalesce(sa.func.sum(task_daily_stats.c.failures), 0))
        .where(task_daily_stats.c.task_name == tasks_table.c.name)
        .correlate(tasks_table)
        .scalar_subquery()
    )
    total: sa.ColumnElement[Any] = rolled_up
    for count in counts:
        total = total + count
    return {name: int(value or 0) for name, value in _per_task(conn, names, total).items()}


def last_success(conn: Connection, names: Sequence[str]) -> dict[str, dt.datetime | None]:
    """Return the start of each task's latest successful run."""
    latest = (
        sa.select(executions.c.started_at)
        .where(executions.c.task_name == tasks_table.c.name, executions.c.outcome == "success")
        .order_by(executions.c.started_at.desc())
        .limit(1)
        .correlate(tasks_table)
        .scalar_subquery()
    )
    out = _per_task(conn, names, latest)
    # A raw scalar subquery bypasses the column type: make the values aware UTC datetimes.
    return {n: _aware(v) for n, v in out.items()}


def _aware(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    moment: dt.datetime = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
