"""`smartcron task add|edit|rm|list|show|pause|resume`."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import Any

import click

from smartcron.cli import App, cli, pass_app
from smartcron.cli.output import echo_json, table
from smartcron.db import store
from smartcron.errors import InvalidInput
from smartcron.model.task import ALERT_EVENTS, PRIORITIES, Task, validate_task

# (option flags, task field, help). Shared by `task add` and `task edit`.
TASK_OPTIONS: list[tuple[str, str, str]] = [
    ("--command", "command", "Command line (split like a shell) to run; the program must exist."),
    ("--schedule", "schedule", "Cron expression, @keyword or systemd OnCalendar expression."),
    ("--timezone", "timezone", "IANA timezone of the schedule (default: the host's)."),
    ("--timeout", "timeout", "Kill the run after this long, e.g. 30s, 10m, 2h (default 1h)."),
    ("--retries", "retries", "Retry a failed run this many times, 0-10 (default 0)."),
    ("--retry-delay", "retry_delay", "Wait between retries, e.g. 30s (default 30s)."),
    ("--memory-max", "memory_max", "Kill the run above this memory, e.g. 512M, 1G."),
    ("--cpu-quota", "cpu_quota", "CPU limit in percent of one CPU, e.g. 50%."),
    ("--nice", "nice", "Scheduling niceness, -20 to 19."),
    ("--user", "user", "Run as this system user (default root)."),
    ("--group", "group", "Run with this group."),
    ("--workdir", "workdir", "Working directory (absolute path)."),
    ("--category", "category", "Free-form group, e.g. payroll, pos, cleanup."),
    ("--priority", "priority", f"One of {', '.join(PRIORITIES)} (default normal)."),
    ("--description", "description", "One line saying what the task is for."),
    ("--alert-on", "alert_on", f"Comma list of events to alert on: {', '.join(ALERT_EVENTS)}."),
    ("--alert-after", "alert_after", "Alert only after this many consecutive failures."),
    ("--warn-after", "warn_after", "Raise a long-run alert when a run lasts longer than this."),
]


def task_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Attach the task field options shared by add and edit."""
    for flags, field, help_text in reversed(TASK_OPTIONS):
        func = click.option(flags, field, default=None, help=help_text)(func)
    func = click.option(
        "--env",
        "env",
        multiple=True,
        metavar="KEY=VALUE",
        help="Environment variable for the run; repeat for more.",
    )(func)
    func = click.option(
        "--channel",
        "channels",
        multiple=True,
        metavar="NAME",
        help="Alert channel name from the config; repeat for more.",
    )(func)
    func = click.option(
        "--catch-up/--no-catch-up",
        "catch_up",
        default=None,
        help="Run once after downtime if a run was missed (default on).",
    )(func)
    func = click.option(
        "--paused/--active",
        "paused",
        default=None,
        help="Create or set the task paused (its timer does not fire).",
    )(func)
    return func


def _given(options: dict[str, Any]) -> dict[str, Any]:
    """Return only the options the user actually gave (None and empty tuples are 'not given')."""
    data = {k: v for k, v in options.items() if v is not None and v != ()}
    for key in ("channels",):
        if key in data:
            data[key] = list(data[key])
    return data


def _describe(task: Task) -> str:
    state = "paused" if task.paused else "active"
    return (
        f"'{task.name}' ({state}): runs {task.schedule!r} in {task.timezone}, "
        f"timeout {task.to_dict()['timeout']}, retries {task.retries}"
    )


@cli.group()
def task() -> None:
    """Add, change, remove and inspect tasks.

    \b
    Example:
      smartcron task add bank-import --command '/opt/bank/import' --schedule '30 6 * * 1-5'
      smartcron task list
    """


@task.command("add")
@click.argument("name")
@task_options
@pass_app
def task_add(app: App, /, name: str, **options: Any) -> None:
    """Add a task NAME. --command and --schedule are required.

    \b
    Example:
      smartcron task add pos-sync --command '/opt/pos/bin/sync --all' \\
          --schedule '*/5 * * * *' --timeout 4m --retries 2 --category pos
    """
    data = _given(options)
    if "env" in data:
        data["env"] = list(data["env"])
    new = validate_task({"name": name, **data})
    with store.db_errors(app.engine), app.engine.begin() as conn:
        store.insert_task(conn, new, store.actor())
    click.echo(f"Added task {_describe(new)}.")
    click.echo("Next: `smartcron sync` installs its timer.")


@task.command("edit")
@click.argument("name")
@task_options
@click.option("--unset-env", multiple=True, metavar="KEY", help="Remove an environment variable.")
@pass_app
def task_edit(app: App, /, name: str, unset_env: tuple[str, ...], **options: Any) -> None:
    """Change fields of task NAME; options not given keep their value.

    \b
    Example:
      smartcron task edit pos-sync --timeout 8m --env API_REGION=eu
    """
    data = _given(options)
    with store.db_errors(app.engine), app.engine.begin() as conn:
        old = store.get_task(conn, name)
        env = dict(old.env)
        for item in data.pop("env", ()):
            if "=" not in item:
                raise InvalidInput("env", item, "write each variable as KEY=VALUE")
            key, _, value = item.partition("=")
            env[key] = value
        for key in unset_env:
            env.pop(key, None)
        data["env"] = env
        new = validate_task(data, base=old)
        if new == old:
            click.echo(f"Task '{name}' already has these settings; nothing changed.")
            return
        store.update_task(conn, new, store.actor())
    click.echo(f"Updated task {_describe(new)}.")
    click.echo("Next: `smartcron sync` applies the change to its timer and service.")


@task.command("rm")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def task_rm(app: App, name: str, yes: bool) -> None:
    """Delete task NAME. Its run history is kept.

    \b
    Example:
      smartcron task rm old-report --yes
    """
    with store.db_errors(app.engine), app.engine.begin() as conn:
        store.get_task(conn, name)
        if not yes:
            click.confirm(f"Delete task '{name}'? Its run history is kept.", abort=True)
        store.delete_task(conn, name, store.actor())
    click.echo(f"Deleted task '{name}'. Next: `smartcron sync` removes its timer and service.")


@task.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of task objects.")
@click.option("--category", default=None, help="Only tasks in this category.")
@pass_app
def task_list(app: App, as_json: bool, category: str | None) -> None:
    """List tasks.

    \b
    Example:
      smartcron task list --category payroll
      smartcron task list --json | jq '.[].name'
    """
    with store.db_errors(app.engine), app.engine.connect() as conn:
        found = [t for t in store.list_tasks(conn) if category in (None, t.category)]
    if as_json:
        echo_json([t.to_dict() for t in found])
        return
    if not found:
        click.echo(
            "No tasks yet. Add one with `smartcron task add NAME --command CMD --schedule EXPR`."
        )
        return
    rows = [
        (t.name, t.schedule, t.timezone, t.category, t.priority, "paused" if t.paused else "active")
        for t in found
    ]
    click.echo(table(["NAME", "SCHEDULE", "TIMEZONE", "CATEGORY", "PRIORITY", "STATE"], rows))


@task.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the task as a JSON object.")
@pass_app
def task_show(app: App, name: str, as_json: bool) -> None:
    """Show every field of task NAME.

    \b
    Example:
      smartcron task show pos-sync --json
    """
    with store.db_errors(app.engine), app.engine.connect() as conn:
        found = store.get_task(conn, name)
    data = found.to_dict()
    if as_json:
        echo_json(data)
        return
    width = max(len(k) for k in data)
    for key, value in data.items():
        click.echo(f"{key.ljust(width)}  {_plain(key, value)}")


def _plain(key: str, value: Any) -> str:
    """Render one field for people: the command as a shell line, empty values as '-'."""
    if key == "command":
        return shlex.join(value)
    if isinstance(value, dict):
        return " ".join(f"{k}={v}" for k, v in value.items()) or "-"
    if isinstance(value, list):
        return ", ".join(value) or "-"
    if value is None or value == "":
        return "-"
    return str(value).lower() if isinstance(value, bool) else str(value)


def _set_paused(app: App, name: str, paused: bool) -> Task:
    with store.db_errors(app.engine), app.engine.begin() as conn:
        old = store.get_task(conn, name)
        if old.paused == paused:
            return old
        return store.update_task(
            conn, validate_task({"paused": paused}, base=old, check_host=False), store.actor()
        )


@task.command("pause")
@click.argument("name")
@pass_app
def task_pause(app: App, name: str) -> None:
    """Pause task NAME: its timer stops firing until resumed.

    \b
    Example:
      smartcron task pause payroll-export
    """
    from smartcron.cli.runs import apply_task

    apply_task(app, _set_paused(app, name, True))
    click.echo(
        f"Task '{name}' is paused: its timer is stopped and will not fire. "
        f"Resume it with `smartcron task resume {name}`."
    )


@task.command("resume")
@click.argument("name")
@pass_app
def task_resume(app: App, name: str) -> None:
    """Resume paused task NAME.

    \b
    Example:
      smartcron task resume payroll-export
    """
    from smartcron.cli.runs import apply_task

    apply_task(app, _set_paused(app, name, False))
    click.echo(f"Task '{name}' is active again: its timer is started.")
