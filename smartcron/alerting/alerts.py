"""Alerts: decide, deduplicate, send through apprise channels, re-notify, resolve.

One alert row per (task, kind) is open at a time. Its states: open (to be sent) -> notified
(re-sent every `renotify_interval` while the failure lasts) -> resolved, with a recovery
notice; `acknowledged` stops the re-notifications. The watchdog evaluates each recorded run
once (a cursor in the state table), and the OnFailure= fallback unit uses the same rows, so a
failure is announced once whichever of the two sees it first.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from smartcron.db import store
from smartcron.db.schema import alerts, executions, utcnow
from smartcron.errors import InvalidInput, OperationFailed
from smartcron.model.config import Config
from smartcron.model.quantities import format_duration, parse_duration
from smartcron.model.task import Task, host_timezone
from smartcron.watchdog.collector import get_state, set_state

log = logging.getLogger("smartcron.alerts")
RUN_CURSOR = "alerts.last_run_id"
ACTIVE = ("open", "notified", "acknowledged")
FAILURE_OUTCOMES_FINAL = {"could-not-start", "start-limit"}


@dataclass(frozen=True)
class Notice:
    title: str
    body: str


def channel_urls(config: Config, task: Task | None) -> list[str]:
    """Return the apprise URLs for a task: the channels it names, else those of its priority
    (`priority_channels`), else every channel."""
    if task and task.channels:
        names = list(task.channels)
    elif task and task.priority in config.priority_channels:
        names = [n.strip() for n in config.priority_channels[task.priority].split(",") if n.strip()]
    else:
        names = list(config.channels)
    return [config.channels[n] for n in names if n in config.channels]


def send(urls: list[str], notice: Notice) -> bool:
    """Send a notice to the URLs; return True if every channel accepted it."""
    if not urls:
        return False
    import apprise

    sender = apprise.Apprise()
    for url in urls:
        if not sender.add(url):
            log.error("alert channel URL is not understood by apprise: %s", url.split("://")[0])
            return False
    return bool(sender.notify(title=notice.title, body=notice.body))


def _when(moment: dt.datetime | None) -> str:
    if moment is None:
        return "unknown time"
    local = moment.astimezone(ZoneInfo(host_timezone()))
    return f"{local:%Y-%m-%d %H:%M:%S %Z} ({moment.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC)"


def run_notice(config: Config, run: Any, task: Task | None, *, repeat: int = 0) -> Notice:
    """Given an executions row, return the alert message with its evidence."""
    name = run.task_name
    word = "succeeded" if run.outcome == "success" else "failed"
    again = f" (still failing, reminder {repeat})" if repeat else ""
    total = (task.retries + 1) if task else None
    attempt = f"{run.attempt} of {total}" if total and total > 1 else str(run.attempt)
    lines = (run.output_tail or "").splitlines()[-20:]
    body = [
        f"What happened: {run.meaning}",
        f"When: {_when(run.started_at)}",
        f"Attempt: {attempt}    Trigger: {run.trigger}    Duration: "
        f"{f'{run.duration_s:.1f} s' if run.duration_s is not None else 'unknown'}",
        "",
        "Last output lines:" if lines else "No output.",
        *[f"  {line}" for line in lines],
        "",
        f"Whole log: smartcron logs {name} --run {run.id}",
    ]
    if config.dashboard_url:
        body.append(f"Dashboard: {config.dashboard_url.rstrip('/')}/runs/{run.id}")
    return Notice(f"smartcron: {name} {word} on {socket.gethostname()}{again}", "\n".join(body))


def _consecutive_failures(conn: Connection, task: str, upto_id: int) -> int:
    rows = conn.execute(
        sa.select(executions.c.outcome)
        .where(
            executions.c.task_name == task,
            executions.c.id <= upto_id,
            executions.c.outcome != "running",
        )
        .order_by(executions.c.id.desc())
        .limit(1000)
    ).scalars()
    count = 0
    for outcome in rows:
        if outcome == "success":
            break
        count += 1
    return count


def active_alert(conn: Connection, task: str, kind: str) -> Any:
    return conn.execute(
        sa.select(alerts).where(
            alerts.c.task_name == task, alerts.c.kind == kind, alerts.c.state.in_(ACTIVE)
        )
    ).first()


def is_final(run: Any, task: Task | None) -> bool:
    """Return True if no retry follows this failed run."""
    if run.outcome in FAILURE_OUTCOMES_FINAL or task is None:
        return True
    return int(run.attempt) >= task.retries + 1


def record_failure(conn: Connection, run: Any, task: Task | None) -> int | None:
    """Open (or update) the task's failure alert for a failed run if its policy says so."""
    policy = task.alert_on if task else ("final-failure",)
    final = is_final(run, task)
    if not ("failure" in policy or ("final-failure" in policy and final)):
        return None
    needed = task.alert_after if task else 1
    if final and _consecutive_failures(conn, run.task_name, run.id) < needed:
        return None
    existing = active_alert(conn, run.task_name, "failure")
    if existing is not None:
        conn.execute(
            alerts.update()
            .where(alerts.c.id == existing.id)
            .values(
                failure_count=existing.failure_count
                + (0 if existing.execution_id == run.id else 1),
                execution_id=run.id,
                summary=run.meaning,
            )
        )
        return int(existing.id)
    result = conn.execute(
        alerts.insert().values(
            task_name=run.task_name,
            kind="failure",
            state="open",
            severity=task.priority if task else "high",
            summary=run.meaning,
            execution_id=run.id,
            failure_count=1,
            opened_at=utcnow(),
        )
    )
    key = result.inserted_primary_key
    return int(key[0]) if key else None


def claim(engine: Engine, alert_id: int, renotify: dt.timedelta) -> bool:
    """Atomically take the right to send an alert now; False if someone else has it.

    The watchdog and the OnFailure= fallback may both want to send the same alert; only the
    one whose conditional UPDATE changes the row sends.
    """
    now = utcnow()
    with engine.begin() as conn:
        result = conn.execute(
            alerts.update()
            .where(
                alerts.c.id == alert_id,
                sa.or_(
                    alerts.c.state == "open",
                    sa.and_(
                        alerts.c.state == "notified", alerts.c.last_notified_at < now - renotify
                    ),
                ),
            )
            .values(state="notified", last_notified_at=now, notify_count=alerts.c.notify_count + 1)
        )
        return bool(result.rowcount == 1)


def release(engine: Engine, alert_id: int) -> None:
    """Undo a claim after a failed send, so that it is tried again."""
    with engine.begin() as conn:
        conn.execute(
            alerts.update()
            .where(alerts.c.id == alert_id)
            .values(state="open", notify_count=alerts.c.notify_count - 1)
        )


class AlertEngine:
    """Called from the watchdog's main loop: evaluate new runs, send what is due."""

    def __init__(self, engine: Engine, config: Config) -> None:
        self.engine = engine
        self.config = config
        self.renotify = dt.timedelta(
            seconds=parse_duration(
                "renotify_interval", config.renotify_interval.replace("min", "m")
            )
        )
        self._retry_after: dict[int, dt.datetime] = {}

    def initialize(self) -> None:
        """Set the run cursor on the very first start (before collecting), so that history
        is not alerted about but every run recorded from now on is."""
        with self.engine.begin() as conn:
            if get_state(conn, RUN_CURSOR) is None:
                newest = conn.execute(sa.select(sa.func.max(executions.c.id))).scalar() or 0
                set_state(conn, RUN_CURSOR, str(newest))

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
        raw = get_state(conn, RUN_CURSOR)
        if raw is None:  # first start: do not alert for history, start after the newest run
            newest = conn.execute(sa.select(sa.func.max(executions.c.id))).scalar() or 0
            set_state(conn, RUN_CURSOR, str(newest))
            return notices
        last = int(raw)
        runs = conn.execute(
            sa.select(executions)
            .where(executions.c.id > last, executions.c.outcome != "running")
            .order_by(executions.c.id)
            .limit(500)
        ).fetchall()
        for run in runs:
            task = store.find_task(conn, run.task_name)
            if run.outcome == "success":
                notices += self._on_success(conn, run, task)
            else:
                record_failure(conn, run, task)
            last = run.id
        # A run still "running" below the cursor is evaluated when it finishes: the cursor
        # only moves past finished rows, and rows are written in id order.
        if runs:
            set_state(conn, RUN_CURSOR, str(last))
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
                task = store.find_task(conn, alert.task_name) if alert.task_name else None
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
    with store.db_errors(engine), engine.begin() as conn:
        row = conn.execute(sa.select(alerts).where(alerts.c.id == alert_id)).first()
        if row is None:
            raise InvalidInput("ID", alert_id, "no such alert; `smartcron alerts` lists them")
        values: dict[str, Any] = {"state": state}
        if state == "acknowledged":
            values.update(acknowledged_at=utcnow(), acknowledged_by=who)
        else:
            values.update(resolved_at=utcnow())
        conn.execute(alerts.update().where(alerts.c.id == alert_id).values(**values))
        store.audit(
            conn,
            who,
            f"alert.{'ack' if state == 'acknowledged' else 'resolve'}",
            str(alert_id),
            {"task": row.task_name, "kind": row.kind},
        )
        return conn.execute(sa.select(alerts).where(alerts.c.id == alert_id)).first()


def test_channel(config: Config, name: str) -> None:
    """Send a test message through one channel, or raise with what to fix."""
    if name not in config.channels:
        known = ", ".join(config.channels) or "none configured"
        raise InvalidInput("CHANNEL", name, f"not a configured channel (known: {known})")
    notice = Notice(
        f"smartcron test alert from {socket.gethostname()}",
        "If you can read this, smartcron can reach you through this channel.",
    )
    if not send([config.channels[name]], notice):
        raise OperationFailed(
            f"channel {name!r} did not accept the test message; check its URL "
            "and that the service is reachable (apprise logged the reason above)"
        )


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
