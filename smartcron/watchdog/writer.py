"""The writer thread: RunEvents in, `executions` rows out, in order and in batches.

It never drops an event: while the database is down it keeps them all and retries. Once a
batch is committed it writes one journal entry per finished run it recorded
(systemd/entries.py), here and never on the D-Bus thread. A run's output tail is read from
the journal a moment after its row is written (journald may still be storing the last lines
when systemd reports the end), and only while no event waits.
"""

from __future__ import annotations

import collections
import datetime as dt
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from smartcron.db.schema import executions
from smartcron.db.state import journal_cursor_key, set_state
from smartcron.errors import OperationFailed
from smartcron.systemd.bus import Systemd
from smartcron.systemd.entries import EntryWriter
from smartcron.systemd.journal import Journal, RunWindow
from smartcron.systemd.units import PREFIX
from smartcron.watchdog.chains import JoinBook, record_join_refused
from smartcron.watchdog.events import RunEvent
from smartcron.watchdog.lookups import Lookups
from smartcron.watchdog.record import (
    Evidence,
    gather_evidence,
    needs_evidence,
    record_drops,
    write_event,
)

log = logging.getLogger("smartcron.writer")


def _start_unit(unit: str) -> None:
    # A bus per start: the writer thread starts joins rarely, and pystemd buses are not
    # shared between threads.
    with Systemd() as systemd:
        systemd.start(unit)


DROPS_LOOKBACK = dt.timedelta(days=1)
BATCH = 200  # events per transaction: a burst of runs costs a few commits, not hundreds
# A batch is committed after this many seconds of writing even if events remain: a burst still
# costs a commit per ~20 events, and the first run of a burst waits tens of ms, not a batch.
COMMIT_AFTER = 0.03
REFRESH_BATCH = 50  # output-tail refreshes per transaction


@dataclass(frozen=True)
class CursorMark:
    """Persist the journal cursor once every event before it is written."""

    cursor: str


class Writer(threading.Thread):
    """Write RunEvents to the database in order; hold them while the database is down."""

    def __init__(
        self,
        engine: Engine,
        journal: Journal,
        *,
        retry_delay: float = 1.0,
        host: str | None = None,
        heartbeat: Callable[[Connection], None] | None = None,
        heartbeat_every: float = 10.0,
        entries: EntryWriter | None = None,
    ) -> None:
        super().__init__(name="smartcron-writer", daemon=True)
        self.engine = engine
        self.host = host
        # The host's heartbeat (db/hosts.py) is written here too, never from the D-Bus thread.
        self.heartbeat = heartbeat
        self.heartbeat_every = heartbeat_every
        self._last_beat = 0.0
        self.journal = journal
        self.entries = entries or EntryWriter()
        self.retry_delay = retry_delay
        self.inbox: queue.Queue[RunEvent | CursorMark | None] = queue.Queue()
        self.pending: collections.deque[RunEvent | CursorMark] = collections.deque()
        self.written = 0
        self.db_ok = True
        self.db_down_since: float | None = None
        self.last_error = ""
        self._evidence: dict[str, Evidence] = {}
        # journald may still be reading a run's output when systemd reports its end: the row
        # is written at once, and its output tail read again a little later.
        self.tail_delay = 2.0
        self._refresh: collections.deque[tuple[float, RunWindow]] = collections.deque()
        # Joins (followers of several predecessors, model/chains.py) are started from here,
        # after the commit of the success that completes them: one thread, in order.
        self.joins = JoinBook()
        self.start_unit: Callable[[str], None] = _start_unit

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
            if self.heartbeat is not None:
                timeout = min(timeout or self.heartbeat_every, self.heartbeat_every)
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
            self._beat()
            self._refresh_tails()
            if stopping and self.pending and not self.db_ok:
                break  # shutting down with the database away: the journal still has them

    def _drain(self) -> None:
        """Write pending items in batches (one transaction each); keep them on failure."""
        while self.pending:
            batch = list(itertools.islice(self.pending, BATCH))
            for item in batch:
                if isinstance(item, RunEvent) and needs_evidence(item):
                    self._remember_evidence(item)  # journal read outside the transaction
            recorded: list[dict[str, Any]] = []
            try:
                with self.engine.begin() as conn:
                    lookups = Lookups(conn)  # what the batch reads, once (lookups.py)
                    events = [i for i in batch if isinstance(i, RunEvent)]
                    lookups.prefetch((e.invocation_id for e in events), {e.task for e in events})
                    began, count = time.monotonic(), 0
                    for item in batch:
                        count += 1
                        if isinstance(item, CursorMark):
                            set_state(conn, journal_cursor_key(self.host), item.cursor)
                        else:
                            evidence = self._evidence.get(item.invocation_id, Evidence())
                            recorded += write_event(
                                conn, item, evidence, self.host, self.joins, lookups
                            )
                        if time.monotonic() - began > COMMIT_AFTER:
                            break  # commit what is written: the first run waits no longer
                    batch = batch[:count]
            except (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.DBAPIError) as exc:
                self.joins.ready.clear()  # rolled back: decided again when the batch is retried
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
            self._start_joins()
            # A tail is read for a run recorded now, or one recorded before whose tail never
            # was (a watchdog stopped within tail_delay of its end); not for every finished
            # event: reconciling 10,000 recorded runs queued 10,000 journal reads.
            fresh = {str(r["invocation_id"]) for r in recorded} | lookups.without_tail
            for item in batch:
                self.pending.popleft()
                if not isinstance(item, RunEvent):
                    continue
                self.written += 1
                if item.kind == "finished" and item.invocation_id in fresh:
                    # The output tail is read once journald has caught up with the run.
                    window = RunWindow(
                        item.invocation_id, item.task, item.started_at, item.finished_at
                    )
                    self._refresh.append((time.monotonic() + self.tail_delay, window))
            # Committed: only now may the journal say these runs are recorded.
            self.entries.runs(recorded, self.host)

    def _start_joins(self) -> None:
        """Start the joins the batch just committed completed (each once)."""
        ready, self.joins.ready = list(dict.fromkeys(self.joins.ready)), []
        for name in ready:
            self.joins.started[name] = dt.datetime.now(dt.UTC)
            try:
                self.start_unit(f"{PREFIX}{name}.service")
                log.info("all predecessors of %s succeeded; started it", name)
            except OperationFailed as exc:
                self.joins.started.pop(name, None)
                log.error(
                    "all predecessors of %s succeeded but systemd refused to start it: %s",
                    name,
                    exc,
                )
                self._note_refused(name, str(exc))

    def _note_refused(self, name: str, reason: str) -> None:
        # A not-run row, so the run that did not happen shows (and alerts) like any other.
        try:
            with self.engine.begin() as conn:
                row = record_join_refused(conn, name, reason[:300], self.host)
        except sa.exc.SQLAlchemyError as exc:
            log.error("could not record that %s was not started: %s", name, exc)
            return
        self.entries.runs([row], self.host)

    def _beat(self) -> None:
        """Refresh this host's heartbeat every heartbeat_every seconds, after the run events:
        a host that cannot write its runs is not shown alive."""
        if self.heartbeat is None or self.pending:
            return
        if time.monotonic() - self._last_beat < self.heartbeat_every:
            return
        try:
            with self.engine.begin() as conn:
                self.heartbeat(conn)
        except (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.DBAPIError) as exc:
            self.db_ok = False
            self.last_error = str(getattr(exc, "orig", exc))
            if self.db_down_since is None:
                self.db_down_since = time.monotonic()
            return
        self._last_beat = time.monotonic()
        self.db_ok, self.db_down_since = True, None

    def _refresh_tails(self) -> None:
        """Re-read the output tail of runs that finished a moment ago; update if it grew.

        Run events come first: the journal is read only while no event waits (checked before
        each run's reads), and the updates of all the runs read are written in one
        transaction: one commit per pass, not one per run (a commit per run held the write
        lock once per run and, during a burst, kept the next batch of events waiting)."""
        read: list[tuple[RunWindow, str, dict[str, Any], list[Any]]] = []
        while (
            self._refresh
            and self._refresh[0][0] <= time.monotonic()
            and len(read) < REFRESH_BATCH
            and self.db_ok
            and not self.pending
            and self.inbox.empty()
        ):
            _due, window = self._refresh.popleft()
            inv = window.invocation_id
            read.append((window, self.journal.tail(window), self.journal.resources(inv),
                         self._drops(window)))  # fmt: skip
        if not read:
            return
        try:
            with self.engine.begin() as conn:
                for window, tail, figures, drops in read:
                    self._write_tail(conn, window, tail, figures, drops)
        except (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.DBAPIError):
            # Database away: keep them queued; the main drain notices the outage.
            self._refresh.extendleft((0.0, window) for window, *_ in reversed(read))

    @staticmethod
    def _write_tail(
        conn: Connection,
        window: RunWindow,
        tail: str,
        figures: dict[str, Any],
        drops: list[tuple[str, dt.datetime, int]],
    ) -> None:
        inv = window.invocation_id
        for run_id, count in record_drops(conn, window.task, drops):
            log.warning(
                "journald dropped %d line(s) of run %d of %s (its rate limit); "
                "the run is marked 'output incomplete'",
                count,
                run_id,
                window.task,
            )
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
                executions.update().where(executions.c.invocation_id == inv).values(**figures)
            )

    def _drops(self, window: RunWindow) -> list[tuple[str, dt.datetime, int]]:
        """journald's notes about this task's dropped lines from the last day (they come late:
        usually with the next run), by invocation."""
        if window.started_at is None:
            return []
        since = window.started_at - DROPS_LOOKBACK
        return self.journal.suppressed(f"{PREFIX}{window.task}.service", since)

    def _remember_evidence(self, event: RunEvent) -> None:
        """Keep what the journal says about a run systemd's Result does not (for its meaning)."""
        if event.invocation_id in self._evidence:
            return
        self._evidence[event.invocation_id] = gather_evidence(self.journal, event)
        if len(self._evidence) > 1000:
            self._evidence.pop(next(iter(self._evidence)))
