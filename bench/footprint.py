"""Benchmark the watchdog's footprint: RSS and idle CPU after many runs and after a
reconciliation of all of them from the journal.

For each size (default 10,000 runs of 50 tasks, started 50 at a time in a private systemd):
the watchdog's RSS and its CPU over 10 s of idleness once every run is recorded; then a
watchdog started afresh with the journal cursor from before the runs, so that its start-up
reconciliation reads every one of them back (the worst case: a watchdog that was down the
whole time), with its peak RSS during that and its RSS and idle CPU after. Goals (issue #14):
RSS < 80 MB, idle CPU ~0 (< 1 %).

Usage (root): .venv/bin/python bench/footprint.py [RUNS ...]   (100000 takes ~30 min here)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import sqlalchemy as sa
from contract import Report

from smartcron.db.engine import make_engine
from smartcron.db.migrate import upgrade
from smartcron.db.schema import executions, utcnow
from smartcron.db.schema import tasks as tasks_table
from smartcron.db.state import journal_cursor_key, set_state
from smartcron.db.tasks import signed_values
from smartcron.model.config import machine_host_name
from smartcron.model.signing import load_signer
from smartcron.model.validate import validate_task
from smartcron.systemd.journal import Journal
from smartcron.systemd.sandbox import PrivateSystemd

SMARTCRON = str(Path(sys.executable).with_name("smartcron"))
TASKS = 50
IDLE = 10.0  # seconds of idleness over which CPU is measured


def _recorded(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count())
                .select_from(executions)
                .where(executions.c.outcome == "success")
            ).scalar_one()
        )


def _wait_recorded(engine: sa.Engine, proc: psutil.Process, runs: int, timeout: float) -> float:
    """Wait until `runs` successes are recorded; return the peak RSS seen meanwhile."""
    peak = proc.memory_info().rss
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _recorded(engine) < runs:
        peak = max(peak, proc.memory_info().rss)
        time.sleep(0.5)
    return max(peak, proc.memory_info().rss)


def _idle(proc: psutil.Process) -> tuple[float, float]:
    """Let refreshes finish, then return (RSS in MB, CPU % over IDLE seconds)."""
    time.sleep(15)
    before = proc.cpu_times()
    time.sleep(IDLE)
    after = proc.cpu_times()
    used = (after.user + after.system) - (before.user + before.system)
    return proc.memory_info().rss / 2**20, used / IDLE * 100


def measure(runs: int, report: Report) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="smartcron-footprint-", dir="/var/tmp"))
    url = f"sqlite:///{workdir}/bench.db"
    key = str(workdir / "signing.key")
    signer = load_signer(key, create=True)
    engine = make_engine(url)
    upgrade(engine)
    now = utcnow()
    with engine.begin() as conn:
        for i in range(TASKS):
            task = validate_task(
                {
                    "name": f"fp-{i:02d}",
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
    host = machine_host_name()
    with PrivateSystemd(name="smartcron-footprint") as instance:
        env = {
            **os.environ,
            "SMARTCRON_CONFIG": "",
            "SMARTCRON_DATABASE_URL": url,
            "SMARTCRON_UNIT_DIR": str(instance.unit_dir),
            "SMARTCRON_JOURNAL_DIRECTORY": str(instance.journal_dir),
            "DBUS_SYSTEM_BUS_ADDRESS": instance.bus_address,
            "SMARTCRON_SIGNING_KEY_FILE": key,
            "SMARTCRON_HOST_NAME": host,
        }
        subprocess.run([SMARTCRON, "sync"], env=env, check=True, capture_output=True, cwd="/")
        start = Journal(str(instance.journal_dir)).current_cursor() or ""
        with engine.begin() as conn:
            set_state(conn, journal_cursor_key(host), start)

        log = workdir / "watchdog.log"

        def watchdog() -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                [SMARTCRON, "watchdog"], env=env, cwd="/",
                stdout=subprocess.DEVNULL, stderr=log.open("a"),
            )  # fmt: skip

        first = watchdog()
        proc = psutil.Process(first.pid)
        time.sleep(3)
        start_rss = proc.memory_info().rss / 2**20
        services = [f"smartcron-fp-{i:02d}.service" for i in range(TASKS)]
        began = time.monotonic()
        peak = proc.memory_info().rss
        for _ in range(runs // TASKS):
            instance.systemctl("start", *services)
            peak = max(peak, proc.memory_info().rss)
            if first.poll() is not None:
                tail = log.read_text().splitlines()[-5:]
                raise SystemExit(f"the watchdog exited ({first.returncode}): {tail}")
        elapsed = time.monotonic() - began
        peak = max(peak, _wait_recorded(engine, proc, runs, 600))
        rss, cpu = _idle(proc)
        first.terminate()
        first.wait(timeout=30)
        print(f"{runs} runs in {elapsed:.0f} s: start RSS {start_rss:.1f} MB, peak "
              f"{peak / 2**20:.1f} MB, after {rss:.1f} MB; idle CPU {cpu:.2f} %")  # fmt: skip

        # A watchdog that was down all along: its start-up reconciliation reads every run back.
        with engine.begin() as conn:
            set_state(conn, journal_cursor_key(host), start)
        second = watchdog()
        proc = psutil.Process(second.pid)
        time.sleep(1)
        rec_peak = proc.memory_info().rss
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            rec_peak = max(rec_peak, proc.memory_info().rss)
            with engine.connect() as conn:
                cursor = conn.execute(
                    sa.text("SELECT value FROM state WHERE key = :k"),
                    {"k": journal_cursor_key(host)},
                ).scalar()
            if cursor and cursor != start:
                break
            time.sleep(0.5)
        rec_rss, rec_cpu = _idle(proc)
        rec_peak = max(rec_peak, proc.memory_info().rss)
        second.terminate()
        second.wait(timeout=30)
        print(f"  after reconciling all {runs}: peak RSS {rec_peak / 2**20:.1f} MB, after "
              f"{rec_rss:.1f} MB; idle CPU {rec_cpu:.2f} %; rows {_recorded(engine)}")  # fmt: skip
    tag = f"{runs // 1000}k"
    report.figure(f"runs_{tag}_s", round(elapsed, 1))
    report.figure(f"peak_rss_{tag}_mb", round(peak / 2**20, 1))
    report.true(f"recorded_once_{tag}", _recorded(engine) == runs)
    report.below(f"rss_{tag}_mb", round(rss, 1), 80)
    report.below(f"idle_cpu_{tag}_percent", round(cpu, 2), 1.0)
    report.below(f"reconcile_peak_rss_{tag}_mb", round(rec_peak / 2**20, 1), 80)
    report.below(f"reconcile_rss_{tag}_mb", round(rec_rss, 1), 80)
    report.below(f"reconcile_idle_cpu_{tag}_percent", round(rec_cpu, 2), 1.0)


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [10_000]
    report = Report("footprint")
    for runs in sizes:
        measure(runs, report)
    report.emit()


if __name__ == "__main__":
    main()
