"""Alerts held by maintenance windows (`hold_alerts`, docs/windows.md): while a window covers
a task, every message about it is written to the outbox as "held" with the window's name;
when the window ends (or is removed) its held messages become one summary, sent once even
with several watchdogs on one database (each held row is released by a conditional UPDATE)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcron.alerting.notices import FAILURE, INFO, WARNING, Notice, Section, render, when
from smartcron.db.schema import outbox, utcnow
from smartcron.db.tasks import find_task
from smartcron.db.windows import list_windows
from smartcron.model.windows import HOLD_ALERTS, Window, active_windows

HELD, RELEASED = "held", "released"
SUMMARY_KIND = "window-summary"


def holding_window(conn: Connection, task_name: str | None, moment: dt.datetime) -> str | None:
    """Given a message's task, return the name of the window holding its alerts now, or None
    (no task, an unknown task, or no window with hold_alerts covering it)."""
    if not task_name:
        return None
    task = find_task(conn, task_name)
    if task is None:
        return None
    found = active_windows(list_windows(conn), task, HOLD_ALERTS, moment)
    return found[0][0].name if found else None


def meaning_of(row: Any) -> str:
    """Given a held outbox row, return what happened: its "What happened" line, else the
    first line of its text."""
    text: str = row.text_body
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("What happened: "):
            return line.removeprefix("What happened: ")
    return lines[0] if lines else str(row.title)


def summary_notice(name: str, window: Window | None, rows: list[Any]) -> Notice:
    """Given a window (None once removed) and the messages it held, return its one summary."""
    span = f" ({window.when} {window.timezone})" if window else " (since removed)"
    sections: list[Section] = [
        (
            "",
            f"Maintenance window {name}{span} has ended. These {len(rows)} alert message(s) "
            "were held while it covered their tasks; `smartcron alerts` shows the alerts "
            "still open.",
        )
    ]
    for row in rows:
        at = when(row.created_at, window.timezone if window else None)
        sections.append((f"{row.task_name} ({row.kind}, {at})", meaning_of(row)))
    severities = {row.severity for row in rows}
    severity = FAILURE if FAILURE in severities else WARNING if WARNING in severities else INFO
    title = f"smartcron: maintenance window {name} ended: {len(rows)} held alert(s)"
    return render(SUMMARY_KIND, severity, title, sections, None)


def release_ended(
    conn: Connection, moment: dt.datetime | None = None
) -> list[tuple[Notice, list[str]]]:
    """Release the messages held by windows that are no longer on; return each window's
    summary with its channels (the held messages' own, in order), for the caller to queue in
    this transaction. A row another watchdog released first is left out."""
    moment = moment or utcnow()
    names = conn.execute(
        sa.select(outbox.c.held_for).where(outbox.c.state == HELD).distinct()
    ).scalars()
    windows = {w.name: w for w in list_windows(conn)}
    summaries = []
    for name in sorted(n for n in names if n):
        window = windows.get(name)
        if window is not None and window.occurrence_at(moment) is not None:
            continue  # still on: keep holding
        rows = conn.execute(
            sa.select(outbox)
            .where(outbox.c.state == HELD, outbox.c.held_for == name)
            .order_by(outbox.c.id)
        ).fetchall()
        mine = [
            row
            for row in rows
            if conn.execute(
                outbox.update()
                .where(outbox.c.id == row.id, outbox.c.state == HELD)
                .values(state=RELEASED, sent_at=moment)
            ).rowcount
            == 1
        ]
        if mine:
            channels = list(dict.fromkeys(c for row in mine for c in row.channels))
            summaries.append((summary_notice(name, window, mine), channels))
    return summaries
