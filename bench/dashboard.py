"""Benchmark the dashboard on years of history: 1,000 tasks and 1,000,000 runs.

Seeds a database (SQLite, and MariaDB at SMARTCRON_BENCH_MYSQL_URL or root@127.0.0.1), then
times the server side of each page in-process (Flask test client, logged in as an admin):
the overview, the task list, a task detail, a run history page, the alerts page and /metrics.
Prints p50 and p95 per page, with the dashboard's short-lived caches as they work in
production ("warm") and cleared before every request ("cold").
With --http, every page and API route through gunicorn over HTTP instead
(bench/dashboard_http.py): warm, and cold (the first request of a fresh gunicorn).
Goal (issue #14): p95 under 50 ms for every page and API route except /metrics (another
change rewrites it; its figure is printed, not judged).

Usage: .venv/bin/python bench/dashboard.py [--backend sqlite|mariadb|both] [--tasks N]
       [--runs N] [--requests N] [--http] [--keep] [--url URL]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from contract import Report, percentile
from dashboard_http import measure_http

from smartcron.dashboard import create_app, queries
from smartcron.db.engine import make_engine
from smartcron.db.migrate import upgrade
from smartcron.db.schema import alerts, executions, health_checks
from smartcron.db.schema import tasks as tasks_table
from smartcron.db.tasks import task_values
from smartcron.model import config
from smartcron.model.validate import validate_task
from smartcron.ops import users

OUTCOMES = [("success", 0.95), ("failed", 0.03), ("timeout", 0.01), ("killed", 0.01)]
MEANINGS = {
    "success": "Succeeded after {d:.1f} s.",
    "failed": "Failed with exit status 1 (a general error reported by the command).",
    "timeout": "Timed out: still running at the task's timeout of 10m, so systemd stopped it.",
    "killed": "Killed by SIGKILL (9) after {d:.1f} s; something outside the command stopped it.",
}
SCHEDULES = ["*/5 * * * *", "0 * * * *", "30 2 * * *", "15 6 * * 1-5", "0 9 1 * *"]


def seed(engine: sa.engine.Engine, n_tasks: int, n_runs: int) -> float:
    """Fill an empty, migrated database; return the seconds it took."""
    started = time.perf_counter()
    rng = random.Random(42)  # noqa: S311 - reproducible test data, not security
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        rows = []
        for i in range(n_tasks):
            task = validate_task(
                {
                    "name": f"task-{i:04d}",
                    "command": ["/usr/local/bin/job", str(i)],
                    "schedule": SCHEDULES[i % len(SCHEDULES)],
                    "timezone": "Europe/London",
                    "category": ["sales", "finance", "stock", "cleanup"][i % 4],
                },
                check_host=False,
            )
            rows.append({**task_values(task), "created_at": now, "updated_at": now})
        conn.execute(tasks_table.insert(), rows)
        users.add_user(conn, "admin", "admin", "benchmark-password", "bench")
    per_task = n_runs // n_tasks
    span = dt.timedelta(days=90).total_seconds()
    step = span / per_task

    def runs() -> Iterator[dict[str, Any]]:
        for i in range(n_tasks):
            offset = rng.uniform(0, step)
            for k in range(per_task):
                start = now - dt.timedelta(seconds=span - offset - k * step)
                roll, outcome = rng.random(), "success"
                for name, share in OUTCOMES:
                    if roll < share:
                        outcome = name
                        break
                    roll -= share
                duration = rng.uniform(0.5, 120.0)
                yield {
                    "task_name": f"task-{i:04d}",
                    "invocation_id": uuid.UUID(int=rng.getrandbits(128)).hex,
                    "trigger": "timer",
                    "attempt": 1,
                    "started_at": start,
                    "finished_at": start + dt.timedelta(seconds=duration),
                    "duration_s": duration,
                    "result": "success" if outcome == "success" else "exit-code",
                    "exit_code": 0 if outcome == "success" else 1,
                    "outcome": outcome,
                    "meaning": MEANINGS[outcome].format(d=duration),
                    "output_tail": f"job {i} run {k}\ndone: {outcome}",
                    "recorded_at": start,
                }

    batch: list[dict[str, Any]] = []
    for row in runs():
        batch.append(row)
        if len(batch) == 20_000:
            with engine.begin() as conn:
                conn.execute(executions.insert(), batch)
            batch = []
    with engine.begin() as conn:
        if batch:
            conn.execute(executions.insert(), batch)
        conn.execute(
            alerts.insert(),
            [
                {
                    "task_name": f"task-{i:04d}",
                    "kind": "failure",
                    "state": "notified" if i < 50 else "resolved",
                    "severity": "error",
                    "summary": f"task-{i:04d} failed: exit status 1",
                    "opened_at": now - dt.timedelta(hours=i),
                }
                for i in range(200)
            ],
        )
        checks = []
        for minute in range(60):
            at = now - dt.timedelta(minutes=minute)
            checks += [
                {
                    "checked_at": at,
                    "check_name": f"check-{c}",
                    "status": "ok",
                    "value": None,
                    "message": "ok",
                }
                for c in range(20)
            ]
            checks.append(
                {
                    "checked_at": at,
                    "check_name": "score",
                    "status": "ok",
                    "value": 95,
                    "message": "95",
                }
            )
        conn.execute(health_checks.insert(), checks)
    return time.perf_counter() - started


def measure(url: str, requests: int, n_tasks: int) -> dict[str, dict[str, float]]:
    cfg = config.load(environ={"SMARTCRON_CONFIG": "", "SMARTCRON_DATABASE_URL": url})
    app = create_app(
        cfg, {"TESTING": True, "SESSION_COOKIE_SECURE": False, "WTF_CSRF_ENABLED": False}
    )
    client = app.test_client()
    answer = client.post("/login", data={"username": "admin", "password": "benchmark-password"})
    assert answer.status_code == 302, answer.get_data(as_text=True)[:300]
    middle = f"task-{n_tasks // 2:04d}"
    pages = {
        "overview": "/",
        "task list": "/tasks",
        "task detail": f"/tasks/{middle}",
        "run history page": f"/tasks/{middle}?page=5&outcome=",
        "all runs, failures": "/runs?outcome=failures&page=3",
        "alerts": "/alerts",
        "metrics": "/metrics",
    }
    results: dict[str, dict[str, float]] = {}
    for label, path in pages.items():
        for mode in ("warm", "cold"):
            times = []
            client.get(path)  # connection pool and template compilation
            for _ in range(requests):
                if mode == "cold":
                    queries._cache.clear()
                    queries._next.clear()
                    queries._tasks_cache.clear()
                t0 = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200, (path, response.status_code)
            times.sort()
            results[f"{label} ({mode})"] = {
                "p50": statistics.median(times),
                "p95": times[max(0, int(len(times) * 0.95) - 1)],
            }
    return results


GOAL_P95_MS = 50


def _figures(times: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    out = {}
    for label, values in times.items():
        ordered = sorted(values)
        out[label] = {"p50": statistics.median(ordered), "p95": percentile(ordered, 95)}
    return out


def run_backend(
    report: Report,
    backend: str,
    n_tasks: int,
    n_runs: int,
    requests: int,
    keep: bool,
    http: bool = False,
    reuse: str | None = None,
) -> None:
    if reuse:
        url = reuse
    elif backend == "sqlite":
        workdir = Path(tempfile.mkdtemp(prefix="smartcron-bench-", dir="/var/tmp"))
        url = f"sqlite:///{workdir}/bench.db"
    else:
        base = os.environ.get("SMARTCRON_BENCH_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306")
        server = sa.create_engine(base)
        name = f"smartcron_bench_{os.getpid()}"  # its own: the server may be shared
        with server.begin() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4"))
        url = f"{base}/{name}"
    engine = make_engine(url)
    upgrade(engine)
    if not reuse:
        took = seed(engine, n_tasks, n_runs)
        print(f"\n{backend}: seeded {n_tasks} tasks and {n_runs} runs in {took:.0f} s")
    load = os.getloadavg()
    if http:
        results = _figures(measure_http(url, requests, n_tasks))
    else:
        results = measure(url, requests, n_tasks)
    mode = "HTTP through gunicorn" if http else "in-process"
    print(f"{backend}, {mode}, load average {load[0]:.2f} -> {os.getloadavg()[0]:.2f}")
    print(f"{'page':<32} {'p50 ms':>8} {'p95 ms':>8}  goal p95 < {GOAL_P95_MS} ms")
    for label, figures in results.items():
        verdict = "ok" if figures["p95"] < GOAL_P95_MS else "MISSED"
        if label.startswith("metrics"):
            verdict = "(not judged)"
        print(f"{label:<32} {figures['p50']:>8.1f} {figures['p95']:>8.1f}  {verdict}")
        if not label.startswith("metrics"):
            report.below(f"{backend} {label} p95_ms", round(figures["p95"], 1), GOAL_P95_MS)
    engine.dispose()
    if keep or reuse:
        print(f"kept the database: {url}")
    elif backend == "mariadb":
        with sa.create_engine(url.rsplit("/", 1)[0]).begin() as conn:
            conn.execute(sa.text(f"DROP DATABASE {url.rsplit('/', 1)[1]}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "mariadb", "both"], default="both")
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="Keep the seeded database.")
    parser.add_argument("--http", action="store_true", help="Through gunicorn over HTTP.")
    parser.add_argument("--url", help="Measure this database (kept with --keep) unseeded.")
    args = parser.parse_args()
    report = Report("dashboard")
    report.figure("tasks", args.tasks)
    report.figure("runs", args.runs)
    report.figure("http", args.http)
    for backend in ["sqlite", "mariadb"] if args.backend == "both" else [args.backend]:
        run_backend(
            report, backend, args.tasks, args.runs, args.requests, args.keep, args.http, args.url
        )
    report.emit()


if __name__ == "__main__":
    main()
