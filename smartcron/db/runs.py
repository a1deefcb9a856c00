"""Queries on runs, shared by the CLI, the dashboard, the API and /metrics.

Every query on `executions` uses an index (task_name+started_at+id+outcome, started_at,
outcome+started_at, task_name+outcome+started_at); the latest run of each task is one index
seek per task.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcron.db.schema import LATEST_INDEX, executions, state, task_daily_stats
from smartcron.db.schema import tasks as tasks_table
from smartcron.db.state import set_state
from smartcron.model.outcome import FAILURE_OUTCOMES, FINISHED_OUTCOMES, SKIP_OUTCOMES

PAGE = 50


def recent_runs(
    conn: Connection, task: str | None = None, *, failed: bool = False, limit: int = 20
) -> list[Any]:
    """Return the newest runs (of one task, or of all), newest first; `failed`: failures only."""
    query = sa.select(executions).order_by(executions.c.started_at.desc(), executions.c.id.desc())
    if task:
        query = query.where(executions.c.task_name == task)
    if failed:
        query = query.where(executions.c.outcome.in_(FAILURE_OUTCOMES))
    return list(conn.execute(query.limit(limit)))


def find_run(conn: Connection, task: str, run_id: int | None = None) -> Any:
    """Return run `run_id` of `task`, or its latest run when no id is given (None if none)."""
    query = sa.select(executions).where(executions.c.task_name == task)
    if run_id:
        query = query.where(executions.c.id == run_id)
    else:
        query = query.order_by(executions.c.started_at.desc(), executions.c.id.desc()).limit(1)
    return conn.execute(query).first()


def get_run(conn: Connection, run_id: int) -> Any:
    """Return run `run_id` of any task (None if there is no such run)."""
    return conn.execute(sa.select(executions).where(executions.c.id == run_id)).first()


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


# Every column but the output tail (up to 8 KB a run, 8 MB for 1,000 tasks): no list of
# latest runs shows it. BRIEF: what a task's state (ok, running, failing) and sorting need.
LISTED = [c for c in executions.c if c.name != "output_tail"]
BRIEF = [executions.c[n] for n in ("id", "task_name", "outcome", "started_at")]
ALL_TASKS_FROM = 100


def last_runs(conn: Connection, names: Sequence[str], *, brief: bool = False) -> dict[str, Any]:
    """Given task names, return {name: its latest run row}: every column but output_tail, or
    with `brief` only id, task_name, outcome and started_at.

    The latest run is the newest that ran, is running or did not run for its chain (not-run);
    a gate's skip (SKIP_OUTCOMES: ran on another host, skipped, maintenance window) is not a
    run, so it never hides the outcome before it. A task with only skips has no latest run.

    Each task's latest run is one backward scan of the (task_name, started_at, id, outcome)
    index, which holds the outcome, so skips are passed over without reading their rows, and
    one primary-key read, the same on SQLite and MariaDB. MariaDB is told to use that index:
    given the outcome condition it chose (task_name, outcome, started_at) and sorted every run
    of the task (330 ms instead of 40 for 1,000 tasks of 500 runs). For more than
    ALL_TASKS_FROM names the statement
    reads every task's and keeps the asked ones: MariaDB took twice as long with a list of 500
    names to match (a range read per name) as with the whole tasks index.
    """
    latest = (
        sa.select(executions.c.id)
        .with_hint(executions, f"FORCE INDEX ({LATEST_INDEX})", "mysql")
        .where(
            executions.c.task_name == tasks_table.c.name,
            executions.c.outcome.not_in(SKIP_OUTCOMES),
        )
        .order_by(executions.c.started_at.desc(), executions.c.id.desc())
        .limit(1)
        .correlate(tasks_table)
        .scalar_subquery()
    )
    query = sa.select(*(BRIEF if brief else LISTED)).select_from(
        tasks_table.join(executions, executions.c.id == latest)
    )
    if len(names) > ALL_TASKS_FROM:
        wanted = set(names)
        return {row.task_name: row for row in conn.execute(query) if row.task_name in wanted}
    rows: dict[str, Any] = {}
    for chunk in range(0, len(names), 500):
        part = query.where(tasks_table.c.name.in_(list(names[chunk : chunk + 500])))
        rows.update({row.task_name: row for row in conn.execute(part)})
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
    """Given task names, return their runs, success rate and median duration over 7 days.

    The runs are those that ran and finished (FINISHED_OUTCOMES): a gate's skip, a not-run
    row and a running run are not counted, so the rate is the successes among the finished
    runs, each success counted whether or not its duration is known. The median is that of
    the successes with a duration.

    Both computed by the database: the runs and successes counted from an index alone, the
    median of the successes' durations as the average of the middle one or two by rank
    (window functions, SQLite 3.25+ and MariaDB 10.2+). Fetching each run's duration instead
    cost 120 ms a page of 100 tasks on MariaDB (7,800 rows through PyMySQL).
    """
    since = now - dt.timedelta(days=7)
    counts: dict[str, tuple[int, int]] = {}
    medians: dict[str, float] = {}
    c = executions.c
    for chunk in range(0, len(names), 200):
        part = list(names[chunk : chunk + 200])
        # Both counts from one index alone, no run's row read: both databases take a range
        # of (task_name, outcome, started_at) per task and finished outcome.
        counted = (
            sa.select(
                c.task_name,
                sa.func.count(),
                sa.func.sum(sa.case((c.outcome == "success", 1), else_=0)),
            )
            .where(
                c.task_name.in_(part),
                c.started_at >= since,
                c.outcome.in_(FINISHED_OUTCOMES),
            )
            .group_by(c.task_name)
        )
        for name, n, ok in conn.execute(counted):
            counts[name] = (int(n), int(ok or 0))
        ranked = (
            sa.select(
                c.task_name,
                c.duration_s,
                sa.func.row_number()
                .over(partition_by=c.task_name, order_by=c.duration_s)
                .label("rank"),
                sa.func.count().over(partition_by=c.task_name).label("n"),
            )
            .where(
                c.task_name.in_(part),
                c.started_at >= since,
                c.outcome == "success",
                c.duration_s.is_not(None),
            )
            .subquery()
        )
        # The middle rank of n (n odd), or the two middle ranks (n even): n <= 2 rank <= n + 2.
        middle = sa.select(ranked.c.task_name, sa.func.avg(ranked.c.duration_s)).where(
            2 * ranked.c.rank >= ranked.c.n, 2 * ranked.c.rank <= ranked.c.n + 2
        )
        for name, median in conn.execute(middle.group_by(ranked.c.task_name)):
            medians[name] = float(median)
    return {n: Stats(*counts.get(n, (0, 0)), medians.get(n)) for n in names}


def runs_by_hour(conn: Connection, now: dt.datetime) -> list[tuple[dt.datetime, int, int]]:
    """Return (hour, successes, failures) for each of the last 24 hours, oldest first: UTC
    hours, the last one the hour `now` is in (a start after `now`, a clock ahead, counts in it).

    Only runs that ran and finished are counted: a success, or one of FAILURE_OUTCOMES. A
    gate's skip and a not-run row did not run (and a running run has no outcome yet), so they
    are neither, where "all but the successes" had counted them as failures. One statement,
    counted by the database from the (outcome, started_at) index alone: no run row is read,
    so the cost stays flat however many runs a day brings.
    """
    # UTC hours whatever zone `now` is in: SQLite's buckets are the stored UTC text, and a zone
    # off by half an hour (India, +05:30) would otherwise start each hour at :30.
    start = (now.astimezone(dt.UTC) - dt.timedelta(hours=23)).replace(
        minute=0, second=0, microsecond=0
    )
    hours = [start + dt.timedelta(hours=i) for i in range(24)]
    expression, index_of = _hours_since(conn.dialect.name, start)
    bucket = expression.label("bucket")
    query = (
        sa.select(executions.c.outcome, bucket, sa.func.count())
        .where(executions.c.outcome.in_(FINISHED_OUTCOMES))
        .where(executions.c.started_at >= start)
        .group_by(executions.c.outcome, sa.literal_column("bucket"))
    )
    ok: dict[int, int] = {}
    failed: dict[int, int] = {}
    for outcome, b, n in conn.execute(query):
        counted = ok if outcome == "success" else failed
        counted[index_of(b)] = counted.get(index_of(b), 0) + int(n)
    return [(hour, ok.get(i, 0), failed.get(i, 0)) for i, hour in enumerate(hours)]


def _hours_since(dialect: str, start: dt.datetime) -> tuple[Any, Callable[[Any], int]]:
    """Given the chart's first hour (UTC, on the hour), return an expression the database
    groups runs by and a function from its value to the hour's index (0-23; later starts, a
    clock ahead, in 23).

    MariaDB computes whole hours since `start`. SQLite stores times as 'YYYY-MM-DD
    HH:MM:SS.ffffff' (UTCDateTime), so the hour is the first 13 characters: grouping by them
    costs an eighth of a CASE of 24 comparisons per run (17 ms a chart at 11,000 runs a day).
    """
    if dialect == "mysql":
        at = sa.bindparam("chart_start", start, type_=executions.c.started_at.type)
        hours = sa.func.timestampdiff(sa.text("HOUR"), at, executions.c.started_at)
        return hours, lambda value: min(int(value), 23)
    index = {f"{start + dt.timedelta(hours=i):%Y-%m-%d %H}": i for i in range(24)}
    return sa.func.substr(executions.c.started_at, 1, 13), lambda value: index.get(value, 23)


def task_runs(
    conn: Connection, name: str | None, outcome: str | None, page: int, host: str | None = None
) -> tuple[list[Any], bool]:
    """Return one page of runs (newest first), of a task or of all, and whether more follow;
    only those recorded by `host` when given."""
    query = sa.select(executions)
    if name is not None:
        query = query.where(executions.c.task_name == name)
    if host:
        query = query.where(executions.c.host == host)
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


def record_skip(
    conn: Connection,
    *,
    task_id: int | None,
    task: str,
    invocation_id: str,
    host: str,
    outcome: str,
    meaning: str,
    at: dt.datetime,
) -> dict[str, Any] | None:
    """Record a run the gate ended before its command (ops/gate.py), keyed by the unit's
    invocation id: inserted, or written over the watchdog's "running" row for the same
    invocation (the watchdog saw the start first); return the row's values with its id. A
    finished row is left as it is (None)."""
    values = {
        "task_id": task_id,
        "task_name": task,
        "trigger": "timer",
        "attempt": 1,
        "started_at": at,
        "finished_at": at,
        "duration_s": 0.0,
        "result": "exec-condition",
        "outcome": outcome,
        "meaning": meaning,
        "recorded_at": at,
        "host": host,
    }
    exists = conn.execute(
        sa.select(executions.c.id).where(executions.c.invocation_id == invocation_id)
    ).first()
    recorded = {**values, "invocation_id": invocation_id}
    if exists is not None:
        updated = conn.execute(
            executions.update()
            .where(executions.c.id == exists.id, executions.c.outcome == "running")
            .values(**{k: v for k, v in values.items() if k != "trigger"})
        ).rowcount
        return {**recorded, "id": int(exists.id)} if updated else None
    key = conn.execute(executions.insert().values(**recorded)).inserted_primary_key
    return {**recorded, "id": int(key[0]) if key else None}


WAIT_PREFIX = "wait:"  # + invocation id: a group wait recorded before the run's row existed


def record_wait(conn: Connection, invocation_id: str, seconds: float) -> None:
    """Record how long a run waited for a slot of its concurrency group (ops/groups.py), in
    the caller's transaction: on the run's row when the watchdog has written it, else kept
    in the state table under WAIT_PREFIX + id until the watchdog writes the row
    (`take_wait`)."""
    updated = conn.execute(
        executions.update()
        .where(executions.c.invocation_id == invocation_id)
        .values(wait_seconds=seconds)
    ).rowcount
    if not updated:
        set_state(conn, WAIT_PREFIX + invocation_id, repr(seconds))


def take_wait(conn: Connection, invocation_id: str) -> float | None:
    """Return the group wait recorded for a run before its row existed (None if none) and
    remove it: the caller writes it on the row in the same transaction."""
    key = WAIT_PREFIX + invocation_id
    value = conn.execute(sa.select(state.c.value).where(state.c.key == key)).scalar()
    if value is not None:
        conn.execute(state.delete().where(state.c.key == key))
    return None if value is None else float(value)
