"""The alert engine, called from the watchdog's main loop: evaluate new runs once (a cursor
in the state table), send what is due, re-notify, resolve with a recovery notice; condition
alerts (late, long-run) from the health checks; acknowledging and resolving by hand."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from smartcron.alerting.delivery import enqueue
from smartcron.alerting.hold import HELD, release_ended
from smartcron.alerting.notices import condition_notice, recovery_notice, run_notice
from smartcron.alerting.policy import ACTIVE, active_alert, claim, record_failure
from smartcron.alerting.routing import channel_names
from smartcron.db.audit import audit
from smartcron.db.engine import db_errors
from smartcron.db.schema import alerts, executions, outbox, utcnow
from smartcron.db.state import ALERT_CURSOR, get_state, set_state
from smartcron.db.tasks import find_task
from smartcron.errors import InvalidInput
from smartcron.model.config import Config
from smartcron.model.outcome import NOT_RUN, RUNNING, SKIP_OUTCOMES
from smartcron.model.quantities import format_duration, parse_duration
from smartcron.model.task import Task
from smartcron.systemd.entries import EntryWriter

log = logging.getLogger("smartcron.alerts")


def renotify_interval(config: Config) -> dt.timedelta:
    """Return how often an unresolved alert is sent again (the renotify_interval setting)."""
    return dt.timedelta(seconds=parse_duration("renotify_interval", config.renotify_interval))


TAIL_WAIT = dt.timedelta(seconds=10)  # how long a failure alert waits for the run's output


def announce(conn: Connection, config: Config, alert: Any, renotify: dt.timedelta) -> int | None:
    """Claim an alert and write its message to the outbox, in the caller's transaction;
    return the message's id, or None if it was announced already (by the other sender)."""
    if not claim(conn, alert.id, renotify):
        return None
    run = (
        conn.execute(sa.select(executions).where(executions.c.id == alert.execution_id)).first()
        if alert.execution_id
        else None
    )
    task = find_task(conn, alert.task_name) if alert.task_name else None
    if run is not None:
        notice = run_notice(config, run, task, repeat=alert.notify_count)
    else:
        notice = condition_notice(alert.task_name, alert.kind, alert.summary)
    return enqueue(conn, notice, channel_names(config, task), alert.id)


class AlertEngine:
    """Called from the watchdog's main loop: evaluate new runs, queue what is due.

    Messages are only written to the outbox here; the watchdog's courier thread sends them, so
    a slow mail server never holds up the main loop (and its systemd watchdog ping).
    """

    def __init__(self, engine: Engine, config: Config, entries: EntryWriter | None = None) -> None:
        self.engine = engine
        self.entries = entries or EntryWriter()
        self.use(config)

    def use(self, config: Config) -> None:
        """Take new settings (a reload); called between ticks, from the same loop."""
        self.config = config
        self.renotify = renotify_interval(config)

    def initialize(self) -> None:
        """On the very first start (before collecting), mark every run recorded so far as
        history: it is not alerted about, but every run recorded from now on is."""
        with self.engine.begin() as conn:
            self._first_start(conn)

    def tick(self) -> None:
        """One pass; database errors propagate to the caller (which retries next tick)."""
        with self.engine.begin() as conn:
            self._evaluate(conn)
        self._announce_due()
        with self.engine.begin() as conn:
            for notice, channels in release_ended(conn):
                enqueue(conn, notice, channels, hold=False)

    def _first_start(self, conn: Connection) -> bool:
        """Return True (having marked the history) if the engine never ran on this database."""
        if get_state(conn, ALERT_CURSOR) is not None:
            return False
        newest = conn.execute(sa.select(sa.func.max(executions.c.id))).scalar() or 0
        conn.execute(
            executions.update().where(executions.c.alert_pending).values(alert_pending=False)
        )
        set_state(conn, ALERT_CURSOR, str(newest))
        return True

    def _evaluate(self, conn: Connection) -> None:
        """Record what the newly finished runs mean for alerts; queue their notices.

        Every run starts pending (executions.alert_pending) and is evaluated once it has
        finished, in id order, however long it ran and whenever its row was committed (an id
        cursor passed both kinds). Clearing the flag with one UPDATE is the claim: of two
        hosts' engines reading the same pending run, the one whose UPDATE changes the row
        evaluates it; the other's changes nothing (it waited for the first's lock).
        """
        if self._first_start(conn):
            return
        runs = conn.execute(
            sa.select(executions)
            .where(executions.c.alert_pending, executions.c.outcome != RUNNING)
            .order_by(executions.c.id)
            .limit(500)
        ).fetchall()
        for run in runs:
            claimed = conn.execute(
                executions.update()
                .where(executions.c.id == run.id, executions.c.alert_pending)
                .values(alert_pending=False)
            )
            if claimed.rowcount == 1:
                self._evaluate_run(conn, run)

    def _evaluate_run(self, conn: Connection, run: Any) -> None:
        """Record what one finished run means for alerts."""
        task = find_task(conn, run.task_name)
        if run.outcome in SKIP_OUTCOMES:
            pass  # not run here by decision (ran on another host): nothing to alert
        elif run.outcome == "success":
            self._on_success(conn, run, task)
        elif run.outcome != NOT_RUN:
            # A chain's not-run row is not a failure of the follower: its predecessor's
            # failure is what alerts (docs/chains.md).
            record_failure(conn, run, task)

    def _on_success(self, conn: Connection, run: Any, task: Task | None) -> None:
        existing = active_alert(conn, run.task_name, "failure")
        channels = channel_names(self.config, task)
        if existing is not None:
            span = format_duration(max(1, int((utcnow() - existing.opened_at).total_seconds())))
            summary = (
                f"Recovered: {run.task_name} succeeded again after {existing.failure_count} "
                f"failed run(s) over {span}."
            )
            conn.execute(
                alerts.update()
                .where(alerts.c.id == existing.id)
                .values(state="resolved", resolved_at=utcnow(), details=summary)
            )
            notice = recovery_notice(run.task_name, summary, run.meaning or "")
            enqueue(conn, notice, channels, existing.id)
        if task is not None and "success" in task.alert_on:
            enqueue(conn, run_notice(self.config, run, task), channels)

    def _announce_due(self) -> None:
        """Queue the first message of new alerts and the reminders that are due."""
        now = utcnow()
        with self.engine.connect() as conn:
            due = conn.execute(
                sa.select(alerts).where(alerts.c.state.in_(("open", "notified")))
            ).fetchall()
            waiting = set(
                conn.execute(
                    sa.select(outbox.c.alert_id).where(
                        outbox.c.state.in_(("pending", HELD)), outbox.c.alert_id.is_not(None)
                    )
                ).scalars()
            )
        for alert in due:
            if alert.state == "notified" and (
                # A reminder never piles up behind an undelivered (or held) message.
                alert.id in waiting
                or (alert.last_notified_at and now - alert.last_notified_at < self.renotify)
            ):
                continue
            with self.engine.begin() as conn:
                if alert.execution_id and not self._output_is_in(conn, alert.execution_id, now):
                    continue  # the run's last lines are the evidence: wait for them (bounded)
                message_id = announce(conn, self.config, alert, self.renotify)
            if message_id is not None:  # committed: the journal says so (systemd/entries.py)
                self.entries.alert(alert, self.config.host_name)

    @staticmethod
    def _output_is_in(conn: Connection, run_id: int, now: dt.datetime) -> bool:
        row = conn.execute(
            sa.select(executions.c.output_tail, executions.c.recorded_at).where(
                executions.c.id == run_id
            )
        ).first()
        if row is None or row.output_tail is not None:
            return True
        return bool(now - row.recorded_at > TAIL_WAIT)


def set_alert_state(engine: Engine, alert_id: int, state: str, who: str) -> Any:
    """Acknowledge or resolve an alert by id; return the updated row."""
    with db_errors(engine), engine.begin() as conn:
        row = conn.execute(sa.select(alerts).where(alerts.c.id == alert_id)).first()
        if row is None:
            raise InvalidInput("ID", alert_id, "no such alert; `smartcron alerts` lists them")
        values: dict[str, Any] = {"state": state}
        if state == "acknowledged":
            values.update(acknowledged_at=utcnow(), acknowledged_by=who)
        else:
            values.update(resolved_at=utcnow())
        conn.execute(alerts.update().where(alerts.c.id == alert_id).values(**values))
        audit(
            conn,
            who,
            f"alert.{'ack' if state == 'acknowledged' else 'resolve'}",
            str(alert_id),
            {"task": row.task_name, "kind": row.kind},
        )
        return conn.execute(sa.select(alerts).where(alerts.c.id == alert_id)).first()


def sync_condition_alerts(
    engine: Engine, kind: str, problems: dict[str, str], tasks: dict[str, Task]
) -> None:
    """Open an alert per task with a `kind` problem (if its policy asks), resolve the others."""
    with engine.begin() as conn:
        active = {
            r.task_name: r
            for r in conn.execute(
                sa.select(alerts).where(alerts.c.kind == kind, alerts.c.state.in_(ACTIVE))
            )
        }
        for name, message in problems.items():
            task = tasks.get(name)
            if task is None or kind not in task.alert_on or name in active:
                continue
            conn.execute(
                alerts.insert().values(
                    task_name=name,
                    kind=kind,
                    state="open",
                    severity=task.priority,
                    summary=message,
                    failure_count=1,
                    opened_at=utcnow(),
                )
            )
        for name, row in active.items():
            if name not in problems:
                conn.execute(
                    alerts.update()
                    .where(alerts.c.id == row.id)
                    .values(
                        state="resolved", resolved_at=utcnow(), details=f"{kind} condition cleared"
                    )
                )
