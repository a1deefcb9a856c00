"""The alert engine, called from the watchdog's main loop: evaluate new runs once (a cursor
in the state table), send what is due, re-notify, resolve with a recovery notice; condition
alerts (late, long-run) from the health checks; acknowledging and resolving by hand."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from smartcron.alerting.delivery import send
from smartcron.alerting.notices import Notice, run_notice
from smartcron.alerting.policy import ACTIVE, active_alert, claim, record_failure, release
from smartcron.alerting.routing import channel_urls
from smartcron.db.audit import audit
from smartcron.db.engine import db_errors
from smartcron.db.schema import alerts, executions, utcnow
from smartcron.db.state import ALERT_CURSOR, get_state, set_state
from smartcron.db.tasks import find_task
from smartcron.errors import InvalidInput
from smartcron.model.config import Config
from smartcron.model.quantities import format_duration, parse_duration
from smartcron.model.task import Task

log = logging.getLogger("smartcron.alerts")


def renotify_interval(config: Config) -> dt.timedelta:
    """Return how often an unresolved alert is sent again (the renotify_interval setting)."""
    return dt.timedelta(seconds=parse_duration("renotify_interval", config.renotify_interval))


class AlertEngine:
    """Called from the watchdog's main loop: evaluate new runs, send what is due."""

    def __init__(self, engine: Engine, config: Config) -> None:
        self.engine = engine
        self.config = config
        self.renotify = renotify_interval(config)
        self._retry_after: dict[int, dt.datetime] = {}

    def initialize(self) -> None:
        """Set the run cursor on the very first start (before collecting), so that history
        is not alerted about but every run recorded from now on is."""
        with self.engine.begin() as conn:
            if get_state(conn, ALERT_CURSOR) is None:
                newest = conn.execute(sa.select(sa.func.max(executions.c.id))).scalar() or 0
                set_state(conn, ALERT_CURSOR, str(newest))

    def tick(self) -> None:
        """One pass; database errors propagate to the caller (which retries next tick)."""
        with self.engine.begin() as conn:
            notices = self._evaluate(conn)
        # Sent only after the commit: never hold the database during a network send, and a
        # notice never announces a state that was not stored.
        for task, notice in notices:
            self._send_now(task, notice)
        self._deliver()

    def _evaluate(self, conn: Connection) -> list[tuple[Task | None, Notice]]:
        """Record what the new runs mean for alerts; return the notices to send after commit."""
        notices: list[tuple[Task | None, Notice]] = []
        raw = get_state(conn, ALERT_CURSOR)
        if raw is None:  # first start: do not alert for history, start after the newest run
            newest = conn.execute(sa.select(sa.func.max(executions.c.id))).scalar() or 0
            set_state(conn, ALERT_CURSOR, str(newest))
            return notices
        last = int(raw)
        runs = conn.execute(
            sa.select(executions)
            .where(executions.c.id > last, executions.c.outcome != "running")
            .order_by(executions.c.id)
            .limit(500)
        ).fetchall()
        for run in runs:
            task = find_task(conn, run.task_name)
            if run.outcome == "success":
                notices += self._on_success(conn, run, task)
            else:
                record_failure(conn, run, task)
            last = run.id
        # A run still "running" below the cursor is evaluated when it finishes: the cursor
        # only moves past finished rows, and rows are written in id order.
        if runs:
            set_state(conn, ALERT_CURSOR, str(last))
        return notices

    def _on_success(
        self, conn: Connection, run: Any, task: Task | None
    ) -> list[tuple[Task | None, Notice]]:
        notices: list[tuple[Task | None, Notice]] = []
        existing = active_alert(conn, run.task_name, "failure")
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
            title = f"smartcron: {run.task_name} recovered"
            notices.append((task, Notice(title, summary + f"\nLast run: {run.meaning}")))
        if task is not None and "success" in task.alert_on:
            notices.append((task, run_notice(self.config, run, task)))
        return notices

    def _send_now(self, task: Task | None, notice: Notice) -> None:
        urls = channel_urls(self.config, task)
        if urls and not send(urls, notice):
            log.error("could not deliver %r; see the channel's error above", notice.title)

    def _deliver(self) -> None:
        now = utcnow()
        with self.engine.connect() as conn:
            due = conn.execute(
                sa.select(alerts).where(alerts.c.state.in_(("open", "notified")))
            ).fetchall()
        for alert in due:
            if (
                alert.state == "notified"
                and alert.last_notified_at
                and now - alert.last_notified_at < self.renotify
            ):
                continue
            if self._retry_after.get(alert.id, now) > now:
                continue
            with self.engine.connect() as conn:
                run = conn.execute(
                    sa.select(executions).where(executions.c.id == alert.execution_id)
                ).first()
                task = find_task(conn, alert.task_name) if alert.task_name else None
            urls = channel_urls(self.config, task)
            if not urls:
                continue  # no channel configured: the alert stays open for the CLI/dashboard
            if not claim(self.engine, alert.id, self.renotify):
                continue  # the fallback unit sent it meanwhile
            notice = (
                run_notice(self.config, run, task, repeat=alert.notify_count)
                if run is not None
                else Notice(
                    f"smartcron: {alert.task_name or 'system'} {alert.kind}",
                    f"{alert.summary}\nSee `smartcron health` for the current state.",
                )
            )
            if send(urls, notice):
                self._retry_after.pop(alert.id, None)
            else:
                release(self.engine, alert.id)
                self._retry_after[alert.id] = now + dt.timedelta(minutes=1)


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
