"""Run now, pause and resume: the task controls shared by the CLI and the dashboard.

The dashboard runs as the unprivileged `smartcron` user. It changes the database and then asks
systemd over D-Bus to start or stop only task units, which the polkit rule installed by
install.sh allows (unit_templates/50-smartcron.rules). Only root rewrites unit files: when the
caller is root the task's units are re-synced; otherwise the timer is started or stopped now,
and the next `smartcron sync` (daily by the maintenance timer) fixes the boot-time link. Both
the CLI and the dashboard call these functions, so pause means the same thing everywhere.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from smartcron.db.audit import audit
from smartcron.db.engine import db_errors
from smartcron.db.schema import executions
from smartcron.db.state import manual_key, set_state
from smartcron.db.tasks import get_task, list_tasks, set_task_paused
from smartcron.db.windows import windowed_tasks
from smartcron.errors import OperationFailed
from smartcron.model.config import Config
from smartcron.model.outcome import Verdict, explain
from smartcron.model.placement import placed_on
from smartcron.model.revisions import remember
from smartcron.model.signing import load_signer
from smartcron.model.task import Task
from smartcron.ops.chain_gate import command_started
from smartcron.systemd import sync as sync_mod
from smartcron.systemd import units
from smartcron.systemd.bus import RUNNING_STATES, Systemd, invocation_hex, usec_to_datetime
from smartcron.systemd.own_units import OwnUnits


def run_now(engine: Engine, name: str, who: str) -> tuple[bool, str]:
    """Start task `name` now unless it is running; return (started, message for the user)."""
    with db_errors(engine), engine.connect() as conn:
        get_task(conn, name)
    service = units.service_name(name)
    with Systemd() as systemd:
        props = systemd.properties(service, "LoadState", "ActiveState", "InvocationID", "Job")
        if props.get("LoadState") != "loaded":
            raise OperationFailed(
                f"{service} is not installed (LoadState={props.get('LoadState')}); "
                "run `smartcron sync` first."
            )
        job = props.get("Job") or (0, "")
        if props.get("ActiveState") in RUNNING_STATES or job[0]:
            return False, (
                f"Task '{name}' is already running (invocation "
                f"{invocation_hex(props.get('InvocationID')) or 'pending'}); "
                "not starting a second copy."
            )
        with db_errors(engine), engine.begin() as conn:
            # Tells the watchdog that the next run of this task was started by hand.
            set_state(conn, manual_key(name), dt.datetime.now(dt.UTC).isoformat())
            audit(conn, who, "task.run", name)
        systemd.start(service)
    return True, f"Started task '{name}'."


@dataclass(frozen=True)
class FinishedRun:
    """A run that `wait_for_run` saw end: systemd's verdict and, once recorded, its row id."""

    invocation_id: str
    verdict: Verdict
    duration_s: float | None
    run_id: int | None


_WAIT_PROPERTIES = (
    "ActiveState",
    "SubState",
    "InvocationID",
    "Result",
    "ExecMainCode",
    "ExecMainStatus",
    "ExecMainStartTimestamp",
    "ExecMainExitTimestamp",
    "InactiveExitTimestamp",
    "NRestarts",
)


def wait_for_run(engine: Engine, task: Task, requested_usec: int) -> FinishedRun:
    """Poll until the run of `task` requested at `requested_usec` (and its retries) has ended.

    A new InvocationID alone is not enough: systemd shows it briefly while the unit is still
    inactive, before the process starts. The run must have started after the request, and a
    failure counts as final only once no retry follows (NRestarts has reached the retries).
    """
    service = units.service_name(task.name)
    with Systemd() as systemd:
        while True:
            props = systemd.properties(service, *_WAIT_PROPERTIES)
            if _ended(props, requested_usec, task.retries):
                break
            time.sleep(0.1)
    start = usec_to_datetime(props.get("ExecMainStartTimestamp"))
    end = usec_to_datetime(props.get("ExecMainExitTimestamp"))
    duration = (end - start).total_seconds() if start and end else None
    result = str(props.get("Result") or "unknown")
    verdict = explain(
        result,
        int(props.get("ExecMainCode") or 0),
        int(props.get("ExecMainStatus") or 0),
        duration=duration,
        timeout=task.timeout,
        memory_max=task.memory_max,
        attempt=int(props.get("NRestarts") or 0) + 1,
        retries=task.retries,
    )
    invocation = invocation_hex(props.get("InvocationID"))
    run_id = _recorded_id(engine, invocation)
    began = int(props.get("InactiveExitTimestamp") or 0)
    if not command_started(began, int(props.get("ExecMainStartTimestamp") or 0)):
        # The command never started in this run (the gate declined it, or a concurrency
        # group's wait timed out): systemd's Result says "success" for the first. What
        # happened is in the run's row (the gate's reason, the watchdog's meaning).
        verdict = _recorded_verdict(engine, run_id) or Verdict(
            "skipped" if verdict.outcome == "success" else verdict.outcome,
            "Not run: its command did not start (see `journalctl -u "
            f"{service}` for why; is smartcron-watchdog running?)."
            if verdict.outcome == "success"
            else verdict.meaning,
        )
    return FinishedRun(invocation, verdict, duration, run_id)


def _recorded_verdict(engine: Engine, run_id: int | None) -> Verdict | None:
    """Return the outcome and meaning recorded for a run, or None."""
    if run_id is None:
        return None
    with db_errors(engine), engine.connect() as conn:
        row = conn.execute(
            sa.select(executions.c.outcome, executions.c.meaning).where(executions.c.id == run_id)
        ).first()
    if row is None or row.outcome == "running":
        return None
    return Verdict(str(row.outcome), str(row.meaning or ""))


def _ended(props: dict[str, Any], requested_usec: int, retries: int) -> bool:
    """The run requested at `requested_usec` has ended: its unit left inactive after the
    request (InactiveExitTimestamp; ExecMainStartTimestamp stays old when the command never
    starts, and waiting for it hung on a run the gate declined) and is inactive again, or
    failed with no retry to follow."""
    state = props.get("ActiveState")
    if state == "failed" and props.get("Result") == "start-limit-hit":
        return True
    began = int(props.get("InactiveExitTimestamp") or 0) >= requested_usec
    if began and state == "inactive":
        return True
    return began and state == "failed" and int(props.get("NRestarts") or 0) >= retries


def _recorded_id(engine: Engine, invocation: str, patience: float = 3.0) -> int | None:
    """Return the id of the run's row once the watchdog has recorded it (None if it does not
    within `patience` seconds, e.g. while the watchdog is stopped)."""
    deadline = time.monotonic() + patience
    while invocation:
        with db_errors(engine), engine.connect() as conn:
            found = conn.execute(
                sa.select(executions.c.id).where(executions.c.invocation_id == invocation)
            ).scalar()
        if found is not None or time.monotonic() > deadline:
            return None if found is None else int(found)
        time.sleep(0.2)
    return None


def set_paused(config: Config, engine: Engine, name: str, paused: bool, who: str) -> Task:
    """Pause or resume task `name` in the database and in systemd; return the task."""
    with db_errors(engine), engine.begin() as conn:
        task = set_task_paused(conn, name, paused, who)
        everyone = list_tasks(conn)
        windowed = windowed_tasks(conn, [task])
    if os.geteuid() == 0:
        apply_task(config, task, everyone, windowed)
        return task
    if not task.schedule:
        # A chained task without a schedule has no timer to stop or start (docs/chains.md).
        return task
    timer = units.timer_name(name)
    try:
        with Systemd() as systemd:
            (systemd.stop if paused else systemd.start)(timer)
    except OperationFailed as exc:
        raise OperationFailed(
            f"the task was {'paused' if paused else 'resumed'} in the database but systemd "
            f"refused to {'stop' if paused else 'start'} {timer}: {exc} Check the polkit "
            "rule (docs/dashboard.md) or run `smartcron sync` as root."
        ) from exc
    return task


def apply_task(
    config: Config,
    task: Task,
    everyone: Sequence[Task] | None = None,
    windowed: Collection[str] = (),
) -> None:
    """Bring one task's units and timer in line with the database (root only); `everyone`
    (every task) keeps the OnSuccess= of a chain's predecessor (signed followers); a task
    not placed on this host has no units here (`smartcron sync` removes them)."""
    if not placed_on(task, config.host_name):
        return
    unit_dir = Path(config.unit_dir)
    try:
        # Root installs only the signed definition, as `smartcron sync` does.
        signer = load_signer(config.signing_key_file, create=True)
        with sync_mod.locked(unit_dir), Systemd() as systemd:
            plans = sync_mod.plan(
                [task],
                unit_dir,
                accuracy=config.timer_accuracy,
                signer=signer,
                prune=False,
                everyone=everyone,
                windowed=windowed,
            )
            failed = sync_mod.apply(
                plans, unit_dir, systemd, own=OwnUnits.for_config(config)
            ).failed
            remember(plans, config.signing_key_file)
        problem = failed[0]["error"] if failed else ""
    except (OperationFailed, OSError) as exc:
        problem = str(exc)
    if problem:
        raise OperationFailed(
            f"the database was updated but systemd was not: {problem} "
            "Run `smartcron sync` as root once systemd is reachable."
        )
