"""The digest end to end: a seeded day on SQLite and MariaDB, sent through a real SMTP
receiver (aiosmtpd), once per day whoever sends it: the CLI, or the watchdogs of two hosts."""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path

import pytest
import sqlalchemy as sa
import time_machine
from click.testing import CliRunner

from smartcron.alerting.delivery import deliver_due
from smartcron.db.runs import record_skip
from smartcron.db.schema import alerts, claims, executions, health_checks, outbox
from smartcron.model import config as config_mod
from smartcron.model.digest import daily
from smartcron.model.outcome import explain, explain_skip
from smartcron.ops import digest

from support import TestDB, invoke
from support.dashboard import add_task
from support.receivers import Inbox, plain_part

UTC = dt.UTC
ZONE = "Europe/Berlin"  # UTC+1 in November
DAY = dt.date(2026, 11, 29)


def _run(conn: sa.Connection, task: str, at: dt.datetime, outcome: str, meaning: str) -> None:
    conn.execute(
        executions.insert().values(
            task_name=task, invocation_id=secrets.token_hex(16), trigger="timer", attempt=1,
            started_at=at, finished_at=at + dt.timedelta(seconds=3), duration_s=3.0,
            outcome=outcome, meaning=meaning, recorded_at=at + dt.timedelta(seconds=4),
            host="web1",
        )
    )  # fmt: skip


def _score(conn: sa.Connection, at: dt.datetime, value: float) -> None:
    conn.execute(
        health_checks.insert().values(
            checked_at=at, check_name="score", status="ok", value=value, message=f"score {value}"
        )
    )


def _seed_busy_day(db: TestDB) -> None:
    ok = explain("success", 1, 0, duration=3.0).meaning
    failed = explain("exit-code", 1, 127, duration=0.1).meaning
    oom = explain("oom-kill", 2, 9, duration=40.0, memory_max=256 << 20).meaning
    with db.engine.begin() as conn:
        # 00:30 local on the day (23:30 UTC the evening before): inside the local day.
        _run(conn, "pos-sync", dt.datetime(2026, 11, 28, 23, 30, tzinfo=UTC), "success", ok)
        for hour in range(1, 9):
            _run(conn, "pos-sync", dt.datetime(2026, 11, 29, hour, 0, tzinfo=UTC), "success", ok)
        _run(conn, "report", dt.datetime(2026, 11, 29, 2, 10, tzinfo=UTC), "failed", failed)
        _run(conn, "etl", dt.datetime(2026, 11, 29, 5, 0, tzinfo=UTC), "oom", oom)
        # 00:30 local the day after: not this day's.
        _run(conn, "report", dt.datetime(2026, 11, 29, 23, 30, tzinfo=UTC), "failed", failed)
        skip = explain_skip("skipped", "the database was down and if_db_down is skip")
        record_skip(conn, task_id=None, task="ledger", invocation_id=secrets.token_hex(16),
                    host="web1", outcome=skip.outcome, meaning=skip.meaning,
                    at=dt.datetime(2026, 11, 29, 3, 0, tzinfo=UTC))  # fmt: skip
        conn.execute(
            alerts.insert().values(
                task_name="report", kind="failure", state="notified", severity="failure",
                summary="report failed (exit status) on web1",
                opened_at=dt.datetime(2026, 11, 29, 2, 10, 5, tzinfo=UTC),
            )
        )  # fmt: skip
        _score(conn, dt.datetime(2026, 11, 29, 2, 11, tzinfo=UTC), 65.0)
        _score(conn, dt.datetime(2026, 11, 29, 22, 59, tzinfo=UTC), 90.0)


@pytest.fixture
def env(
    runner: CliRunner, smtp: tuple[str, Inbox], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """The digest's settings, for the CLI (environment) and for watchdog configs."""
    backups = tmp_path / "backups"
    backups.mkdir()
    (backups / "smartcron-20261129T023000Z.sqlite3").write_bytes(b"")
    (backups / "smartcron-20261130T023000Z.sqlite3").write_bytes(b"")  # the next day's
    values = {
        "SMARTCRON_CHANNELS": f'{{"mail": "{smtp[0]}"}}',
        "SMARTCRON_DIGEST_TIME": "07:30",
        "SMARTCRON_DIGEST_TIMEZONE": ZONE,
        "SMARTCRON_DIGEST_CHANNELS": "mail",
        "SMARTCRON_BACKUP_DIR": str(backups),
        "SMARTCRON_HOST_NAME": "web1",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def _config(db: TestDB, env: dict[str, str], host: str) -> config_mod.Config:
    return config_mod.load(
        environ={**env, "SMARTCRON_CONFIG": "", "SMARTCRON_DATABASE_URL": db.url,
                 "SMARTCRON_HOST_NAME": host}
    )  # fmt: skip


def _messages(db: TestDB) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar() or 0)


def test_digest_send_reports_the_day_once_by_mail(
    db: TestDB, runner: CliRunner, smtp: tuple[str, Inbox], env: dict[str, str]
) -> None:
    _seed_busy_day(db)
    sent = invoke(runner, "digest", "--send", "--day", str(DAY))
    assert sent.exit_code == 0, sent.output
    assert "Sent the daily digest of 2026-11-29" in sent.stdout
    (mail,) = smtp[1].wait(1, timeout=30)
    assert mail["title"].startswith("smartcron digest for Sun 2026-11-29: 2 failed runs")
    text = plain_part(mail["raw"])
    lines = [line.strip() for line in text.splitlines()]
    assert "Needs attention: 2 failed runs, 1 skipped run, 1 open alert." in text
    assert (
        "Runs: 12 runs: 9 succeeded, 1 failed (exit status), 1 out of memory, "
        "1 skipped (not run)" in text
    )  # the 00:30 of the next day is not counted
    assert (
        "03:10 report: Failed with exit status 127 (command not found (inside a shell "
        "script or `sh -c`)) after 0.1 s." in lines
    )
    assert any(line.startswith("06:00 etl: Killed for going over its memory limit of 256")
               for line in lines)  # fmt: skip
    assert "04:00 ledger: Not run: the database was down and if_db_down is skip." in lines
    assert any(line.startswith("#") and "report failure, notified since Sun 2026-11-29 03:10"
               in line for line in lines)  # fmt: skip
    assert "Health score: 90 of 100 at the end of the period (lowest 65)" in text
    assert "Backups: 1: smartcron-20261129T023000Z.sqlite3 (03:30)" in text
    assert "Nothing went wrong" not in text
    assert "This digest is late" in text  # due 2026-11-30 07:30, sent long after
    # Again by hand, and both hosts' watchdogs: nothing more is sent.
    again = invoke(runner, "digest", "--send", "--day", str(DAY))
    assert again.exit_code == 0 and "already sent by web1" in again.stdout
    now = daily(DAY, ZONE, dt.time(7, 30)).due + dt.timedelta(minutes=1)
    for host in ("web1", "web2"):
        assert digest.tick(_config(db, env, host), db.engine, now, set()) == []
    assert _messages(db) == 1
    assert len(smtp[1].wait(2, timeout=3)) == 1


def test_digest_two_watchdogs_send_a_quiet_day_once(
    db: TestDB, smtp: tuple[str, Inbox], env: dict[str, str]
) -> None:
    with db.engine.begin() as conn:
        for hour in range(0, 23, 2):
            at = dt.datetime(2026, 11, 29, hour, 5, tzinfo=UTC)
            _run(conn, "pos-sync", at, "success", "Succeeded after 3.0 s.")
        _score(conn, dt.datetime(2026, 11, 29, 22, 0, tzinfo=UTC), 100.0)
    period = daily(DAY, ZONE, dt.time(7, 30))
    on_time = period.due + dt.timedelta(seconds=20)
    first = digest.tick(_config(db, env, "web1"), db.engine, on_time, set())
    second = digest.tick(_config(db, env, "web2"), db.engine, on_time, set())
    assert first == ["daily digest of 2026-11-29 to 2026-11-29 queued"] and second == []
    with db.engine.connect() as conn:
        held = conn.execute(sa.select(claims.c.claim_key, claims.c.host)).all()
    assert [tuple(row) for row in held] == [("digest:daily", "web1")]
    assert deliver_due(db.engine, _config(db, env, "web2")) == 1
    (mail,) = smtp[1].wait(1, timeout=30)
    text = plain_part(mail["raw"])
    # The HTML part's heading is the title; then the verdict, first.
    assert [line.strip() for line in text.strip().splitlines() if line.strip()][:2] == [
        mail["title"],
        "Nothing went wrong.",
    ]
    assert "Runs: 12 runs: 12 succeeded" in text and "This digest is late" not in text
    assert mail["title"] == "smartcron digest for Sun 2026-11-29: nothing went wrong"


def test_digest_missed_is_sent_late_with_a_note(
    db: TestDB, smtp: tuple[str, Inbox], env: dict[str, str]
) -> None:
    period = daily(DAY, ZONE, dt.time(7, 30))
    started = period.due + dt.timedelta(hours=3)  # the watchdog was down at 07:30
    assert digest.tick(_config(db, env, "web2"), db.engine, started, set())
    assert deliver_due(db.engine, _config(db, env, "web2")) == 1
    (mail,) = smtp[1].wait(1, timeout=30)
    text = plain_part(mail["raw"])
    assert [line.strip() for line in text.strip().splitlines() if line.strip()][1].startswith(
        "This digest is late: it was due at 2026-11-30 06:30 UTC"
    )
    assert "the watchdog of web2 sent it at 2026-11-30 09:30 UTC" in text
    assert "no health checks recorded" in text  # nothing ran that day: no false all-clear


@time_machine.travel(dt.datetime(2026, 10, 26, 7, 0, tzinfo=UTC), tick=False)
def test_digest_of_the_25_hour_day_counts_all_of_it(
    db: TestDB, runner: CliRunner, env: dict[str, str]
) -> None:
    # 25 October 2026 in Berlin: 00:00 CEST (22:00 UTC the day before) to 24:00 CET (23:00 UTC).
    with db.engine.begin() as conn:
        for at in (
            dt.datetime(2026, 10, 24, 21, 59, tzinfo=UTC),  # 23:59 CEST on the 24th: not counted
            dt.datetime(2026, 10, 24, 22, 0, tzinfo=UTC),  # 00:00 CEST
            dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC),  # 02:30 CEST, before the change
            dt.datetime(2026, 10, 25, 1, 30, tzinfo=UTC),  # 02:30 CET, the hour again
            dt.datetime(2026, 10, 25, 22, 59, tzinfo=UTC),  # 23:59 CET
            dt.datetime(2026, 10, 25, 23, 0, tzinfo=UTC),  # 00:00 CET on the 26th: not counted
        ):
            _run(conn, "pos-sync", at, "success", "Succeeded after 3.0 s.")
    shown = invoke(runner, "digest")  # yesterday, 08:00 CET on Monday 26 October
    assert shown.exit_code == 0, shown.output
    assert "Period: Sun 2026-10-25 in Europe/Berlin (25 hours: the clocks changed)" in shown.stdout
    assert "Runs: 4 runs: 4 succeeded" in shown.stdout
    assert _messages(db) == 0  # printing sends nothing


@time_machine.travel(dt.datetime(2026, 11, 29, 12, 0, tzinfo=UTC), tick=False)
def test_digest_of_a_day_not_over_is_printed_not_sent(
    db: TestDB, runner: CliRunner, env: dict[str, str]
) -> None:
    refused = invoke(runner, "digest", "--send", "--day", "2026-11-29")
    assert (
        refused.exit_code == 2
        and "--day: '2026-11-29' is not valid: a day that is over" in refused.stderr
    )
    shown = invoke(runner, "digest", "--day", "2026-11-29")
    assert shown.exit_code == 0 and "This day is not over yet" in shown.stdout
    bad = invoke(runner, "digest", "--day", "29.11.2026")
    assert bad.exit_code == 2 and "a date as YYYY-MM-DD" in bad.stderr
    with db.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(claims)).scalar() == 0


def test_digest_weekly_goes_once_beside_the_daily(
    db: TestDB, smtp: tuple[str, Inbox], env: dict[str, str]
) -> None:
    _seed_busy_day(db)
    weekly_env = {**env, "SMARTCRON_DIGEST_WEEKLY": "Mon"}
    monday = dt.datetime(2026, 11, 30, 6, 31, tzinfo=UTC)  # 07:31 in Berlin
    done = digest.tick(_config(db, weekly_env, "web1"), db.engine, monday, set())
    assert done == [
        "daily digest of 2026-11-29 to 2026-11-29 queued",
        "weekly digest of 2026-11-23 to 2026-11-29 queued",
    ]
    assert digest.tick(_config(db, weekly_env, "web2"), db.engine, monday, set()) == []
    assert deliver_due(db.engine, _config(db, weekly_env, "web1")) == 2
    titles = sorted(m["title"] for m in smtp[1].wait(2, timeout=30))
    assert titles[1].startswith("smartcron weekly digest for 2026-11-23 to 2026-11-29: 2 failed")
    weekly_text = plain_part(next(m["raw"] for m in smtp[1].messages if "weekly" in m["title"]))
    assert "Runs: 12 runs: 9 succeeded" in weekly_text  # the week held only the seeded day
    assert "Sun 2026-11-29 03:10 report: Failed with exit status 127" in weekly_text


def _attempt(conn: sa.Connection, task: str, at: dt.datetime, attempt: int, retries: int) -> None:
    will_retry = attempt <= retries
    meaning = explain("exit-code", 1, 1, duration=3.0, attempt=attempt, retries=retries,
                      will_retry=will_retry).meaning  # fmt: skip
    _run(conn, task, at, "failed", meaning)
    conn.execute(
        executions.update()
        .where(executions.c.task_name == task, executions.c.started_at == at)
        .values(attempt=attempt)
    )


def test_digest_lists_window_skips_and_counts_retries_and_runs_elsewhere(
    db: TestDB, runner: CliRunner, env: dict[str, str]
) -> None:
    add_task(db.engine, "invoices", retries=2)
    with db.engine.begin() as conn:
        for hour in (1, 5, 9):  # 3 runs of 3 attempts, every one failed
            for attempt in (1, 2, 3):
                at = dt.datetime(2026, 11, 29, hour, attempt, tzinfo=UTC)
                _attempt(conn, "invoices", at, attempt, retries=2)
        # Retried once, then succeeded: not a failure.
        _attempt(conn, "invoices", dt.datetime(2026, 11, 29, 12, 0, tzinfo=UTC), 1, retries=2)
        _run(conn, "invoices", dt.datetime(2026, 11, 29, 12, 1, tzinfo=UTC), "success", "ok")
        for hour, (outcome, reason) in enumerate(
            [
                ("skipped-window", "maintenance window inventory (22:00 to 06:00)"),
                ("skipped-window", "maintenance window inventory (22:00 to 06:00)"),
                ("ran-elsewhere", "web2 claimed this run"),
                ("skipped", "the database was down and if_db_down is skip"),
            ],
            start=14,
        ):
            skip = explain_skip(outcome, reason)
            record_skip(conn, task_id=None, task="ledger", invocation_id=secrets.token_hex(16),
                        host="web1", outcome=skip.outcome, meaning=skip.meaning,
                        at=dt.datetime(2026, 11, 29, hour, 0, tzinfo=UTC))  # fmt: skip
        _score(conn, dt.datetime(2026, 11, 29, 22, 0, tzinfo=UTC), 80.0)
    shown = invoke(runner, "digest", "--day", str(DAY))
    assert shown.exit_code == 0, shown.output
    text = shown.stdout
    lines = [line.strip() for line in text.splitlines()]
    assert "Needs attention: 3 failed runs (10 failed attempts), 3 skipped runs." in text
    assert (
        "Runs: 15 runs: 1 succeeded, 10 failed (exit status), 1 ran on another host, "
        "1 skipped (not run), 2 skipped (maintenance window); 7 failed attempts retried by a "
        "later attempt of the same run (not listed as failures); 1 ran on another host, as "
        "`placement: one` intends (counted, not listed)" in " ".join(lines)
    )
    failures = [line for line in lines if line.startswith(("02:", "03:", "06:", "10:", "13:"))]
    assert failures == [
        "02:03 invoices, after 3 attempts: Failed with exit status 1 (a general error reported "
        "by the command) after 3.0 s. Attempt 3 of 3: retries exhausted.",
        "06:03 invoices, after 3 attempts: Failed with exit status 1 (a general error reported "
        "by the command) after 3.0 s. Attempt 3 of 3: retries exhausted.",
        "10:03 invoices, after 3 attempts: Failed with exit status 1 (a general error reported "
        "by the command) after 3.0 s. Attempt 3 of 3: retries exhausted.",
    ]
    skipped = [line for line in lines if line.startswith(("15:", "16:", "17:", "18:"))]
    assert skipped == [
        "15:00 ledger: Skipped: maintenance window inventory (22:00 to 06:00). The task runs "
        "again at its first scheduled time after the window (`smartcron window list` shows "
        "the windows).",
        "16:00 ledger: Skipped: maintenance window inventory (22:00 to 06:00). The task runs "
        "again at its first scheduled time after the window (`smartcron window list` shows "
        "the windows).",
        "18:00 ledger: Not run: the database was down and if_db_down is skip.",
    ]  # the run web2 ran (17:00) is counted, not listed


def test_digest_of_a_clean_day_with_a_retried_attempt_says_nothing_went_wrong(
    db: TestDB, runner: CliRunner, env: dict[str, str]
) -> None:
    add_task(db.engine, "invoices", retries=1)
    with db.engine.begin() as conn:
        _attempt(conn, "invoices", dt.datetime(2026, 11, 29, 12, 0, tzinfo=UTC), 1, retries=1)
        _run(conn, "invoices", dt.datetime(2026, 11, 29, 12, 1, tzinfo=UTC), "success", "ok")
        _score(conn, dt.datetime(2026, 11, 29, 22, 0, tzinfo=UTC), 100.0)
    shown = invoke(runner, "digest", "--day", str(DAY))
    assert shown.exit_code == 0, shown.output
    assert "Nothing went wrong." in shown.stdout and "Failures" not in shown.stdout
    assert "1 failed attempt retried by a later attempt of the same run" in shown.stdout
