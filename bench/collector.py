"""Benchmark the watchdog's collector: 500 runs finishing within a few seconds.

Prints whether all 500 were recorded, the latency from systemd's exit timestamp to the
committed row (p50 and p99: the moment a reader polling every 5 ms first sees the finished
row, so at most ~5 ms late; `recorded_at`, the insert, comes before the commit), the D-Bus
floor measured in the same run (a bare pystemd handler, bench/floor_listener.py, receiving the
same signals) and the ratio, the watchdog's peak RSS and
its CPU use while idle. Goals (issue #14): p99 < 100 ms, peak RSS < 80 MB, idle CPU ~0 (< 1 %).

Usage (root): .venv/bin/python bench/collector.py [RUNS]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import sqlalchemy as sa
from contract import Report, percentile

from smartcron.db.engine import make_engine
from smartcron.db.migrate import upgrade
from smartcron.db.schema import executions, utcnow
from smartcron.db.schema import tasks as tasks_table
from smartcron.db.state import JOURNAL_CURSOR, set_state
from smartcron.db.tasks import signed_values
from smartcron.model.signing import load_signer
from smartcron.model.validate import validate_task
from smartcron.systemd.journal import Journal
from smartcron.systemd.sandbox import PrivateSystemd

SMARTCRON = str(Path(sys.executable).with_name("smartcron"))
POLL = float(os.environ.get("BENCH_POLL", "0.005"))  # seconds between the reads that see a commit


class CommitWatch(threading.Thread):
    """Poll the database; note the wall-clock moment each finished run first becomes visible
    to another connection (its commit), by invocation id."""

    def __init__(self, engine: sa.Engine) -> None:
        super().__init__(daemon=True)
        self.engine = engine
        self.seen: dict[str, float] = {}
        self.stopping = threading.Event()

    def run(self) -> None:
        query = sa.select(executions.c.invocation_id).where(executions.c.outcome == "success")
        with self.engine.connect() as conn:
            while not self.stopping.is_set():
                now = time.time()
                for (inv,) in conn.execute(query):
                    self.seen.setdefault(inv, now)
                conn.rollback()  # a fresh snapshot for the next read
                time.sleep(POLL)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    tasks = 50
    workdir = Path(tempfile.mkdtemp(prefix="smartcron-bench-", dir="/var/tmp"))
    url = f"sqlite:///{workdir}/bench.db"
    key = str(workdir / "signing.key")  # root's key that signs definitions
    signer = load_signer(key, create=True)
    engine = make_engine(url)
    upgrade(engine)
    now = utcnow()
    with engine.begin() as conn:
        for i in range(tasks):
            task = validate_task(
                {
                    "name": f"cb-{i:02d}",
                    "command": ["/bin/true"],
                    "schedule": "@yearly",
                    "timezone": "UTC",
                }
            )
            conn.execute(
                tasks_table.insert().values(
                    **signed_values(task, signer), created_at=now, updated_at=now
                )
            )
    with PrivateSystemd(name="smartcron-bench") as instance:
        env = {
            **os.environ,
            "SMARTCRON_CONFIG": "",
            "SMARTCRON_DATABASE_URL": url,
            "SMARTCRON_UNIT_DIR": str(instance.unit_dir),
            "SMARTCRON_JOURNAL_DIRECTORY": str(instance.journal_dir),
            "DBUS_SYSTEM_BUS_ADDRESS": instance.bus_address,
            "SMARTCRON_SIGNING_KEY_FILE": key,
        }
        subprocess.run([SMARTCRON, "sync"], env=env, check=True, capture_output=True, cwd="/")
        with engine.begin() as conn:
            set_state(
                conn, JOURNAL_CURSOR, Journal(str(instance.journal_dir)).current_cursor() or ""
            )
        watchdog = subprocess.Popen(
            [SMARTCRON, "watchdog"],
            env=env,
            cwd="/",
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        floor = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("floor_listener.py"))],
            env=env,
            cwd="/",
            stdout=subprocess.PIPE,
            text=True,
        )
        assert floor.stdout is not None and floor.stdout.readline().strip() == "subscribed"
        proc = psutil.Process(watchdog.pid)
        time.sleep(2)
        watch = CommitWatch(engine)
        watch.start()
        services = [f"smartcron-cb-{i:02d}.service" for i in range(tasks)]
        peak_rss = proc.memory_info().rss
        began = time.monotonic()
        for _ in range(runs // tasks):
            instance.systemctl("start", *services)
            peak_rss = max(peak_rss, proc.memory_info().rss)
        burst = time.monotonic() - began
        deadline = time.monotonic() + 120
        recorded = 0
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                recorded = conn.execute(
                    sa.select(sa.func.count())
                    .select_from(executions)
                    .where(executions.c.outcome == "success")
                ).scalar_one()
            peak_rss = max(peak_rss, proc.memory_info().rss)
            if recorded >= runs:
                break
            time.sleep(0.2)
        watch.stopping.set()
        watch.join(timeout=10)
        time.sleep(12)  # let the output-tail refreshes (one journal read per run) finish
        cpu_before = proc.cpu_times()
        time.sleep(10)
        cpu_after = proc.cpu_times()
        idle_cpu = (
            (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system)
        ) / 10
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    executions.c.finished_at, executions.c.recorded_at, executions.c.invocation_id
                )
            ).fetchall()
        watchdog.terminate()
        watchdog.wait(timeout=20)
        floor.terminate()
        floor_ms = json.loads(floor.communicate(timeout=20)[0].splitlines()[-1])
    inserted = sorted(
        (r.recorded_at - r.finished_at).total_seconds() * 1000 for r in rows if r.finished_at
    )
    ms = sorted(
        (watch.seen[r.invocation_id] - r.finished_at.timestamp()) * 1000
        for r in rows
        if r.finished_at and r.invocation_id in watch.seen
    )
    distinct = len({r.invocation_id for r in rows})
    p50, p99 = percentile(ms, 50), percentile(ms, 99)
    i50, i99 = percentile(inserted, 50), percentile(inserted, 99)
    f50, f99 = percentile(floor_ms, 50), percentile(floor_ms, 99)
    print(f"{runs} runs of {tasks} tasks started in {burst:.1f} s")
    print(f"  recorded: {recorded} of {runs} ({distinct} distinct invocations, {len(rows)} rows)")
    print(f"  exit -> committed row: p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {ms[-1]:.0f} ms")
    print(f"  exit -> inserted (recorded_at): p50 {i50:.0f} ms, p99 {i99:.0f} ms")
    print(f"  D-Bus floor (bare pystemd handler, same run): p50 {f50:.1f} ms, p99 {f99:.1f} ms")
    print(f"  watchdog peak RSS {peak_rss / 2**20:.1f} MB; idle CPU {idle_cpu * 100:.2f} %")
    report = Report("collector")
    report.figure("runs", runs)
    report.figure("burst_s", round(burst, 2))
    report.true("all_recorded", recorded == runs == distinct)
    report.figure("p50_ms", round(p50, 1))
    report.figure("insert_p50_ms", round(i50, 1))
    report.figure("insert_p99_ms", round(i99, 1))
    report.true("all_commits_seen", len(ms) == runs)
    report.figure("floor_p50_ms", round(f50, 1))
    report.figure("floor_p99_ms", round(f99, 1))
    report.figure("floor_signals", len(floor_ms))
    report.figure("p99_ratio_to_floor", round(p99 / f99, 1) if f99 else None)
    report.below("p99_ms", round(p99, 1), 100)
    report.below("peak_rss_mb", round(peak_rss / 2**20, 1), 80)
    report.below("idle_cpu_percent", round(idle_cpu * 100, 2), 1.0)
    report.emit()


if __name__ == "__main__":
    main()
