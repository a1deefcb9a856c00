"""Concurrency groups on the real private systemd: tasks of a group started together run at
most max_concurrent at once, the others wait (their waits recorded by `smartcron group-wait`
under the invocation id and kept by the watchdog), a SIGKILLed member frees its slot, and a
wait longer than the timeout ends the run as a timeout."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smartcron.db.engine import make_engine
from smartcron.db.migrate import upgrade
from smartcron.db.records import run_meaning
from smartcron.model import config
from smartcron.watchdog.service import Watchdog

from support.systemd import SystemdEnv, wait_rows

RUN_S = 3.0


@pytest.fixture
def grouped(sd: SystemdEnv, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A store the units' `group-wait` can reach too (SQLite in the shared directory; the
    private systemd has its own /tmp) and a config file for the group limits, both in the
    private systemd's manager environment; the watchdog recording runs into that store.
    Yields the config file: a test writes the limits it wants into it."""
    url = f"sqlite:///{sd.shared}/smartcron.db"
    sd.engine = make_engine(url)
    upgrade(sd.engine)
    settings = sd.shared / "smartcron.toml"
    settings.write_text("")
    monkeypatch.setenv("SMARTCRON_DATABASE_URL", url)
    monkeypatch.setenv("SMARTCRON_CONFIG", str(settings))
    env = {"SMARTCRON_DATABASE_URL": url, "SMARTCRON_CONFIG": str(settings)}
    sd.systemd.systemctl("set-environment", *(f"{k}={v}" for k, v in env.items()))
    cfg = config.load(
        environ={
            "SMARTCRON_CONFIG": "",
            "SMARTCRON_DATABASE_URL": url,
            "SMARTCRON_JOURNAL_DIRECTORY": str(sd.systemd.journal_dir),
        }
    )
    watchdog = Watchdog(cfg)
    watchdog.skip_journal_history()
    thread = threading.Thread(target=watchdog.serve, daemon=True)
    thread.start()
    assert watchdog.listener.subscribed.wait(15), watchdog.listener.error
    yield settings
    watchdog.stop()
    thread.join(timeout=15)
    sd.systemd.systemctl("unset-environment", *env)


def _limit(settings: Path, group: str, limit: int) -> None:
    settings.write_text(f"[concurrency_groups.{group}]\nmax_concurrent = {limit}\n")


def _members(sd: SystemdEnv, group: str, count: int, seconds: float, *extra: str) -> list[str]:
    job = sd.script("job.sh", f"#!/bin/sh\necho working\nsleep {seconds}\n")
    args = ["--command", str(job), "--schedule", "@yearly", "--concurrency-group", group]
    names = [sd.add(f"m{i}", *args, *extra) for i in range(count)]
    synced = sd.run("sync")
    assert synced.exit_code == 0, synced.stderr + synced.stdout
    return names


def _start(sd: SystemdEnv, names: list[str]) -> None:
    units = [f"smartcron-{n}.service" for n in names]
    sd.systemd.systemctl("start", "--no-block", *units)


def _finished(sd: SystemdEnv, names: list[str], timeout: float = 60) -> list[Any]:
    return [next(r for r in wait_rows(sd, n, 1, timeout) if r.outcome != "running") for n in names]


def _overlap(rows: list[Any]) -> int:
    """The most runs whose command ran at the same moment (from started_at/finished_at)."""
    moments = [(r.started_at, 1) for r in rows] + [(r.finished_at, -1) for r in rows]
    running = most = 0
    for _at, step in sorted(moments, key=lambda m: (m[0], m[1])):
        running += step
        most = max(most, running)
    return most


def test_groups_one_at_a_time_runs_three_members_in_turn_with_waits(
    sd: SystemdEnv, grouped: Path
) -> None:
    group = sd.prefix
    _limit(grouped, group, 1)
    names = _members(sd, group, 3, RUN_S)
    unit = (sd.systemd.unit_dir / f"smartcron-{names[0]}.service").read_text()
    assert "ExecStartPre=+" in unit and f"group-wait {names[0]} {group}" in unit
    _start(sd, names)
    rows = sorted(_finished(sd, names), key=lambda r: r.started_at)
    assert {r.outcome for r in rows} == {"success"}, [(r.outcome, r.meaning) for r in rows]
    assert _overlap(rows) == 1, [(r.started_at, r.finished_at) for r in rows]
    for before, after in itertools.pairwise(rows):
        assert after.started_at >= before.finished_at
    waits = [r.wait_seconds for r in rows]
    assert waits[0] < 1.5, waits
    assert RUN_S - 0.3 < waits[1] < RUN_S + 2.5, waits
    assert 2 * RUN_S - 0.6 < waits[2] < 2 * RUN_S + 5, waits
    # Shown: runs --json, task show, and the wait note in the meaning people read.
    listed = json.loads(sd.run("runs", rows[2].task_name, "--json").stdout)
    assert listed[0]["wait_seconds"] == pytest.approx(waits[2])
    shown = sd.run("task", "show", rows[2].task_name).stdout
    assert f"{group}: at most 1 of its tasks at once on a host" in shown
    assert f"the latest run waited {waits[2]:.1f} s for a slot" in shown
    table = sd.run("runs", rows[2].task_name).stdout
    assert "It waited" in table


def test_groups_two_at_a_time_run_two_members_together(sd: SystemdEnv, grouped: Path) -> None:
    group = sd.prefix
    _limit(grouped, group, 2)
    names = _members(sd, group, 3, RUN_S)
    _start(sd, names)
    rows = sorted(_finished(sd, names), key=lambda r: r.started_at)
    assert {r.outcome for r in rows} == {"success"}, [(r.outcome, r.meaning) for r in rows]
    assert _overlap(rows) == 2, [(r.started_at, r.finished_at) for r in rows]
    waits = sorted(r.wait_seconds for r in rows)
    assert waits[0] < 1.5 and waits[1] < 1.5, waits
    assert RUN_S - 0.3 < waits[2] < RUN_S + 2.5, waits


def _wait_running(sd: SystemdEnv, name: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if sd.systemd.show(f"smartcron-{name}.service", "MainPID")["MainPID"] not in ("", "0"):
            return
        time.sleep(0.1)
    raise AssertionError(f"{name} never started its command")


def test_groups_sigkilled_member_frees_its_slot(sd: SystemdEnv, grouped: Path) -> None:
    group = sd.prefix
    _limit(grouped, group, 1)
    names = _members(sd, group, 2, 20)
    _start(sd, names)
    deadline = time.monotonic() + 20
    running: list[tuple[str, str]] = []
    while time.monotonic() < deadline and not running:
        pids = {n: sd.systemd.show(f"smartcron-{n}.service", "MainPID")["MainPID"] for n in names}
        running = [(n, p) for n, p in pids.items() if p not in ("", "0")]
        time.sleep(0.1)
    assert len(running) == 1, running  # one holds the only slot, the other waits
    first, pid = running[0]
    (second,) = set(names) - {first}
    killed_at = time.time()
    sd.systemd.run(["kill", "-KILL", pid])
    killed = _finished(sd, [first])[0]
    assert killed.exit_signal == "SIGKILL", (killed.outcome, killed.meaning)
    # The next member starts at once: the kernel released the slot with the run.
    _wait_running(sd, second)
    assert time.time() - killed_at < 3.0
    sd.systemd.systemctl("stop", f"smartcron-{second}.service")
    after = _finished(sd, [second])[0]
    # It waited for the slot (how long depends on its helper's start-up) and began only after
    # the killed run ended.
    assert after.wait_seconds > 0 and after.started_at >= killed.finished_at, after


def test_groups_wait_counts_against_the_timeout(sd: SystemdEnv, grouped: Path) -> None:
    group = sd.prefix
    _limit(grouped, group, 1)
    (long,) = _members(sd, group, 1, 15)
    _start(sd, [long])
    _wait_running(sd, long)
    job = sd.script("quick.sh", f"#!/bin/sh\ntouch {sd.shared}/quick-ran\n")
    args = ["--command", str(job), "--schedule", "@yearly", "--concurrency-group", group]
    short = sd.add("short", *args, "--timeout", "5s")
    assert sd.run("sync").exit_code == 0
    _start(sd, [short])
    row = _finished(sd, [short], timeout=30)[0]
    assert row.outcome == "timeout", (row.outcome, row.meaning)
    # Its command never ran, but the run is dated when its wait began (the unit's start), so
    # it sorts and counts as the task's latest run.
    assert row.started_at is not None and row.finished_at >= row.started_at, row
    assert 4.0 <= row.duration_s < 8.0, row.duration_s
    assert row.exit_code is None and row.exit_signal is None, row  # no exit status of its own
    # The wait is the time spent for a slot: the timeout's 5 s less the helper's start-up.
    assert 1.0 < row.wait_seconds <= 5.0, row.wait_seconds
    assert row.meaning.startswith(
        f"Timed out waiting for a slot of concurrency group {group} after "
        f"{row.wait_seconds:.1f} s (the task's timeout of 5s): its command never started."
    ), row.meaning
    assert "still running" not in row.meaning and run_meaning(row) == row.meaning
    assert not (sd.shared / "quick-ran").exists()
    latest = sd.run("runs", short, "--limit", "1").stdout
    assert "timeout" in latest and "waiting for a slot" in latest, latest
    (line,) = [r for r in sd.run("status").stdout.splitlines() if r.startswith(f"{short} ")]
    assert " timeout " in line, line  # its latest outcome, not an older one
    sd.systemd.systemctl("stop", f"smartcron-{long}.service")
    # The dashboard's task page (its durations chart) and run page show it.
    from smartcron.dashboard import create_app

    from support.dashboard import add_user, login

    cfg = config.load(
        environ={"SMARTCRON_CONFIG": "", "SMARTCRON_DATABASE_URL": str(sd.engine.url)}
    )
    app = create_app(cfg, {"TESTING": True, "SESSION_COOKIE_SECURE": False})
    add_user(sd.engine, "vera", "viewer")
    client = app.test_client()
    login(client, "vera")
    task_page = client.get(f"/tasks/{short}")
    assert task_page.status_code == 200, task_page.get_data(as_text=True)[-2000:]
    run_page = client.get(f"/runs/{row.id}").get_data(as_text=True)
    assert "waiting for a slot of concurrency group" in run_page
    assert "<th>Exit status / signal</th><td>- / -</td>" in run_page
