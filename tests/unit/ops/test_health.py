"""Health checks: the late-run rule and the score (pure, clock given)."""

from __future__ import annotations

import datetime as dt

import pytest

from smartcron.model.validate import validate_task
from smartcron.ops import health

NOW = dt.datetime(2026, 11, 27, 12, 7, 30, tzinfo=dt.UTC)


def _task(schedule: str, **extra: object) -> object:
    return validate_task(
        {"name": "job", "command": ["/bin/true"], "schedule": schedule, "timezone": "UTC", **extra}
    )


def test_late_runs_flags_the_missing_start() -> None:
    task = _task("*/5 * * * *")
    missing = health.late_runs(task, NOW - dt.timedelta(minutes=12), NOW)  # type: ignore[arg-type]
    assert missing == dt.datetime(2026, 11, 27, 12, 5, tzinfo=dt.UTC)


def test_late_runs_accepts_a_recent_start_and_the_grace_period() -> None:
    task = _task("*/5 * * * *")
    assert health.late_runs(task, NOW - dt.timedelta(minutes=2, seconds=29), NOW) is None  # type: ignore[arg-type]
    # The 12:05 run is due, but within the 2-minute grace it is not yet late.
    just_due = dt.datetime(2026, 11, 27, 12, 6, 0, tzinfo=dt.UTC)
    assert health.late_runs(task, just_due - dt.timedelta(minutes=5), just_due) is None  # type: ignore[arg-type]


def test_late_runs_ignores_runs_due_before_the_task_changed_and_paused_tasks() -> None:
    task = _task("*/5 * * * *")
    assert health.late_runs(task, None, NOW, since=NOW - dt.timedelta(minutes=1)) is None  # type: ignore[arg-type]
    assert health.late_runs(_task("*/5 * * * *", paused=True), None, NOW) is None  # type: ignore[arg-type]
    assert health.late_runs(_task("@reboot"), None, NOW) is None  # type: ignore[arg-type]


def test_score_counts_failures_and_warnings() -> None:
    checks = [
        health.Check("a", "ok", ""),
        health.Check("b", "warn", ""),
        health.Check("c", "fail", ""),
        health.Check("d", "fail", ""),
    ]
    assert health.score(checks) == 40
    assert health.score([health.Check("x", "fail", "")] * 5) == 0


def test_stored_rows_keep_problems_and_sum_up_quiet_task_checks() -> None:
    checks = [
        health.Check("database", "ok", "reachable"),
        health.Check("timer:a", "ok", "fine"),
        health.Check("timer:b", "ok", "fine"),
        health.Check("late:c", "fail", "late"),
    ]
    stored = {c.name: c for c in health.stored_rows(checks)}
    assert set(stored) == {"database", "late:c", "tasks"}
    assert stored["tasks"].message == "2 per-task check(s) ok"


def test_clock_check_says_so_when_timedatectl_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    # A slow timedated on a loaded host raised TimeoutExpired out of the watchdog's checks.
    import subprocess

    from smartcron.ops import health

    def slow(*_args: object, **_kw: object) -> None:
        raise subprocess.TimeoutExpired("timedatectl", 10)

    monkeypatch.setattr(health.Path, "exists", lambda self: False)
    monkeypatch.setattr(health.subprocess, "run", slow)
    found = health.check_clock()
    assert found.status == "warn" and "timedatectl" in found.message
