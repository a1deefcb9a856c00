"""Run now, pause and resume: the task controls shared by the CLI and the dashboard.

The dashboard runs as the unprivileged `smartcron` user. It changes the database and then asks
systemd over D-Bus to start or stop only `smartcron-*` units, which the polkit rule installed
by install.sh allows (unit_templates/50-smartcron.rules). Only root rewrites unit files: when
the caller is root the task's units are re-synced; otherwise the timer is started or stopped
now, and the next `smartcron sync` (daily by the maintenance timer) fixes the boot-time link.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from sqlalchemy.engine import Engine

from smartcron.db import store
from smartcron.errors import OperationFailed
from smartcron.model.config import Config
from smartcron.model.task import Task, validate_task
from smartcron.systemd import sync as sync_mod
from smartcron.systemd import units
from smartcron.systemd.bus import RUNNING_STATES, Systemd
from smartcron.watchdog.collector import MANUAL_PREFIX, set_state
from smartcron.watchdog.events import invocation_hex


def run_now(engine: Engine, name: str, who: str) -> tuple[bool, str]:
    """Start task `name` now unless it is running; return (started, message for the user)."""
    with store.db_errors(engine), engine.connect() as conn:
        store.get_task(conn, name)
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
        with store.db_errors(engine), engine.begin() as conn:
            # Tells the watchdog that the next run of this task was started by hand.
            set_state(conn, MANUAL_PREFIX + name, dt.datetime.now(dt.UTC).isoformat())
            store.audit(conn, who, "task.run", name)
        systemd.start(service)
    return True, f"Started task '{name}'."


def set_paused(config: Config, engine: Engine, name: str, paused: bool, who: str) -> Task:
    """Pause or resume task `name` in the database and in systemd; return the task."""
    with store.db_errors(engine), engine.begin() as conn:
        task = store.get_task(conn, name)
        if task.paused != paused:
            task = store.update_task(
                conn, validate_task({"paused": paused}, base=task, check_host=False), who
            )
    if os.geteuid() == 0:
        apply_task(config, task)
    else:
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


def apply_task(config: Config, task: Task) -> None:
    """Bring one task's units and timer in line with the database (root only)."""
    unit_dir = Path(config.unit_dir)
    try:
        with sync_mod.locked(unit_dir), Systemd() as systemd:
            plans = sync_mod.plan([task], unit_dir, accuracy=config.timer_accuracy, prune=False)
            failed = sync_mod.apply(plans, unit_dir, systemd).failed
        problem = failed[0]["error"] if failed else ""
    except (OperationFailed, OSError) as exc:
        problem = str(exc)
    if problem:
        raise OperationFailed(
            f"the database was updated but systemd was not: {problem} "
            "Run `smartcron sync` as root once systemd is reachable."
        )
