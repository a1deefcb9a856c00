"""Benchmark /metrics at 1,000 tasks and 1,000,000 runs (SQLite; MariaDB too with --mariadb).

Seeds the database the way bench/dashboard.py does (its `seed`), gives the runs two hosts,
then fills `run_totals` from them with migration 0012 (downgrade to 0011, upgrade to head: the
backfill an existing installation gets, timed too; going down to before 0007 instead took 50 s
at 20,000 runs here, in other migrations' downgrades), then times GET /metrics with a bearer
token through the Flask test client, --repeats times: as served (the text is kept while the
database's change key is unchanged, dashboard/metrics.py) and cold (that cache emptied before
every request: the cost of the scrape after a run finished). Goal: p95 under 50 ms as served.
The last line is one JSON object (bench/contract.py) with min/median/max over the repeats and
the load average.

Usage: .venv/bin/python bench/metrics.py [--tasks N] [--runs N] [--requests N] [--repeats N]
           [--mariadb URL]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command as alembic_command

sys.path.insert(0, str(Path(__file__).parent))

from contract import Report, percentile, spread

from dashboard import seed
from smartcron.dashboard import create_app
from smartcron.dashboard import metrics as metrics_module
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


def _p95(fetch: Any, requests: int, cold: bool) -> float:
    times = []
    for _ in range(requests):
        if cold:
            metrics_module._cache.clear()
        t = time.perf_counter()
        response = fetch()
        times.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200
    return float(percentile(sorted(times), 95))


def measure(url: str, n_tasks: int, n_runs: int, requests: int, repeats: int) -> dict[str, Any]:
    engine = make_engine(url)
    upgrade(engine)
    seeded = seed(engine, n_tasks, n_runs)
    with engine.begin() as conn:  # two hosts share the runs: a series per task and host
        conn.execute(
            sa.text(
                "UPDATE executions SET host = CASE WHEN id % 2 = 0 THEN 'till-1' ELSE 'till-2' END"
            )
        )
    t0 = time.perf_counter()
    _migrate(engine, "downgrade", "0011")
    _migrate(engine, "upgrade", "head")  # 0012 fills run_totals from the runs of each host
    backfill = time.perf_counter() - t0
    with engine.begin() as conn:
        token = users.create_token(conn, "admin", "bench", "bench")
    cfg = config.load(environ={"SMARTCRON_CONFIG": "", "SMARTCRON_DATABASE_URL": url})
    client = create_app(cfg, {"TESTING": True, "SESSION_COOKIE_SECURE": False}).test_client()
    headers = {"Authorization": f"Bearer {token}"}
    first = client.get("/metrics", headers=headers)
    assert first.status_code == 200, first.status_code
    series = sum(1 for line in first.get_data(as_text=True).splitlines() if line[:1] != "#")

    def fetch() -> Any:
        return client.get("/metrics", headers=headers)

    served = [_p95(fetch, requests, cold=False) for _ in range(repeats)]
    cold = [_p95(fetch, requests, cold=True) for _ in range(repeats)]
    engine.dispose()
    return {
        "seed_s": round(seeded, 1),
        "backfill_s": round(backfill, 2),
        "series": series,
        "bytes": len(first.get_data()),
        "p95_ms": spread(served),
        "cold_p95_ms": spread(cold),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--mariadb", help="server URL (no database): also measure on MariaDB")
    args = parser.parse_args()
    report = Report("metrics")
    report.figure("tasks", args.tasks)
    report.figure("runs", args.runs)
    report.figure("cpus", os.cpu_count())
    workdir = Path(tempfile.mkdtemp(prefix="smartcron-bench-metrics-", dir="/var/tmp"))
    runs = (args.tasks, args.runs, args.requests, args.repeats)
    results = {"sqlite": measure(f"sqlite:///{workdir}/bench.db", *runs)}
    if args.mariadb:
        name = f"smartcron_bench_metrics_{uuid.uuid4().hex[:8]}"  # the server is shared
        server = sa.create_engine(args.mariadb)
        with server.begin() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4"))
        try:
            results["mariadb"] = measure(f"{args.mariadb}/{name}", *runs)
        finally:
            with server.begin() as conn:
                conn.execute(sa.text(f"DROP DATABASE {name}"))
    for backend, figures in results.items():
        print(f"{backend}: " + ", ".join(f"{k} {v}" for k, v in figures.items()))
        report.figure(backend, figures)
        report.below(f"{backend}_p95_ms", figures["p95_ms"]["max"], GOAL_MS)
        report.figure(f"{backend}_cold_p95_ms", figures["cold_p95_ms"]["median"])
    report.emit()


if __name__ == "__main__":
    main()
