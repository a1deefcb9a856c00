"""The maintenance windows table: add, list, remove (model/windows.py is their meaning)."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcron.db.audit import audit
from smartcron.db.schema import utcnow, windows
from smartcron.errors import InvalidInput
from smartcron.model.task import Task
from smartcron.model.windows import SKIP, Window


def list_windows(conn: Connection) -> list[Window]:
    """Return every window, by name."""
    return [
        Window(
            name=r.name,
            when=r.when_text,
            timezone=r.timezone,
            tasks=tuple(r.tasks),
            categories=tuple(r.categories),
            actions=tuple(r.actions),
            description=r.description,
        )
        for r in conn.execute(sa.select(windows).order_by(windows.c.name))
    ]


def add_window(conn: Connection, window: Window, who: str) -> None:
    """Store a new window (audited), or raise InvalidInput when the name is taken."""
    taken = conn.execute(sa.select(windows.c.name).where(windows.c.name == window.name)).first()
    if taken is not None:
        raise InvalidInput(
            "name",
            window.name,
            "a window of that name exists; remove it first (`smartcron window rm "
            f"{window.name}`) or choose another name",
        )
    conn.execute(
        windows.insert().values(
            name=window.name,
            when_text=window.when,
            timezone=window.timezone,
            tasks=list(window.tasks),
            categories=list(window.categories),
            actions=list(window.actions),
            description=window.description,
            created_at=utcnow(),
            created_by=who[:64],
        )
    )
    audit(conn, who, "window.add", window.name, {"when": window.when, "tz": window.timezone})


def remove_window(conn: Connection, name: str, who: str) -> None:
    """Remove a window (audited), or raise InvalidInput naming the known ones."""
    if not conn.execute(windows.delete().where(windows.c.name == name)).rowcount:
        known = ", ".join(w.name for w in list_windows(conn)) or "none"
        raise InvalidInput("NAME", name, f"no such window (windows: {known})")
    audit(conn, who, "window.rm", name)


def windowed_tasks(conn: Connection, tasks: Iterable[Task]) -> frozenset[str]:
    """Return the names of the tasks a window with `skip` covers (at any time): the tasks
    whose services `smartcron sync` gives the gate (model/placement.needs_gate)."""
    skipping = [w for w in list_windows(conn) if SKIP in w.actions]
    return frozenset(t.name for t in tasks if any(w.applies_to(t) for w in skipping))
