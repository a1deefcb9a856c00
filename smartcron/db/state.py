"""The key/value `state` table: cursors and small facts the watchdog, the alert engine and the
dashboard keep between runs (journal cursor, alert cursor, the generated secret key, ...)."""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcron.db.schema import state, utcnow

JOURNAL_CURSOR = "collector.journal_cursor"  # + ":<host>": each host reads its own journal
ALERT_CURSOR = "alerts.last_run_id"  # set once: the engine ran (newest run then)
SECRET_KEY = "dashboard.secret_key"  # noqa: S105 - the key's name, not a secret
MANUAL_PREFIX = "manual:"  # + task name: when `task run` / Run now last started it


KEY_LENGTH = 64  # state.key's column length


def _fitted(key: str, prefix: str, name: str) -> str:
    """Return the key, or the prefix and a hash of the name when the key would not fit
    state.key (MariaDB refuses a longer value: a 64-character task name did not fit)."""
    if len(key) <= KEY_LENGTH:
        return key
    return f"{prefix}{hashlib.sha256(name.encode()).hexdigest()[:32]}"


def manual_key(task: str) -> str:
    """Return the state key holding when `task run` / Run now last started `task`."""
    return _fitted(MANUAL_PREFIX + task, MANUAL_PREFIX, task)


def journal_cursor_key(host: str | None) -> str:
    """Return the state key of `host`'s journal cursor: several hosts share one database and
    each reconciles its own journal (a long host name is hashed to fit the key column)."""
    if not host:
        return JOURNAL_CURSOR
    return _fitted(f"{JOURNAL_CURSOR}:{host}", f"{JOURNAL_CURSOR}:", host)


def journal_cursor(conn: Connection, host: str | None) -> str | None:
    """Return where `host`'s watchdog stopped reading its journal, or None. Falls back to
    the one key all hosts shared before the keys were per host (read at start-up only: the
    writer then stores the host's own)."""
    own = get_state(conn, journal_cursor_key(host))
    return own if own is not None else get_state(conn, JOURNAL_CURSOR)


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
