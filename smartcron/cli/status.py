"""`smartcron status`: one line per task, from what the database recorded.

LAST and OUTCOME are the task's latest recorded run (whatever started it; a gate's skip is
not a run, db/runs.last_runs), never a guess from the timer's stamp; NEXT is the next elapse
of its timer, computed in-process exactly as systemd does (smartcron.model.schedule). systemd
is asked once, for every timer's state, to say which tasks are not installed.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import click

from smartcron.cli.base import App, cli, pass_app
from smartcron.cli.output import table
from smartcron.db.engine import db_errors
from smartcron.db.runs import last_runs
from smartcron.db.tasks import list_tasks
from smartcron.db.windows import list_windows
from smartcron.errors import OperationFailed
from smartcron.model import schedule
from smartcron.model.task import Task
from smartcron.model.windows import active_windows
from smartcron.systemd import units
from smartcron.systemd.bus import Systemd


def _local(moment: dt.datetime | None, zone: str) -> str:
    if moment is None:
        return "-"
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


def synced(task: Task, loaded: set[str]) -> bool:
    """Given a task and the names of the loaded smartcron units, return whether its units are
    installed: its timer, or, for a chained task without a schedule of its own (it has no
    timer by design: its predecessor starts it), its service."""
    if task.schedule:
        return units.timer_name(task.name) in loaded
    return units.service_name(task.name) in loaded


@cli.command("status")
@pass_app
def status(app: App) -> None:
    """One line per task: schedule in plain words, next and last run, last outcome.

    \b
    Example:
      smartcron status
    """
    with db_errors(app.engine), app.engine.connect() as conn:
        tasks = list_tasks(conn)
        last = last_runs(conn, [t.name for t in tasks])
        windows = list_windows(conn)
    if not tasks:
        click.echo(
            "No tasks yet. Add one with `smartcron task add NAME --command CMD --schedule EXPR`."
        )
        return
    note = ""
    try:
        with Systemd() as systemd:
            loaded = {
                name
                for name, (load, _active, _sub) in systemd.list_units(
                    f"{units.PREFIX}*.timer"
                ).items()
                if load == "loaded"
            }
            # A chained task without a schedule has no timer by design (its predecessor
            # starts it): its service is what sync installs. Asked one by one, since
            # systemd lists only the inactive services it keeps loaded.
            for t in tasks:
                if not t.schedule:
                    service = units.service_name(t.name)
                    if systemd.properties(service, "LoadState")["LoadState"] == "loaded":
                        loaded.add(service)
    except OperationFailed as exc:
        loaded = None
        note = f"systemd could not be asked ({exc}); whether each timer is installed is unknown."
    now = dt.datetime.now(dt.UTC)
    rows = []
    nexts: dict[tuple[str, str], list[dt.datetime]] = {}  # tasks that share a schedule
    for t in tasks:
        run = last.get(t.name)
        if t.paused:
            upcoming = []
        elif (t.schedule, t.timezone) in nexts:
            upcoming = nexts[(t.schedule, t.timezone)]
        else:
            upcoming = nexts[(t.schedule, t.timezone)] = schedule.next_runs(
                t.schedule, t.timezone, now, 1
            )
        if loaded is not None and not synced(t, loaded):
            state = "not synced"
        else:
            state = "paused" if t.paused else "active"
        on = active_windows(windows, t, None, now)
        if on:  # a maintenance window covers it now (docs/windows.md)
            state += "".join(f", window {w.name} ({'+'.join(w.actions)})" for w, _ in on)
        rows.append(
            (
                t.name,
                schedule.describe(t.schedule),
                t.timezone,
                _local(upcoming[0] if upcoming else None, t.timezone)
                if t.schedule or not t.after
                else f"runs after {','.join(t.after)}",
                _local(run.started_at if run is not None else None, t.timezone)
                if run is not None
                else "never",
                run.outcome if run is not None else "-",
                state,
            )
        )
    click.echo(table(["TASK", "SCHEDULE", "TIMEZONE", "NEXT", "LAST", "OUTCOME", "STATE"], rows))
    if note:
        click.echo(note, err=True)
    if loaded is not None and any(r[-1] == "not synced" for r in rows):
        click.echo(
            "Tasks marked 'not synced' have no systemd units yet: run `smartcron sync`.",
            err=True,
        )
