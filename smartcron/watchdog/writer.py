"""The writer thread: RunEvents in, `executions` rows out, in order and in batches.

It never drops an event: while the database is down it keeps them all and retries. A run's
output tail is read from the journal a moment after its row is written (journald may still be
storing the last lines when systemd reports the end), and only while no event waits.
"""

from __future__ import annotations

import collections
import itertools
import logging
import queue
import threading
import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from smartcron.db.schema import executions
from smartcron.db.state import JOURNAL_CURSOR, set_state
from smartcron.systemd.journal import Journal, RunWindow
from smartcron.watchdog.events import RunEvent
from smartcron.watchdog.record import needs_reason, systemd_reason, write_event

log = logging.getLogger("smartcron.writer")
BATCH = 200  # events per transaction: a burst of runs costs a few commits, not hundreds


@dataclass(frozen=True)
class CursorMark:
    """Persist the journal cursor once every event before it is written."""

    cursor: str


class Writer(threading.Thread):
    """Write RunEvents to the database in order; hold them while the database is down."""

    def __init__(self, engine: Engine, journal: Journal, *, retry_delay: float = 1.0) -> None:
        super().__init__(name="smartcron-writer", daemon=True)
        self.engine = engine
        self.journal = journal
        self.retry_delay = retry_delay
        self.inbox: queue.Queue[RunEvent | CursorMark | None] = queue.Queue()
        self.pending: collections.deque[RunEvent | CursorMark] = collections.deque()
        self.written = 0
        self.db_ok = True
        self.db_down_since: float | None = None
        self.last_error = ""
        self._reasons: dict[str, str] = {}
        # journald may still be reading a run's output when systemd reports its end: the row
        # is written at once, and its output tail read again a little later.
        self.tail_delay = 2.0
        self._refresh: collections.deque[tuple[float, RunWindow]] = collections.deque()

    def submit(self, item: RunEvent | CursorMark) -> None:
        """Hand over an event; never blocks (called from the D-Bus thread)."""
        self.inbox.put_nowait(item)

    def stop(self) -> None:
        self.inbox.put_nowait(None)

    @property
    def backlog(self) -> int:
        return len(self.pending) + self.inbox.qsize()

    def run(self) -> None:
        stopping = False
        while not stopping or self.pending:
            timeout = self.retry_delay if self.pending or self._refresh else None
            try:
                item = self.inbox.get(timeout=timeout)
                if item is None:
                    stopping = True
                else:
                    self.pending.append(item)
                # Take everything already queued, so a burst is written in few transactions.
                while True:
                    item = self.inbox.get_nowait()
                    if item is None:
                        stopping = True
                    else:
                        self.pending.append(item)
            except queue.Empty:
                pass
            self._drain()
            self._refresh_tails()
            if stopping and self.pending and not self.db_ok:
                break  # shutting down with the database away: the journal still has them

    def _drain(self) -> None:
        """Write pending items in batches (one transaction each); keep them on failure."""
        while self.pending:
            batch = list(itertools.islice(self.pending, BATCH))
            for item in batch:
                if isinstance(item, RunEvent) and needs_reason(item):
                    self._remember_reason(item)  # journal read outside the transaction
            try:
                with self.engine.begin() as conn:
                    for item in batch:
                        if isinstance(item, CursorMark):
                            set_state(conn, JOURNAL_CURSOR, item.cursor)
                        else:
                            write_event(conn, item, self._reasons.get(item.invocation_id, ""))
            except (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.DBAPIError) as exc:
                if self.db_ok:
                    log.error(
                        "database unavailable, keeping %d run event(s) until it returns: %s",
                        len(self.pending),
                        getattr(exc, "orig", exc),
                    )
                    self.db_down_since = time.monotonic()
                self.db_ok = False
                self.last_error = str(getattr(exc, "orig", exc))
                time.sleep(self.retry_delay)
                return
            if not self.db_ok:
                log.info("database is back; wrote %d held run event(s)", len(batch))
            self.db_ok, self.db_down_since = True, None
            for item in batch:
                self.pending.popleft()
                if not isinstance(item, RunEvent):
                    continue
                self.written += 1
                if item.kind == "finished":
                    # The output tail is read once journald has caught up with the run.
                    window = RunWindow(
                        item.invocation_id, item.task, item.started_at, item.finished_at
                    )
                    self._refresh.append((time.monotonic() + self.tail_delay, window))

    def _refresh_tails(self) -> None:
        """Re-read the output tail of runs that finished a moment ago; update if it grew."""
        # Run events come first: refresh one tail at a time, only while nothing else waits.
        while (
            self._refresh
            and self._refresh[0][0] <= time.monotonic()
            and self.db_ok
            and not self.pending
            and self.inbox.empty()
        ):
            _due, window = self._refresh[0]
            inv = window.invocation_id
            tail = self.journal.tail(window)
            figures = self.journal.resources(inv)
            try:
                with self.engine.begin() as conn:
                    conn.execute(
                        executions.update()
                        .where(
                            executions.c.invocation_id == inv,
                            executions.c.output_tail.is_distinct_from(tail),
                        )
                        .values(output_tail=tail)
                    )
                    if figures:
                        conn.execute(
                            executions.update()
                            .where(executions.c.invocation_id == inv)
                            .values(**figures)
                        )
            except (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.DBAPIError):
                return  # database away: keep it queued; the main drain notices the outage
            self._refresh.popleft()

    def _remember_reason(self, event: RunEvent) -> None:
        """Keep systemd's own words on why a run could not start (for its meaning)."""
        if event.invocation_id in self._reasons:
            return
        self._reasons[event.invocation_id] = systemd_reason(self.journal, event.invocation_id)
        if len(self._reasons) > 1000:
            self._reasons.pop(next(iter(self._reasons)))
