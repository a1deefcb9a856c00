"""Run events: what the collector learns about a task run, from D-Bus signals or the journal.

`RunTracker` is a pure state machine fed with PropertiesChanged values (systemd's own names).
It emits a `RunEvent` when a run starts and when it finishes. For each change systemd 252 sends
the Service interface's values (Result, ExecMain*, NRestarts) first and then the Unit
interface's (ActiveState, InvocationID), "so that clients get atomic behaviour" (dbus-unit.c).
An event is completed by the Service values known when the next signal of its unit arrives (or
at the listener's flush); a finish whose Service values already name its exit (received since
the Unit's previous change, exit timestamp at or after the start) is completed at once, so a
finished run is not held back until the flush tick.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

from smartcron.model.task import RESERVED_NAMES
from smartcron.systemd.bus import RUNNING_STATES as RUNNING
from smartcron.systemd.bus import invocation_hex, usec_to_datetime
from smartcron.systemd.units import PREFIX

FINISHED = {"inactive", "failed"}
# Service sub-states in which the task's command (the main process) runs or has run.
MAIN_SUBSTATES = {"start", "start-post", "running", "stop", "stop-post", "exited"}


@dataclass(frozen=True)
class RunEvent:
    """A run started or finished. Times are aware UTC datetimes."""

    kind: str  # "started" or "finished"
    task: str
    invocation_id: str
    attempt: int = 1
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    result: str | None = None  # systemd Result=
    exec_code: int | None = None  # ExecMainCode: 1 exited, 2 killed, 3 dumped
    exec_status: int | None = None  # ExecMainStatus
    source: str = "dbus"  # or "journal"
    # What started the run, from systemd's ActivationDetails: the timer (or other unit) that
    # triggered it, "" when nothing did (started by hand), None when not known (journal).
    trigger_unit: str | None = None
    # A finished invocation whose ExecCondition= said no: the command never ran (systemd
    # reports Result=success with ConditionResult=no and no main process).
    condition_said_no: bool = False
    # False for a finished run whose command (the main process) never started: systemd gave
    # no ExecMainStartTimestamp (it ended in ExecStartPre=, e.g. waiting for a group slot).
    # started_at is then when the unit started (InactiveExitTimestamp), not None.
    command_started: bool = True


def task_of_unit(unit: str) -> str | None:
    """Return the task name of a smartcron task service unit, else None."""
    if unit.startswith(PREFIX) and unit.endswith(".service") and "@" not in unit:
        name = unit[len(PREFIX) : -len(".service")]
        return None if name in RESERVED_NAMES else name  # smartcron's own services
    return None


@dataclass
class _UnitState:
    active: str = ""
    sub: str = ""
    invocation: str = ""
    changed_at: int = 0  # StateChangeTimestamp
    service: dict[str, Any] = field(default_factory=dict)
    started: set[str] = field(default_factory=set)
    finished: set[str] = field(default_factory=set)
    pending: str | None = None  # "start:<inv>" or "finish:<inv>", waiting for Service values
    attempts: dict[str, int] = field(default_factory=dict)  # attempt seen at each start
    trigger_unit: str | None = None  # from the latest ActivationDetails
    condition: bool | None = None  # ConditionResult of the latest start
    main_ran: set[str] = field(default_factory=set)  # invocations whose command started
    service_fresh: bool = False  # Service values arrived since the Unit's last change
    began: dict[str, int] = field(default_factory=dict)  # when each invocation's unit started


def trigger_unit(details: Any) -> str:
    """Given a unit's ActivationDetails (pairs of key and value, systemd 252+), return the unit
    that triggered its start ("smartcron-x.timer"), or "" when none did (a manual start)."""
    for pair in details or ():
        key, value = (v.decode() if isinstance(v, bytes) else str(v) for v in pair)
        if key == "trigger_unit":
            return value
    return ""


def refused_start(unit: str, usec: int) -> RunEvent:
    """Return the event for a start systemd refused (start limit): no process, no invocation.

    systemd gives a refused start no InvocationID, so the id is derived from the unit and the
    moment, which keeps the row idempotent if the same signal is handled twice.
    """
    when = usec_to_datetime(usec)
    synthetic = hashlib.sha256(f"refused:{unit}:{usec}".encode()).hexdigest()[:32]
    return RunEvent(
        "finished",
        task_of_unit(unit) or "",
        synthetic,
        started_at=when,
        finished_at=when,
        result="start-limit-hit",
    )


class RunTracker:
    """Feed it PropertiesChanged values; collect the RunEvents it returns."""

    def __init__(self) -> None:
        self._units: dict[str, _UnitState] = {}

    def unit_changed(self, unit: str, changed: dict[str, Any]) -> list[RunEvent]:
        """Handle org.freedesktop.systemd1.Unit changes of one unit."""
        if task_of_unit(unit) is None:
            return []
        state = self._units.setdefault(unit, _UnitState())
        events = self._complete_pending(unit, state)
        # A real run was in progress (not the pause between retries, and not a new invocation).
        fresh, state.service_fresh = state.service_fresh, False
        previous_inv = state.invocation
        previous_active, previous_change = state.active, state.changed_at
        was_running = state.active in RUNNING and state.sub != "auto-restart"
        state.active = changed.get("ActiveState", state.active)
        state.sub = changed.get("SubState", state.sub)
        state.changed_at = int(changed.get("StateChangeTimestamp", state.changed_at) or 0)
        if "ConditionResult" in changed:
            state.condition = bool(changed["ConditionResult"])
        if "ActivationDetails" in changed:
            state.trigger_unit = trigger_unit(changed["ActivationDetails"])
        if "InvocationID" in changed:
            state.invocation = invocation_hex(changed["InvocationID"])
        inv = state.invocation
        if not inv:
            return events
        if (
            previous_active == state.active == "failed"
            and inv == previous_inv
            and previous_change
            and state.changed_at > previous_change
        ):
            # failed -> failed with no new invocation: a start was refused (start limit).
            return [*events, refused_start(unit, state.changed_at)]
        if (
            state.active in FINISHED
            and was_running
            and previous_inv in ("", inv)
            and inv not in state.finished
        ):
            state.started.add(inv)  # the start happened before we subscribed
        if state.sub in MAIN_SUBSTATES:
            state.main_ran.add(inv)
        if state.active in RUNNING and inv not in state.began:
            # When the unit left inactive for this invocation: the start of a run whose
            # command never starts (the fallback for its started_at, as the journal's
            # "Starting" message is for reconcile.py).
            state.began[inv] = int(changed.get("InactiveExitTimestamp") or state.changed_at)
        if state.active in RUNNING and state.sub != "auto-restart" and inv not in state.started:
            state.started.add(inv)
            state.pending = f"start:{inv}"
        elif (
            (state.active in FINISHED or state.sub == "auto-restart")
            and inv in state.started
            and inv not in state.finished
        ):
            state.finished.add(inv)
            state.pending = f"finish:{inv}"
            if fresh and self._exit_known(state):
                events.extend(self._complete_pending(unit, state))
        return events

    @staticmethod
    def _exit_known(state: _UnitState) -> bool:
        """Return True when the Service values held are those of the run that just ended:
        its exit timestamp is set and not before its start (a previous run's exit is)."""
        started = int(state.service.get("ExecMainStartTimestamp") or 0)
        exited = int(state.service.get("ExecMainExitTimestamp") or 0)
        return started > 0 and exited >= started and bool(state.service.get("Result"))

    def service_changed(self, unit: str, changed: dict[str, Any]) -> list[RunEvent]:
        """Handle org.freedesktop.systemd1.Service changes of one unit."""
        if task_of_unit(unit) is None:
            return []
        state = self._units.setdefault(unit, _UnitState())
        state.service.update(changed)
        events = self._complete_pending(unit, state)
        state.service_fresh = True
        return events

    def flush(self) -> list[RunEvent]:
        """Complete every pending event with the Service values known so far."""
        events: list[RunEvent] = []
        for unit, state in self._units.items():
            events.extend(self._complete_pending(unit, state))
        return events

    @staticmethod
    def _condition_said_no(state: _UnitState, inv: str) -> bool:
        """Return True when this finished invocation was ended by its ExecCondition=. Measured
        on systemd 252: the Service's Result is "exec-condition", the Unit's ConditionResult
        false, ExecMainStartTimestamp 0 and `systemctl show` later says Result=success."""
        result = state.service.get("Result")
        if result == "exec-condition":
            return True
        return result == "success" and state.condition is False and inv not in state.main_ran

    def _complete_pending(self, unit: str, state: _UnitState) -> list[RunEvent]:
        if state.pending is None:
            return []
        kind, _, inv = state.pending.partition(":")
        state.pending = None
        svc = state.service
        task = task_of_unit(unit) or ""
        attempt = int(svc.get("NRestarts", 0)) + 1
        main_start = int(svc.get("ExecMainStartTimestamp") or 0)
        event = RunEvent(
            "started",
            task,
            inv,
            attempt=attempt,
            started_at=usec_to_datetime(main_start or state.began.get(inv) or None),
            trigger_unit=state.trigger_unit,
        )
        if kind == "start":
            state.attempts[inv] = attempt
        else:
            # A successful run resets NRestarts (ExecStartPost= reset-failed, see
            # task.service.j2), so the attempt seen at its start is the one that counts.
            finished_attempt = attempt - 1 if state.sub == "auto-restart" else attempt
            event = replace(
                event,
                kind="finished",
                attempt=max(finished_attempt, state.attempts.pop(inv, 0)),
                # A command that never started has no exit: the unit's stop is the end.
                finished_at=usec_to_datetime(
                    svc.get("ExecMainExitTimestamp") or (None if main_start else state.changed_at)
                ),
                result=svc.get("Result"),
                exec_code=svc.get("ExecMainCode"),
                exec_status=svc.get("ExecMainStatus"),
                condition_said_no=self._condition_said_no(state, inv),
                command_started=main_start > 0,
            )
            state.began.pop(inv, None)
        # Keep memory bounded on a long-lived watchdog: old invocations are no longer needed.
        if len(state.started) > 64:
            state.started = {inv}
            state.finished = {i for i in state.finished if i == inv}
            state.attempts = {i: a for i, a in state.attempts.items() if i == inv}
            state.main_ran = {i for i in state.main_ran if i == inv}
            state.began = {i: b for i, b in state.began.items() if i == inv}
        return [event]
