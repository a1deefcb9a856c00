"""The collector: D-Bus signals in, one `executions` row per run out.

Two threads, so that the D-Bus loop never waits for the database (a client that falls behind
on signals can be disconnected by the bus):
- `SignalListener` subscribes to systemd and turns PropertiesChanged signals into RunEvents
  (via RunTracker) and hands them to the writer's queue without blocking;
- `Writer` enriches each event (output tail, meaning), and writes it idempotently by
  invocation id. While the database is down it keeps every event and retries; nothing is
  dropped. The journal reconciliation (journal.py) fills any gap after a restart.
"""

from __future__ import annotations

import collections
import datetime as dt
import itertools
import logging
import queue
import select
import threading
import time
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from smartcron.db import store
from smartcron.db.schema import executions, utcnow
from smartcron.db.schema import state as state_table
from smartcron.model.outcome import explain
from smartcron.model.task import Task
from smartcron.systemd.journal import Journal, RunWindow
from smartcron.watchdog.events import RunEvent, RunTracker

log = logging.getLogger("smartcron.collector")
CURSOR_KEY = "collector.journal_cursor"
MANUAL_PREFIX = "manual:"
BATCH = 200  # events per transaction: a burst of runs costs a few commits, not hundreds


@dataclass(frozen=True)
class CursorMark:
    """Persist the journal cursor once every event before it is written."""

    cursor: str


def trigger_of(event: RunEvent, task: Task | None, manual_at: dt.datetime | None) -> str:
    """Given a run and what is known about it, return timer, manual, retry, catch-up or boot."""
    if event.attempt > 1:
        return "retry"
    started = event.started_at
    if (
        manual_at is not None
        and started is not None
        and dt.timedelta(seconds=-2) <= started - manual_at <= dt.timedelta(seconds=60)
    ):
        return "manual"
    if task is not None and task.schedule == "@reboot":
        return "boot"
    if task is not None and started is not None and task.catch_up:
        from smartcron.model import schedule

        if schedule.kind_of(task.schedule) == "cron":
            it = schedule.cron_iter(task.schedule, started.astimezone(ZoneInfo(task.timezone)))
            previous = it.get_prev(dt.datetime)
            if started - previous > dt.timedelta(minutes=2):
                return "catch-up"  # not near any scheduled time: Persistent= caught up
    return "timer"


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
                if (
                    isinstance(item, RunEvent)
                    and item.kind == "finished"
                    and item.result != "success"
                    and (item.exec_status or 0) >= 200
                ):
                    self._reason(item)  # journal read outside the transaction
            try:
                with self.engine.begin() as conn:
                    for item in batch:
                        self._write(conn, item)
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

    def _reason(self, event: RunEvent) -> None:
        """Remember systemd's own words on why a run could not start (for its meaning)."""
        if event.invocation_id in self._reasons:
            return
        messages = self.journal.systemd_messages(event.invocation_id)
        self._reasons[event.invocation_id] = next(
            (m for m in messages if "Failed at step" in m or "Failed to" in m), ""
        )
        if len(self._reasons) > 1000:
            self._reasons.pop(next(iter(self._reasons)))

    def _write(self, conn: Connection, item: RunEvent | CursorMark) -> None:
        if isinstance(item, CursorMark):
            set_state(conn, CURSOR_KEY, item.cursor)
            return
        existing = conn.execute(
            sa.select(executions.c.id, executions.c.outcome).where(
                executions.c.invocation_id == item.invocation_id
            )
        ).first()
        if existing is not None and (item.kind == "started" or existing.outcome != "running"):
            return  # already recorded: events are idempotent by invocation id
        task = store.find_task(conn, item.task)
        values = self._values(conn, item, task)
        if existing is None:
            conn.execute(executions.insert().values(**values))
        else:
            values.pop("trigger", None)
            conn.execute(executions.update().where(executions.c.id == existing.id).values(**values))

    def _values(self, conn: Connection, event: RunEvent, task: Task | None) -> dict[str, Any]:
        manual = get_state(conn, MANUAL_PREFIX + event.task)
        manual_at = dt.datetime.fromisoformat(manual) if manual else None
        values: dict[str, Any] = {
            "task_id": task.id if task else None,
            "task_name": event.task,
            "invocation_id": event.invocation_id,
            "attempt": event.attempt,
            "trigger": trigger_of(event, task, manual_at),
            "started_at": event.started_at,
            "recorded_at": utcnow(),
        }
        if event.kind == "started":
            return {**values, "outcome": "running", "meaning": "Running."}
        duration = None
        if event.started_at and event.finished_at:
            duration = max(0.0, (event.finished_at - event.started_at).total_seconds())
        retries = task.retries if task else 0
        verdict = explain(
            event.result or "unknown",
            event.exec_code or 0,
            event.exec_status or 0,
            duration=duration,
            timeout=task.timeout if task else None,
            memory_max=task.memory_max if task else None,
            attempt=event.attempt,
            retries=retries,
            will_retry=event.result != "success" and event.attempt <= retries,
            retry_delay=task.retry_delay if task else 30,
            systemd_reason=self._reasons.get(event.invocation_id, ""),
        )
        killed = event.exec_code in (2, 3)
        return {
            **values,
            "finished_at": event.finished_at,
            "duration_s": duration,
            "result": event.result,
            "exit_code": None if killed else event.exec_status,
            "exit_signal": _signal(event.exec_status) if killed else None,
            "outcome": verdict.outcome,
            "meaning": verdict.meaning,
        }


def _signal(number: int | None) -> str | None:
    import signal

    try:
        return signal.Signals(number or 0).name
    except ValueError:
        return None if number is None else str(number)


def get_state(conn: Connection, key: str) -> str | None:
    return conn.execute(sa.select(state_table.c.value).where(state_table.c.key == key)).scalar()


def set_state(conn: Connection, key: str, value: str) -> None:
    """Upsert one key of the state table (portable: update, then insert if it was missing)."""
    updated = conn.execute(
        state_table.update()
        .where(state_table.c.key == key)
        .values(value=value, updated_at=utcnow())
    )
    if updated.rowcount == 0:
        conn.execute(state_table.insert().values(key=key, value=value, updated_at=utcnow()))


def _plain(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


class SignalListener(threading.Thread):
    """Subscribe to systemd and feed RunEvents to `sink` without ever blocking on it."""

    UNIT_PATH = b"/org/freedesktop/systemd1/unit/smartcron_2d"

    def __init__(self, sink: Any) -> None:
        super().__init__(name="smartcron-dbus", daemon=True)
        self.sink = sink
        self.tracker = RunTracker()
        self.subscribed = threading.Event()
        self.heartbeat = time.monotonic()
        self.handled = 0  # signals seen, to know when the bus is drained
        self.error = ""
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        from pystemd.dbusexc import DBusBaseError
        from pystemd.dbuslib import DBus, path_decode
        from pystemd.systemd1 import Manager

        self._path_decode = path_decode
        try:
            with DBus() as bus:
                Manager(bus=bus, _autoload=True).Manager.Subscribe()

                # pystemd stores metadata on the callback, so it must be a plain function.
                def on_signal(msg: Any, error: Any = None, userdata: Any = None) -> None:
                    self._on_signal(msg)

                bus.match_signal(
                    b"org.freedesktop.systemd1",
                    None,
                    b"org.freedesktop.DBus.Properties",
                    b"PropertiesChanged",
                    on_signal,
                )
                self.subscribed.set()
                fd = bus.get_fd()
                last_flush = time.monotonic()
                while not self._stopping.is_set():
                    # Sleep in select(), which releases the GIL: pystemd's bus.wait() holds it
                    # and would starve the writer thread. Then process until a few calls in a
                    # row handle no signal: sd-bus may already hold read messages in memory,
                    # which select() cannot see.
                    select.select([fd], [], [], 0.25)
                    quiet = 0
                    while quiet < 8:
                        before = self.handled
                        bus.process()
                        quiet = 0 if self.handled != before else quiet + 1
                    now = time.monotonic()
                    self.heartbeat = now
                    if now - last_flush > 0.25:
                        for event in self.tracker.flush():
                            self.sink(event)
                        last_flush = now
        except DBusBaseError as exc:
            self.error = f"D-Bus connection to systemd failed: {exc}"
            log.error("%s", self.error)

    def _on_signal(self, msg: Any) -> None:
        self.handled += 1
        msg.process_reply(True)
        path = msg.headers.get("Path") or b""
        if not path.startswith(self.UNIT_PATH):
            return
        unit = self._path_decode(path, b"/org/freedesktop/systemd1/unit").decode()
        interface, changed, _invalidated = msg.body
        values = {_plain(k): _plain(v) if k != b"InvocationID" else v for k, v in changed.items()}
        if interface == b"org.freedesktop.systemd1.Unit":
            events = self.tracker.unit_changed(unit, values)
        elif interface == b"org.freedesktop.systemd1.Service":
            events = self.tracker.service_changed(unit, values)
        else:
            return
        for event in events:
            self.sink(event)
