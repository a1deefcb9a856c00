"""Bringing task definitions in: a task file (YAML) or a crontab, all of it or none.

The CLI shows the plan and asks; these functions compute and apply it, each in the caller's
transaction, so an error leaves the database as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.engine import Connection

from smartcron.db.tasks import delete_task, insert_task, list_tasks, update_task
from smartcron.errors import InvalidInput
from smartcron.model import chains, crontab, taskfile
from smartcron.model.signing import Signer
from smartcron.model.task import Task
from smartcron.model.validate import validate_task


def plan_import(conn: Connection, wanted: Sequence[Task], *, prune: bool) -> taskfile.Plan:
    """Given the tasks of a file, return what importing them would change; raise InvalidInput
    for a chain that would be wrong once all of them are stored (an unknown predecessor, a
    cycle), checked against the stored tasks and the file's together, so that a file may name
    its own tasks in any order (removals are refused by delete_task, with their reason)."""
    current = list_tasks(conn)
    wanted_names = {t.name for t in wanted}
    chains.check_graph([*(t for t in current if t.name not in wanted_names), *wanted])
    return taskfile.plan(current, wanted, prune=prune)


def apply_import(conn: Connection, plan: taskfile.Plan, who: str, signer: Signer) -> None:
    """Apply an import plan inside the caller's transaction, signing what it stores."""
    for task in chains.in_order(plan.added):
        insert_task(conn, task, who, signer=signer)
    for _old, new in plan.changed:
        update_task(conn, new, who, signer=signer)
    for task in reversed(chains.in_order(plan.removed)):
        delete_task(conn, task.name, who)


@dataclass
class CrontabImport:
    """The tasks a crontab gives (line, task), what was refused, and notes on what changed."""

    tasks: list[tuple[int, Task]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def read_crontab(text: str, *, system: bool, user: str, host_name: str = "*") -> CrontabImport:
    """Given crontab text, return its entries validated as tasks, with every problem found.

    A system crontab's lines keep their own user field (root included); the lines of a user
    crontab run as `user`.
    """
    parsed = crontab.parse(text, system=system)
    out = CrontabImport(problems=list(parsed.problems), notes=list(parsed.notes))
    for entry in parsed.entries:
        try:
            out.tasks.append(
                (entry.line, validate_task(entry.data, default_user=user, host_name=host_name))
            )
        except InvalidInput as exc:
            out.problems.append(f"line {entry.line}: {exc}")
    out.problems.sort(key=_line_number)
    return out


def check_names_free(conn: Connection, tasks: Sequence[Task]) -> None:
    """Refuse a crontab import (all of it) when one of its task names is already taken."""
    existing = {t.name for t in list_tasks(conn)}
    clashes = [t.name for t in tasks if t.name in existing]
    if clashes:
        raise InvalidInput(
            "name",
            clashes[0],
            "a task with this name already exists (imported "
            "before?); remove it or edit the crontab line",
        )


def add_tasks(conn: Connection, tasks: Sequence[Task], who: str, signer: Signer) -> None:
    """Insert new tasks (a crontab import), signed, in the caller's transaction, all or none."""
    check_names_free(conn, tasks)
    for task in tasks:
        insert_task(conn, task, who, signer=signer)


def _line_number(problem: str) -> int:
    head = problem.split(":", 1)[0]
    return int(head.removeprefix("line ")) if head.startswith("line ") else 0
