"""The gate: run by each gated task's service as `ExecCondition=` before its command, it
decides whether this run goes ahead on this host (docs/multi-host.md).

It asks an ordered list of checks (`CHECKS`). Each check is a function of the `GateContext`
that returns None (no objection: ask the next one) or a `GateVerdict` (an outcome from
model/outcome.py SKIP_OUTCOMES and the reason in words). The first verdict ends the run
before its command: the gate records it in the runs table under the unit's $INVOCATION_ID (so
the watchdog's record of that invocation shows it, never as a failure) and exits 1, which
systemd treats as "condition not met": the unit ends cleanly, no failure, no OnFailure=, no
retry. Add a check by appending a function to CHECKS (a pure one is easiest to test).

The slot of a run (what `placement: one` claims) is the schedule's latest elapse at or before
the moment the timer started the unit (its InactiveExitTimestamp; the gate's own clock when
systemd cannot say), computed with the project's calendar evaluator (model/schedule). Not the
moment the gate runs: on a loaded host the gate can start after the next elapse and would
name the next slot. Each host's timer fires at the elapse by its own clock, so each host names
the same slot even when their clocks differ by less than one interval. systemd's
$TRIGGER_TIMER_REALTIME_USEC is not used: measured on systemd 252, after a run that its
ExecCondition= skipped it keeps the value of the first trigger. A retry (the unit's NRestarts
above 0) is not claimed again: only a run that went ahead on this host can be retried, so it
stays here.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from smartcron.db.claims import ClaimUndecided, claim, is_deadlock
from smartcron.db.runs import record_skip
from smartcron.db.state import get_state, manual_key
from smartcron.db.tasks import find_task
from smartcron.db.windows import list_windows
from smartcron.model import schedule
from smartcron.model.config import Config
from smartcron.model.outcome import explain_skip
from smartcron.model.placement import placed_on
from smartcron.model.task import Task
from smartcron.model.windows import SKIP as WINDOW_SKIP
from smartcron.model.windows import active_windows, covered_text
from smartcron.ops.chain_gate import declined_predecessor, declined_reason, unit_times, wall_time
from smartcron.systemd.entries import EntryWriter
from smartcron.systemd.units import PREFIX

log = logging.getLogger("smartcron.gate")
GO, SKIP = 0, 1  # ExecCondition=: 0 runs the command, 1-254 ends the unit cleanly


@dataclass(frozen=True)
class GateVerdict:
    """Why a run does not go ahead here: an outcome (SKIP_OUTCOMES) and the reason."""

    outcome: str
    reason: str


@dataclass(frozen=True)
class GateContext:
    """What a check knows about the run being decided."""

    config: Config
    engine: Engine
    task: Task
    host: str
    invocation_id: str
    triggered_by: str  # the unit that started it ("smartcron-x.timer"), "" by hand or retry
    fired_at: dt.datetime | None  # when the timer started the unit; None: not a timer start
    now: dt.datetime
    restarts: int = 0  # the unit's NRestarts: above 0 for a retry


Check = Callable[[GateContext], GateVerdict | None]


def slot_of(task: Task, fired_at: dt.datetime) -> dt.datetime | None:
    """Return the scheduled time a timer firing at `fired_at` is for: the schedule's latest
    elapse at or before it (None for a schedule without elapses, such as @reboot)."""
    return schedule.previous_run(task.schedule, task.timezone, fired_at)


def db_trouble(exc: BaseException) -> str:
    """Given a database error, return what it was in a few words and its first line: only a
    connection problem is "could not be reached" (a missing schema or a refused statement
    was called that too)."""
    problem = str(getattr(exc, "orig", exc)).splitlines()[0][:200]
    if "no such table" in problem.lower() or isinstance(exc, sa.exc.ProgrammingError):
        return (
            f"the database has no smartcron schema or an old one ({problem}; run "
            "`smartcron db upgrade`)"
        )
    if isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError):
        return f"the database could not be reached ({problem})"
    return f"the database refused the statement ({problem})"


def check_placed_here(ctx: GateContext) -> GateVerdict | None:
    """A unit left on a host the task has moved away from (sync not yet run there) does not
    run."""
    if placed_on(ctx.task, ctx.host):
        return None
    return GateVerdict(
        "skipped",
        f"the task is placed on {', '.join(ctx.task.hosts)}, not on {ctx.host}; run "
        "`smartcron sync` on this host to remove its units",
    )


def check_claim(ctx: GateContext) -> GateVerdict | None:
    """placement one: claim (task, slot) with one insert; the winner runs, the others say
    who ran it. Starts by hand and retries (no timer named) are not claimed: a retry only
    follows a run that went ahead on this host, so it stays here."""
    task = ctx.task
    if task.placement != "one" or not ctx.triggered_by or ctx.fired_at is None:
        return None
    if ctx.restarts > 0:
        return None  # a retry of the run this host claimed
    if asked_by_hand(ctx):
        return None
    slot = slot_of(task, ctx.fired_at)
    if slot is None:
        return None
    try:
        held = claim(ctx.engine, f"task:{task.name}", slot, ctx.host, ctx.invocation_id)
    except ClaimUndecided as exc:
        # Running could run the slot twice; skipping is recorded and shown (never silent).
        return GateVerdict("skipped", f"{exc}; not run here so that it never runs twice")
    except sa.exc.SQLAlchemyError as exc:
        trouble = db_trouble(exc)
        if task.if_db_down == "run":
            log.warning(
                "%s: cannot claim the run of %s at %s; running it anyway (the task says "
                "if_db_down: run), so another host may run it too",
                trouble,
                task.name,
                slot.isoformat(),
            )
            return None
        return GateVerdict(
            "skipped",
            f"{trouble}: the run of {slot.isoformat()} could not be claimed and the task "
            "says if_db_down: skip",
        )
    if held.won or (held.host == ctx.host and held.invocation_id == ctx.invocation_id):
        return None
    if held.host == ctx.host:  # this host's timer started the unit twice for one slot
        return GateVerdict("skipped", f"the run of {slot.isoformat()} already ran on this host")
    return GateVerdict("ran-elsewhere", f"the run of {slot.isoformat()} ran on {held.host}")


HAND_START = (dt.timedelta(seconds=-2), dt.timedelta(seconds=10))  # request -> unit start


def asked_by_hand(ctx: GateContext) -> bool:
    """Given a run its timer seems to have started, return True if `smartcron task run` or
    Run now asked for it just before. systemd 252 keeps naming the timer ($TRIGGER_UNIT,
    ActivationDetails) for a start by hand that follows a timer's, so such a start was
    claimed as the timer's slot and skipped as already run. One start uses up a request (a
    claim on it): a timer firing just after claims its slot as usual."""
    try:
        with ctx.engine.connect() as conn:
            raw = get_state(conn, manual_key(ctx.task.name))
        asked = dt.datetime.fromisoformat(raw) if raw else None
    except (sa.exc.SQLAlchemyError, ValueError):
        return False  # the claim below meets the same database and says so
    if asked is None or ctx.fired_at is None:
        return False
    if not HAND_START[0] <= ctx.fired_at - asked <= HAND_START[1]:
        return False
    try:
        held = claim(ctx.engine, f"manual:{ctx.task.name}", asked, ctx.host, ctx.invocation_id)
    except (ClaimUndecided, sa.exc.SQLAlchemyError):
        return False
    return held.won or held.invocation_id == ctx.invocation_id


def check_chain(ctx: GateContext) -> GateVerdict | None:
    """A follower started by a predecessor whose gate declined its run (ops/chain_gate.py):
    not run either. Where the predecessor ran on another host, the chain goes on there."""
    if not ctx.task.after or not ctx.invocation_id or asked_by_hand(ctx):
        return None
    times = unit_times([ctx.task.name, *ctx.task.after])
    name = declined_predecessor(ctx.task.name, ctx.task.after, times)
    if name is None:
        return None
    since = wall_time(times[name][0]) - dt.timedelta(seconds=1)  # its last activation
    outcome, meaning = declined_reason(ctx.engine, name, ctx.host, since)
    first = meaning.split(". ", 1)[0].rstrip(".")  # its first sentence says why
    said = f" ({first})" if first else ""
    if outcome == "ran-elsewhere":
        return GateVerdict(
            "ran-elsewhere",
            f"its predecessor {name} ran on another host{said}; the chain goes on there",
        )
    return GateVerdict("skipped", f"its predecessor {name} did not run here{said}")


def check_window(ctx: GateContext) -> GateVerdict | None:
    """A maintenance window with `skip` that covers the task at the run's slot or now: no run
    (docs/windows.md). The slot decides which run this is: a slot inside the window is
    skipped even when the gate runs after the window has ended (a loaded host, a catch-up at
    boot), and every host decides alike for it. Now is checked as well, so that a run of an
    earlier slot that starts late inside the window (or is caught up there) does not run
    during the maintenance. Starts by hand have no slot: now alone. A retry goes ahead (it
    continues a run that started before the window). When the windows cannot be read the run
    goes ahead, with a warning in the unit's journal: a database outage must not silently stop
    every task."""
    if ctx.restarts > 0:
        return None
    try:
        with ctx.engine.connect() as conn:
            windows = list_windows(conn)
    except sa.exc.SQLAlchemyError as exc:
        problem = str(getattr(exc, "orig", exc)).splitlines()[0][:200]
        log.warning("cannot read the maintenance windows (%s); %s runs", problem, ctx.task.name)
        return None
    found = active_windows(windows, ctx.task, WINDOW_SKIP, ctx.now)
    if found:
        window, occurrence = found[0]
        return GateVerdict("skipped-window", covered_text(window, occurrence))
    slot = slot_of(ctx.task, ctx.fired_at) if ctx.fired_at is not None else None
    if slot is None:
        return None
    found = active_windows(windows, ctx.task, WINDOW_SKIP, slot)
    if not found:
        return None
    window, occurrence = found[0]
    return GateVerdict(
        "skipped-window",
        f"{covered_text(window, occurrence)}, which the run of {slot.isoformat()} falls in",
    )


# The ordered checks; the first verdict decides. Append new checks here. The window comes
# before the claim, so a skipped slot is not claimed.
CHECKS: list[Check] = [check_placed_here, check_chain, check_window, check_claim]


def unit_facts(task: str, environ: Mapping[str, str]) -> tuple[int, dt.datetime | None]:
    """Return the NRestarts of the task's service and when it last left the inactive state
    (InactiveExitTimestamp: when its timer started it), or (0, None) outside systemd or when
    systemd cannot say."""
    if "INVOCATION_ID" not in environ:
        return 0, None
    props = "--property=NRestarts,InactiveExitTimestampMonotonic"
    try:
        out = subprocess.run(
            ["systemctl", "show", props, f"{PREFIX}{task}.service"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return 0, None
    values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    restarts, left = values.get("NRestarts", ""), values.get("InactiveExitTimestampMonotonic", "")
    started = None
    if left.isdigit() and int(left) > 0:
        # systemd's monotonic clock is this machine's CLOCK_MONOTONIC, as is time.monotonic().
        started = wall_time(int(left))
    return (int(restarts) if restarts.isdigit() else 0), started


def decide(ctx: GateContext, checks: list[Check] | None = None) -> GateVerdict | None:
    """Return the first check's verdict, or None when the run goes ahead."""
    for check in CHECKS if checks is None else checks:
        verdict = check(ctx)
        if verdict is not None:
            return verdict
    return None


def record(ctx: GateContext, verdict: GateVerdict) -> bool:
    """Record the skipped run under its invocation id; return False when the database could
    not be reached (the watchdog then records the skip from systemd's signals)."""
    if not ctx.invocation_id:
        return False
    words = explain_skip(verdict.outcome, verdict.reason)
    for attempt in range(1, 4):
        try:
            with ctx.engine.begin() as conn:
                recorded = record_skip(
                    conn,
                    task_id=ctx.task.id,
                    task=ctx.task.name,
                    invocation_id=ctx.invocation_id,
                    host=ctx.host,
                    outcome=words.outcome,
                    meaning=words.meaning,
                    at=ctx.now,
                )
            break
        except sa.exc.SQLAlchemyError as exc:
            # Galera: a write set that conflicts with another node's (the watchdog's record
            # of this invocation, say) fails certification with a deadlock: try again.
            if attempt < 3 and is_deadlock(exc):
                time.sleep(0.05 * attempt)
                continue
            log.error("could not record the skip of %s: %s", ctx.task.name, exc)
            return False
    if recorded is not None:  # committed: its journal entry (the watchdog writes no other)
        EntryWriter().runs([recorded], ctx.host)
    return True


def run_gate(
    config: Config,
    engine: Engine,
    name: str,
    *,
    if_db_down: str = "run",
    environ: Mapping[str, str] | None = None,
    now: dt.datetime | None = None,
    restarts: int | None = None,
    started: dt.datetime | None = None,
) -> tuple[int, str]:
    """Decide the run of task `name` in this unit; return the exit status for
    ExecCondition= (GO or SKIP) and the line to log. `restarts` and `started` (when the
    timer started the unit) are read from systemd unless given."""
    env = os.environ if environ is None else environ
    try:
        with engine.connect() as conn:
            task = find_task(conn, name)
    except sa.exc.SQLAlchemyError as exc:
        trouble = db_trouble(exc)
        if if_db_down == "run":
            return GO, f"{trouble}; {name} runs (if_db_down: run)"
        return SKIP, f"{trouble}; {name} skipped (if_db_down: skip)"
    if task is None:
        return GO, f"no task {name!r} in the database; running what the unit says"
    now = now or dt.datetime.now(dt.UTC)
    if restarts is None:
        restarts, started = unit_facts(name, env)
    fired = (started or now) if env.get("TRIGGER_UNIT") else None
    ctx = GateContext(
        config=config,
        engine=engine,
        task=task,
        host=config.host_name,
        invocation_id=env.get("INVOCATION_ID", ""),
        triggered_by=env.get("TRIGGER_UNIT", ""),
        fired_at=fired,
        now=now,
        restarts=restarts,
    )
    verdict = decide(ctx)
    if verdict is None:
        return GO, f"{name} goes ahead on {ctx.host}"
    recorded = record(ctx, verdict)
    note = "" if recorded else " (not recorded: the database could not be reached)"
    return SKIP, f"{name} not run on {ctx.host}: {verdict.reason}{note}"
