"""The OnFailure= fallback: announce a task that failed for good, even with the watchdog down.

smartcron-alert@.service runs `smartcron alert-fallback <unit>`. It rebuilds the last run from
systemd's journal messages, records it (idempotently, as the watchdog would), opens or updates
the task's failure alert and sends it, unless that alert was already sent recently, which is
how it is deduplicated with the watchdog. If the database is unreachable it alerts directly.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from smartcron.alerting.delivery import deliver, enqueue, lease, send_directly
from smartcron.alerting.engine import announce as announce_alert
from smartcron.alerting.engine import renotify_interval
from smartcron.alerting.notices import Notice, system_notice
from smartcron.alerting.policy import record_failure
from smartcron.db.schema import alerts, executions, outbox, utcnow
from smartcron.db.tasks import find_task
from smartcron.model.config import Config
from smartcron.model.outcome import explain
from smartcron.systemd.entries import EntryWriter
from smartcron.systemd.journal import Journal, RunWindow
from smartcron.watchdog.events import RunEvent, task_of_unit
from smartcron.watchdog.reconcile import reconcile
from smartcron.watchdog.record import gather_evidence, write_event

FRESH = dt.timedelta(minutes=1)


def last_run(journal: Journal, unit: str, wait: float = 15.0) -> RunEvent | None:
    """Return the most recent finished run of `unit` according to systemd's journal.

    systemd starts this unit the moment the task fails, and journald may not have stored
    systemd's messages about that run yet: look again for up to `wait` seconds (seen in the
    install test: without it, the fallback sometimes announced nothing).
    """
    import time

    deadline = time.monotonic() + wait
    while True:
        entries = journal.unit_entries(unit, dt.timedelta(hours=2))
        newest = max(
            reconcile(entries).events, key=lambda e: e.finished_at or utcnow(), default=None
        )
        # The failure that started this unit ended a moment ago; an older one is not it.
        fresh = newest is not None and (
            newest.finished_at is None or utcnow() - newest.finished_at < FRESH
        )
        if fresh or time.monotonic() >= deadline:
            return newest
        time.sleep(0.5)


def announce(config: Config, engine: Engine, unit: str, wait: float = 15.0) -> str:
    """Record and announce the failure of `unit`; return what was done, for the journal."""
    task_name = task_of_unit(unit) or unit
    journal = Journal(config.journal_directory)
    event = last_run(journal, unit, wait)
    if event is None:
        # Never stay silent: systemd said the unit failed, even if the details are missing.
        why = journal.problem or "systemd's messages about the run were not found"
        notice = system_notice(
            f"smartcron: {task_name} failed",
            [
                (
                    "What happened",
                    f"{unit} failed for good (systemd started its OnFailure= alert).",
                ),
                ("Details", f"they could not be read from the journal: {why}"),
                ("See", f"systemctl status {unit}; journalctl -u {unit}"),
            ],
        )
        return f"no finished run of {unit} in the journal ({why}); " + _queue_or_send(
            config, engine, notice
        )
    try:
        return _announce_recorded(config, engine, journal, event)
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        verdict = explain(event.result or "failed", event.exec_code or 0, event.exec_status or 0)
        notice = system_notice(
            f"smartcron: {task_name} failed (database unreachable)",
            [
                ("What happened", verdict.meaning),
                (
                    "",
                    f"The smartcron database could not be reached ({getattr(exc, 'orig', exc)}), "
                    "so this run is not recorded yet.",
                ),
                ("Whole log", f"journalctl _SYSTEMD_INVOCATION_ID={event.invocation_id}"),
            ],
        )
        failed = send_directly(config, notice)
        return "database unreachable; " + (
            f"alert NOT sent: {failed}" if failed else "alerted directly"
        )


def _queue_or_send(config: Config, engine: Engine, notice: Notice) -> str:
    """Queue a notice in the outbox and deliver it now; without a database, send directly."""
    try:
        with engine.begin() as conn:
            message_id = enqueue(conn, notice, list(config.channels))
    except (sa.exc.OperationalError, sa.exc.InterfaceError):
        failed = send_directly(config, notice)
        return f"alert NOT sent: {failed}" if failed else "alerted directly (no database)"
    return _deliver_now(config, engine, message_id)


def _deliver_now(config: Config, engine: Engine, message_id: int) -> str:
    row = None if not config.channels else lease(engine, message_id)
    if row is None:
        with engine.connect() as conn:
            held = conn.execute(
                sa.select(outbox.c.held_for).where(outbox.c.id == message_id)
            ).scalar()
        if held:
            return (
                f"message {message_id} held by maintenance window {held}; the watchdog sends "
                "it in the window's summary when the window ends"
            )
        if not config.channels:
            # This unit's configuration names no channel (its environment differs from the
            # watchdog's): sending now could only fail and mark the message failed for good.
            return (
                f"message {message_id} queued; this unit's configuration has no alert channel "
                "(the `channels` setting): the watchdog sends it if its configuration names one "
                "(`smartcron alerts` shows the message's state)"
            )
        return f"message {message_id} queued; the watchdog is sending it"
    if deliver(engine, config, row):
        return f"message {message_id} sent"
    return (
        f"message {message_id} could NOT be sent yet (see `smartcron alerts`); the watchdog "
        "retries it"
    )


def _announce_recorded(config: Config, engine: Engine, journal: Journal, event: RunEvent) -> str:
    evidence = gather_evidence(journal, event)
    tail = journal.tail(
        RunWindow(event.invocation_id, event.task, event.started_at, event.finished_at)
    )
    renotify = renotify_interval(config)
    with engine.begin() as conn:
        recorded = write_event(conn, event, evidence, config.host_name)
        conn.execute(
            executions.update()
            .where(
                executions.c.invocation_id == event.invocation_id,
                executions.c.output_tail.is_(None),
            )
            .values(output_tail=tail)
        )
        run = conn.execute(
            sa.select(executions).where(executions.c.invocation_id == event.invocation_id)
        ).one()
        task = find_task(conn, event.task)
        alert_id = record_failure(conn, run, task)
        alert = (
            conn.execute(sa.select(alerts).where(alerts.c.id == alert_id)).one()
            if alert_id is not None
            else None
        )
        message_id = None
        if alert is not None and alert.state != "acknowledged":
            message_id = announce_alert(conn, config, alert, renotify)
    # Committed: the journal may say so now (systemd/entries.py).
    entries = EntryWriter()
    entries.runs(recorded, config.host_name)
    if alert is None:
        return f"{event.task}: its alert policy does not ask for an alert for this run"
    if alert.state == "acknowledged":
        return f"alert {alert_id} for {event.task} is acknowledged; counted this failure"
    if message_id is None:
        return f"alert {alert_id} for {event.task} was already sent; counted this failure"
    entries.alert(alert, config.host_name)
    return f"alert {alert_id} for {event.task}: " + _deliver_now(config, engine, message_id)
