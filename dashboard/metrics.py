"""Prometheus /metrics: a collector that reads the database at scrape time.

Every figure comes from a handful of cheap queries, whatever the history holds: run counters,
the duration histogram and the latest run times from `run_totals` (kept on write, pruned runs
included), open alerts grouped by kind, the newest health round. Names and units follow the
Prometheus naming guide; no label carries state (a run's outcome is a counter label only).

Labels of per-task series are TASK_LABELS, filled by `task_labels`: adding a label (a host,
say) is a change to those two alone.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from itertools import accumulate

import sqlalchemy as sa
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.samples import Sample
from sqlalchemy.engine import Engine

from smartcron.db.alerts import ACTIVE_STATES
from smartcron.db.health import latest_health
from smartcron.db.schema import DURATION_BUCKETS, alerts
from smartcron.db.totals import duration_totals, outcome_totals
from smartcron.model.task import Task

from . import queries

TASK_LABELS: tuple[str, ...] = ("task",)


def task_labels(task: Task) -> list[str]:
    """Return the values of TASK_LABELS for one task."""
    return [task.name]


def _stamp(moment: dt.datetime | None) -> float | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).timestamp()


class SmartcronCollector(Collector):
    """Reads the database on every scrape. Only the task list and the next-run times come from
    the dashboard's caches (which notice every change to the tasks)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        now = dt.datetime.now(dt.UTC)
        with self.engine.connect() as conn:
            tasks = queries.all_tasks(conn)
            outcomes = outcome_totals(conn)
            durations = duration_totals(conn)
            open_alerts: dict[str, int] = dict(
                conn.execute(
                    sa.select(alerts.c.kind, sa.func.count())
                    .where(alerts.c.state.in_(ACTIVE_STATES))
                    .group_by(alerts.c.kind)
                ).all()
            )
            checked_at, checks = latest_health(conn)
        by_task: dict[str, list[tuple[str, int, float | None]]] = defaultdict(list)
        for task, outcome, runs, last in outcomes:
            by_task[task].append((outcome, runs, _stamp(last)))
        yield from self._runs(tasks, by_task, durations)
        yield from self._times(tasks, by_task, now)
        alerts_open = GaugeMetricFamily(
            "smartcron_alerts_open",
            "Alerts not yet resolved (open, notified or acknowledged), by kind.",
            labels=["kind"],
        )
        for kind, count in sorted(open_alerts.items()):
            alerts_open.add_metric([kind], int(count))
        yield alerts_open
        seen = GaugeMetricFamily(
            "smartcron_watchdog_last_seen_timestamp_seconds",
            "When the watchdog last stored a round of health checks (it does every minute).",
        )
        stamp = _stamp(checked_at)
        if stamp is not None:
            seen.add_metric([], stamp)
        yield seen
        score = next((c for c in checks if c.check_name == "score"), None)
        health = GaugeMetricFamily(
            "smartcron_health_score", "Health score 0-100 from the watchdog's latest checks."
        )
        if score is not None and score.value is not None:
            health.add_metric([], float(score.value))
        yield health

    def _runs(
        self,
        tasks: list[Task],
        by_task: dict[str, list[tuple[str, int, float | None]]],
        durations: dict[str, tuple[int, float, list[int]]],
    ) -> Iterator[Metric]:
        runs = CounterMetricFamily(
            "smartcron_runs",
            "Finished runs by outcome, runs deleted by `smartcron prune` included.",
            labels=[*TASK_LABELS, "outcome"],
        )
        # Samples are appended directly: add_metric's per-bucket label merging costs more than
        # the database at a thousand tasks.
        histogram = Metric(
            "smartcron_run_duration_seconds",
            "Duration of finished runs (every outcome) from start to end.",
            "histogram",
        )
        bounds = [str(float(b)) for b in DURATION_BUCKETS] + ["+Inf"]
        add = histogram.samples.append
        for task in tasks:
            values = task_labels(task)
            for outcome, count, _last in by_task.get(task.name, ()):
                runs.add_metric([*values, outcome], count)
            figures = durations.get(task.name)
            if figures is None:
                continue
            count, total, buckets = figures
            labels = dict(zip(TASK_LABELS, values, strict=True))
            for bound, cumulative in zip(bounds, [*accumulate(buckets), count], strict=True):
                add(
                    Sample(
                        "smartcron_run_duration_seconds_bucket", {**labels, "le": bound}, cumulative
                    )
                )
            add(Sample(f"{histogram.name}_count", labels, count))
            add(Sample(f"{histogram.name}_sum", labels, total))
        yield runs
        yield histogram

    def _times(
        self,
        tasks: list[Task],
        by_task: dict[str, list[tuple[str, int, float | None]]],
        now: dt.datetime,
    ) -> Iterator[Metric]:
        last_run = GaugeMetricFamily(
            "smartcron_task_last_run_timestamp_seconds",
            "Start of the task's latest finished run.",
            labels=list(TASK_LABELS),
        )
        last_success = GaugeMetricFamily(
            "smartcron_task_last_success_timestamp_seconds",
            "Start of the task's latest successful run.",
            labels=list(TASK_LABELS),
        )
        next_run = GaugeMetricFamily(
            "smartcron_task_next_run_timestamp_seconds",
            "When the task is next due (absent while it is paused or never due).",
            labels=list(TASK_LABELS),
        )
        up = GaugeMetricFamily(
            "smartcron_task_up",
            "1 if the task's latest finished run succeeded, 0 if it did not.",
            labels=list(TASK_LABELS),
        )
        for task in tasks:
            values = task_labels(task)
            known = [(last, o) for o, _n, last in by_task.get(task.name, ()) if last is not None]
            if known:
                latest, outcome = max(known)
                last_run.add_metric(values, latest)
                up.add_metric(values, 1 if outcome == "success" else 0)
                ok = [last for last, o in known if o == "success"]
                if ok:
                    last_success.add_metric(values, ok[0])
            when = queries.next_run(task, now)
            if when is not None:
                next_run.add_metric(values, when.timestamp())
        yield last_run
        yield last_success
        yield next_run
        yield up


def registry(engine: Engine) -> CollectorRegistry:
    """Return a registry holding smartcron's collector alone (no process or Python metrics:
    gunicorn runs several workers, and those would describe whichever one answered)."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(SmartcronCollector(engine))
    return reg
