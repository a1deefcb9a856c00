"""Host liveness: a host whose watchdog heartbeat is older than `host_down_after` gets one
`host-down` alert, raised by whichever other host's watchdog notices first, and one recovery
notice when its heartbeat moves again (docs/multi-host.md).

"One" across hosts comes from the claims table: the alert, its outbox message and the claim
row `host-down:HOST` at the host's last heartbeat are written in one transaction, and the
unique key lets only one watchdog's transaction commit (on Galera too). The recovery is
claimed the same way as `host-up:HOST` at the alert's opening.
"""

from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from smartcron.alerting.delivery import enqueue
from smartcron.alerting.notices import SUCCESS, Notice, system_notice
from smartcron.db.claims import insert_claim, lost_race
from smartcron.db.hosts import stale_hosts
from smartcron.db.schema import alerts, hosts, utcnow
from smartcron.model.config import Config
from smartcron.model.quantities import format_duration, parse_duration

log = logging.getLogger("smartcron.liveness")
KIND = "host-down"
OPEN = ("open", "notified", "acknowledged")


def check_hosts(config: Config, engine: Engine, now: dt.datetime | None = None) -> list[str]:
    """Raise host-down alerts and recovery notices this watchdog won; return what it did."""
    now = now or utcnow()
    after = dt.timedelta(seconds=parse_duration("host_down_after", config.host_down_after))
    me = config.host_name
    done: list[str] = []
    with engine.connect() as conn:
        stale = [(h, seen) for h, seen in stale_hosts(conn, after, now) if h != me]
        open_rows = conn.execute(
            sa.select(alerts.c.id, alerts.c.host, alerts.c.opened_at).where(
                alerts.c.kind == KIND, alerts.c.state.in_(OPEN)
            )
        ).all()
        seen_at = dict(conn.execute(sa.select(hosts.c.name, hosts.c.last_seen_at)).all())
    already = {r.host for r in open_rows}
    for host, last_seen in stale:
        if host in already:
            continue
        quiet = format_duration(int((now - last_seen).total_seconds()))
        notice = system_notice(
            f"smartcron: host {host} is down",
            [
                (
                    "What happened",
                    f"Host {host}'s watchdog has not refreshed its heartbeat for "
                    f"{quiet} (last seen {last_seen.isoformat()}; host_down_after "
                    f"{config.host_down_after}). Noticed by {me}.",
                ),
                (
                    "",
                    "Its `placement: one` tasks run on their other hosts; its other tasks do "
                    "not run. Check the host and its smartcron-watchdog.service.",
                ),
            ],
        )
        if _claimed(engine, f"host-down:{host}", last_seen, me, notice, config, host, now):
            done.append(f"host-down {host}")
    for row in open_rows:
        seen = seen_at.get(row.host)
        if seen is None or now - seen > after:
            continue
        notice = system_notice(
            f"smartcron: host {row.host} is back",
            [
                (
                    "What happened",
                    f"Host {row.host}'s watchdog heartbeat moved again (last seen "
                    f"{seen.isoformat()}); it was down since {row.opened_at.isoformat()}.",
                )
            ],
            severity=SUCCESS,
        )
        if _claimed(engine, f"host-up:{row.host}", row.opened_at, me, notice, config, None, now,
                    resolve=row.id):  # fmt: skip
            done.append(f"host-up {row.host}")
    return done


def _claimed(
    engine: Engine,
    key: str,
    slot: dt.datetime,
    me: str,
    notice: Notice,
    config: Config,
    host: str | None,
    now: dt.datetime,
    *,
    resolve: int | None = None,
) -> bool:
    """In one transaction: claim (key, slot), then open (or resolve) the alert and queue its
    message. Return False when another watchdog's claim holds it."""
    try:
        with engine.begin() as conn:
            insert_claim(conn, key, slot, me)
            if resolve is None:
                inserted = conn.execute(
                    # Announced here, with its message queued below: "notified", or every
                    # watchdog's alert engine would announce the "open" alert a second time.
                    alerts.insert().values(
                        task_name=None,
                        kind=KIND,
                        state="notified",
                        severity="failure",
                        summary=notice.title,
                        opened_at=now,
                        last_notified_at=now,
                        notify_count=1,
                        host=host,
                    )
                ).inserted_primary_key
                alert_id = int(inserted[0]) if inserted else 0
            else:
                alert_id = resolve
                conn.execute(
                    alerts.update()
                    .where(alerts.c.id == resolve)
                    .values(state="resolved", resolved_at=now)
                )
            enqueue(conn, notice, list(config.channels), int(alert_id))
    except sa.exc.DBAPIError as exc:
        if lost_race(exc):
            return False
        raise
    return True
