"""Benchmark the watchdog's collector: 500 runs finishing within a few seconds.

Prints whether all 500 were recorded, the latency from systemd's exit timestamp to the
committed row (median and p99; target p99 < 1 s), the watchdog's peak RSS (target < 80 MB)
and its CPU use while idle.

Usage (root): .venv/bin/python bench/collector.py [RUNS]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import sqlalchemy as sa

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
        proc = psutil.Process(watchdog.pid)
        time.sleep(2)
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
    latencies = sorted(
        (r.recorded_at - r.finished_at).total_seconds() for r in rows if r.finished_at
    )
    distinct = len({r.invocation_id for r in rows})
    p99 = latencies[int(len(latencies) * 0.99) - 1] if latencies else float("nan")
    print(f"{runs} runs of {tasks} tasks started in {burst:.1f} s")
    print(
        f"  recorded: {recorded} of {runs} ({distinct} distinct invocations, {len(rows)} rows)"
        f" -> {'all recorded' if recorded == runs == distinct else 'NOT all recorded'}"
    )
    print(
        f"  latency exit -> committed row: median {statistics.median(latencies) * 1000:.0f} ms, "
        f"p99 {p99 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms (target p99 < 1 s)"
    )
    print(
        f"  watchdog peak RSS {peak_rss / 2**20:.1f} MB (target < 80 MB); "
        f"idle CPU {idle_cpu * 100:.2f} % of one core"
    )


if __name__ == "__main__":
    main()
