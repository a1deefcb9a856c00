"""Reading the journal: a run's output, systemd's own messages about runs, and reconciliation.

journalctl is used (with -D for a private systemd's journal): it is what operators use too,
and it copes with rotation and journal file formats across versions.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from smartcron.watchdog.events import RunEvent, task_of_unit, usec_to_datetime

log = logging.getLogger("smartcron.journal")
MSG_STARTING = "7d4958e842da4a758f6c1cdc7b36dcc5"
MSG_PROCESS_EXIT = "98e322203f7a4ed290d09fe03c09fe15"
MSG_SUCCESS = "7ad2d189f7e94e70a38c781354912448"
MSG_FAILED = "d9b373ed55a64feb8242e02dbe79a49c"
MSG_RESTART_SCHEDULED = "5eb03494b6584870a536b337290809b3"
# "<unit>: Consumed 1.2s CPU time." (SD_MESSAGE_UNIT_RESOURCES), logged when a unit stops, with
# the figures its cgroup accounting had: only those systemd could measure are present.
MSG_RESOURCES = "ae8f7b866b0347b9af31fe1c80b127c0"
RESOURCE_FIELDS = {
    "CPU_USAGE_NSEC": "cpu_usage_nsec",
    "MEMORY_PEAK": "memory_peak",
    "IO_METRIC_READ_BYTES": "io_read_bytes",
    "IO_METRIC_WRITE_BYTES": "io_write_bytes",
}
EXIT_CODES = {"exited": 1, "killed": 2, "dumped": 3}
TAIL_LINES = 50
TAIL_BYTES = 8 * 1024


@dataclass(frozen=True)
class RunWindow:
    """What identifies a run's output: its invocation id, task name and times."""

    invocation_id: str
    task: str = ""
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None


@dataclass
class Journal:
    """Where to read: the system journal, or a directory (-D) such as a private systemd's."""

    directory: str = ""
    # What journalctl said on stderr the last time, when it could not read (e.g. "No journal
    # files were opened due to insufficient permissions."): kept so callers can say why.
    problem: str = ""

    def _base(self) -> list[str]:
        cmd = ["journalctl", "--no-pager", "-q"]
        return [*cmd, "-D", self.directory] if self.directory else cmd

    def run(self, *args: str, timeout: float = 60) -> str:
        proc = subprocess.run(
            [*self._base(), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            errors="replace",
        )
        problem = next(
            (line for line in proc.stderr.splitlines() if "permission" in line.lower()), ""
        )
        if problem and problem != self.problem:
            log.error(
                "cannot read the journal: %s Task output and systemd's messages are "
                "unavailable; add this user to the systemd-journal group.",
                problem,
            )
        self.problem = problem
        return proc.stdout

    def output(self, run: RunWindow, lines: int | None = None) -> str:
        """Return a run's own output lines (stdout and stderr), oldest first.

        Lines are matched by invocation id, or by the task's SyslogIdentifier within the run's
        time window: journald can store the last lines of a process that exits at once without
        its invocation id (systemd #2913), and those must not be lost.
        """
        args = [f"_SYSTEMD_INVOCATION_ID={run.invocation_id}"]
        if run.task and run.started_at is not None:
            since = int(run.started_at.timestamp()) - 1
            until = int((run.finished_at or run.started_at).timestamp()) + 5
            args += ["+", f"SYSLOG_IDENTIFIER={run.task}", f"--since=@{since}", f"--until=@{until}"]
        args += ["-o", "cat"]
        if lines is None:
            return self.run(*args)
        # With --since, -n would count from the start of the window: read newest first instead.
        newest = self.run(*args, "--reverse", "-n", str(lines)).splitlines()
        return "".join(line + "\n" for line in reversed(newest))

    def tail(self, run: RunWindow) -> str:
        """Return the last 50 lines of a run's output, at most 8 KB."""
        text = self.output(run, TAIL_LINES)
        data = text.encode()
        if len(data) > TAIL_BYTES:
            text = data[-TAIL_BYTES:].decode(errors="replace").split("\n", 1)[-1]
        return text

    def systemd_messages(self, invocation_id: str) -> list[str]:
        """Return systemd's own messages about a run (why it could not start, ...)."""
        return [
            m
            for m in self.run(f"INVOCATION_ID={invocation_id}", "_PID=1", "-o", "cat").splitlines()
            if m.strip()
        ]

    def resources(self, invocation_id: str) -> dict[str, int]:
        """Return the resource figures systemd logged when the run stopped (may be empty)."""
        out = self.run(
            f"MESSAGE_ID={MSG_RESOURCES}", f"INVOCATION_ID={invocation_id}", "-o", "json"
        )
        figures: dict[str, int] = {}
        for line in out.splitlines():
            if line.startswith("{"):
                figures.update(parse_resources(json.loads(line)))
        return figures

    def current_cursor(self) -> str | None:
        """Return the cursor of the newest journal entry (to start reading from now)."""
        for line in self.run("-n", "0", "--show-cursor").splitlines():
            if line.startswith("-- cursor: "):
                return line.removeprefix("-- cursor: ").strip()
        return None

    def entries_since(self, cursor: str | None, since: str = "-24h") -> Iterator[dict[str, str]]:
        """Yield systemd's (PID 1) journal entries after `cursor` (or since `since`)."""
        args = ["-o", "json", "_PID=1"]
        args += [f"--after-cursor={cursor}"] if cursor else [f"--since={since}"]
        for line in self.run(*args, timeout=300).splitlines():
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue


@dataclass
class _Seen:
    task: str
    started: str | None = None
    exit_code: int | None = None
    exit_status: int | None = None
    result: str | None = None
    finished: str | None = None
    attempt: int = 1


@dataclass
class Reconciled:
    events: list[RunEvent] = field(default_factory=list)
    cursor: str | None = None


def parse_resources(entry: dict[str, Any]) -> dict[str, int]:
    """Given systemd's unit-resources journal entry, return its figures by column name.

    systemd writes "unknown" figures as UINT64_MAX or leaves them out; both are skipped.
    """
    figures: dict[str, int] = {}
    for name, column in RESOURCE_FIELDS.items():
        value = entry.get(name)
        if isinstance(value, str) and value.isdigit() and int(value) < 2**63:
            figures[column] = int(value)
    return figures


def reconcile(entries: Iterator[dict[str, str]]) -> Reconciled:
    """Given systemd's journal entries, return a finished RunEvent per completed run."""
    runs: dict[str, _Seen] = {}
    next_attempt: dict[str, int] = {}
    out = Reconciled()
    for entry in entries:
        out.cursor = entry.get("__CURSOR", out.cursor)
        unit = entry.get("UNIT", "")
        task = task_of_unit(unit)
        inv = entry.get("INVOCATION_ID", "")
        if task is None or not inv:
            continue
        msg = entry.get("MESSAGE_ID", "")
        stamp = entry.get("__REALTIME_TIMESTAMP")
        seen = runs.setdefault(inv, _Seen(task))
        if msg == MSG_STARTING and seen.started is None:
            seen.started = stamp
            seen.attempt = next_attempt.pop(unit, 1)
        elif msg == MSG_PROCESS_EXIT:
            seen.exit_code = EXIT_CODES.get(entry.get("EXIT_CODE", ""))
            status = entry.get("EXIT_STATUS", "")
            seen.exit_status = _signal_number(status) if not status.isdigit() else int(status)
        elif msg == MSG_SUCCESS:
            seen.result, seen.finished = "success", seen.finished or stamp
        elif msg == MSG_FAILED:
            seen.result, seen.finished = entry.get("UNIT_RESULT", "failed"), seen.finished or stamp
        elif msg == MSG_RESTART_SCHEDULED:
            next_attempt[unit] = seen.attempt + 1
    for inv, seen in runs.items():
        if seen.result is None:
            continue  # still running, or the start was before the window
        success = seen.result == "success"
        out.events.append(
            RunEvent(
                "finished",
                seen.task,
                inv,
                attempt=seen.attempt,
                started_at=usec_to_datetime(int(seen.started)) if seen.started else None,
                finished_at=usec_to_datetime(int(seen.finished)) if seen.finished else None,
                result=seen.result,
                exec_code=1 if success and seen.exit_code is None else seen.exit_code,
                exec_status=0 if success and seen.exit_status is None else seen.exit_status,
                source="journal",
            )
        )
    return out


def _signal_number(name: str) -> int | None:
    import signal

    key = name if name.startswith("SIG") else f"SIG{name}"
    member = signal.Signals.__members__.get(key)
    return int(member) if member is not None else None
