"""`smartcron task run` and `smartcron status`: tasks as systemd sees them."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any
from zoneinfo import ZoneInfo

import click

from smartcron.cli import App, cli, pass_app
from smartcron.cli.output import table
from smartcron.cli.tasks import task as task_group
from smartcron.db import store
from smartcron.errors import OperationFailed
from smartcron.model import schedule
from smartcron.model.task import Task
from smartcron.ops import control
from smartcron.systemd import units
from smartcron.systemd.bus import RUNNING_STATES, Systemd
from smartcron.watchdog.events import invocation_hex

NEVER = 2**64 - 1


def _when(usec: int | None) -> dt.datetime | None:
    if not usec or usec == NEVER:
        return None
    return dt.datetime.fromtimestamp(usec / 1_000_000, tz=dt.UTC)


def _local(moment: dt.datetime | None, zone: str) -> str:
    if moment is None:
        return "-"
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


def apply_task(app: App, task: Task) -> None:
    """Bring one task's units and timer in line with the database (used by pause/resume)."""
    control.apply_task(app.config, task)


@task_group.command("run")
@click.argument("name")
@click.option("--wait", is_flag=True, help="Wait for the run (and its retries) to finish.")
@pass_app
def task_run(app: App, name: str, wait: bool) -> None:
    """Start task NAME now, outside its schedule. Never starts a second copy.

    \b
    Example:
      smartcron task run bank-import --wait
    """
    with store.db_errors(app.engine), app.engine.connect() as conn:
        task = store.get_task(conn, name)
    service = units.service_name(name)
    requested_usec = int(time.time() * 1_000_000) - 1000  # before StartUnit, same clock
    started, message = control.run_now(app.engine, name, store.actor())
    if not started or not wait:
        click.echo(f"{message} Follow it with `journalctl -fu {service}`.")
        return
    with Systemd() as systemd:
        final = _wait_for(systemd, service, requested_usec, task.retries)
    status = final.get("ExecMainStatus")
    took = ""
    start, end = (
        _when(final.get("ExecMainStartTimestamp")),
        _when(final.get("ExecMainExitTimestamp")),
    )
    if start and end:
        took = f" after {(end - start).total_seconds():.1f}s"
    log = f"journalctl _SYSTEMD_INVOCATION_ID={invocation_hex(final.get('InvocationID'))}"
    if final.get("Result") == "success":
        click.echo(f"Task '{name}' succeeded{took}. Output: `{log}`.")
        return
    raise OperationFailed(
        f"task '{name}' failed{took}: systemd result {final.get('Result')!r}, "
        f"exit status {status}. Read its output with `{log}`."
    )


def _wait_for(systemd: Systemd, service: str, requested_usec: int, retries: int) -> dict[str, Any]:
    """Poll until the run requested at `requested_usec` (and its retries) has finished.

    A new InvocationID alone is not enough: systemd shows it briefly while the unit is still
    inactive, before the process starts. The run must have started after the request, and a
    failure counts as final only once no retry follows (NRestarts has reached the retries).
    """
    names = (
        "ActiveState",
        "SubState",
        "InvocationID",
        "Result",
        "ExecMainStatus",
        "ExecMainStartTimestamp",
        "ExecMainExitTimestamp",
        "NRestarts",
    )
    while True:
        props = systemd.properties(service, *names)
        state = props.get("ActiveState")
        if state == "failed" and props.get("Result") == "start-limit-hit":
            return props
        started = int(props.get("ExecMainStartTimestamp") or 0) >= requested_usec
        if started and state == "inactive":
            return props
        if started and state == "failed" and int(props.get("NRestarts") or 0) >= retries:
            return props
        time.sleep(0.1)


@cli.command("status")
@pass_app
def status(app: App) -> None:
    """One line per task: schedule in plain words, next and last run, last outcome.

    \b
    Example:
      smartcron status
    """
    with store.db_errors(app.engine), app.engine.connect() as conn:
        tasks = store.list_tasks(conn)
    if not tasks:
        click.echo(
            "No tasks yet. Add one with `smartcron task add NAME --command CMD --schedule EXPR`."
        )
        return
    rows = []
    note = ""
    try:
        with Systemd() as systemd:
            for t in tasks:
                timer = systemd.properties(
                    units.timer_name(t.name),
                    "LoadState",
                    "NextElapseUSecRealtime",
                    "LastTriggerUSec",
                )
                service = systemd.properties(
                    units.service_name(t.name), "Result", "ActiveState", "ExecMainStatus"
                )
                if timer.get("LoadState") != "loaded":
                    outcome = "not synced"
                elif service.get("ActiveState") in RUNNING_STATES:
                    outcome = "running"
                elif not timer.get("LastTriggerUSec"):
                    outcome = "-"
                else:
                    outcome = str(service.get("Result") or "-")
                    if outcome == "exit-code":
                        outcome = f"failed (exit {service.get('ExecMainStatus')})"
                rows.append(
                    (
                        t.name,
                        schedule.describe(t.schedule),
                        t.timezone,
                        _local(_when(timer.get("NextElapseUSecRealtime")), t.timezone),
                        _local(_when(timer.get("LastTriggerUSec")), t.timezone),
                        outcome,
                        "paused" if t.paused else "active",
                    )
                )
    except OperationFailed as exc:
        note = f"systemd could not be asked ({exc}); next runs are computed from the schedules."
        now = dt.datetime.now(dt.UTC)
        for t in tasks:
            nxt = schedule.next_times(t.schedule, t.timezone, now, 1)
            rows.append(
                (
                    t.name,
                    schedule.describe(t.schedule),
                    t.timezone,
                    _local(nxt[0] if nxt else None, t.timezone),
                    "?",
                    "?",
                    "paused" if t.paused else "active",
                )
            )
    click.echo(table(["TASK", "SCHEDULE", "TIMEZONE", "NEXT", "LAST", "OUTCOME", "STATE"], rows))
    if note:
        click.echo(note, err=True)
