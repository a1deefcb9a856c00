"""Prometheus /metrics: the families smartcron exposes, read from the database at scrape time.

FAMILIES is the one list of names, types, help texts and labels (the contrib rules and Grafana
board are checked against it, tests/unit/dashboard/test_contrib.py). Run counters, the duration
histogram and the latest run times come from `run_totals` (kept on write, pruned runs
included), per task and host; the rest from open alerts, the newest health round and the
tasks. No label carries state (a run's outcome is a counter label only).

Every figure is a function of what the database holds, so the text is kept per process and
served again while a handful of cheap aggregates (the change key, `_key`) are unchanged: a
new or finished run changes `run_totals`' total, an edited, added or deleted task the tasks'
count, latest change and id, and alerts, health and running runs are part of the key itself.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from smartcron.db.alerts import ACTIVE_STATES
from smartcron.db.schema import DURATION_BUCKETS, alerts, executions, health_checks, run_totals
from smartcron.db.schema import tasks as tasks_table
from smartcron.db.totals import duration_sums
from smartcron.model import schedule
from smartcron.model.outcome import NOT_RUNS
from smartcron.model.task import Task

from . import exposition, queries
from .exposition import Family, label_value

TASK_LABELS: tuple[str, ...] = ("task",)
RUN_LABELS: tuple[str, ...] = ("task", "host")  # host: executions.host, "" when unknown

RUNS = Family(
    "smartcron_runs",
    "counter",
    "Finished runs by outcome, runs deleted by `smartcron prune` included.",
    (*RUN_LABELS, "outcome"),
)
DURATION = Family(
    "smartcron_run_duration_seconds",
    "histogram",
    "Duration of finished runs (every outcome) from start to end.",
    RUN_LABELS,
)
LAST_RUN = Family(
    "smartcron_task_last_run_timestamp_seconds",
    "gauge",
    "Start of the task's latest finished run on the host.",
    RUN_LABELS,
)
LAST_SUCCESS = Family(
    "smartcron_task_last_success_timestamp_seconds",
    "gauge",
    "Start of the task's latest successful run on the host.",
    RUN_LABELS,
)
NEXT_RUN = Family(
    "smartcron_task_next_run_timestamp_seconds",
    "gauge",
    "When the task is next due: its first scheduled start after its latest start (or after "
    "its last change); in the past while that run has not started. Absent while paused.",
    TASK_LABELS,
)
UP = Family(
    "smartcron_task_up",
    "gauge",
    "1 if the task's latest finished run on the host succeeded, 0 if it did not.",
    RUN_LABELS,
)
ALERTS_OPEN = Family(
    "smartcron_alerts_open",
    "gauge",
    "Alerts not yet resolved (open, notified or acknowledged), by kind.",
    ("kind",),
)
WATCHDOG_SEEN = Family(
    "smartcron_watchdog_last_seen_timestamp_seconds",
    "gauge",
    "When the watchdog last stored a round of health checks (it does every minute).",
)
HEALTH = Family(
    "smartcron_health_score", "gauge", "Health score 0-100 from the watchdog's latest checks."
)
FAMILIES: tuple[Family, ...] = (
    RUNS,
    DURATION,
    LAST_RUN,
    LAST_SUCCESS,
    NEXT_RUN,
    UP,
    ALERTS_OPEN,
    WATCHDOG_SEEN,
    HEALTH,
)
# A start recorded this much before its slot still counts for it (ops/health.py late_runs).
EARLY = dt.timedelta(seconds=5)


def sample_names() -> set[str]:
    """Every sample name /metrics can expose."""
    return {name for family in FAMILIES for name in family.samples()}


def _stamp(moment: dt.datetime | None) -> float | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).timestamp()


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is None or moment.tzinfo:
        return moment
    return moment.replace(tzinfo=dt.UTC)


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _key(conn: Connection) -> tuple[Any, ...]:
    """What the text depends on, from cheap aggregates (indexes or small tables), in two
    statements: each round trip to a loaded MariaDB costs milliseconds."""
    scalar = sa.select
    latest = scalar(sa.func.max(health_checks.c.checked_at)).scalar_subquery()
    figures = conn.execute(
        sa.select(
            scalar(sa.func.count()).select_from(run_totals).scalar_subquery(),
            scalar(sa.func.sum(run_totals.c.runs)).scalar_subquery(),
            scalar(sa.func.count()).select_from(tasks_table).scalar_subquery(),
            scalar(sa.func.max(tasks_table.c.updated_at)).scalar_subquery(),
            scalar(sa.func.max(tasks_table.c.id)).scalar_subquery(),
            latest,
            scalar(health_checks.c.value)
            .where(health_checks.c.check_name == "score", health_checks.c.checked_at == latest)
            .limit(1)
            .scalar_subquery(),
        )
    ).one()
    # Running runs (their start counts for the next run) and open alerts by kind, together.
    parts = sa.union_all(
        sa.select(
            sa.literal("run").label("part"),
            executions.c.task_name.label("name"),
            sa.literal(None, sa.Integer).label("n"),
            sa.func.max(executions.c.started_at).label("at"),
        )
        .where(executions.c.outcome == "running")
        .group_by(executions.c.task_name),
        sa.select(
            sa.literal("alert"),
            alerts.c.kind,
            sa.func.count(),
            sa.literal(None, executions.c.started_at.type),
        )
        .where(alerts.c.state.in_(ACTIVE_STATES))
        .group_by(alerts.c.kind),
    ).subquery()
    rows = conn.execute(sa.select(parts).order_by(parts.c.part, parts.c.name)).all()
    today = dt.datetime.now(dt.UTC).date()  # schedules render per day (model/schedule)
    return (
        tuple(figures[:6]),
        tuple((name, int(n)) for part, name, n, _at in rows if part == "alert"),
        figures[6],
        tuple((name, at) for part, name, _n, at in rows if part == "run"),
        today,
    )


_cache: dict[str, tuple[tuple[Any, ...], str]] = {}
_lock = threading.Lock()


def text(engine: Engine) -> str:
    """Return the /metrics text of the database behind `engine`."""
    where = str(engine.url)
    with engine.connect() as conn:
        key = _key(conn)
        with _lock:
            known = _cache.get(where)
        if known is not None and known[0] == key:
            return known[1]
        body = _render(conn, key)
    with _lock:
        _cache[where] = (key, body)
    return body


_next: dict[tuple[str, str, dt.datetime, dt.date], float | None] = {}


def next_due(task: Task, after: dt.datetime) -> float | None:
    """Return the task's first scheduled start after `after` (None: paused, never, or a
    schedule that cannot be evaluated); kept, as it only changes when `after` does."""
    if task.paused or not task.schedule:
        return None
    # The day too: timer lines are rendered per day (their clock-change corrections).
    key = (task.schedule, task.timezone, after, dt.datetime.now(dt.UTC).date())
    with _lock:
        if key in _next:
            return _next[key]
    try:
        times = schedule.next_runs(task.schedule, task.timezone, after, 1)
    except Exception:  # noqa: BLE001 - a schedule we cannot evaluate is left out, never a 500
        times = []
    when = times[0].timestamp() if times else None
    with _lock:
        if len(_next) > 20_000:
            _next.clear()
        _next[key] = when
    return when


def _up(task: Task, newest: list[tuple[dt.datetime, str, int, str]]) -> list[tuple[str, float]]:
    """Given a task and the latest run of each host (time, labels, up, host), return its
    smartcron_task_up series: one per host it is placed on (`each`), or only the host of
    its latest run (`one`: one run per slot, so another host's older failure is history).
    A host the task was moved away from keeps no series, or its last failure never clears."""
    placed = [n for n in newest if "*" in task.hosts or n[3] in task.hosts or not n[3]]
    if task.placement == "one" and placed:
        placed = [max(placed)]
    return [(inner, value) for _at, inner, value, _host in placed]


def _render(conn: Connection, key: tuple[Any, ...]) -> str:
    (_rows, _runs, _tasks, _changed, _id, checked_at), open_alerts, score, running, _day = key
    tasks = queries.all_tasks(conn)
    changed = {
        name: _aware(at)
        for name, at in conn.execute(sa.select(tasks_table.c.name, tasks_table.c.updated_at))
    }
    c = run_totals.c
    by_task: dict[str, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    for row in conn.execute(
        sa.select(c.task_name, c.host, c.outcome, c.runs, c.last_started_at).order_by(
            c.task_name, c.host, c.outcome
        )
    ):
        by_task[row[0]][row[1]].append(row)
    sums = {(row[0], row[1]): row[2:] for row in conn.execute(duration_sums())}
    started = {name: _aware(at) for name, at in running}
    runs: list[tuple[str, float]] = []
    durations: list[tuple[str, list[int], int, float]] = []
    last_run: list[tuple[str, float]] = []
    last_success: list[tuple[str, float]] = []
    up: list[tuple[str, float]] = []
    next_run: list[tuple[str, float]] = []
    newest: list[tuple[dt.datetime, str, int, str]] = []
    for task in tasks:
        latest_start: dt.datetime | None = None
        for host, group in by_task.get(task.name, {}).items():
            inner = exposition.labels(RUN_LABELS, (task.name, host))
            runs.extend(
                (f'{inner},outcome="{label_value(o)}"', int(n)) for _t, _h, o, n, _l in group
            )
            count, seconds, *per = sums[task.name, host]
            durations.append((inner, [int(b) for b in per], int(count), float(seconds)))
            # A skip (ran elsewhere, window) or a not-run row is not a run of this host.
            known = [(_utc(last), o) for _t, _h, o, _n, last in group
                     if last is not None and o not in NOT_RUNS]  # fmt: skip
            if known:
                latest, outcome = max(known)
                latest_start = max(latest_start or latest, latest)
                last_run.append((inner, latest.timestamp()))
                newest.append((latest, inner, 1 if outcome == "success" else 0, host))
                ok = [last for last, o in known if o == "success"]
                if ok:
                    last_success.append((inner, ok[0].timestamp()))
        up.extend(_up(task, newest))
        newest.clear()
        bases = [t for t in (latest_start, started.get(task.name)) if t is not None]
        base = max(bases) + EARLY if bases else None
        since = changed.get(task.name)
        if since is not None and (base is None or since > base):
            base = since
        when = next_due(task, base) if base is not None else None
        if when is not None:
            next_run.append((exposition.labels(TASK_LABELS, (task.name,)), when))
    seen = _stamp(checked_at)
    alerts_open = [(exposition.labels(("kind",), (k,)), int(n)) for k, n in open_alerts]
    return "".join(
        (
            exposition.lines(RUNS, runs),
            exposition.histogram(DURATION, DURATION_BUCKETS, durations),
            exposition.lines(LAST_RUN, last_run),
            exposition.lines(LAST_SUCCESS, last_success),
            exposition.lines(NEXT_RUN, next_run),
            exposition.lines(UP, up),
            exposition.lines(ALERTS_OPEN, alerts_open),
            exposition.lines(WATCHDOG_SEEN, [] if seen is None else [("", seen)]),
            exposition.lines(HEALTH, [] if score is None else [("", float(score))]),
        )
    )
