"""What recording a batch of run events reads once instead of once per run.

The writer (writer.py) records up to BATCH events in one transaction. Per run, `write_event`
needs the run's row if it exists, its task, the `manual:<task>` and `wait:<invocation>` state
keys and, after a success or a failure, the chain graph. Read one by one, that is five or six
queries and a decode of every task per run: the writer fell behind a burst of ~100 runs/s.
`Lookups` reads the rows and keys of the whole batch in one query each, each task once, and the
graph once, all inside the batch's transaction, so every answer is the one a query at that
point would give: the batch's own writes are applied to what it holds (`wrote`, `take_wait`),
and nothing outside the transaction can change what it reads (SQLite holds one snapshot per
transaction, MariaDB's REPEATABLE READ too; the UPDATE that completes a run still checks the
row is running, see record.write_event).

Without a prefetch every lookup falls back to its own query (the OnFailure= fallback records
one run at a time).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcron.db.runs import WAIT_PREFIX
from smartcron.db.schema import executions, state, tasks
from smartcron.db.tasks import find_task, list_tasks
from smartcron.model.task import Task

CHUNK = 200  # values per IN (...): far below SQLite's and MariaDB's limits


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


class Lookups:
    """One transaction's cache of the rows, state keys and tasks its run events need."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._rows: dict[str, tuple[int, str]] = {}  # invocation -> (id, outcome)
        self._rows_known: set[str] = set()  # invocations whose row (or absence) is held
        self._state: dict[str, str] = {}
        self._state_known: set[str] = set()
        self._tasks: dict[str, Task | None] = {}
        self._everyone: list[Task] | None = None
        self._after: dict[str, tuple[str, ...]] | None = None
        # Prefetched runs whose output tail was never read (the writer reads it once).
        self.without_tail: set[str] = set()

    def prefetch(self, invocations: Iterable[str], task_names: Iterable[str]) -> None:
        """Read the rows of these invocations and their state keys in one query each."""
        from smartcron.db.state import manual_key

        invs = sorted(set(invocations) - self._rows_known)
        for chunk in _chunks(invs):
            query = sa.select(
                executions.c.invocation_id,
                executions.c.id,
                executions.c.outcome,
                executions.c.output_tail.is_(None),
            ).where(executions.c.invocation_id.in_(chunk))
            for inv, run_id, outcome, no_tail in self.conn.execute(query):
                self._rows[inv] = (int(run_id), str(outcome))
                if no_tail:
                    self.without_tail.add(inv)
        self._rows_known.update(invs)
        keys = {WAIT_PREFIX + inv for inv in invs} | {manual_key(n) for n in task_names}
        wanted = sorted(keys - self._state_known)
        for chunk in _chunks(wanted):
            query = sa.select(state.c.key, state.c.value).where(state.c.key.in_(chunk))
            for found in self.conn.execute(query):
                self._state[str(found.key)] = str(found.value)
        self._state_known.update(wanted)

    def row(self, invocation: str) -> tuple[int, str] | None:
        """Return (id, outcome) of the run with this invocation id, or None."""
        if invocation not in self._rows_known:
            found = self.conn.execute(
                sa.select(executions.c.id, executions.c.outcome).where(
                    executions.c.invocation_id == invocation
                )
            ).first()
            if found is not None:
                self._rows[invocation] = (int(found.id), str(found.outcome))
            self._rows_known.add(invocation)
        return self._rows.get(invocation)

    def wrote(self, invocation: str, run_id: int | None, outcome: str) -> None:
        """Note a row this transaction inserted or completed."""
        if run_id is None:  # no id from the driver: read it again when asked
            self._rows_known.discard(invocation)
            self._rows.pop(invocation, None)
            return
        self._rows[invocation] = (run_id, outcome)
        self._rows_known.add(invocation)

    def state(self, key: str) -> str | None:
        """Return the value of a state key, or None."""
        if key not in self._state_known:
            value = self.conn.execute(sa.select(state.c.value).where(state.c.key == key)).scalar()
            if value is not None:
                self._state[key] = value
            self._state_known.add(key)
        return self._state.get(key)

    def take_wait(self, invocation: str) -> float | None:
        """Return the group wait recorded for a run before its row existed (None if none)
        and delete it, as db/runs.take_wait does."""
        key = WAIT_PREFIX + invocation
        value = self.state(key)
        if value is not None:
            self.conn.execute(state.delete().where(state.c.key == key))
            self._state.pop(key, None)
        return None if value is None else float(value)

    def task(self, name: str) -> Task | None:
        """Return the task called `name` (None if there is none), read once."""
        if name not in self._tasks:
            if self._everyone is not None:
                self._tasks[name] = next((t for t in self._everyone if t.name == name), None)
            else:
                self._tasks[name] = find_task(self.conn, name)
        return self._tasks[name]

    def everyone(self) -> list[Task]:
        """Return every task, ordered by name, read once."""
        if self._everyone is None:
            self._everyone = list_tasks(self.conn)
        return self._everyone

    def after(self) -> dict[str, tuple[str, ...]]:
        """Return each task's predecessors (its `after`), from two columns read once: enough
        to know that a run has no follower without decoding every task."""
        if self._after is None:
            query = sa.select(tasks.c.name, tasks.c.after_tasks)
            self._after = {str(n): tuple(_names(a)) for n, a in self.conn.execute(query)}
        return self._after

    def has_followers(self, name: str, *, joins_only: bool = False) -> bool:
        """Return True when some task runs after `name` (with joins_only: some join)."""
        least = 2 if joins_only else 1
        return any(name in a and len(a) >= least for a in self.after().values())


def _names(value: Any) -> list[str]:
    if not value:
        return []
    return [str(v) for v in value]
