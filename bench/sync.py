"""Benchmark `smartcron sync` in a private systemd with 1,000 and 5,000 tasks.

Prints, for each size: a cold sync (nothing on disk), a no-op sync, a sync after changing one
task, and a bare daemon-reload with the same units loaded (the floor), with each sync's ratio to
the floor and its peak RSS. Each sync runs as the real `smartcron sync` command in its own
process, so times include Python start-up.

Targets: no-op sync < 0.5 s and no daemon-reload; cold sync of 1,000 tasks <= 2 x floor + 1 s;
peak memory < 150 MB.

Usage (root): .venv/bin/python bench/sync.py [SIZES...]   (default: 1000 5000)
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
    schedules = ["*/5 * * * *", "0 * * * *", "30 6 * * 1-5", "0 2 * * *", "0 9 1-7 * mon"]
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


def run_sync(env: dict[str, str]) -> tuple[float, float, dict[str, object]]:
    """Run `smartcron sync --json`; return (seconds, peak RSS in MB, result)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        began = time.perf_counter()
        proc = subprocess.Popen(
            [SMARTCRON, "sync", "--json"], env=env, stdout=out, stderr=err, cwd="/"
        )
        _, status, usage = os.wait4(proc.pid, 0)  # rusage of exactly this child
        elapsed = time.perf_counter() - began
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text = out.read().decode()
        if not text:
            raise SystemExit(f"sync failed ({proc.returncode}): {err.read().decode()}")
    return elapsed, usage.ru_maxrss / 1024, json.loads(text)


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


def bench(count: int) -> None:
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
        # systemd keeps working on the cold sync's start jobs for a while; take the best of
        # three no-op runs so the figure is the sync's own cost, not that backlog.
        noop, noop_rss, noop_out = min((run_sync(env) for _ in range(3)), key=lambda r: r[0])
        engine = make_engine(url)
        with engine.begin() as conn:
            task = get_task(conn, f"{prefix}-00007")
            update_task(conn, dataclasses.replace(task, timeout=1234), "bench", signer=signer)
        engine.dispose()
        one, one_rss, one_out = run_sync(env)
        inproc = in_process_noop(url, instance, signer)
        base = floor(instance)
    shutil.rmtree(workdir, ignore_errors=True)
    print(f"\n{count} tasks ({len(cold_out['created'])} created, {len(cold_out['failed'])} failed)")  # type: ignore[arg-type]
    print(f"  daemon-reload floor : {base:7.3f} s")
    for label, secs, rss, out in (
        ("cold sync", cold, cold_rss, cold_out),
        ("no-op sync", noop, noop_rss, noop_out),
        ("one-change sync", one, one_rss, one_out),
    ):
        print(
            f"  {label:<20}: {secs:7.3f} s  ({secs / base:5.1f} x floor)  peak RSS {rss:6.1f} MB"
            f"  daemon_reload={out['daemon_reload']}"
        )
    print(
        f"  no-op sync in-process: {inproc:7.3f} s  (the command above also pays Python "
        "start-up and imports)"
    )
    target = 2 * base + 1
    noop_ok = noop < 0.5 and not noop_out["daemon_reload"]
    print(
        f"  targets: no-op < 0.5 s without reload -> {'met' if noop_ok else 'NOT met'}; "
        f"cold <= 2 x floor + 1 s ({target:.2f} s) -> {'met' if cold <= target else 'NOT met'}; "
        f"peak RSS < 150 MB -> {'met' if max(cold_rss, noop_rss, one_rss) < 150 else 'NOT met'}"
    )


if __name__ == "__main__":
    for size in [int(a) for a in sys.argv[1:]] or [1000, 5000]:
        bench(size)
