"""Dashboard sessions kept on the server: a session ends when the server says so.

The browser's cookie carries a random session id (signed by Flask); the `sessions` table keeps
only its SHA-256. A request is logged in only while its row exists, the user is enabled, and
neither timeout has passed: `session_idle_timeout` since the last page view and
`session_max_age` since the login. Logging out deletes the row; changing a password or a role,
disabling or removing a user deletes every row of that user, so a copied cookie stops working
at once, on every dashboard worker.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcron.db.schema import sessions, users, utcnow
from smartcron.model.config import Config
from smartcron.model.quantities import parse_duration
from smartcron.ops.users import User, user_from_row

# Page views within this long of the last recorded one are not written again: a dashboard
# refreshing itself does not turn every request into a database write.
TOUCH_EVERY = dt.timedelta(seconds=60)


@dataclass(frozen=True)
class Timeouts:
    """How long a session lasts: without a page view, and at most."""

    idle: dt.timedelta
    max_age: dt.timedelta

    @classmethod
    def of(cls, config: Config) -> Timeouts:
        """Given the configuration, return its session timeouts."""
        idle = parse_duration("session_idle_timeout", config.session_idle_timeout, minimum=1)
        most = parse_duration("session_max_age", config.session_max_age, minimum=1)
        return cls(dt.timedelta(seconds=idle), dt.timedelta(seconds=most))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(conn: Connection, user_id: int, now: dt.datetime | None = None) -> str:
    """Record a new session for a user who just logged in; return its id (for the cookie)."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    conn.execute(
        sessions.insert().values(
            token_hash=_digest(token), user_id=user_id, created_at=now, last_seen_at=now
        )
    )
    return token


def session_user(
    conn: Connection,
    token: str,
    timeouts: Timeouts,
    *,
    activity: bool = True,
    now: dt.datetime | None = None,
) -> User | None:
    """Given a session id, return its user while the session is valid, else None (and the
    expired row is deleted). `activity` False (a page refreshing itself) does not count as a
    page view for the idle timeout."""
    now = now or utcnow()
    row = conn.execute(
        sa.select(
            users,
            sessions.c.id.label("session_id"),
            sessions.c.created_at.label("born"),
            sessions.c.last_seen_at.label("seen"),
        )
        .join(sessions, sessions.c.user_id == users.c.id)
        .where(sessions.c.token_hash == _digest(token))
    ).first()
    if row is None:
        return None
    expired = now - row.born > timeouts.max_age or now - row.seen > timeouts.idle
    if expired or row.disabled:
        conn.execute(sessions.delete().where(sessions.c.id == row.session_id))
        return None
    if activity and now - row.seen > TOUCH_EVERY:
        conn.execute(
            sessions.update().where(sessions.c.id == row.session_id).values(last_seen_at=now)
        )
    return user_from_row(row)


def end_session(conn: Connection, token: str) -> None:
    """End one session (logout)."""
    conn.execute(sessions.delete().where(sessions.c.token_hash == _digest(token)))


def prune_sessions(conn: Connection, timeouts: Timeouts, now: dt.datetime | None = None) -> int:
    """Delete sessions that have expired either way; return how many."""
    now = now or utcnow()
    return int(
        conn.execute(
            sessions.delete().where(
                sa.or_(
                    sessions.c.created_at < now - timeouts.max_age,
                    sessions.c.last_seen_at < now - timeouts.idle,
                )
            )
        ).rowcount
    )
