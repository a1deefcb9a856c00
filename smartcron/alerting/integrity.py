"""Alerts about task definitions that root's sync refused (model/signing.py).

A refused definition means someone wrote the tasks table without root's key: the web-facing
`smartcron` account, or whoever holds it. So `smartcron sync` (root) opens one critical alert
per refused task and sends it itself, at once, through every channel: not through the watchdog,
which runs as that same account, and not through the channels the changed row names. It is
re-sent by the watchdog like any open alert, and resolved when the task verifies again.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from smartcron.alerting.delivery import send
from smartcron.alerting.engine import renotify_interval
from smartcron.alerting.notices import Notice
from smartcron.alerting.policy import ACTIVE, claim, release
from smartcron.alerting.routing import channel_urls
from smartcron.db.schema import alerts, utcnow
from smartcron.model.config import Config

KIND = "refused-definition"
log = logging.getLogger("smartcron.alerts")


def report_refused(
    config: Config, engine: Engine, refused: dict[str, str], verified: list[str]
) -> list[int]:
    """Given the refused tasks (name: why) and those that verified, open and send an alert for
    each newly refused task, resolve the alerts of tasks that verify again; return the ids of
    the alerts opened now."""
    now = utcnow()
    opened: list[int] = []
    query = sa.select(alerts.c.task_name, alerts.c.id).where(
        alerts.c.kind == KIND, alerts.c.state.in_(ACTIVE)
    )
    with engine.connect() as conn:
        active = {row.task_name: row.id for row in conn.execute(query)}
    if not refused and not active:
        return opened  # the usual case: nothing to write (no transaction, no fsync)
    with engine.begin() as conn:
        active = {row.task_name: row.id for row in conn.execute(query)}
        for name, why in sorted(refused.items()):
            if name in active:
                continue
            result = conn.execute(
                alerts.insert().values(
                    task_name=name,
                    kind=KIND,
                    state="open",
                    severity="critical",
                    summary=f"smartcron sync refused task {name}: {why}",
                    failure_count=1,
                    opened_at=now,
                )
            )
            opened.append(int(result.inserted_primary_key[0]))  # type: ignore[index]
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
    for alert_id in opened:
        _send(config, engine, alert_id)
    return opened


def _send(config: Config, engine: Engine, alert_id: int) -> None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(alerts).where(alerts.c.id == alert_id)).one()
    urls = channel_urls(config, None)  # every channel: the row's own channels are suspect
    if not urls or not claim(engine, alert_id, renotify_interval(config)):
        return  # no channel: it stays open, for the CLI and the dashboard
    notice = Notice(
        f"smartcron: task {row.task_name} changed outside smartcron (refused)",
        f"{row.summary}\nWhen: {row.opened_at:%Y-%m-%d %H:%M:%S} UTC\n"
        "Whoever can write the database (the smartcron account) may be compromised: see "
        'docs/install.md, "Security model".',
    )
    if not send(urls, notice):
        release(engine, alert_id)
        log.error("could not send alert %s; the watchdog will try again", alert_id)


def refused_alerts(engine: Engine) -> list[tuple[str, str]]:
    """Return (task, summary) of the active refused-definition alerts."""
    query = sa.select(alerts.c.task_name, alerts.c.summary).where(
        alerts.c.kind == KIND, alerts.c.state.in_(ACTIVE)
    )
    with engine.connect() as conn:
        return [(r.task_name, r.summary) for r in conn.execute(query.order_by(alerts.c.task_name))]
