"""Fixtures of the multi-host tests: an emptied MariaDB database that every host shares."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from smartcron.db.engine import make_engine
from smartcron.db.schema import metadata
from smartcron.systemd.sandbox import available

from support import need


@pytest.fixture
def shared_db(mysql_database: str) -> Iterator[tuple[str, Engine]]:
    """The session's MariaDB database, emptied: the one database of every host."""
    reason = available()
    need(reason is None, f"a private systemd cannot be booted: {reason}")
    engine = make_engine(mysql_database)
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
    yield mysql_database, engine
    engine.dispose()
