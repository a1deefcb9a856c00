"""The alert policy and the claim that makes one sender out of two, on an SQLite file."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from smartcron.alerting.policy import active_alert, claim, is_final, record_failure
from smartcron.db.engine import make_engine
from smartcron.db.migrate import upgrade
from smartcron.db.schema import alerts, executions, utcnow
from smartcron.model.task import Task
from smartcron.model.validate import validate_task

RENOTIFY = dt.timedelta(hours=4)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path}/policy.db")
    upgrade(eng)
    yield eng
    eng.dispose()


def _task(**extra: object) -> Task:
    data = {"name": "bank", "command": ["/bin/true"], "schedule": "@daily", "timezone": "UTC"}
    return validate_task({**data, **extra}, check_host=False)


def _run(engine: Engine, outcome: str, attempt: int = 1) -> Any:
    with engine.begin() as conn:
        result = conn.execute(
            executions.insert().values(
                task_name="bank",
                invocation_id=uuid.uuid4().hex,
                trigger="timer",
                attempt=attempt,
                started_at=utcnow(),
                outcome=outcome,
                meaning=f"{outcome} run",
                recorded_at=utcnow(),
            )
        )
        return conn.execute(
            sa.select(executions).where(executions.c.id == result.inserted_primary_key[0])
        ).one()


def test_policy_a_retried_failure_is_final_only_at_the_last_attempt() -> None:
    task = _task(retries=2)
    assert not is_final(type("R", (), {"outcome": "failed", "attempt": 2})(), task)
    assert is_final(type("R", (), {"outcome": "failed", "attempt": 3})(), task)
    # A start that never happened cannot be retried: it is final at once.
    assert is_final(type("R", (), {"outcome": "could-not-start", "attempt": 1})(), task)


def test_policy_final_failure_opens_one_alert_and_counts_repeats(engine: Engine) -> None:
    task = _task()
    failed, timed_out = _run(engine, "failed"), _run(engine, "timeout")
    with engine.begin() as conn:
        first = record_failure(conn, failed, task)
        again = record_failure(conn, timed_out, task)
        row = active_alert(conn, "bank", "failure")
    assert first is not None and first == again
    assert row.failure_count == 2 and row.summary == "timeout run" and row.state == "open"


def test_policy_alert_after_waits_for_consecutive_failures(engine: Engine) -> None:
    task = _task(alert_after=3)
    runs = [_run(engine, "failed") for _ in range(3)]
    with engine.begin() as conn:
        assert record_failure(conn, runs[0], task) is None
        assert record_failure(conn, runs[1], task) is None
        assert record_failure(conn, runs[2], task) is not None


def test_policy_a_success_in_between_resets_the_count(engine: Engine) -> None:
    task = _task(alert_after=2)
    before, _ok, after = _run(engine, "failed"), _run(engine, "success"), _run(engine, "failed")
    with engine.begin() as conn:
        assert record_failure(conn, before, task) is None
        assert record_failure(conn, after, task) is None


def test_policy_only_final_failures_alert_by_default(engine: Engine) -> None:
    task = _task(retries=1)
    first, second = _run(engine, "failed", attempt=1), _run(engine, "failed", attempt=2)
    with engine.begin() as conn:
        assert record_failure(conn, first, task) is None
        assert record_failure(conn, second, task) is not None
    every = _task(retries=1, alert_on=["failure"])
    third = _run(engine, "failed", attempt=1)
    with engine.begin() as conn:
        assert record_failure(conn, third, every) is not None


def test_claim_gives_the_announcement_to_exactly_one_caller(engine: Engine) -> None:
    run = _run(engine, "failed")
    with engine.begin() as conn:
        alert_id = record_failure(conn, run, _task())
    assert alert_id is not None
    with engine.begin() as conn:
        assert claim(conn, alert_id, RENOTIFY) is True
    with engine.begin() as conn:
        assert claim(conn, alert_id, RENOTIFY) is False  # the other sender stands down
        row = conn.execute(sa.select(alerts).where(alerts.c.id == alert_id)).one()
    assert (row.state, row.notify_count) == ("notified", 1)


def test_claim_allows_a_reminder_once_the_interval_has_passed(engine: Engine) -> None:
    run = _run(engine, "failed")
    with engine.begin() as conn:
        alert_id = record_failure(conn, run, _task())
    assert alert_id is not None
    with engine.begin() as conn:
        assert claim(conn, alert_id, RENOTIFY)
        conn.execute(
            alerts.update()
            .where(alerts.c.id == alert_id)
            .values(last_notified_at=utcnow() - RENOTIFY - dt.timedelta(seconds=1))
        )
    with engine.begin() as conn:
        assert claim(conn, alert_id, RENOTIFY) is True
