"""Benchmark `smartcron sync` and `smartcron status` in a private systemd.

Prints, for each size: a cold sync (nothing on disk), no-op syncs (REPEATS, min/median/max), a
sync after changing one task, `smartcron status` (REPEATS), and a bare daemon-reload with the
same units loaded (the floor), with ratios to the floor and peak RSS. Each sync runs as the
real command in its own process, so times include Python start-up.

Goals (issue #14): no-op sync of 1,000 tasks < 0.3 s and of 5,000 < 1 s (median), without a
daemon-reload; `status` on 1,000 tasks < 0.5 s; peak memory < 150 MB. Cold sync against Debian's
systemd-cron: bench/systemd_cron.py.

Usage (root): .venv/bin/python bench/sync.py [SIZES...]   (default: 1000 5000)
              REPEATS=5 to change the number of repeats (default 3)
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from contract import Report, byte_compile, spread

from smartcron.db.engine import make_engine
from smartcron.db.migrate import upgrade
from smartcron.db.schema import tasks as tasks_table
from smartcron.db.schema import utcnow
from smartcron.db.tasks import get_task, list_tasks, signed_values, update_task
from smartcron.model import config
from smartcron.model.signing import Signer, load_signer
from smartcron.model.validate import validate_task
from smartcron.systemd.own_units import OwnUnits
from smartcron.systemd.sandbox import PrivateSystemd

SMARTCRON = str(Path(sys.executable).with_name("smartcron"))


def seed(url: str, count: int, prefix: str, signer: Signer) -> None:
    engine = make_engine(url)
    upgrade(engine)
    # Five schedules of the usual shapes, all on 29 February: a task that fires while the
    # bench runs makes it measure systemd running hundreds of jobs at once, not sync (at
    # 5,000 tasks `*/5 * * * *` started 1,000 runs every five minutes, and the no-op sync
    # measured 10 s instead of 1 s).
    schedules = ["*/5 * 29 2 *", "0 * 29 2 *", "30 6 29 2 *", "0 2 29 2 *", "0 9,17 29 2 *"]
    now = utcnow()
    rows = []
    for i in range(count):
        task = validate_task(
            {
                "name": f"{prefix}-{i:05d}",
                "command": ["/bin/true", str(i)],
                "schedule": schedules[i % len(schedules)],
                "timezone": "UTC",
            }
        )
        rows.append({**signed_values(task, signer), "created_at": now, "updated_at": now})
    with engine.begin() as conn:
        conn.execute(tasks_table.insert(), rows)
    engine.dispose()


REPEATS = int(os.environ.get("REPEATS", "3"))
NOOP_GOAL = {1000: 0.3, 5000: 1.0}
STATUS_GOAL = {1000: 0.5}


def run_sync(env: dict[str, str], *args: str) -> tuple[float, float, dict[str, object]]:
    """Run `smartcron sync --json` (or ARGS); return (seconds, peak RSS in MB, result)."""
    argv = [SMARTCRON, *(args or ("sync", "--json"))]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        began = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=err, cwd="/")
        _, status, usage = os.wait4(proc.pid, 0)  # rusage of exactly this child
        elapsed = time.perf_counter() - began
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text = out.read().decode()
        if not text or proc.returncode:
            raise SystemExit(f"{argv[1]} failed ({proc.returncode}): {err.read().decode()}")
    return elapsed, usage.ru_maxrss / 1024, json.loads(text) if args == () else {}


def in_process_noop(url: str, instance: PrivateSystemd, signer: Signer) -> float:
    """Time a no-op sync inside this process: read tasks, plan, apply (no interpreter start)."""
    from smartcron.systemd import sync
    from smartcron.systemd.bus import Systemd

    os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = instance.bus_address
    engine = make_engine(url)
    best = []
    for _ in range(3):
        began = time.perf_counter()
        with engine.connect() as conn:
            tasks = list_tasks(conn)
        with sync.locked(instance.unit_dir), Systemd() as systemd:
            result = sync.apply(
                sync.plan(tasks, instance.unit_dir, accuracy="1s", signer=signer),
                instance.unit_dir,
                systemd,
                own=OwnUnits.for_config(config.load(environ={"SMARTCRON_DATABASE_URL": url})),
            )
        best.append(time.perf_counter() - began)
        assert not result.daemon_reload, result.as_json()
    engine.dispose()
    return min(best)


def floor(instance: PrivateSystemd) -> float:
    best = []
    for _ in range(3):
        began = time.perf_counter()
        instance.systemctl("daemon-reload")
        best.append(time.perf_counter() - began)
    return min(best)


def bench(count: int, report: Report) -> None:
    prefix = f"b{os.getpid() % 10000}"
    workdir = Path(tempfile.mkdtemp(prefix="smartcron-bench-", dir="/var/tmp"))
    url = f"sqlite:///{workdir}/bench.db"
    key = str(workdir / "signing.key")  # root's key that signs definitions, as in production
    signer = load_signer(key, create=True)
    seed(url, count, prefix, signer)
    with PrivateSystemd(name="smartcron-bench") as instance:
        env = {
            **os.environ,
            "SMARTCRON_DATABASE_URL": url,
            "SMARTCRON_UNIT_DIR": str(instance.unit_dir),
            "DBUS_SYSTEM_BUS_ADDRESS": instance.bus_address,
            "SMARTCRON_CONFIG": str(workdir / "none.toml"),
            "SMARTCRON_SIGNING_KEY_FILE": key,
        }
        (workdir / "none.toml").write_text("")
        cold, cold_rss, cold_out = run_sync(env)
        # systemd keeps working on the cold sync's start jobs for a while: let it settle so the
        # no-op figures are the sync's own cost, not that backlog.
        time.sleep(2)
        noops = [run_sync(env) for _ in range(REPEATS)]
        engine = make_engine(url)
        with engine.begin() as conn:
            task = get_task(conn, f"{prefix}-00007")
            update_task(conn, dataclasses.replace(task, timeout=1234), "bench", signer=signer)
        engine.dispose()
        one, one_rss, one_out = run_sync(env)
        statuses = [run_sync(env, "status") for _ in range(REPEATS)]
        inproc = in_process_noop(url, instance, signer)
        base = floor(instance)
    shutil.rmtree(workdir, ignore_errors=True)
    noop_s = [n[0] for n in noops]
    noop = spread(noop_s)
    status = spread([st[0] for st in statuses])
    created, failed = len(cold_out["created"]), len(cold_out["failed"])  # type: ignore[arg-type]
    print(f"\n{count} tasks ({created} created, {failed} failed)")
    print(f"  daemon-reload floor : {base:7.3f} s")
    for label, secs, rss, out in (
        ("cold sync", cold, cold_rss, cold_out),
        ("no-op sync (median)", noop["median"], max(n[1] for n in noops), noops[0][2]),
        ("one-change sync", one, one_rss, one_out),
    ):
        print(
            f"  {label:<20}: {secs:7.3f} s  ({secs / base:5.1f} x floor)  peak RSS {rss:6.1f} MB"
            f"  daemon_reload={out['daemon_reload']}"
        )
    print(f"  no-op sync min/median/max: {noop}")
    print(f"  status min/median/max    : {status}")
    print(f"  no-op sync in-process    : {inproc:7.3f} s (without Python start-up and imports)")
    n = str(count)
    report.figure(f"tasks_{n}_daemon_reload_floor_s", base)
    report.figure(f"tasks_{n}_cold_s", cold)
    report.figure(f"tasks_{n}_cold_ratio_to_floor", round(cold / base, 2))
    report.figure(f"tasks_{n}_noop_s", noop)
    report.figure(f"tasks_{n}_noop_ratio_to_floor", round(noop["median"] / base, 2))
    report.figure(f"tasks_{n}_one_change_s", one)
    report.figure(f"tasks_{n}_one_change_ratio_to_floor", round(one / base, 2))
    report.figure(f"tasks_{n}_noop_in_process_s", inproc)
    report.figure(f"tasks_{n}_status_s", status)
    report.true(f"tasks_{n}_all_created", failed == 0 and created == count)
    report.true(f"tasks_{n}_noop_without_reload", not any(o[2]["daemon_reload"] for o in noops))
    if count in NOOP_GOAL:
        report.below(f"tasks_{n}_noop_median_s", noop["median"], NOOP_GOAL[count])
    if count in STATUS_GOAL:
        report.below(f"tasks_{n}_status_median_s", status["median"], STATUS_GOAL[count])
    peak = max(cold_rss, one_rss, *(o[1] for o in noops))
    report.below(f"tasks_{n}_peak_rss_mb", round(peak, 1), 150)


if __name__ == "__main__":
    result = Report("sync")
    print(f"byte-compiled {byte_compile()}")
    for size in [int(a) for a in sys.argv[1:]] or [1000, 5000]:
        bench(size, result)
    result.emit()
