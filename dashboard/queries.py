"""Per-process caches for what every page shows: the task list (re-read only when the tasks
table changed) and each schedule's next run (kept until it has passed).

The queries themselves live in smartcron.db (runs, alerts, health, audit), shared with the
CLI and the API; next runs come from smartcron.model.schedule, the one place that computes
them, evaluated in-process.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcron.db.schema import tasks as tasks_table
from smartcron.db.tasks import list_tasks
from smartcron.model import schedule
from smartcron.model.task import Task

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
    found = list_tasks(conn)
    with _cache_lock:
        _tasks_cache[where] = (version, found)
    return list(found)


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
        times = schedule.next_runs(task.schedule, task.timezone, now, 1)
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
