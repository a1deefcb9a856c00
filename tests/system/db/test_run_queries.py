"""The run queries every list page is built from, on SQLite and MariaDB: the latest run of each
task, the 7-day figures and the runs-per-hour chart, computed by the database."""

from __future__ import annotations

import datetime as dt
import statistics

import pytest

from smartcron.db import runs
from smartcron.db.runs import last_runs, runs_by_hour, week_stats

from support import TestDB
from support.dashboard import add_run, add_task

NOW = dt.datetime(2026, 11, 27, 12, 40, tzinfo=dt.UTC)


def _at(minutes: float) -> dt.datetime:
    return NOW - dt.timedelta(minutes=minutes)


@pytest.mark.parametrize("all_tasks_from", [100, 1], ids=["names-matched", "all-tasks-read"])
def test_last_runs_gives_each_tasks_latest_run_whole_or_brief(
    db: TestDB, all_tasks_from: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runs, "ALL_TASKS_FROM", all_tasks_from)
    for name in ("pos-sync", "bank-import", "never-ran"):
        add_task(db.engine, name)
    add_run(db.engine, "pos-sync", "failed", started_at=_at(30))
    newest = add_run(db.engine, "pos-sync", "success", started_at=_at(10))
    add_run(db.engine, "bank-import", "success", started_at=_at(5))
    # Same start: the later id is the latest (a retry recorded in the same microsecond).
    tie = add_run(db.engine, "bank-import", "failed", started_at=_at(5))
    add_task(db.engine, "not-asked")
    add_run(db.engine, "not-asked", "failed", started_at=_at(1))
    names = ["pos-sync", "bank-import", "never-ran"]
    with db.engine.connect() as conn:
        whole = last_runs(conn, names)
        brief = last_runs(conn, names, brief=True)
    assert {n: r.id for n, r in whole.items()} == {"pos-sync": newest, "bank-import": tie}
    assert {n: (r.id, r.outcome) for n, r in brief.items()} == {
        "pos-sync": (newest, "success"),
        "bank-import": (tie, "failed"),
    }
    assert whole["pos-sync"].meaning and "output_tail" not in whole["pos-sync"]._mapping
    assert set(brief["pos-sync"]._mapping) == {"id", "task_name", "outcome", "started_at"}


@pytest.mark.parametrize("all_tasks_from", [100, 1], ids=["names-matched", "all-tasks-read"])
def test_last_runs_passes_over_skips_to_the_run_before(
    db: TestDB, all_tasks_from: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runs, "ALL_TASKS_FROM", all_tasks_from)
    for name in ("pos-sync", "payroll", "only-skipped"):
        add_task(db.engine, name)
    failed = add_run(db.engine, "pos-sync", "failed", started_at=_at(30))
    # Later skips of every kind: another host ran the slot, the gate said no, a window.
    for minutes, outcome in ((20, "ran-elsewhere"), (10, "skipped-window"), (5, "skipped")):
        add_run(db.engine, "pos-sync", outcome, started_at=_at(minutes))
    add_run(db.engine, "payroll", "success", started_at=_at(30))
    # A chained run that did not happen is the task's own missed slot: it is the latest.
    not_run = add_run(db.engine, "payroll", "not-run", started_at=_at(10))
    add_run(db.engine, "payroll", "ran-elsewhere", started_at=_at(5))
    add_run(db.engine, "only-skipped", "skipped-window", started_at=_at(5))
    names = ["pos-sync", "payroll", "only-skipped"]
    with db.engine.connect() as conn:
        whole = last_runs(conn, names)
        brief = last_runs(conn, names, brief=True)
    for found in (whole, brief):
        assert {n: (r.id, r.outcome) for n, r in found.items()} == {
            "pos-sync": (failed, "failed"),
            "payroll": (not_run, "not-run"),
        }


def test_week_stats_counts_finished_runs_and_takes_the_median_of_successes(db: TestDB) -> None:
    add_task(db.engine, "odd")
    add_task(db.engine, "even")
    odd = [7.0, 1.5, 30.25]
    even = [4.0, 1.0, 9.5, 2.0]
    for i, d in enumerate(odd):
        add_run(db.engine, "odd", "success", started_at=_at(60 * i), duration_s=d)
    for i, d in enumerate(even):
        add_run(db.engine, "even", "success", started_at=_at(60 * i), duration_s=d)
    add_run(db.engine, "odd", "failed", started_at=_at(5), duration_s=500.0)
    add_run(db.engine, "odd", "running", started_at=_at(1), duration_s=None, finished_at=None)
    add_run(db.engine, "odd", "success", started_at=_at(8 * 24 * 60), duration_s=999.0)  # 8 d
    # Rows of runs that did not run: neither runs nor successes nor failures.
    for minutes, outcome in ((6, "ran-elsewhere"), (7, "skipped"), (8, "skipped-window")):
        add_run(db.engine, "odd", outcome, started_at=_at(minutes), duration_s=0.0)
    add_run(db.engine, "odd", "not-run", started_at=_at(9), duration_s=None)
    add_run(db.engine, "even", "success", started_at=_at(2), duration_s=None)  # no duration
    with db.engine.connect() as conn:
        stats = week_stats(conn, ["odd", "even", "none"], NOW)
    # 3 successes and 1 failure; running, 8 d ago, the skips and the not-run row left out.
    assert stats["odd"].runs == 4 and stats["odd"].successes == 3
    assert stats["odd"].median_s == statistics.median(odd) == 7.0
    assert stats["odd"].rate == 75.0
    # A success without a duration is a success (not in the median): 5 of 5, not 4 of 5.
    assert stats["even"].runs == 5 and stats["even"].successes == 5
    assert stats["even"].median_s == statistics.median(even) == 3.0
    assert stats["even"].rate == 100.0
    assert stats["none"].runs == 0 and stats["none"].median_s is None and stats["none"].rate is None


def test_runs_by_hour_puts_each_run_in_its_hour_at_the_boundaries(db: TestDB) -> None:
    add_task(db.engine, "pos-sync")
    hour = NOW.replace(minute=0)
    for at, outcome in [
        (hour, "success"),  # 12:00:00.000000 opens the last hour
        (hour - dt.timedelta(microseconds=1), "failed"),  # 11:59:59.999999 closes the one before
        (hour - dt.timedelta(hours=23), "success"),  # the chart's first instant
        (hour - dt.timedelta(hours=23, microseconds=1), "failed"),  # just before: not shown
        (NOW + dt.timedelta(minutes=30), "success"),  # a clock ahead: counted in the last hour
    ]:
        add_run(db.engine, "pos-sync", outcome, started_at=at)
    with db.engine.connect() as conn:
        hours = runs_by_hour(conn, NOW)
    assert hours[0][0] == hour - dt.timedelta(hours=23) and hours[-1][0] == hour
    assert hours[-1][1:] == (2, 0)
    assert hours[-2][1:] == (0, 1)
    assert hours[0][1:] == (1, 0)
    assert sum(ok + bad for _h, ok, bad in hours) == 4


def test_runs_by_hour_counts_skips_and_not_run_rows_as_neither(db: TestDB) -> None:
    add_task(db.engine, "pos-sync")
    for minutes, outcome in [
        (10, "success"),
        (11, "timeout"),
        (12, "ran-elsewhere"),
        (13, "skipped"),
        (14, "skipped-window"),
        (15, "not-run"),
        (16, "running"),
    ]:
        add_run(db.engine, "pos-sync", outcome, started_at=_at(minutes))
    with db.engine.connect() as conn:
        hours = runs_by_hour(conn, NOW)
    assert hours[-1][1:] == (1, 1)  # only the success and the timeout ran and finished
    assert sum(ok + bad for _h, ok, bad in hours) == 2


def test_runs_by_hour_buckets_utc_hours_whatever_the_zone_of_now(db: TestDB) -> None:
    add_task(db.engine, "pos-sync")
    hour = NOW.replace(minute=0)
    add_run(db.engine, "pos-sync", "success", started_at=hour + dt.timedelta(minutes=5))
    add_run(db.engine, "pos-sync", "failed", started_at=hour - dt.timedelta(minutes=5))
    india = dt.timezone(dt.timedelta(hours=5, minutes=30))  # 12:40 UTC is 18:10 there
    with db.engine.connect() as conn:
        in_utc = runs_by_hour(conn, NOW)
        in_india = runs_by_hour(conn, NOW.astimezone(india))
    assert in_india == in_utc
    last = in_india[-1][0]
    assert last == hour and last.utcoffset() == dt.timedelta(0)  # labelled UTC on the chart
    assert in_india[-1][1:] == (1, 0) and in_india[-2][1:] == (0, 1)
