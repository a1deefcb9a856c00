"""Backup, restore and retention on SQLite and on MariaDB: what comes back is identical, and
pruning keeps the figures while deleting in batches."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from smartcron.db.engine import make_engine
from smartcron.db.migrate import upgrade
from smartcron.db.schema import alerts, executions, health_checks, task_daily_stats
from smartcron.db.schema import tasks as tasks_table
from smartcron.db.state import ALERT_CURSOR, set_state
from smartcron.ops import backup, retention, users

from support import TestDB, invoke, need
from support.dashboard import add_alert, add_run, add_task, migrate

NOW = dt.datetime(2026, 11, 27, 3, 30, tzinfo=dt.UTC)


def _seed(db: TestDB) -> None:
    add_task(db.engine, "pos-sync", description="Caisse → stock ✓")
    add_task(db.engine, "bank-import", env={"TOKEN": 'a$b%c"d'})
    for i in range(5):
        add_run(
            db.engine,
            "pos-sync",
            "success" if i % 2 else "failed",
            started_at=NOW - dt.timedelta(hours=i, microseconds=123),
            output_tail=f"line {i}\nünïcödé ✓ <b>",
        )
    add_alert(db.engine, "pos-sync")
    with db.engine.begin() as conn:
        users.add_user(conn, "alice", "operator", "a long password", "test")


def test_backup_then_restore_brings_back_identical_rows(db: TestDB, tmp_path: Path) -> None:
    _seed(db)
    before = db.snapshot()
    result = backup.backup(db.engine, tmp_path, NOW)
    suffix = ".sqlite3" if db.backend == "sqlite" else ".jsonl.gz"
    assert result.path.name == f"smartcron-20261127T033000Z-manual{suffix}"  # taken by hand
    assert result.counts["executions"] == 5 and result.counts["tasks"] == 2
    assert "bank-import" in result.tasks_file.read_text()
    # Lose data, and add something that is not in the backup.
    with db.engine.begin() as conn:
        conn.execute(executions.delete())
        conn.execute(tasks_table.delete().where(tasks_table.c.name == "pos-sync"))
    add_task(db.engine, "stray")
    counts = backup.restore(db.engine, result.path)
    assert counts["executions"] == 5
    assert db.snapshot() == before


def test_restore_into_an_empty_database_of_the_other_kind(db: TestDB, tmp_path: Path) -> None:
    _seed(db)
    before = db.snapshot()
    made = backup.backup(db.engine, tmp_path / "b", NOW)
    empty = make_engine(f"sqlite:///{tmp_path}/empty.db")  # never migrated
    backup.restore(empty, made.path)
    copy = TestDB(f"sqlite:///{tmp_path}/empty.db", empty, "sqlite")
    assert copy.snapshot() == before


def test_restore_command_asks_first_and_refuses_non_backups(db: TestDB, tmp_path: Path) -> None:
    from click.testing import CliRunner

    _seed(db)
    runner = CliRunner(env={"SMARTCRON_DATABASE_URL": db.url, "SMARTCRON_CONFIG": ""})
    made = invoke(runner, "backup", "--to", str(tmp_path / "backups"))
    assert made.exit_code == 0, made.stderr
    assert "Backed up 2 task(s), 5 run(s)" in made.stdout
    path = next(p for p in (tmp_path / "backups").iterdir() if not p.name.endswith(".yaml"))
    with db.engine.begin() as conn:
        conn.execute(executions.delete())
    before = db.snapshot()
    declined = invoke(runner, "restore", str(path), input="n\n")
    assert declined.exit_code == 1 and db.snapshot() == before
    done = invoke(runner, "restore", str(path), "--yes")
    assert done.exit_code == 0, done.stderr
    assert "Restored 2 task(s), 5 run(s)" in done.stdout and "smartcron sync" in done.stdout
    bogus = tmp_path / "notes.txt"
    bogus.write_text("hello")
    refused = invoke(runner, "restore", str(bogus), "--yes")
    assert (
        refused.exit_code == 2 and "FILE" in refused.stderr and "smartcron backup" in refused.stderr
    )


def test_rotation_keeps_daily_and_weekly_backups() -> None:
    times = [NOW - dt.timedelta(hours=12 * i) for i in range(60)]  # two a day for 30 days
    keep = backup.to_keep(times, daily=7, weekly=4)
    days = {t.date() for t in keep}
    assert len([d for d in days if d > (NOW - dt.timedelta(days=7)).date()]) == 7
    assert len(keep) <= 7 + 4 and max(times) in keep
    # The newest of each of the last 4 ISO weeks is kept, the older weeks are not.
    weeks = {t.isocalendar()[:2] for t in keep}
    assert len(weeks) == 4


def test_rotate_deletes_old_backups_and_their_yaml(tmp_path: Path) -> None:
    for i in range(10):
        stamp = (NOW - dt.timedelta(days=i)).strftime("%Y%m%dT%H%M%SZ")
        (tmp_path / f"smartcron-{stamp}.sqlite3").write_text("x")
        (tmp_path / f"smartcron-{stamp}.tasks.yaml").write_text("x")
    (tmp_path / "unrelated.txt").write_text("keep me")
    removed = backup.rotate(tmp_path, daily=3, weekly=1)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert len([n for n in left if n.endswith(".sqlite3")]) == 3
    assert "unrelated.txt" in left and len(removed) == 14


def test_prune_rolls_up_then_deletes_in_batches(db: TestDB) -> None:
    add_task(db.engine, "pos-sync")
    old_day = NOW - dt.timedelta(days=100)
    for i in range(7):
        add_run(
            db.engine,
            "pos-sync",
            "success" if i < 5 else "timeout",
            started_at=old_day + dt.timedelta(minutes=i),
            duration_s=float(i + 1),
        )
    add_run(db.engine, "pos-sync", "success", started_at=NOW - dt.timedelta(days=1))
    add_run(db.engine, "pos-sync", "running", started_at=old_day)  # never pruned while running
    with db.engine.begin() as conn:
        conn.execute(
            alerts.insert(),
            [
                {"task_name": "pos-sync", "kind": "failure", "state": state, "severity": "error",
                 "summary": "x", "opened_at": old_day, "resolved_at": resolved}
                for state, resolved in [("resolved", old_day), ("notified", None)]
            ],
        )  # fmt: skip
        conn.execute(
            health_checks.insert(),
            [
                {"checked_at": when, "check_name": "database", "status": "ok", "value": None,
                 "message": "ok"}
                for when in (old_day, NOW)
            ],
        )  # fmt: skip
    result = retention.prune(db.engine, dt.timedelta(days=90), NOW, batch=3)
    assert (result.runs, result.alerts, result.health_checks) == (7, 1, 1)
    assert result.batches >= 3 + 1 + 1  # 7 runs in batches of 3
    with db.engine.connect() as conn:
        stats = conn.execute(sa.select(task_daily_stats)).one()
        outcomes = sorted(r.outcome for r in conn.execute(sa.select(executions.c.outcome)))
        assert conn.execute(sa.select(alerts.c.state)).scalars().all() == ["notified"]
    assert (stats.task_name, stats.day) == ("pos-sync", old_day.date())
    assert (stats.runs, stats.successes, stats.failures) == (7, 5, 2)
    assert stats.total_duration_s == sum(range(1, 8)) and stats.max_duration_s == 7.0
    assert outcomes == ["running", "success"]
    again = retention.prune(db.engine, dt.timedelta(days=90), NOW, batch=3)
    assert again.runs == 0
    with db.engine.connect() as conn:
        assert conn.execute(sa.select(task_daily_stats.c.runs)).scalar() == 7


def test_prune_deletes_old_run_claims_only(db: TestDB) -> None:
    from smartcron.db.schema import claims

    with db.engine.begin() as conn:
        conn.execute(
            claims.insert(),
            [
                {"claim_key": "task:pos-sync", "slot": when, "host": "a", "claimed_at": when}
                for when in (NOW - dt.timedelta(days=100), NOW - dt.timedelta(hours=1))
            ],
        )
    result = retention.prune(db.engine, dt.timedelta(days=30), NOW)
    assert result.claims == 1
    with db.engine.connect() as conn:
        left = conn.execute(sa.select(claims.c.claimed_at)).scalars().all()
    assert len(left) == 1


def test_prune_command_reports_what_it_did(db: TestDB) -> None:
    from click.testing import CliRunner

    add_task(db.engine, "pos-sync")
    add_run(db.engine, "pos-sync", "failed", started_at=NOW - dt.timedelta(days=400))
    runner = CliRunner(env={"SMARTCRON_DATABASE_URL": db.url, "SMARTCRON_CONFIG": ""})
    result = invoke(runner, "prune", "--older-than", "30d")
    assert result.exit_code == 0, result.stderr
    assert "Pruned 1 run(s) older than 30 day(s) into 1 daily total(s)" in result.stdout
    bad = invoke(runner, "prune", "--older-than", "soon")
    assert bad.exit_code == 2 and "--older-than" in bad.stderr


def test_backup_taken_as_root_belongs_to_the_service_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The restore drill is `sudo -u smartcron smartcron restore FILE`: a backup root took must
    # be readable by that account. `nobody` stands in for it (any host has one).
    import os
    import pwd
    import shutil
    import subprocess
    import tempfile

    from click.testing import CliRunner

    from smartcron.db.migrate import upgrade

    need(os.geteuid() == 0, "taking a backup as root needs root")
    tmp_path = Path(tempfile.mkdtemp(prefix="smartcron-test-", dir="/var/tmp"))  # nobody can enter
    url = f"sqlite:///{tmp_path}/smartcron.db"
    upgrade(make_engine(url))
    monkeypatch.setenv("SMARTCRON_DATABASE_URL", url)
    monkeypatch.setenv("SMARTCRON_SERVICE_USER", "nobody")
    where = tmp_path / "backups"
    result = invoke(CliRunner(), "backup", "--to", str(where))
    assert result.exit_code == 0, result.stderr
    assert "kept until you delete it" in result.stdout
    made = next(where.glob("smartcron-*-manual.sqlite3"))
    assert made.stat().st_uid == pwd.getpwnam("nobody").pw_uid
    for folder in (tmp_path, where):
        folder.chmod(0o755)
    readable = subprocess.run(
        ["runuser", "-u", "nobody", "--", "head", "-c", "16", str(made)], capture_output=True
    )
    assert readable.returncode == 0, readable.stderr
    assert readable.stdout.startswith(b"SQLite format 3")
    shutil.rmtree(tmp_path)


def test_prune_deletes_old_group_waits_only(db: TestDB) -> None:
    from smartcron.db.runs import WAIT_PREFIX
    from smartcron.db.schema import state

    with db.engine.begin() as conn:
        conn.execute(
            state.insert(),
            [
                {"key": key, "value": "1.5", "updated_at": when}
                for key, when in (
                    (WAIT_PREFIX + "a" * 32, NOW - dt.timedelta(days=100)),
                    (WAIT_PREFIX + "b" * 32, NOW - dt.timedelta(hours=1)),
                    ("collector.old", NOW - dt.timedelta(days=100)),
                )
            ],
        )
    result = retention.prune(db.engine, dt.timedelta(days=30), NOW)
    assert result.waits == 1
    with db.engine.connect() as conn:
        left = set(conn.execute(sa.select(state.c.key)).scalars())
    assert left >= {WAIT_PREFIX + "b" * 32, "collector.old"}
    assert WAIT_PREFIX + "a" * 32 not in left


def test_restore_of_a_backup_from_before_alert_pending_alerts_no_history(tmp_path: Path) -> None:
    # Runs in a backup older than migration 0015 have no alert_pending: restored, they would
    # default to pending and every old failure would alert again.
    engine = make_engine(f"sqlite:///{tmp_path}/live.db")
    upgrade(engine)
    add_task(engine, "bank")
    add_run(engine, "bank", "failed")
    running = add_run(engine, "bank", "running", finished_at=None, duration_s=None)
    with engine.begin() as conn:
        set_state(conn, ALERT_CURSOR, str(running))
        conn.execute(executions.update().values(alert_pending=False))
    made = backup.backup(engine, tmp_path / "b", NOW)
    old = make_engine(f"sqlite:///{made.path}")
    migrate(old, "downgrade", "0014")
    old.dispose()
    backup.restore(engine, made.path)
    with engine.connect() as conn:
        pending = conn.execute(sa.select(executions.c.id).where(executions.c.alert_pending))
        assert list(pending.scalars()) == [running]  # still running: evaluated when it ends
