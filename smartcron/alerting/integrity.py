"""Alerts about task definitions that root's sync refused (model/signing.py).

A refused definition means someone wrote the tasks table without root's key: the web-facing
`smartcron` account, or whoever holds it. So `smartcron sync` (root) opens one critical alert
per refused task, queues its message for every channel (not the channels the changed row
names) and delivers it itself, at once: not through the watchdog, which runs as that same
account. It is re-sent like any open alert, and resolved when the task verifies again.
"""

from __future__ import annotations

import logging
import socket

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from smartcron.alerting.delivery import deliver, enqueue, lease
from smartcron.alerting.engine import renotify_interval
from smartcron.alerting.notices import FAILURE, Notice, render
from smartcron.alerting.policy import ACTIVE, claim
from smartcron.db.schema import alerts, utcnow
from smartcron.model.config import Config

KIND = "refused-definition"
log = logging.getLogger("smartcron.alerts")


def report_refused(
    config: Config, engine: Engine, refused: dict[str, str], verified: list[str]
) -> list[int]:
    """Given the refused tasks (name: why) and those that verified, open an alert for each
    newly refused task and deliver its message now, resolve the alerts of tasks that verify
    again; return the ids of the alerts opened now."""
    now = utcnow()
    opened: list[int] = []
    messages: list[int] = []
    query = sa.select(alerts.c.task_name, alerts.c.id).where(
        alerts.c.kind == KIND, alerts.c.state.in_(ACTIVE)
    )
    with engine.connect() as conn:
        active = {row.task_name: row.id for row in conn.execute(query)}
    if not refused and not active:
        return opened  # the usual case: nothing to write (no transaction, no fsync)
    renotify = renotify_interval(config)
    with engine.begin() as conn:
        active = {row.task_name: row.id for row in conn.execute(query)}
        for name, why in sorted(refused.items()):
            if name in active:
                continue
            summary = f"smartcron sync refused task {name}: {why}"
            result = conn.execute(
                alerts.insert().values(
                    task_name=name,
                    kind=KIND,
                    state="open",
                    severity="critical",
                    summary=summary,
                    failure_count=1,
                    opened_at=now,
                )
            )
            alert_id = int(result.inserted_primary_key[0])  # type: ignore[index]
            opened.append(alert_id)
            if claim(conn, alert_id, renotify):
                # Every channel: the channels the changed row names are suspect.
                messages.append(
                    enqueue(conn, _notice(name, summary), list(config.channels), alert_id)
                )
        for name in verified:
            if name in active:
                conn.execute(
                    alerts.update()
                    .where(alerts.c.id == active[name])
                    .values(
                        state="resolved",
                        resolved_at=now,
                        details="the task's definition is signed again",
                    )
                )
    for message_id in messages:
        row = lease(engine, message_id)
        if row is not None and not deliver(engine, config, row):
            log.error("message %s about a refused definition is not delivered yet", message_id)
    return opened


def _notice(task: str, summary: str) -> Notice:
    return render(
        KIND,
        FAILURE,
        f"smartcron: task {task} changed outside smartcron (refused) on {socket.gethostname()}",
        [
            ("What happened", summary),
            (
                "",
                "Whoever can write the database (the smartcron account) may be compromised: "
                'see docs/install.md, "Security model".',
            ),
        ],
        task,
    )


def refused_alerts(engine: Engine) -> list[tuple[str, str]]:
    """Return (task, summary) of the active refused-definition alerts."""
    query = sa.select(alerts.c.task_name, alerts.c.summary).where(
        alerts.c.kind == KIND, alerts.c.state.in_(ACTIVE)
    )
    with engine.connect() as conn:
        return [(r.task_name, r.summary) for r in conn.execute(query.order_by(alerts.c.task_name))]
