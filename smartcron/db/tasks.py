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
from smartcron.model.chains import check_graph, followers
from smartcron.model.signing import Signer, next_revision
from smartcron.model.task import FIELD_SPECS, SECRET_FIELDS, Task, env_changes, hide_secrets


def task_values(task: Task) -> dict[str, Any]:
    """Given a Task, return its column values."""
    return {spec.column: spec.stored(getattr(task, spec.name)) for spec in FIELD_SPECS}


def row_to_task(row: sa.Row[Any]) -> Task:
    """Given a tasks row, return the Task (with its revision and signature)."""
    m = row._mapping
    return Task(
        id=m["id"],
        revision=m["revision"],
        signature=m["signature"],
        **{spec.name: spec.loaded(m[spec.column]) for spec in FIELD_SPECS},
    )


def list_tasks(conn: Connection) -> list[Task]:
    """Return every task, ordered by name."""
    return [row_to_task(r) for r in conn.execute(sa.select(tasks).order_by(tasks.c.name))]


def task_names(conn: Connection) -> list[str]:
    """Return the name of every task, ordered (only the names: shell completion)."""
    return list(conn.scalars(sa.select(tasks.c.name).order_by(tasks.c.name)))


def find_task(conn: Connection, name: str) -> Task | None:
    """Return the task called exactly `name`, or None."""
    row = conn.execute(sa.select(tasks).where(tasks.c.name == name)).first()
    # MariaDB's default collation ignores case and trailing spaces ("BANK " finds "bank");
    # SQLite does not: compare again so both stores answer the same.
    return None if row is None or row.name != name else row_to_task(row)


def get_task(conn: Connection, name: str) -> Task:
    """Return the task called `name`, or raise NotFound with a hint."""
    task = find_task(conn, name)
    if task is None:
        raise NotFound(f"no task named {name!r}; `smartcron task list` shows the tasks that exist")
    return task


def _signed(task: Task, signer: Signer, previous_revision: int) -> Task:
    revised = dataclasses.replace(task, revision=next_revision(previous_revision))
    return dataclasses.replace(revised, signature=signer.sign(revised))


def signed_values(task: Task, signer: Signer) -> dict[str, Any]:
    """Given a new task, return its column values signed, for a bulk insert (benchmarks);
    the caller sets created_at and updated_at."""
    signed = _signed(task, signer, 0)
    return {**task_values(signed), "revision": signed.revision, "signature": signed.signature}


def insert_task(conn: Connection, task: Task, who: str, *, signer: Signer) -> Task:
    """Insert a new task, signed (inside the caller's transaction), and audit it; return it
    with its id."""
    if find_task(conn, task.name) is not None:
        raise InvalidInput(
            "name",
            task.name,
            "a task with this name already exists; use `smartcron task edit` to change it",
        )
    check_graph([*list_tasks(conn), task])
    now = utcnow()
    signed = _signed(task, signer, 0)
    result = conn.execute(
        tasks.insert().values(
            **task_values(signed),
            revision=signed.revision,
            signature=signed.signature,
            created_at=now,
            updated_at=now,
        )
    )
    audit(conn, who, "task.add", task.name, hide_secrets(task.to_dict()))
    key = result.inserted_primary_key
    return dataclasses.replace(signed, id=key[0] if key else None)


def update_task(conn: Connection, task: Task, who: str, *, signer: Signer) -> Task:
    """Replace the stored task of the same name with `task`, signed, inside the caller's
    transaction; audit what changed (environment values are never written to the log)."""
    before = get_task(conn, task.name)
    check_graph([*(t for t in list_tasks(conn) if t.name != task.name), task])
    signed = _signed(task, signer, before.revision)
    conn.execute(
        tasks.update()
        .where(tasks.c.name == task.name)
        .values(
            **task_values(signed),
            revision=signed.revision,
            signature=signed.signature,
            updated_at=utcnow(),
        )
    )
    old, new = before.to_dict(), task.to_dict()
    changes: dict[str, Any] = {
        k: [v, new[k]] for k, v in old.items() if new[k] != v and k not in SECRET_FIELDS
    }
    if old["env"] != new["env"]:
        changes["env"] = env_changes(old["env"], new["env"])
    if old["stdin"] != new["stdin"]:
        changes["stdin"] = "changed"  # never the text (hide_secrets)
    audit(conn, who, "task.edit", task.name, changes)
    return dataclasses.replace(signed, id=before.id)


def sign_task(conn: Connection, name: str, who: str, *, signer: Signer) -> Task:
    """Sign task `name` as it is stored (root approves the row), inside the caller's
    transaction; audit it."""
    task = get_task(conn, name)
    signed = _signed(task, signer, task.revision)
    conn.execute(
        tasks.update()
        .where(tasks.c.name == name)
        .values(revision=signed.revision, signature=signed.signature, updated_at=utcnow())
    )
    audit(conn, who, "task.sign", name, hide_secrets(task.to_dict()))
    return signed


def set_task_paused(conn: Connection, name: str, paused: bool, who: str) -> Task:
    """Pause or resume task `name` (inside the caller's transaction); return the task.

    Pausing is not part of the signed definition: the dashboard does it without root's key.
    """
    task = get_task(conn, name)
    if task.paused != paused:
        conn.execute(
            tasks.update().where(tasks.c.name == name).values(paused=paused, updated_at=utcnow())
        )
        audit(conn, who, "task.edit", name, {"paused": [task.paused, paused]})
        task = dataclasses.replace(task, paused=paused)
    return task


def delete_task(conn: Connection, name: str, who: str) -> None:
    """Delete a task (its run history stays, keyed by name) inside the caller's transaction."""
    task = get_task(conn, name)
    after = followers(list_tasks(conn)).get(name)
    if after:
        raise InvalidInput(
            "name",
            name,
            f"{', '.join(after)} run(s) after this task (after); change or remove "
            f"{'them' if len(after) > 1 else 'it'} first",
        )
    conn.execute(tasks.delete().where(tasks.c.name == name))
    audit(conn, who, "task.rm", name, hide_secrets(task.to_dict()))
