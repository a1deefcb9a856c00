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
the moment the timer fired, $TRIGGER_TIMER_REALTIME_USEC, which systemd gives the services a
timer starts (v251+): every host's timer fires once per elapse of its own clock, so each
host names the same slot even when their clocks differ by less than the schedule's interval,
and even when the gate starts late on a busy host.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from smartcron.db.claims import claim
from smartcron.db.runs import record_skip
from smartcron.db.tasks import find_task
from smartcron.model import schedule
from smartcron.model.config import Config
from smartcron.model.outcome import explain_skip
from smartcron.model.placement import placed_on
from smartcron.model.task import Task

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
    fired_at: dt.datetime | None  # when the timer elapsed ($TRIGGER_TIMER_REALTIME_USEC)
    now: dt.datetime


Check = Callable[[GateContext], GateVerdict | None]


def slot_of(task: Task, fired_at: dt.datetime) -> dt.datetime | None:
    """Return the scheduled time a timer firing at `fired_at` is for: the schedule's latest
    elapse at or before it (None for a schedule without elapses, such as @reboot)."""
    return schedule.previous_run(task.schedule, task.timezone, fired_at)


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
    slot = slot_of(task, ctx.fired_at)
    if slot is None:
        return None
    try:
        held = claim(ctx.engine, f"task:{task.name}", slot, ctx.host, ctx.invocation_id)
    except sa.exc.SQLAlchemyError as exc:
        problem = str(getattr(exc, "orig", exc)).splitlines()[0][:200]
        if task.if_db_down == "run":
            log.warning(
                "cannot reach the database to claim the run of %s at %s (%s); running it "
                "anyway (the task says if_db_down: run), so another host may run it too",
                task.name,
                slot.isoformat(),
                problem,
            )
            return None
        return GateVerdict(
            "skipped",
            f"the database could not be reached to claim the run of {slot.isoformat()} "
            f"({problem}) and the task says if_db_down: skip",
        )
    if held.won or held.host == ctx.host:
        return None
    return GateVerdict("ran-elsewhere", f"the run of {slot.isoformat()} ran on {held.host}")


# The ordered checks; the first verdict decides. Append new checks here.
CHECKS: list[Check] = [check_placed_here, check_claim]


def trigger_time(environ: Mapping[str, str]) -> dt.datetime | None:
    """Return when the timer fired, from systemd's $TRIGGER_TIMER_REALTIME_USEC."""
    raw = environ.get("TRIGGER_TIMER_REALTIME_USEC", "")
    if not raw.isdigit() or int(raw) == 0:
        return None
    return dt.datetime.fromtimestamp(int(raw) / 1_000_000, tz=dt.UTC)


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
    try:
        with ctx.engine.begin() as conn:
            record_skip(
                conn,
                task_id=ctx.task.id,
                task=ctx.task.name,
                invocation_id=ctx.invocation_id,
                host=ctx.host,
                outcome=words.outcome,
                meaning=words.meaning,
                at=ctx.now,
            )
    except sa.exc.SQLAlchemyError as exc:
        log.error("could not record the skip of %s: %s", ctx.task.name, exc)
        return False
    return True


def run_gate(
    config: Config,
    engine: Engine,
    name: str,
    *,
    if_db_down: str = "run",
    environ: Mapping[str, str] | None = None,
) -> tuple[int, str]:
    """Decide the run of task `name` in this unit; return the exit status for
    ExecCondition= (GO or SKIP) and the line to log."""
    env = os.environ if environ is None else environ
    try:
        with engine.connect() as conn:
            task = find_task(conn, name)
    except sa.exc.SQLAlchemyError as exc:
        problem = str(getattr(exc, "orig", exc)).splitlines()[0][:200]
        if if_db_down == "run":
            return GO, f"database unreachable ({problem}); {name} runs (if_db_down: run)"
        return SKIP, f"database unreachable ({problem}); {name} skipped (if_db_down: skip)"
    if task is None:
        return GO, f"no task {name!r} in the database; running what the unit says"
    ctx = GateContext(
        config=config,
        engine=engine,
        task=task,
        host=config.host_name,
        invocation_id=env.get("INVOCATION_ID", ""),
        triggered_by=env.get("TRIGGER_UNIT", ""),
        fired_at=trigger_time(env),
        now=dt.datetime.now(dt.UTC),
    )
    verdict = decide(ctx)
    if verdict is None:
        return GO, f"{name} goes ahead on {ctx.host}"
    recorded = record(ctx, verdict)
    note = "" if recorded else " (not recorded: the database could not be reached)"
    return SKIP, f"{name} not run on {ctx.host}: {verdict.reason}{note}"
