"""Journal reconciliation: rebuild finished runs from systemd's own journal messages.

Pure: given PID 1's journal entries (as the journal module yields them), return one finished
RunEvent per completed run, and the cursor to continue from. The watchdog uses it after a
restart to record what it missed, and the OnFailure= fallback to find the run that failed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from smartcron.systemd.bus import usec_to_datetime
from smartcron.systemd.journal import (
    MSG_FAILED,
    MSG_PROCESS_EXIT,
    MSG_RESTART_SCHEDULED,
    MSG_SKIPPED,
    MSG_STARTING,
    MSG_SUCCESS,
)
from smartcron.watchdog.events import RunEvent, task_of_unit

EXIT_CODES = {"exited": 1, "killed": 2, "dumped": 3}


@dataclass
class _Seen:
    task: str
    started: str | None = None
    exit_code: int | None = None
    exit_status: int | None = None
    result: str | None = None
    finished: str | None = None
    attempt: int = 1
    main_exited: bool = False  # systemd logged "Main process exited" (the command ran)
    control_exited: bool = False  # ... "Control process exited" (ExecStartPre= and such)


@dataclass
class Reconciled:
    events: list[RunEvent] = field(default_factory=list)
    cursor: str | None = None


def reconcile(entries: Iterable[dict[str, str]]) -> Reconciled:
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
        elif msg == MSG_PROCESS_EXIT and "Control process exited" in entry.get("MESSAGE", ""):
            seen.control_exited = True  # not the command's exit (e.g. `smartcron group-wait`)
        elif msg == MSG_PROCESS_EXIT:
            seen.main_exited = seen.main_exited or "Main process" in entry.get("MESSAGE", "")
            seen.exit_code = EXIT_CODES.get(entry.get("EXIT_CODE", ""))
            status = entry.get("EXIT_STATUS", "")
            seen.exit_status = _signal_number(status) if not status.isdigit() else int(status)
        elif msg == MSG_SUCCESS:
            seen.result, seen.finished = "success", seen.finished or stamp
        elif msg == MSG_FAILED:
            seen.result, seen.finished = entry.get("UNIT_RESULT", "failed"), seen.finished or stamp
        elif msg == MSG_SKIPPED:  # "Skipped due to 'exec-condition'": the gate said no
            seen.result, seen.finished = "exec-condition", seen.finished or stamp
        elif msg == MSG_RESTART_SCHEDULED:
            next_attempt[unit] = seen.attempt + 1
    for inv, seen in runs.items():
        if seen.result is None:
            continue  # still running, or the start was before the window
        success = seen.result == "success"
        # A timeout with no exit of the command, only of a control process: it never started
        # (it timed out in ExecStartPre=, waiting for a concurrency group slot).
        never = seen.result == "timeout" and seen.control_exited and not seen.main_exited
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
                condition_said_no=seen.result == "exec-condition",
                command_started=not never,
            )
        )
    return out


def _signal_number(name: str) -> int | None:
    import signal

    key = name if name.startswith("SIG") else f"SIG{name}"
    member = signal.Signals.__members__.get(key)
    return int(member) if member is not None else None
