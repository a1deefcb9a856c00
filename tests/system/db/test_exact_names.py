"""Names are matched exactly on both stores: MariaDB's default collation ignores case and
trailing spaces, SQLite's does not, so a lookup must not depend on which one runs."""

from __future__ import annotations

from smartcron.db.tasks import find_task
from smartcron.ops.users import authenticate

from support import TestDB
from support.dashboard import PASSWORD, add_task, add_user


def test_find_task_matches_the_name_exactly(db: TestDB) -> None:
    add_task(db.engine, "bank")
    with db.engine.connect() as conn:
        assert find_task(conn, "bank") is not None
        assert find_task(conn, "BANK") is None
        assert find_task(conn, "bank ") is None


def test_authenticate_matches_the_username_exactly(db: TestDB) -> None:
    add_user(db.engine, "alice", "viewer")
    with db.engine.connect() as conn:
        user, _ = authenticate(conn, "alice", PASSWORD)
        assert user is not None
        assert authenticate(conn, "ALICE", PASSWORD)[0] is None
        assert authenticate(conn, "alice ", PASSWORD)[0] is None
