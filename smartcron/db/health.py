"""Queries on stored health checks (the watchdog writes a round every minute)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcron.db.schema import health_checks

# The row each round stores its health score in (ops/health.store_checks).
SCORE_CHECK = "score"


def latest_health(conn: Connection) -> tuple[dt.datetime | None, list[Any]]:
    """Return the time of the newest health check round and its checks."""
    at = conn.execute(sa.select(sa.func.max(health_checks.c.checked_at))).scalar()
    if at is None:
        return None, []
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    rows = conn.execute(
        sa.select(health_checks)
        .where(health_checks.c.checked_at == at)
        .order_by(health_checks.c.status.desc(), health_checks.c.check_name)
    ).all()
    return at, list(rows)


def health_history(conn: Connection, name: str, limit: int = 60) -> list[Any]:
    return list(
        conn.execute(
            sa.select(health_checks)
            .where(health_checks.c.check_name == name)
            .order_by(health_checks.c.checked_at.desc())
            .limit(limit)
        )
    )
