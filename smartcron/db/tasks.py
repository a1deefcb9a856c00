"""Task rows: reads and writes of the `tasks` table, each write audited in the caller's
transaction. Columns are derived from the task's field specs (model/task.py)."""

from __future__ import annotations

import dataclasses
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcron.db.audit import audit
from smartcron.db.schema import tasks, utcnow
from smartcron.errors import InvalidInput, NotFound
from smartcron.model.task import FIELD_SPECS, Task


def task_values(task: Task) -> dict[str, Any]:
    """Given a Task, return its column values."""
    return {spec.column: spec.stored(getattr(task, spec.name)) for spec in FIELD_SPECS}


def row_to_task(row: sa.Row[Any]) -> Task:
    """Given a tasks row, return the Task."""
    m = row._mapping
    return Task(id=m["id"], **{spec.name: spec.loaded(m[spec.column]) for spec in FIELD_SPECS})


def list_tasks(conn: Connection) -> list[Task]:
    """Return every task, ordered by name."""
    return [row_to_task(r) for r in conn.execute(sa.select(tasks).order_by(tasks.c.name))]


def find_task(conn: Connection, name: str) -> Task | None:
    """Return the task called `name`, or None."""
    row = conn.execute(sa.select(tasks).where(tasks.c.name == name)).first()
    return None if row is None else row_to_task(row)


def get_task(conn: Connection, name: str) -> Task:
    """Return the task called `name`, or raise NotFound with a hint."""
    task = find_task(conn, name)
    if task is None:
        raise NotFound(f"no task named {name!r}; `smartcron task list` shows the tasks that exist")
    return task


def insert_task(conn: Connection, task: Task, who: str) -> Task:
    """Insert a new task (inside the caller's transaction) and audit it; return it with its id."""
    if find_task(conn, task.name) is not None:
        raise InvalidInput(
            "name",
            task.name,
            "a task with this name already exists; use `smartcron task edit` to change it",
        )
    now = utcnow()
    result = conn.execute(
        tasks.insert().values(**task_values(task), created_at=now, updated_at=now)
    )
    audit(conn, who, "task.add", task.name, task.to_dict())
    key = result.inserted_primary_key
    return dataclasses.replace(task, id=key[0] if key else None)


def update_task(conn: Connection, task: Task, who: str) -> Task:
    """Replace the stored task of the same name (inside the caller's transaction)."""
    before = get_task(conn, task.name)
    conn.execute(
        tasks.update()
        .where(tasks.c.name == task.name)
        .values(**task_values(task), updated_at=utcnow())
    )
    after = task.to_dict()
    changes = {k: [v, after[k]] for k, v in before.to_dict().items() if after[k] != v}
    audit(conn, who, "task.edit", task.name, changes)
    return dataclasses.replace(task, id=before.id)


def delete_task(conn: Connection, name: str, who: str) -> None:
    """Delete a task (its run history stays, keyed by name) inside the caller's transaction."""
    task = get_task(conn, name)
    conn.execute(tasks.delete().where(tasks.c.name == name))
    audit(conn, who, "task.rm", name, task.to_dict())
