"""The hosts table: every host sharing the database, registered by its watchdog, with its
heartbeat (last_seen_at), and what the `hosts` command shows about each."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcron.db.schema import executions, hosts, utcnow
from smartcron.model.placement import placed_on
from smartcron.model.task import Task

RUNNING, STOPPED = "running", "stopped"


def register_host(
    conn: Connection, name: str, version: str, now: dt.datetime | None = None
) -> None:
    """Record that this host's watchdog started (insert or update its row)."""
    now = now or utcnow()
    updated = conn.execute(
        hosts.update()
        .where(hosts.c.name == name)
        .values(version=version, watchdog_state=RUNNING, started_at=now, last_seen_at=now)
    ).rowcount
    if not updated:
        conn.execute(
            hosts.insert().values(
                name=name,
                version=version,
                watchdog_state=RUNNING,
                registered_at=now,
                started_at=now,
                last_seen_at=now,
            )
        )


def heartbeat(
    conn: Connection, name: str, state: str = RUNNING, now: dt.datetime | None = None
) -> bool:
    """Refresh a host's last_seen_at (and its watchdog state); return False when the host has
    no row (registered from another database, or deleted): the caller registers it again."""
    values = {"last_seen_at": now or utcnow(), "watchdog_state": state}
    return bool(conn.execute(hosts.update().where(hosts.c.name == name).values(**values)).rowcount)


def known_hosts(conn: Connection) -> list[str]:
    """Return the names of every registered host."""
    return list(conn.execute(sa.select(hosts.c.name).order_by(hosts.c.name)).scalars())


@dataclass(frozen=True)
class HostRow:
    """One host as `smartcron hosts` and the dashboard show it."""

    name: str
    version: str
    watchdog_state: str
    started_at: dt.datetime
    last_seen_at: dt.datetime
    tasks: int  # tasks placed on it (each or one)
    runs_24h: int  # runs it recorded in the last day

    def age(self, now: dt.datetime) -> float:
        return max(0.0, (now - self.last_seen_at).total_seconds())

    def state(self, now: dt.datetime, down_after: float) -> str:
        """Return "up", "stopped" (its watchdog said it stopped) or "DOWN" (gone quiet)."""
        if self.age(now) <= down_after and self.watchdog_state == RUNNING:
            return "up"
        return "stopped" if self.watchdog_state == "stopped" else "DOWN"

    def as_json(self, now: dt.datetime, down_after: float) -> dict[str, object]:
        return {
            "name": self.name,
            "version": self.version,
            "watchdog_state": self.watchdog_state,
            "started_at": self.started_at.isoformat(),
            "last_seen_at": self.last_seen_at.isoformat(),
            "seen_seconds_ago": round(self.age(now), 1),
            "alive": self.state(now, down_after) == "up",
            "tasks": self.tasks,
            "runs_24h": self.runs_24h,
        }


def list_hosts(
    conn: Connection, task_list: list[Task], now: dt.datetime | None = None
) -> list[HostRow]:
    """Return every registered host with its task count and its runs of the last day."""
    since = (now or utcnow()) - dt.timedelta(days=1)
    runs: dict[str, int] = dict(
        conn.execute(
            sa.select(executions.c.host, sa.func.count())
            .where(executions.c.started_at >= since, executions.c.host.is_not(None))
            .group_by(executions.c.host)
        ).all()
    )
    rows = conn.execute(sa.select(hosts).order_by(hosts.c.name)).all()
    return [
        HostRow(
            name=r.name,
            version=r.version,
            watchdog_state=r.watchdog_state,
            started_at=r.started_at,
            last_seen_at=r.last_seen_at,
            tasks=sum(1 for t in task_list if placed_on(t, r.name)),
            runs_24h=int(runs.get(r.name, 0)),
        )
        for r in rows
    ]


def stale_hosts(
    conn: Connection, older_than: dt.timedelta, now: dt.datetime | None = None
) -> list[tuple[str, dt.datetime]]:
    """Return (name, last_seen_at) of the hosts whose heartbeat is older than `older_than`
    (a host whose watchdog stopped cleanly says so and is not stale)."""
    cutoff = (now or utcnow()) - older_than
    return [
        (r.name, r.last_seen_at)
        for r in conn.execute(
            sa.select(hosts.c.name, hosts.c.last_seen_at).where(
                hosts.c.last_seen_at < cutoff, hosts.c.watchdog_state == RUNNING
            )
        )
    ]
