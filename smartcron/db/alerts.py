"""Queries on alerts, shared by the CLI, the dashboard and the API."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcron.db.schema import alerts, outbox

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


def deliveries(conn: Connection, alert_ids: Sequence[int]) -> dict[int, Any]:
    """Given alert ids, return each one's latest message from the outbox (how it went)."""
    if not alert_ids:
        return {}
    latest = (
        sa.select(sa.func.max(outbox.c.id))
        .where(outbox.c.alert_id.in_(list(alert_ids)))
        .group_by(outbox.c.alert_id)
    )
    rows = conn.execute(sa.select(outbox).where(outbox.c.id.in_(latest)))
    return {row.alert_id: row for row in rows}


def undelivered(conn: Connection, since: dt.datetime, limit: int = 50) -> list[Any]:
    """Return the messages that could not be delivered: still retrying after at least one
    failed attempt, or given up on since `since`; newest first."""
    return list(
        conn.execute(
            sa.select(outbox)
            .where(
                sa.or_(
                    sa.and_(outbox.c.state == "pending", outbox.c.attempts > 0),
                    sa.and_(outbox.c.state == "failed", outbox.c.created_at >= since),
                )
            )
            .order_by(outbox.c.id.desc())
            .limit(limit)
        )
    )


def delivery_words(row: Any) -> str:
    """Return how a message went, for people: sent via ..., or NOT delivered and why."""
    if row is None:
        return "-"
    if row.state == "sent":
        fallback = " (fallback)" if row.last_error else ""
        return f"sent via {', '.join(row.sent_via or [])}{fallback}"
    if row.state == "failed":
        return f"NOT delivered, gave up: {row.last_error}"
    # alerting/hold.py's states: kept back by a maintenance window, then sent in its summary.
    if row.state == "held":
        return f"held by window {row.held_for}: sent in its summary when it ends"
    if row.state == "released":
        return f"sent in the summary of window {row.held_for}"
    if row.attempts:
        return f"NOT delivered yet ({row.attempts} attempt(s)): {row.last_error}"
    return "queued"
