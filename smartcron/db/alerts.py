"""Queries on alerts, shared by the CLI, the dashboard and the API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcron.db.schema import alerts

OPEN_STATES = ("open", "notified")
ACTIVE_STATES = ("open", "notified", "acknowledged")
ALL_STATES = ("open", "notified", "acknowledged", "resolved")


def alert_rows(conn: Connection, states: Sequence[str], limit: int = 200) -> list[Any]:
    return list(
        conn.execute(
            sa.select(alerts)
            .where(alerts.c.state.in_(states))
            .order_by(alerts.c.opened_at.desc())
            .limit(limit)
        )
    )


def count_alerts(conn: Connection, states: Sequence[str]) -> int:
    return int(
        conn.execute(
            sa.select(sa.func.count()).select_from(alerts).where(alerts.c.state.in_(states))
        ).scalar()
        or 0
    )
