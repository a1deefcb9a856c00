"""The key/value `state` table: cursors and small facts the watchdog, the alert engine and the
dashboard keep between runs (journal cursor, alert cursor, the generated secret key, ...)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcron.db.schema import state, utcnow

JOURNAL_CURSOR = "collector.journal_cursor"
ALERT_CURSOR = "alerts.last_run_id"
SECRET_KEY = "dashboard.secret_key"  # noqa: S105 - the key's name, not a secret
MANUAL_PREFIX = "manual:"  # + task name: when `task run` / Run now last started it


def get_state(conn: Connection, key: str) -> str | None:
    """Return the value of `key`, or None."""
    return conn.execute(sa.select(state.c.value).where(state.c.key == key)).scalar()


def set_state(conn: Connection, key: str, value: str) -> None:
    """Upsert one key of the state table (portable: update, then insert if it was missing)."""
    updated = conn.execute(
        state.update().where(state.c.key == key).values(value=value, updated_at=utcnow())
    )
    if updated.rowcount == 0:
        conn.execute(state.insert().values(key=key, value=value, updated_at=utcnow()))
