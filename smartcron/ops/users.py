"""Dashboard users: roles, password hashing (scrypt), login throttling and API tokens.

Passwords are hashed with scrypt (werkzeug.security), a memory-hard KDF. Login failures are
counted in the database, so every dashboard worker sees the same count: after
`MAX_FAILURES` failures in a row an account is locked for `LOCK_TIME`. The lock holds against
clients that failed; a client with no recent failures (the dashboard counts them per
address) may still log in with the right password, so that guessing at someone's account
locks out the guesser, not its owner. Every refusal reads the same, whether the account
exists, is locked or the password is wrong, so the answers tell nobody which names exist.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcron.db.audit import audit
from smartcron.db.schema import api_tokens, sessions, users, utcnow
from smartcron.errors import InvalidInput, NotFound

ROLES = ("viewer", "operator", "admin")
MIN_PASSWORD = 10
MAX_FAILURES = 5
LOCK_TIME = dt.timedelta(minutes=15)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


@functools.cache
def _dummy_hash() -> str:
    """A hash to check against when the user does not exist, so that a wrong name costs as
    long as a wrong password and the answer time does not reveal which names exist. Made on
    first use: scrypt is deliberately slow, and every CLI command imports this module."""
    from werkzeug.security import generate_password_hash

    return generate_password_hash("not a password", method="scrypt")


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str
    must_change_password: bool = False

    def can(self, role: str) -> bool:
        """Return True if this user has `role` or a higher one."""
        return ROLES.index(self.role) >= ROLES.index(role)


def user_from_row(row: Any) -> User:
    """Given a users row (or a join with it), return the User."""
    return User(row.id, row.username, row.role, bool(row.must_change_password))


def end_user_sessions(conn: Connection, user_id: int) -> int:
    """End every dashboard session of a user (password or role changed, user removed), in
    the caller's transaction; return how many there were."""
    return int(conn.execute(sessions.delete().where(sessions.c.user_id == user_id)).rowcount)


def check_username(name: str) -> str:
    if not _NAME.match(name):
        raise InvalidInput(
            "username",
            name,
            "1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit",
        )
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidInput("role", role, f"one of {', '.join(ROLES)}")
    return role


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput("password", "*" * len(password), f"at least {MIN_PASSWORD} characters")
    return password


def hash_password(password: str) -> str:
    from werkzeug.security import generate_password_hash

    return generate_password_hash(check_password(password), method="scrypt")


def add_user(
    conn: Connection,
    username: str,
    role: str,
    password: str,
    who: str,
    *,
    must_change: bool = False,
) -> User:
    """Given a new user's name, role and password, create the user; return it."""
    check_username(username)
    check_role(role)
    if conn.execute(sa.select(users.c.id).where(users.c.username == username)).first():
        raise InvalidInput("username", username, "a name not already taken (`smartcron user list`)")
    result = conn.execute(
        users.insert().values(
            username=username,
            password_hash=hash_password(password),
            role=role,
            created_at=utcnow(),
            must_change_password=must_change,
        )
    )
    audit(conn, who, "user.add", username, {"role": role})
    return User(int(result.inserted_primary_key[0]), username, role, must_change)  # type: ignore[index]


def get_user(conn: Connection, username: str) -> Any:
    row = conn.execute(sa.select(users).where(users.c.username == username)).first()
    if row is None:
        raise NotFound(f"no user named '{username}'; `smartcron user list` shows the users")
    return row


def set_password(conn: Connection, username: str, password: str, who: str) -> int:
    """Set a user's password; this also unlocks a locked account and ends every session of
    the user (a cookie copied before the change stops working). Return the sessions ended."""
    row = get_user(conn, username)
    conn.execute(
        users.update()
        .where(users.c.username == username)
        .values(
            password_hash=hash_password(password),
            failed_logins=0,
            locked_until=None,
            must_change_password=False,
        )
    )
    ended = end_user_sessions(conn, row.id)
    audit(conn, who, "user.passwd", username, {"sessions_ended": ended})
    return ended


def set_role(conn: Connection, username: str, role: str, who: str) -> int:
    """Give a user another role; their sessions end, so the new role applies from their next
    login. Return the sessions ended."""
    row = get_user(conn, username)
    check_role(role)
    conn.execute(users.update().where(users.c.id == row.id).values(role=role))
    ended = end_user_sessions(conn, row.id)
    audit(conn, who, "user.role", username, {"from": row.role, "to": role, "sessions_ended": ended})
    return ended


def change_own_password(conn: Connection, user: User, current: str, new: str, confirm: str) -> str:
    """Change a logged-in user's password; return "" or why it was refused."""
    from werkzeug.security import check_password_hash

    row = conn.execute(sa.select(users).where(users.c.id == user.id)).one()
    if not check_password_hash(row.password_hash, current):
        return "The current password is wrong."
    if new != confirm:
        return "The new password and its confirmation differ."
    if new == current:
        return "Choose a new password, not the current one."
    try:
        set_password(conn, user.username, new, user.username)
    except InvalidInput as exc:
        return f"The new password needs {exc.allowed}."
    return ""


def remove_user(conn: Connection, username: str, who: str) -> None:
    row = get_user(conn, username)
    conn.execute(api_tokens.delete().where(api_tokens.c.user_id == row.id))
    end_user_sessions(conn, row.id)
    conn.execute(users.delete().where(users.c.id == row.id))
    audit(conn, who, "user.rm", username)


def list_users(conn: Connection) -> list[Any]:
    return list(conn.execute(sa.select(users).order_by(users.c.username)).all())


REFUSED = (
    f"Wrong username or password. After {MAX_FAILURES} failed logins an account stays closed "
    f"to the clients that failed for {int(LOCK_TIME.total_seconds() // 60)} minutes."
)


def authenticate(
    conn: Connection,
    username: str,
    password: str,
    now: dt.datetime | None = None,
    *,
    clean_client: bool = False,
) -> tuple[User | None, str]:
    """Given credentials, return (the user, "") or (None, why the login was refused).

    `clean_client`: the client has no recent failed logins, so a lock (set by someone else's
    failures) does not hold against it.
    """
    from werkzeug.security import check_password_hash

    now = now or utcnow()
    row = conn.execute(sa.select(users).where(users.c.username == username)).first()
    if row is not None and row.username != username:
        row = None  # MariaDB's collation matched "ADMIN" to "admin": logins are exact
    if row is None:
        check_password_hash(_dummy_hash(), password)
        return None, REFUSED
    locked = row.locked_until is not None and row.locked_until > now
    if locked and not clean_client:
        check_password_hash(_dummy_hash(), password)  # the same time as any other refusal
        return None, REFUSED
    if not check_password_hash(row.password_hash, password):
        failures = row.failed_logins + 1
        until = now + LOCK_TIME if failures >= MAX_FAILURES else None
        conn.execute(
            users.update()
            .where(users.c.id == row.id)
            .values(
                failed_logins=0 if until else failures,
                locked_until=until or (row.locked_until if locked else None),
            )
        )
        audit(conn, username, "login.failed", username, {"locked": bool(until or locked)})
        return None, REFUSED
    if row.disabled:  # said only to whoever knows the password
        return None, "This account is disabled; ask an administrator."
    conn.execute(
        users.update()
        .where(users.c.id == row.id)
        .values(failed_logins=0, locked_until=None, last_login_at=now)
    )
    audit(conn, username, "login", username)
    return user_from_row(row), ""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(conn: Connection, username: str, label: str, who: str) -> str:
    """Create an API token for a user; return it (it is shown once and stored only hashed)."""
    row = get_user(conn, username)
    token = "sc_" + secrets.token_urlsafe(32)
    conn.execute(
        api_tokens.insert().values(
            user_id=row.id, name=label[:64], token_hash=_digest(token), created_at=utcnow()
        )
    )
    audit(conn, who, "token.create", username, {"name": label})
    return token


def revoke_tokens(conn: Connection, username: str, who: str) -> int:
    """Delete every API token of a user; return how many there were."""
    row = get_user(conn, username)
    gone = conn.execute(api_tokens.delete().where(api_tokens.c.user_id == row.id)).rowcount
    audit(conn, who, "token.revoke", username, {"count": gone})
    return int(gone)


TOKEN_USE_PRECISION = dt.timedelta(minutes=1)  # api_tokens.last_used_at


def user_of_token(conn: Connection, token: str) -> User | None:
    """Given a bearer token, return its user, or None for an unknown token."""
    row = conn.execute(
        sa.select(users, api_tokens.c.id.label("token_id"), api_tokens.c.last_used_at)
        .join(api_tokens, api_tokens.c.user_id == users.c.id)
        .where(api_tokens.c.token_hash == _digest(token), users.c.disabled == sa.false())
    ).first()
    if row is None:
        return None
    now = utcnow()
    # To the minute: a scraper every few seconds then writes (and commits) once a minute.
    if row.last_used_at is None or now - row.last_used_at >= TOKEN_USE_PRECISION:
        conn.execute(
            api_tokens.update().where(api_tokens.c.id == row.token_id).values(last_used_at=now)
        )
    return user_from_row(row)
