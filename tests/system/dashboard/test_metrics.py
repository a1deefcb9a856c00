"""/metrics, read back with prometheus_client's parser: counters kept on write survive prune,
per task and host; the text follows every change to the database; migration 0012 splits the
totals by host and keeps pruned runs; the text passes
`promtool check metrics`; the run totals are counted once per run however often it is
recorded. On SQLite and real MariaDB."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from smartcron.dashboard import create_app
from smartcron.db.schema import health_checks, run_totals
from smartcron.db.schema import tasks as tasks_table
from smartcron.model import config
from smartcron.model.schedule import next_runs
from smartcron.ops.retention import prune
from smartcron.watchdog.events import RunEvent
from smartcron.watchdog.record import write_event

from support import TestDB, invoke, need
from support.dashboard import add_alert, add_run, add_task, add_user, migrate


@pytest.fixture
def app(db: TestDB) -> Iterator[Flask]:
    cfg = config.load(environ={"SMARTCRON_CONFIG": "", "SMARTCRON_DATABASE_URL": db.url})
    add_task(db.engine, "pos-sync")
    add_task(db.engine, "bank-import")
    add_user(db.engine, "vera", "viewer")
    yield create_app(cfg, {"TESTING": True, "SESSION_COOKIE_SECURE": False})


def _scrape(
    client: FlaskClient, db: TestDB
) -> tuple[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    from click.testing import CliRunner

    token = invoke(CliRunner(env={"SMARTCRON_DATABASE_URL": db.url}), "user", "token", "vera")
    response = client.get("/metrics", headers={"Authorization": f"Bearer {token.stdout.strip()}"})
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    return text, samples


def test_metrics_counters_include_pruned_runs(app: Flask, db: TestDB) -> None:
    now = dt.datetime.now(dt.UTC)
    old = now - dt.timedelta(days=400)
    for _ in range(3):
        add_run(db.engine, "pos-sync", "success", started_at=old, finished_at=old, duration_s=0.5)
    add_run(db.engine, "pos-sync", "failed", started_at=old, duration_s=30.0)
    add_run(db.engine, "pos-sync", "success", duration_s=400.0)
    add_run(db.engine, "bank-import", "timeout", duration_s=20000.0)
    add_alert(db.engine, "bank-import")
    with db.engine.begin() as conn:
        conn.execute(
            health_checks.insert().values(
                checked_at=now, check_name="score", status="ok", value=87.0, message="87/100"
            )
        )
    assert prune(db.engine, dt.timedelta(days=90), now).runs == 4
    text, got = _scrape(app.test_client(), db)
    pos, bank = (("host", ""), ("task", "pos-sync")), (("host", ""), ("task", "bank-import"))
    assert got[("smartcron_runs_total", (("host", ""), ("outcome", "success"), pos[1]))] == 4
    assert got[("smartcron_runs_total", (("host", ""), ("outcome", "failed"), pos[1]))] == 1
    assert got[("smartcron_runs_total", (("host", ""), ("outcome", "timeout"), bank[1]))] == 1
    assert got[("smartcron_run_duration_seconds_bucket", (pos[0], ("le", "1.0"), pos[1]))] == 3
    assert got[("smartcron_run_duration_seconds_bucket", (pos[0], ("le", "60.0"), pos[1]))] == 4
    assert got[("smartcron_run_duration_seconds_bucket", (pos[0], ("le", "300.0"), pos[1]))] == 4
    assert got[("smartcron_run_duration_seconds_bucket", (pos[0], ("le", "900.0"), pos[1]))] == 5
    assert (
        got[("smartcron_run_duration_seconds_bucket", (bank[0], ("le", "14400.0"), bank[1]))] == 0
    )
    assert got[("smartcron_run_duration_seconds_bucket", (bank[0], ("le", "+Inf"), bank[1]))] == 1
    assert got[("smartcron_run_duration_seconds_sum", pos)] == pytest.approx(431.5)
    assert got[("smartcron_task_up", pos)] == 1 and got[("smartcron_task_up", bank)] == 0
    recent = got[("smartcron_task_last_success_timestamp_seconds", pos)]
    assert abs(recent - (now - dt.timedelta(seconds=5)).timestamp()) < 2
    assert got[("smartcron_task_last_run_timestamp_seconds", pos)] == recent
    assert ("smartcron_task_last_success_timestamp_seconds", bank) not in got
    # Next due: the first slot of */5 after the latest start (5 s before `now`, plus 5 s).
    due = next_runs("*/5 * * * *", "UTC", now, 1)[0].timestamp()
    assert got[("smartcron_task_next_run_timestamp_seconds", pos[1:])] == pytest.approx(due, abs=1)
    assert got[("smartcron_alerts_open", (("kind", "failure"),))] == 1
    assert got[("smartcron_health_score", ())] == 87
    assert got[("smartcron_watchdog_last_seen_timestamp_seconds", ())] == pytest.approx(
        now.timestamp(), abs=0.01
    )
    promtool = shutil.which("promtool")
    need(promtool is not None, "promtool (Debian package prometheus) is not installed")
    assert promtool is not None
    check = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_metrics_record_counts_a_run_once(db: TestDB) -> None:
    add_task(db.engine, "pos-sync")
    start = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=3)
    inv = uuid.uuid4().hex
    started = RunEvent("started", "pos-sync", inv, started_at=start)
    finished = RunEvent(
        "finished",
        "pos-sync",
        inv,
        started_at=start,
        finished_at=start + dt.timedelta(seconds=2),
        result="exit-code",
        exec_code=1,
        exec_status=3,
    )
    for event in (started, finished, finished, started):  # replays, as reconcile can bring
        with db.engine.begin() as conn:
            write_event(conn, event)
    with db.engine.connect() as conn:
        rows = conn.execute(sa.select(run_totals)).all()
    assert [(r.task_name, r.outcome, r.runs, r.duration_count, r.le_5) for r in rows] == [
        ("pos-sync", "failed", 1, 1, 1)
    ]


def test_metrics_runs_carry_the_host_that_recorded_them(app: Flask, db: TestDB) -> None:
    add_run(db.engine, "pos-sync", "success", host="till-1", duration_s=2.0)
    add_run(db.engine, "pos-sync", "failed", host="till-2", duration_s=70.0)
    add_run(db.engine, "pos-sync", "success", host="till-2", duration_s=3.0)
    add_run(db.engine, "pos-sync", "failed")  # no host: recorded before hosts existed
    _, got = _scrape(app.test_client(), db)
    task = ("task", "pos-sync")
    runs = {
        labels: value for (name, labels), value in got.items() if name == "smartcron_runs_total"
    }
    assert runs == {
        (("host", "till-1"), ("outcome", "success"), task): 1,
        (("host", "till-2"), ("outcome", "failed"), task): 1,
        (("host", "till-2"), ("outcome", "success"), task): 1,
        (("host", ""), ("outcome", "failed"), task): 1,
    }
    till2 = (("host", "till-2"), task)
    assert got[("smartcron_run_duration_seconds_count", till2)] == 2
    assert (
        got[("smartcron_run_duration_seconds_bucket", (("host", "till-2"), ("le", "5.0"), task))]
        == 1
    )
    assert got[("smartcron_run_duration_seconds_sum", till2)] == pytest.approx(73.0)
    assert got[("smartcron_task_up", (("host", "till-1"), task))] == 1
    assert got[("smartcron_task_up", (("host", ""), task))] == 0


def test_metrics_text_changes_with_every_finished_run(app: Flask, db: TestDB) -> None:
    client = app.test_client()
    add_run(db.engine, "pos-sync", "success", host="till-1")
    first = _scrape(client, db)[1]
    add_run(db.engine, "pos-sync", "success", host="till-1")
    add_alert(db.engine, "pos-sync")
    second = _scrape(client, db)[1]
    key = (
        "smartcron_runs_total",
        (("host", "till-1"), ("outcome", "success"), ("task", "pos-sync")),
    )
    assert (first[key], second[key]) == (1, 2)
    assert second[("smartcron_alerts_open", (("kind", "failure"),))] == 1


def test_metrics_migration_0012_splits_totals_by_host_and_keeps_pruned_runs(db: TestDB) -> None:
    now = dt.datetime.now(dt.UTC)
    old = now - dt.timedelta(days=400)
    add_task(db.engine, "pos-sync")
    add_run(db.engine, "pos-sync", "success", host="till-1", started_at=old, duration_s=2.0)
    add_run(db.engine, "pos-sync", "success", host="till-1", duration_s=2.0)
    add_run(db.engine, "pos-sync", "success", host="till-2", duration_s=20.0)
    add_run(db.engine, "pos-sync", "success", duration_s=0.5)
    add_run(db.engine, "pos-sync", "ran-elsewhere", host="till-2")  # a skip: never counted
    assert prune(db.engine, dt.timedelta(days=90), now).runs == 1
    migrate(db.engine, "downgrade", "0011")
    with db.engine.connect() as conn:
        merged = conn.execute(sa.text("SELECT outcome, runs, le_5 FROM run_totals")).all()
    assert [tuple(r) for r in merged] == [("success", 4, 2)]
    migrate(db.engine, "upgrade", "head")
    with db.engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                run_totals.c.host, run_totals.c.runs, run_totals.c.le_5, run_totals.c.le_1
            ).order_by(run_totals.c.host)
        ).all()
    # The pruned run of till-1 is no longer known to be till-1's: it stays with host "".
    assert [tuple(r) for r in rows] == [("", 2, 1, 1), ("till-1", 1, 1, 0), ("till-2", 1, 0, 0)]


def test_metrics_task_up_follows_placement_and_ignores_skips(app: Flask, db: TestDB) -> None:
    hour = dt.timedelta(hours=1)
    now = dt.datetime.now(dt.UTC)
    add_task(db.engine, "bank", hosts=["till-1", "till-2"], placement="one")
    add_run(db.engine, "bank", "failed", host="till-1", started_at=now - 2 * hour)
    add_run(db.engine, "bank", "success", host="till-2", started_at=now - hour)
    add_run(db.engine, "bank", "ran-elsewhere", host="till-1", started_at=now)
    add_task(db.engine, "pos", hosts=["till-2"])  # moved from till-1, where it last failed
    add_run(db.engine, "pos", "failed", host="till-1", started_at=now - hour)
    add_run(db.engine, "pos", "success", host="till-2", started_at=now)
    _, got = _scrape(app.test_client(), db)
    up = {labels: value for (name, labels), value in got.items() if name == "smartcron_task_up"}
    # One run per slot for `one`: the latest run is the task's state, not till-1's old
    # failure, and till-1's skip is not a run. A host the task left keeps no series.
    assert up == {
        (("host", "till-2"), ("task", "bank")): 1,
        (("host", "till-2"), ("task", "pos")): 1,
    }


def test_metrics_next_run_falls_into_the_past_when_a_run_is_late(app: Flask, db: TestDB) -> None:
    now = dt.datetime.now(dt.UTC)
    hour_ago = now - dt.timedelta(hours=1)
    with db.engine.begin() as conn:  # the task has been as it is for two hours
        conn.execute(tasks_table.update().values(updated_at=now - dt.timedelta(hours=2)))
    add_run(db.engine, "pos-sync", "success", started_at=hour_ago, finished_at=hour_ago)
    client = app.test_client()
    got = _scrape(client, db)[1]
    key = ("smartcron_task_next_run_timestamp_seconds", (("task", "pos-sync"),))
    due = next_runs("*/5 * * * *", "UTC", hour_ago + dt.timedelta(seconds=5), 1)[0]
    assert got[key] == pytest.approx(due.timestamp()) and due < now
    # bank-import never ran: due from its last change, two hours ago.
    bank = ("smartcron_task_next_run_timestamp_seconds", (("task", "bank-import"),))
    assert got[bank] < (now - dt.timedelta(minutes=100)).timestamp()
    # A run that has started (still running) is not late.
    add_run(db.engine, "pos-sync", "running", started_at=now, finished_at=None, duration_s=None)
    assert _scrape(client, db)[1][key] > now.timestamp()
