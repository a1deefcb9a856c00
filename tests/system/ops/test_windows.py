"""Maintenance windows on real components: a private systemd 252 runs the tasks, whose
ExecCondition= gate reads the windows from SQLite or MariaDB; the watchdog holds the alerts
of covered tasks and sends one summary to a real webhook and SMTP server when the window
ends."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from smartcron.db.engine import make_engine
from smartcron.db.migrate import upgrade
from smartcron.db.schema import executions, metadata, outbox
from smartcron.watchdog.service import Watchdog

from support.receivers import Inbox
from support.systemd import SystemdEnv, start_watchdog

EMPTY_CONFIG = str(Path(__file__).resolve().parents[2] / "data" / "empty.toml")


def _dated(start: dt.datetime, end: dt.datetime) -> str:
    return f"{start:%Y-%m-%d %H:%M} .. {end:%Y-%m-%d %H:%M}"


@pytest.fixture(params=["sqlite", "mariadb"])
def store(
    request: pytest.FixtureRequest, sd: SystemdEnv, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The test's store on SQLite (a file the private systemd sees) or MariaDB, for the CLI
    and for the units' gate (the private systemd's manager environment); this host is "a"."""
    if request.param == "sqlite":
        url = f"sqlite:///{sd.shared}/smartcron.db"
        upgrade(make_engine(url))
    else:
        url = request.getfixturevalue("mysql_database")
        engine = make_engine(url)
        with engine.begin() as conn:
            for table in reversed(metadata.sorted_tables):
                conn.execute(table.delete())
        engine.dispose()
    monkeypatch.setenv("SMARTCRON_DATABASE_URL", url)
    monkeypatch.setenv("SMARTCRON_HOST_NAME", "a")
    env = {"SMARTCRON_DATABASE_URL": url, "SMARTCRON_HOST_NAME": "a",
           "SMARTCRON_CONFIG": EMPTY_CONFIG}  # fmt: skip
    sd.systemd.systemctl("set-environment", *(f"{k}={v}" for k, v in env.items()))
    sd.engine = make_engine(url)
    yield url
    sd.systemd.systemctl("unset-environment", *env)


def _finished(sd: SystemdEnv, task: str, outcome: str, timeout: float = 40) -> list[sa.Row[object]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sd.engine.connect() as conn:
            rows = list(conn.execute(sa.select(executions).where(
                executions.c.task_name == task, executions.c.outcome == outcome)))  # fmt: skip
        if rows:
            return rows
        time.sleep(0.5)
    raise AssertionError(f"{task}: no {outcome} run within {timeout} s")


def test_windows_covering_now_skips_runs_and_records_the_window_name(
    sd: SystemdEnv, store: str, recorder: Watchdog
) -> None:
    out = sd.shared / "ran.txt"
    script = sd.script("job.sh", f"#!/bin/sh\ndate +%s >> {out}\n")
    task = sd.add("nightly", "--command", str(script), "--schedule", "*-*-* *:*:0/5")
    now = dt.datetime.now(dt.UTC)
    added = sd.run("window", "add", "upgrade", "--timezone", "UTC", "--task", task,
                   "--when", _dated(now - dt.timedelta(hours=1), now + dt.timedelta(hours=1)))  # fmt: skip
    assert added.exit_code == 0 and "active until" in added.stdout, added.stderr
    assert sd.run("sync").exit_code == 0
    unit = sd.systemd.unit_dir / f"smartcron-{task}.service"
    assert "ExecCondition=+" in unit.read_text()
    [skip, *_] = _finished(sd, task, "skipped-window")
    assert skip.meaning.startswith("Skipped: maintenance window upgrade (")
    assert skip.result == "exec-condition" and skip.host == "a"
    assert not out.exists()  # the command never ran
    state = sd.systemd.show(f"smartcron-{task}.service", "ActiveState", "Result")
    # systemd's own word for a run its ExecCondition= declined: no failure, no OnFailure=.
    # (The next run's gate may be deciding right now: activating, with Result reset.)
    assert state["ActiveState"] != "failed", state
    assert state["Result"] in ("exec-condition", "success"), state
    shown = sd.run("runs", task)
    assert "maintenance window" in shown.stdout or "skipped" in shown.stdout, shown.stdout
    # Without the window the same timer runs the command again.
    assert sd.run("window", "rm", "upgrade").exit_code == 0
    _finished(sd, task, "success")  # recorded by the watchdog
    assert out.exists()
    with sd.engine.connect() as conn:
        outcomes = set(conn.execute(sa.select(executions.c.outcome).where(
            executions.c.task_name == task)).scalars())  # fmt: skip
    # The watchdog kept the gate's word for the skipped runs (not a bare "skipped").
    assert outcomes <= {"skipped-window", "success", "running"}, outcomes


def test_windows_hold_alerts_of_covered_tasks_and_send_one_summary_after_the_end(
    sd: SystemdEnv, store: str, webhook: tuple[str, Inbox], smtp: tuple[str, Inbox]
) -> None:
    script = sd.script("fail.sh", "#!/bin/sh\necho 'till offline' >&2\nexit 3\n")
    tills = [sd.add(n, "--command", str(script), "--schedule", "@yearly", "--category", "pos",
                    "--alert-on", "failure") for n in ("till-1", "till-2")]  # fmt: skip
    other = sd.add("bank", "--command", str(script), "--schedule", "@yearly",
                   "--alert-on", "failure")  # fmt: skip
    assert sd.run("sync").exit_code == 0
    # A short window: it ends at the next minute that is at least 25 s away.
    now = dt.datetime.now(dt.UTC)
    end = now.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    if end - now < dt.timedelta(seconds=25):
        end += dt.timedelta(minutes=1)
    added = sd.run("window", "add", "quiet", "--timezone", "UTC", "--category", "pos",
                   "--action", "hold_alerts", "--when", _dated(end - dt.timedelta(minutes=5), end))  # fmt: skip
    assert added.exit_code == 0, added.stderr
    hooks, mails = webhook[1], smtp[1]
    watchdog = start_watchdog(sd, store, {"hook": webhook[0], "mail": smtp[0]}, "1h")
    try:
        for name in (*tills, other):
            sd.run("task", "run", name, "--wait")
        # Only the task outside the window alerts now.
        first = hooks.wait(1)
        time.sleep(3)
        assert len(hooks.messages) == 1 and other in first[0]["title"], hooks.messages
        with sd.engine.connect() as conn:
            held = conn.execute(sa.select(outbox).where(outbox.c.state == "held")).fetchall()
        assert sorted(r.task_name for r in held) == sorted(tills)
        assert {r.held_for for r in held} == {"quiet"}
        assert dt.datetime.now(dt.UTC) < end  # still inside the window: nothing more sent
        # After the end: one summary, naming the window and each held alert.
        got = hooks.wait(2, timeout=(end - dt.datetime.now(dt.UTC)).total_seconds() + 30)
        assert len(got) == 2, got
        summary = got[1]
        assert summary["title"].startswith("smartcron: maintenance window quiet ended: 2 held")
        for name in tills:
            assert f"{name} (failure, " in summary["body"]
        assert summary["body"].count("Failed with exit status 3") == 2
        assert dt.datetime.now(dt.UTC) >= end
        mail = mails.wait(2, timeout=30)
        assert len(mail) == 2 and "maintenance window quiet" in mail[1]["title"]
        assert "<h2>smartcron: maintenance window quiet ended" in mail[1]["raw"]
        time.sleep(3)
        assert len(hooks.messages) == 2  # once, not every tick
        with sd.engine.connect() as conn:
            states = {r.state for r in conn.execute(sa.select(outbox.c.state).where(
                outbox.c.held_for == "quiet"))}  # fmt: skip
        assert states == {"released"}
    finally:
        watchdog.stop()


def test_windows_skipped_predecessor_does_not_start_its_follower(
    sd: SystemdEnv, store: str, recorder: Watchdog
) -> None:
    # systemd counts a run its ExecCondition= declined as a success, so OnSuccess= started
    # the follower of a predecessor a window had skipped: the chain went on as if it ran.
    ran = sd.shared / "b-ran"
    first = sd.add("bank", "--command", "/bin/true", "--schedule", "@yearly")
    follower = sd.script("b.sh", f"#!/bin/sh\necho ran >> {ran}\n")
    second = sd.add("payroll", "--command", str(follower), "--after", first)
    now = dt.datetime.now(dt.UTC)
    added = sd.run("window", "add", "audit", "--timezone", "UTC", "--task", first,
                   "--when", _dated(now - dt.timedelta(hours=1), now + dt.timedelta(hours=1)))  # fmt: skip
    assert added.exit_code == 0, added.stderr
    assert sd.run("sync").exit_code == 0
    declined = sd.run("task", "run", first, "--wait")  # it used to wait forever
    assert declined.exit_code == 1, declined.stdout + declined.stderr
    assert "Skipped: maintenance window audit" in declined.stderr, declined.stderr
    _finished(sd, first, "skipped-window")
    [skip] = _finished(sd, second, "skipped")
    assert skip.meaning.startswith(f"Not run: its predecessor {first} did not run here"), skip
    assert "maintenance window audit" in skip.meaning
    time.sleep(2)
    assert not ran.exists()  # the follower's command never ran
    # Without the window the chain goes on as before.
    assert sd.run("window", "rm", "audit").exit_code == 0
    assert sd.run("task", "run", first, "--wait").exit_code == 0
    _finished(sd, second, "success")
    assert ran.read_text() == "ran\n"
