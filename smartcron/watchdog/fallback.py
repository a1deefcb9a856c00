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

from smartcron.alerting.delivery import send
from smartcron.alerting.engine import renotify_interval
from smartcron.alerting.notices import Notice, run_notice
from smartcron.alerting.policy import active_alert, claim, record_failure, release
from smartcron.alerting.routing import channel_urls
from smartcron.db.schema import executions, utcnow
from smartcron.db.tasks import find_task
from smartcron.model.config import Config
from smartcron.model.outcome import explain
from smartcron.systemd.journal import Journal, RunWindow
from smartcron.watchdog.events import RunEvent, task_of_unit
from smartcron.watchdog.reconcile import reconcile
from smartcron.watchdog.record import needs_reason, systemd_reason, write_event

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
        sent = _alert_directly(
            config,
            f"smartcron: {task_name} failed",
            f"What happened: {unit} failed for good (systemd started its OnFailure= alert). "
            f"The details could not be read from the journal: {why}\n"
            f"See: systemctl status {unit}; journalctl -u {unit}",
        )
        return f"no finished run of {unit} in the journal ({why}); alerted without details: {sent}"
    try:
        return _announce_recorded(config, engine, journal, event)
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        verdict = explain(event.result or "failed", event.exec_code or 0, event.exec_status or 0)
        sent = _alert_directly(
            config,
            f"smartcron: {task_name} failed (database unreachable)",
            f"What happened: {verdict.meaning}\nThe smartcron database could not be "
            f"reached ({getattr(exc, 'orig', exc)}), so this run is not recorded yet."
            f"\nWhole log: journalctl _SYSTEMD_INVOCATION_ID={event.invocation_id}",
        )
        return f"database unreachable; alerted directly: {sent}"


def _alert_directly(config: Config, title: str, body: str) -> str:
    """Send a notice through every channel, with no alert row; return "sent" or why not."""
    sent = send(list(config.channels.values()), Notice(title, body))
    return "sent" if sent else "NOT sent (no channel, or sending failed)"


def _announce_recorded(config: Config, engine: Engine, journal: Journal, event: RunEvent) -> str:
    reason = systemd_reason(journal, event.invocation_id) if needs_reason(event) else ""
    renotify = renotify_interval(config)
    with engine.begin() as conn:
        write_event(conn, event, reason)
        conn.execute(
            executions.update()
            .where(
                executions.c.invocation_id == event.invocation_id,
                executions.c.output_tail.is_(None),
            )
            .values(
                output_tail=journal.tail(
                    RunWindow(event.invocation_id, event.task, event.started_at, event.finished_at)
                )
            )
        )
        run = conn.execute(
            sa.select(executions).where(executions.c.invocation_id == event.invocation_id)
        ).one()
        task = find_task(conn, event.task)
        existing = active_alert(conn, event.task, "failure")
        if (
            existing is not None
            and existing.state != "open"
            and (
                existing.state == "acknowledged"
                or (existing.last_notified_at and utcnow() - existing.last_notified_at < renotify)
            )
        ):
            record_failure(conn, run, task)  # count it; the alert was already sent
            return f"alert {existing.id} for {event.task} was already sent; counted this failure"
        alert_id = record_failure(conn, run, task)
    if alert_id is None:
        return f"{event.task}: its alert policy does not ask for an alert for this run"
    urls = channel_urls(config, task)
    if not urls:
        return f"alert {alert_id} recorded for {event.task}; no alert channel is configured"
    if not claim(engine, alert_id, renotify):
        return f"alert {alert_id} for {event.task} was just sent by the watchdog"
    if not send(urls, run_notice(config, run, task)):
        release(engine, alert_id)
        return f"alert {alert_id} recorded for {event.task}, but sending it failed"
    return f"alert {alert_id} for {event.task} sent"
