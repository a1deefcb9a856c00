"""The digest's queries: what happened between two moments, read in one connection."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcron.db.alerts import ACTIVE_STATES
from smartcron.db.health import SCORE_CHECK
from smartcron.db.schema import alerts, executions, health_checks
from smartcron.model.digest import NOT_LISTED, AlertLine, LateLine, RunLine
from smartcron.model.outcome import FAILURE_OUTCOMES, NOT_RUNS

# Runs that did not run and are news (listed under "Skipped or not run"): every skip and
# not-run row but NOT_LISTED, which the digest only counts.
NOTEWORTHY_SKIPS = tuple(o for o in NOT_RUNS if o not in NOT_LISTED)


def _in(start: dt.datetime, end: dt.datetime) -> sa.ColumnElement[bool]:
    """Runs of the period: started in it, or (never started) recorded in it. Written as two
    ranges, not one on COALESCE(...), so the started_at index serves the first (a function
    of the columns would read every run the database holds)."""
    return sa.or_(
        sa.and_(executions.c.started_at >= start, executions.c.started_at < end),
        sa.and_(
            executions.c.started_at.is_(None),
            executions.c.recorded_at >= start,
            executions.c.recorded_at < end,
        ),
    )


def outcome_counts(
    conn: Connection, start: dt.datetime, end: dt.datetime
) -> dict[str, dict[str, int]]:
    """Return {host: {outcome: runs}} of the runs in [start, end) ("" for runs without one)."""
    rows = conn.execute(
        sa.select(executions.c.host, executions.c.outcome, sa.func.count())
        .where(_in(start, end))
        .group_by(executions.c.host, executions.c.outcome)
    ).all()
    counts: dict[str, dict[str, int]] = {}
    for host, outcome, runs in rows:
        counts.setdefault(host or "", {})[outcome] = int(runs)
    return counts


def runs_with(
    conn: Connection, start: dt.datetime, end: dt.datetime, outcomes: tuple[str, ...]
) -> list[RunLine]:
    """Return the runs in [start, end) with one of `outcomes`, oldest first, with meanings."""
    moment = sa.func.coalesce(executions.c.started_at, executions.c.recorded_at)
    rows = conn.execute(
        sa.select(
            moment.label("at"),
            executions.c.started_at,
            executions.c.recorded_at,
            executions.c.task_name,
            executions.c.host,
            executions.c.outcome,
            executions.c.meaning,
            executions.c.attempt,
        )
        .where(_in(start, end), executions.c.outcome.in_(outcomes))
        .order_by(moment, executions.c.id)
    ).all()
    return [
        RunLine(
            r.started_at or r.recorded_at,
            r.task_name,
            r.host or "",
            r.outcome,
            r.meaning or "",
            int(r.attempt or 1),
        )
        for r in rows
    ]


def failed_runs(conn: Connection, start: dt.datetime, end: dt.datetime) -> list[RunLine]:
    """Every failed attempt in [start, end): each attempt of a retried run is a row of its
    own (ops/digest.gather keeps those that failed for good)."""
    return runs_with(conn, start, end, FAILURE_OUTCOMES)


def skipped_runs(conn: Connection, start: dt.datetime, end: dt.datetime) -> list[RunLine]:
    return runs_with(conn, start, end, NOTEWORTHY_SKIPS)


def late_runs(conn: Connection, start: dt.datetime, end: dt.datetime) -> list[LateLine]:
    """Return each missed start the late check reported in [start, end): one line per task
    and due time (its message names the due time), when it was first noticed."""
    first = sa.func.min(health_checks.c.checked_at)
    rows = conn.execute(
        sa.select(health_checks.c.check_name, health_checks.c.message, first.label("at"))
        .where(
            health_checks.c.check_name.like("late:%"),
            health_checks.c.status != "ok",
            health_checks.c.checked_at >= start,
            health_checks.c.checked_at < end,
        )
        .group_by(health_checks.c.check_name, health_checks.c.message)
        .order_by(first)
    ).all()
    return [
        LateLine(r.check_name.split(":", 1)[1], r.at.replace(tzinfo=dt.UTC), r.message)
        for r in rows
    ]


def open_alerts(conn: Connection) -> list[AlertLine]:
    """Return the alerts open (or acknowledged, still not resolved) now, oldest first."""
    rows = conn.execute(
        sa.select(alerts)
        .where(alerts.c.state.in_(ACTIVE_STATES))
        .order_by(alerts.c.opened_at, alerts.c.id)
    ).all()
    return [AlertLine(r.id, r.task_name, r.kind, r.state, r.opened_at, r.summary) for r in rows]


def scores(
    conn: Connection, start: dt.datetime, end: dt.datetime
) -> tuple[float | None, float | None]:
    """Return the last and the lowest health score stored in [start, end), or Nones."""
    where = sa.and_(
        health_checks.c.check_name == SCORE_CHECK,
        health_checks.c.checked_at >= start,
        health_checks.c.checked_at < end,
    )
    lowest = conn.execute(sa.select(sa.func.min(health_checks.c.value)).where(where)).scalar()
    last = conn.execute(
        sa.select(health_checks.c.value)
        .where(where)
        .order_by(health_checks.c.checked_at.desc(), health_checks.c.id.desc())
        .limit(1)
    ).scalar()
    return last, lowest
