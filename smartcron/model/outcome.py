"""Turn systemd's view of a run into an outcome and one plain sentence with its evidence.

Inputs use systemd's own names: Result (success, exit-code, signal, core-dump, timeout,
oom-kill, start-limit-hit, ...), ExecMainCode (1 exited, 2 killed, 3 dumped core) and
ExecMainStatus (the exit status, or the signal number). The CLI, alerts and the dashboard all
show the sentence made here.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass

from smartcron.model.quantities import format_duration, format_size

CLD_EXITED, CLD_KILLED, CLD_DUMPED = 1, 2, 3

# Conventional meanings of exit statuses (shells, sysexits and 128+signal).
EXIT_MEANINGS = {
    1: "a general error reported by the command",
    2: "invalid usage or arguments (shell builtins, many tools)",
    64: "bad command-line usage (EX_USAGE)",
    65: "bad input data (EX_DATAERR)",
    69: "a service it needs is unavailable (EX_UNAVAILABLE)",
    70: "an internal software error (EX_SOFTWARE)",
    73: "it could not create an output file (EX_CANTCREAT)",
    74: "an input/output error (EX_IOERR)",
    75: "a temporary failure; trying again may work (EX_TEMPFAIL)",
    77: "permission denied (EX_NOPERM)",
    78: "a configuration error (EX_CONFIG)",
    126: "the command was found but could not be executed (not executable?)",
    127: "command not found (inside a shell script or `sh -c`)",
    130: "interrupted with Ctrl-C (SIGINT)",
    137: "killed with SIGKILL (128+9), often by the out-of-memory killer",
    143: "terminated with SIGTERM (128+15)",
}

# Statuses systemd itself uses when it cannot start the command (systemd.exec(5)).
SPAWN_FAILURES = {
    200: "its working directory does not exist or cannot be entered (CHDIR)",
    203: "the executable could not be run: it is missing or not executable (EXEC)",
    209: "its output could not be connected (STDOUT)",
    214: "its scheduling settings were refused (SETSCHEDULER)",
    216: "its group does not exist (GROUP)",
    217: "its user does not exist (USER)",
    218: "its capabilities could not be set (CAPABILITIES)",
    226: "its namespace set-up failed (NAMESPACE)",
}


# Every outcome a run can have, with the words the dashboard's filters use. The only list of
# outcomes: the filters and FAILURE_OUTCOMES are made from it.
OUTCOMES: dict[str, str] = {
    "success": "succeeded",
    "failed": "failed (exit status)",
    "timeout": "timed out",
    "killed": "killed by a signal",
    "oom": "out of memory",
    "core-dump": "crashed (core dump)",
    "could-not-start": "could not start",
    "start-limit": "refused by the start limit",
    "not-run": "not run (its predecessor failed)",
    "running": "running",
    # Not run, by decision before its command started (the gate, ops/gate.py): not failures.
    "ran-elsewhere": "ran on another host",
    "skipped": "skipped (not run)",
    "skipped-window": "skipped (maintenance window)",
}
RUNNING = "running"
# Runs the gate ended before their command (ExecCondition= said no): neither success nor
# failure. Each has its sentence in explain_skip. Never a task's latest run (db/runs.last_runs):
# a skip is this host's decision not to run a slot (which another host may have run), so it
# must not hide the outcome of the run before it.
SKIP_OUTCOMES = ("ran-elsewhere", "skipped", "skipped-window")
# A chained task whose predecessor failed for good (model/chains.py): the watchdog records
# the run that did not happen, so it is not silently absent. Not a failure of the task, but a
# slot of this task that should have run on every host and did not: it can be a task's latest
# run (unlike a skip), so the task shows "not-run" rather than an older success.
NOT_RUN = "not-run"
# Rows of runs whose command never ran (a skip or a chain's not-run row): not counted as
# runs by run_totals, /metrics or the alert policy.
NOT_RUNS = (NOT_RUN, *SKIP_OUTCOMES)
# Every outcome that counts as a failed run (all but success, running, not-run and the skips).
FAILURE_OUTCOMES = tuple(o for o in OUTCOMES if o not in ("success", RUNNING, *NOT_RUNS))
# Runs that ran and finished, a success or a failure: what run counts and success rates count
# (db/runs.week_stats, the runs-per-hour chart). Not a skip or a not-run row (no command
# ran) and not a running run (no outcome yet).
FINISHED_OUTCOMES = ("success", *FAILURE_OUTCOMES)


def not_run_meaning(predecessor: str, outcome: str, finished: str) -> str:
    """The sentence of a chained run that did not happen because its predecessor failed."""
    return (
        f"Not run: {predecessor} failed ({OUTCOMES.get(outcome, outcome)}, finished "
        f"{finished}), and this task runs only after {predecessor} succeeds. See "
        f"`smartcron runs {predecessor}` for why; the next success of {predecessor} starts "
        "it again."
    )


# Signals a program raises against itself by crashing, unlike SIGTERM/SIGKILL from outside.
CRASH_SIGNALS = {
    signal.SIGSEGV,
    signal.SIGBUS,
    signal.SIGFPE,
    signal.SIGILL,
    signal.SIGABRT,
    signal.SIGSYS,
    signal.SIGTRAP,
}


@dataclass(frozen=True)
class Verdict:
    """The outcome keyword stored with a run, and the sentence shown to people."""

    outcome: str  # success, failed, timeout, killed, oom, core-dump, could-not-start, start-limit
    meaning: str


def explain_skip(outcome: str, reason: str) -> Verdict:
    """Given a gate's outcome (SKIP_OUTCOMES) and its reason, return the run's Verdict.

    ran-elsewhere: a `placement: one` run that another host claimed (the reason names it);
    skipped: the gate decided not to run it here (the reason says why). Unknown reasons come
    from a unit whose start condition said no without the gate recording why.
    skipped-window: a maintenance window with `skip` covers the task (the reason names it,
    model/windows.covered_text).
    """
    if outcome not in SKIP_OUTCOMES:
        raise ValueError(f"not a skip outcome: {outcome!r}")
    said = reason.strip().rstrip(".")
    if outcome == "ran-elsewhere":
        return Verdict(outcome, f"Not run here: {said or 'another host claimed this run'}.")
    if outcome == "skipped-window":
        return Verdict(
            outcome,
            f"Skipped: {said or 'a maintenance window'}. The task runs again at its first "
            "scheduled time after the window (`smartcron window list` shows the windows).",
        )
    return Verdict(
        outcome,
        f"Not run: {said}."
        if said
        else "Not run: its start condition (ExecCondition=) said no and recorded no reason; "
        "see the unit's journal (`journalctl -u` the task's service).",
    )


def join_refused_meaning(reason: str) -> str:
    """The sentence of a join (several predecessors) that systemd refused to start."""
    return (
        f"Not run: all its predecessors succeeded, but systemd refused to start it ({reason}). "
        "Check the unit (`systemctl status` the task's service), then `smartcron task run` it."
    )


def signal_name(number: int) -> str:
    """Return "SIGTERM (15)" for 15, "signal 99" for an unknown number."""
    try:
        return f"{signal.Signals(number).name} ({number})"
    except ValueError:
        return f"signal {number}"


def _attempt_text(attempt: int, retries: int, will_retry: bool, retry_delay: int) -> str:
    if retries <= 0:
        return ""
    total = retries + 1
    if will_retry:
        return f" Attempt {attempt} of {total}; retrying in {format_duration(retry_delay)}."
    if attempt >= total:
        return f" Attempt {attempt} of {total}: retries exhausted."
    return f" Attempt {attempt} of {total}."


# The start of the sentence of a run that timed out waiting for a slot of its concurrency
# group (explain with group_wait): its command never started. db/records.wait_note adds no
# second note about the wait to it.
GROUP_WAIT_TIMEOUT = "Timed out waiting for a slot of concurrency group"


def explain(
    result: str,
    exec_code: int,
    exec_status: int,
    *,
    duration: float | None = None,
    timeout: int | None = None,
    memory_max: int | None = None,
    attempt: int = 1,
    retries: int = 0,
    will_retry: bool = False,
    retry_delay: int = 30,
    systemd_reason: str = "",
    command_started: bool = True,
    group: str | None = None,
    waited: float | None = None,
) -> Verdict:
    """Given systemd's Result, ExecMainCode and ExecMainStatus of a run, return its Verdict.

    command_started=False: systemd never started the command (no ExecMainStartTimestamp);
    with a timeout and the run's concurrency `group` (and the seconds it `waited` for a slot,
    if known), the run timed out waiting for a slot of that group (ops/groups.py)."""
    took = f" after {duration:.1f} s" if duration is not None else ""
    tail = _attempt_text(attempt, retries, will_retry, retry_delay)
    reason = f" systemd says: {systemd_reason.strip()}" if systemd_reason.strip() else ""
    if result == "success":
        return Verdict("success", f"Succeeded{took}.{tail if retries and attempt > 1 else ''}")
    if result == "start-limit-hit":
        return Verdict(
            "start-limit",
            "Not started: systemd refused the start because the task's last run used up its "
            "retries within the start-limit window (StartLimitIntervalSec=), which is still "
            "open. It will start again once the window has passed; to allow it now, run "
            "`systemctl reset-failed` on its service." + reason,
        )
    if result == "timeout" and not command_started:
        after = waited if waited is not None else duration
        took_wait = f" after {after:.1f} s" if after is not None else ""
        limit = f" (the task's timeout{f' of {format_duration(timeout)}' if timeout else ''})"
        if group:
            return Verdict(
                "timeout",
                f"{GROUP_WAIT_TIMEOUT} {group}{took_wait}{limit}: its command never started. "
                "Raise the group's max_concurrent or the task's timeout if it should have "
                f"run.{tail}",
            )
        return Verdict(
            "timeout",
            f"Timed out before its command started{took_wait}{limit}: systemd stopped it "
            f"while its start-up steps (ExecStartPre=, ExecCondition=) still ran.{tail}",
        )
    if result == "timeout":
        limit = f" of {format_duration(timeout)}" if timeout else ""
        hard = (
            " It ignored SIGTERM and was killed with SIGKILL."
            if exec_status == signal.SIGKILL
            else ""
        )
        return Verdict(
            "timeout",
            f"Timed out: still running at the task's timeout{limit}, so "
            f"systemd stopped it.{hard}{tail}",
        )
    # Only when systemd or the kernel said so: a SIGKILL alone may come from anywhere.
    if result == "oom-kill":
        limit = f" of {format_size(memory_max)}" if memory_max else ""
        return Verdict(
            "oom", f"Killed for going over its memory limit{limit} (MemoryMax=){took}.{tail}"
        )
    if result == "core-dump" or exec_code == CLD_DUMPED:
        return Verdict(
            "core-dump", f"Crashed with {signal_name(exec_status)} and dumped core{took}.{tail}"
        )
    if (exec_code == CLD_KILLED or result == "signal") and exec_status in CRASH_SIGNALS:
        return Verdict(
            "killed",
            f"Crashed with {signal_name(exec_status)}{took}: the program itself hit a fatal "
            f"error (a bug, a bad memory access or an abort); no core dump was saved.{tail}",
        )
    if exec_code == CLD_KILLED or result == "signal":
        return Verdict(
            "killed",
            f"Killed by {signal_name(exec_status)}{took}; something outside "
            f"the command stopped it (an operator, another process or shutdown).{tail}",
        )
    if exec_status in SPAWN_FAILURES:
        return Verdict(
            "could-not-start", f"Could not start: {SPAWN_FAILURES[exec_status]}.{reason}{tail}"
        )
    if result == "exit-code" or exec_status:
        known = EXIT_MEANINGS.get(exec_status)
        what = f" ({known})" if known else ""
        return Verdict("failed", f"Failed with exit status {exec_status}{what}{took}.{tail}")
    return Verdict("failed", f"Failed: systemd reported result {result!r}{took}.{reason}{tail}")
