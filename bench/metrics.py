"""Benchmark /metrics at 1,000 tasks and 1,000,000 runs (SQLite; MariaDB too with --mariadb).

Seeds the database the way bench/dashboard.py does (its `seed`), then rebuilds `run_totals`
from the seeded runs with migration 0007 (downgrade to 0005, upgrade to head: the backfill an
existing installation gets, timed too), then times GET /metrics with a bearer token through the
Flask test client. Goal: p95 under 50 ms. The last line is one JSON object with the figures.

Usage: .venv/bin/python bench/metrics.py [--tasks N] [--runs N] [--requests N] [--mariadb URL]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command as alembic_command

sys.path.insert(0, str(Path(__file__).parent))

from dashboard import seed
from smartcron.dashboard import create_app
from smartcron.db.engine import make_engine
from smartcron.db.migrate import upgrade
from smartcron.model import config
from smartcron.ops import users

GOAL_MS = 50.0


def _migrate(engine: sa.engine.Engine, verb: str, revision: str) -> None:
    from importlib import resources

    from alembic.config import Config as AlembicConfig

    with engine.begin() as conn:
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(resources.files("smartcron.sql") / "migrations"))
        cfg.attributes["connection"] = conn
        getattr(alembic_command, verb)(cfg, revision)


def measure(url: str, n_tasks: int, n_runs: int, requests: int) -> dict[str, Any]:
    engine = make_engine(url)
    upgrade(engine)
    seeded = seed(engine, n_tasks, n_runs)
    t0 = time.perf_counter()
    _migrate(engine, "downgrade", "0005")
    _migrate(engine, "upgrade", "head")
    backfill = time.perf_counter() - t0
    with engine.begin() as conn:
        token = users.create_token(conn, "admin", "bench", "bench")
    cfg = config.load(environ={"SMARTCRON_CONFIG": "", "SMARTCRON_DATABASE_URL": url})
    client = create_app(cfg, {"TESTING": True, "SESSION_COOKIE_SECURE": False}).test_client()
    headers = {"Authorization": f"Bearer {token}"}
    first = client.get("/metrics", headers=headers)
    assert first.status_code == 200, first.status_code
    series = sum(1 for line in first.get_data(as_text=True).splitlines() if line[:1] != "#")
    times = []
    for _ in range(requests):
        t = time.perf_counter()
        response = client.get("/metrics", headers=headers)
        times.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200
    times.sort()
    engine.dispose()
    return {
        "seed_s": round(seeded, 1),
        "backfill_s": round(backfill, 2),
        "series": series,
        "bytes": len(first.get_data()),
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--mariadb", help="server URL (no database): also measure on MariaDB")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="smartcron-bench-metrics-", dir="/var/tmp"))
    results = {
        "sqlite": measure(f"sqlite:///{workdir}/bench.db", args.tasks, args.runs, args.requests)
    }
    if args.mariadb:
        server = sa.create_engine(args.mariadb)
        with server.begin() as conn:
            conn.execute(sa.text("DROP DATABASE IF EXISTS smartcron_bench_metrics"))
            conn.execute(sa.text("CREATE DATABASE smartcron_bench_metrics CHARACTER SET utf8mb4"))
        url = f"{args.mariadb}/smartcron_bench_metrics"
        results["mariadb"] = measure(url, args.tasks, args.runs, args.requests)
        with server.begin() as conn:
            conn.execute(sa.text("DROP DATABASE smartcron_bench_metrics"))
    for backend, figures in results.items():
        print(f"{backend}: " + ", ".join(f"{k} {v}" for k, v in figures.items()))
    worst = max(f["p95_ms"] for f in results.values())
    print(
        json.dumps(
            {
                "bench": "metrics",
                "tasks": args.tasks,
                "runs": args.runs,
                "results": results,
                "goal": f"/metrics p95 < {GOAL_MS:g} ms",
                "met": worst < GOAL_MS,
            }
        )
    )


if __name__ == "__main__":
    main()
