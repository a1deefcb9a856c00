"""The failures the watchdog claims to survive, caused for real: kill -9, the database going
down, a flood of output, and a stuck main loop under systemd's watchdog."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from smartcron.db.engine import make_engine
from smartcron.db.migrate import upgrade
from smartcron.db.schema import executions
from smartcron.model import config
from smartcron.systemd import units
from smartcron.watchdog.service import Watchdog

from support import need
from support.mariadb import ThrowawayMariaDB
from support.receivers import Inbox
from support.systemd import SMARTCRON, SystemdEnv, own_unit, start_from_now


def _count(engine: sa.engine.Engine, prefix: str) -> tuple[int, int, int]:
    """Return (rows, distinct invocations, finished rows) of tasks starting with prefix."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(
                sa.func.count(),
                sa.func.count(sa.distinct(executions.c.invocation_id)),
                sa.func.sum(sa.case((executions.c.outcome != "running", 1), else_=0)),
            ).where(executions.c.task_name.like(f"{prefix}%"))
        ).one()
    return int(row[0]), int(row[1]), int(row[2] or 0)


def _wait_count(
    engine: sa.engine.Engine, prefix: str, n: int, timeout: float
) -> tuple[int, int, int]:
    deadline = time.monotonic() + timeout
    got = _count(engine, prefix)
    while time.monotonic() < deadline and got[2] < n:
        time.sleep(0.25)
        got = _count(engine, prefix)
    return got


def test_kill_9_during_burst_of_200_runs_loses_and_duplicates_nothing(sd: SystemdEnv) -> None:
    names = [
        sd.add(f"burst{i:02d}", "--command", "/bin/true", "--schedule", "@yearly")
        for i in range(20)
    ]
    assert sd.run("sync").exit_code == 0
    start_from_now(sd.engine, sd.systemd.journal_dir)
    env = {
        **os.environ,
        "SMARTCRON_CONFIG": "",
        "SMARTCRON_DATABASE_URL": str(sd.engine.url),
        "SMARTCRON_JOURNAL_DIRECTORY": str(sd.systemd.journal_dir),
    }

    def spawn() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [SMARTCRON, "watchdog"],
            env=env,
            cwd="/",
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    watchdog = spawn()
    services = [units.service_name(n) for n in names]
    try:
        time.sleep(1.0)  # subscribed
        for round_ in range(10):
            if round_ == 3:
                watchdog.send_signal(signal.SIGKILL)
                watchdog.wait(timeout=10)
            if round_ == 7:
                watchdog = spawn()
            sd.systemd.systemctl("start", *services)  # 20 runs; returns when they are done
        assert _wait_count(sd.engine, f"{sd.prefix}-burst", 200, timeout=60)[2] == 200
        time.sleep(2)  # anything extra would show up now
        rows, distinct, finished = _count(sd.engine, f"{sd.prefix}-burst")
        assert (rows, distinct, finished) == (200, 200, 200)
    finally:
        watchdog.kill()
        watchdog.wait(timeout=10)


@pytest.fixture
def mariadb() -> Iterator[ThrowawayMariaDB]:
    need(
        shutil.which("mariadb-install-db") is not None and os.geteuid() == 0,
        "mariadb-install-db (package mariadb-server) and root are needed for a throwaway MariaDB",
    )
    server = ThrowawayMariaDB()
    server.start()
    yield server
    server.destroy()


def test_database_down_during_runs_loses_no_run(sd: SystemdEnv, mariadb: ThrowawayMariaDB) -> None:
    engine = make_engine(mariadb.url)
    upgrade(engine)
    name = sd.add("dbdown", "--command", "/bin/echo still here", "--schedule", "@yearly")
    assert sd.run("sync").exit_code == 0
    start_from_now(engine, sd.systemd.journal_dir)
    cfg = config.load(
        environ={
            "SMARTCRON_CONFIG": "",
            "SMARTCRON_DATABASE_URL": mariadb.url,
            "SMARTCRON_JOURNAL_DIRECTORY": str(sd.systemd.journal_dir),
        }
    )
    watchdog = Watchdog(cfg)
    watchdog.writer.retry_delay = 0.2
    thread = threading.Thread(target=watchdog.serve, daemon=True)
    thread.start()
    try:
        assert watchdog.listener.subscribed.wait(15)
        service = units.service_name(name)
        sd.systemd.systemctl("start", service)
        assert _wait_count(engine, name, 1, timeout=20)[2] == 1
        mariadb.kill()
        for _ in range(3):
            sd.systemd.systemctl("start", service)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and watchdog.writer.db_ok:
            time.sleep(0.1)
        assert not watchdog.writer.db_ok, "the watchdog did not notice the database going down"
        assert "DATABASE DOWN" in watchdog.status_line()
        assert watchdog.writer.backlog >= 1
        mariadb.start()
        assert _wait_count(engine, name, 4, timeout=60) == (4, 4, 4)
        assert watchdog.writer.db_ok
    finally:
        watchdog.stop()
        thread.join(timeout=15)
        engine.dispose()


def test_task_printing_30000_lines_can_all_be_read_back(sd: SystemdEnv) -> None:
    name = sd.add("flood", "--command", "/usr/bin/seq 1 30000", "--schedule", "@yearly")
    assert sd.run("sync").exit_code == 0
    start_from_now(sd.engine, sd.systemd.journal_dir)
    cfg = config.load(
        environ={
            "SMARTCRON_CONFIG": "",
            "SMARTCRON_DATABASE_URL": str(sd.engine.url),
            "SMARTCRON_JOURNAL_DIRECTORY": str(sd.systemd.journal_dir),
        }
    )
    watchdog = Watchdog(cfg)
    thread = threading.Thread(target=watchdog.serve, daemon=True)
    thread.start()
    try:
        assert watchdog.listener.subscribed.wait(15)
        assert sd.run("task", "run", name, "--wait").exit_code == 0
        assert _wait_count(sd.engine, name, 1, timeout=30)[2] == 1
        # journald takes a moment to store 30,000 lines after the process has exited.
        expected = [str(i) for i in range(1, 30001)]
        deadline = time.monotonic() + 20
        got: list[str] = []
        while time.monotonic() < deadline and got != expected:
            logs = sd.run("logs", name, "--last")
            assert logs.exit_code == 0
            got = logs.stdout.splitlines()
            time.sleep(0.5)
        assert got == expected
        # The stored tail is refreshed once journald has caught up.
        deadline = time.monotonic() + 10
        tail = ""
        while time.monotonic() < deadline and not tail.endswith("30000\n"):
            with sd.engine.connect() as conn:
                tail = (
                    conn.execute(
                        sa.select(executions.c.output_tail).where(executions.c.task_name == name)
                    ).scalar_one()
                    or ""
                )
            time.sleep(0.2)
        assert tail.splitlines()[-1] == "30000" and len(tail.encode()) <= 8 * 1024
        assert len(tail.splitlines()) == 50
    finally:
        watchdog.stop()
        thread.join(timeout=15)


def test_systemd_restarts_a_watchdog_whose_main_loop_is_stuck(sd: SystemdEnv) -> None:
    db = sd.shared / "wd.db"
    db_url = f"sqlite:///{db}"
    upgrade(make_engine(db_url))
    settings = {
        "SMARTCRON_CONFIG": "",
        "SMARTCRON_SERVICE_USER": "",
        "SMARTCRON_DATABASE_URL": db_url,
    }
    with own_unit(sd, "smartcron-watchdog.service", settings, watchdog_sec="3s") as unit:
        sd.systemd.systemctl("start", unit)  # Type=notify: returns after READY=1
        first = sd.systemd.show(unit, "MainPID", "ActiveState", "StatusText")
        assert first["ActiveState"] == "active" and "db ok" in first["StatusText"]
        pid_in_namespace = int(first["MainPID"])
        # Freeze the process: its main loop can no longer ping the watchdog.
        sd.systemd.run(["kill", "-STOP", str(pid_in_namespace)])
        deadline = time.monotonic() + 30
        props = first
        while time.monotonic() < deadline:
            props = sd.systemd.show(unit, "MainPID", "ActiveState", "NRestarts")
            if props["NRestarts"] != "0" and props["ActiveState"] == "active":
                break
            time.sleep(0.5)
        assert props["NRestarts"] != "0" and props["MainPID"] != first["MainPID"], props
        log = sd.systemd.journal("-u", unit, "-o", "cat")
        assert "Watchdog timeout" in log


def test_database_outage_is_alerted_directly(
    sd: SystemdEnv, mariadb: ThrowawayMariaDB, webhook: tuple[str, Inbox]
) -> None:
    import json

    engine = make_engine(mariadb.url)
    upgrade(engine)
    name = sd.add("dbgone", "--command", "/bin/true", "--schedule", "@yearly")
    assert sd.run("sync").exit_code == 0
    start_from_now(engine, sd.systemd.journal_dir)
    cfg = config.load(
        environ={
            "SMARTCRON_CONFIG": "",
            "SMARTCRON_DATABASE_URL": mariadb.url,
            "SMARTCRON_JOURNAL_DIRECTORY": str(sd.systemd.journal_dir),
            "SMARTCRON_CHANNELS": json.dumps({"hook": webhook[0]}),
        }
    )
    watchdog = Watchdog(cfg)
    watchdog.db_alert_after = 1.0  # seconds, instead of 5 minutes
    watchdog.writer.retry_delay = 0.2
    thread = threading.Thread(target=watchdog.serve, daemon=True)
    thread.start()
    try:
        assert watchdog.listener.subscribed.wait(15)
        mariadb.kill()
        sd.systemd.systemctl("start", units.service_name(name))  # a run it cannot write
        got = webhook[1].wait(1, timeout=30)
        assert got and got[0]["title"].startswith("smartcron: cannot reach its database on ")
        assert "Runs are kept in memory" in got[0]["body"]
        time.sleep(2)
        assert len(webhook[1].messages) == 1  # said once, not every second
    finally:
        watchdog.stop()
        thread.join(timeout=15)
        engine.dispose()
