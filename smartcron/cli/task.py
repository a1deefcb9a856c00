"""`smartcron task add|edit|rm|list|show|sign|pause|resume|run`.

add, edit and sign store definitions signed with root's key (model/signing.py): they are for
root. Environment values and standard input are shown only with --show-env (people keep secrets
there).
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from typing import Any

import click

from smartcron.cli.base import App, cli, complete_task_name, pass_app, signer_for
from smartcron.cli.output import echo_dst_notes, echo_json, printable, table
from smartcron.db.audit import actor
from smartcron.db.engine import db_errors
from smartcron.db.hosts import known_hosts
from smartcron.db.runs import find_run
from smartcron.db.tasks import (
    delete_task,
    get_task,
    insert_task,
    list_tasks,
    sign_task,
    update_task,
)
from smartcron.db.windows import list_windows
from smartcron.errors import InvalidInput, OperationFailed, SmartcronError
from smartcron.model import chains
from smartcron.model.groups import describe_group, max_concurrent
from smartcron.model.placement import unknown_hosts_note
from smartcron.model.task import FIELD_SPECS, Task, hide_secrets
from smartcron.model.validate import validate_task
from smartcron.model.windows import active_words
from smartcron.ops.control import run_now, set_paused, wait_for_run


def task_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Attach the task field options shared by add and edit (from the task's field specs)."""
    for spec in reversed(FIELD_SPECS):
        if spec.flag is not None:
            func = click.option(spec.flag, spec.name, default=None, help=spec.help)(func)
    specs = {spec.name: spec for spec in FIELD_SPECS}
    func = click.option("--env", "env", multiple=True, metavar="KEY=VALUE", help=specs["env"].help)(
        func
    )
    func = click.option(
        "--channel", "channels", multiple=True, metavar="NAME", help=specs["channels"].help
    )(func)
    func = click.option(
        "--catch-up/--no-catch-up", "catch_up", default=None, help=specs["catch_up"].help
    )(func)
    func = click.option("--paused/--active", "paused", default=None, help=specs["paused"].help)(
        func
    )
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
    when = (
        f"runs {task.schedule!r} in {task.timezone}"
        if task.schedule
        else f"runs after {', '.join(task.after)} succeeds"
    )
    if task.schedule and task.after:
        when += f" and after {', '.join(task.after)} succeeds"
    return (
        f"'{task.name}' ({state}): {when} as {task.user}, "
        f"timeout {task.to_dict()['timeout']}, retries {task.retries}, on "
        f"{', '.join(task.hosts)} ({task.placement})"
    )


SHOW_ENV = click.option(
    "--show-env",
    is_flag=True,
    help="Show environment values and standard input too (hidden by default: people keep "
    "secrets there).",
)


def _shown(task: Task, show_env: bool) -> dict[str, Any]:
    data = task.to_dict()
    return data if show_env else hide_secrets(data)


def next_step(new: Task) -> str:
    """Return the hint printed after `task add`: what `smartcron sync` installs for it."""
    if new.schedule:
        return "Next: `smartcron sync` installs its timer."
    return (
        "Next: `smartcron sync` installs its service; it has no timer of its own and runs "
        f"after {' and '.join(new.after)} succeeded."
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
    new = validate_task(
        {"name": name, **data},
        default_user=app.config.default_user,
        known_channels=app.config.channels,
        host_name=app.config.host_name,
    )
    signer = signer_for(app)
    with db_errors(app.engine), app.engine.begin() as conn:
        insert_task(conn, new, actor(), signer=signer)
        note = unknown_hosts_note(new, known_hosts(conn))
    click.echo(f"Added task {_describe(new)}.")
    if note:
        click.echo(note, err=True)
    echo_dst_notes(new.schedule, new.timezone)
    click.echo(next_step(new))


@task.command("edit")
@click.argument("name", shell_complete=complete_task_name)
@task_options
@click.option(
    "--unset-env",
    multiple=True,
    metavar="KEY",
    help="Remove an environment variable (it must be set).",
)
@pass_app
def task_edit(app: App, /, name: str, unset_env: tuple[str, ...], **options: Any) -> None:
    """Change fields of task NAME; options not given keep their value.

    \b
    Example:
      smartcron task edit pos-sync --timeout 8m --env API_REGION=eu
    """
    data = _given(options)
    signer = signer_for(app)
    with db_errors(app.engine), app.engine.begin() as conn:
        old = get_task(conn, name)
        if not signer.verify(old):
            # Editing signs every field, the ones not given too: never sign what someone
            # changed behind smartcron's back without root having looked at it.
            raise OperationFailed(
                f"task '{name}' is not the definition root signed (it was changed outside "
                "smartcron, or never signed), so editing it would sign fields you have not "
                f"checked. Look at it with `smartcron task show {name} --show-env`; if it is "
                f"right, `sudo smartcron task sign {name}` and edit it then; if not, "
                f"`sudo smartcron task rm {name}` and add it again, or `smartcron import` "
                "your task file, which sets every field"
            )
        env = dict(old.env)
        for item in data.pop("env", ()):
            if "=" not in item:
                raise InvalidInput("env", item, "write each variable as KEY=VALUE")
            key, _, value = item.partition("=")
            env[key] = value
        for key in unset_env:
            if key not in env:  # a typo would leave the variable (maybe a secret) in place
                has = ", ".join(sorted(env)) or "none"
                raise InvalidInput(
                    "--unset-env", key, f"task '{name}' has no such variable (it has: {has})"
                )
            del env[key]
        data["env"] = env
        # Channels are checked when they are set; a task's existing ones are left to doctor.
        known = app.config.channels if "channels" in data else None
        new = validate_task(
            data, base=old, default_user=app.config.default_user, known_channels=known
        )
        if new == old:
            click.echo(f"Task '{name}' already has these settings; nothing changed.")
            return
        update_task(conn, new, actor(), signer=signer)
        note = unknown_hosts_note(new, known_hosts(conn)) if "hosts" in data else ""
    click.echo(f"Updated task {_describe(new)}.")
    if note:
        click.echo(note, err=True)
    echo_dst_notes(new.schedule, new.timezone)
    click.echo("Next: `smartcron sync` applies the change to its timer and service.")


@task.command("rm")
@click.argument("name", shell_complete=complete_task_name)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def task_rm(app: App, name: str, yes: bool) -> None:
    """Delete task NAME. Its run history is kept.

    \b
    Example:
      smartcron task rm old-report --yes
    """
    with db_errors(app.engine), app.engine.begin() as conn:
        gone = get_task(conn, name)
        if not yes:
            click.confirm(f"Delete task '{name}'? Its run history is kept.", abort=True)
        delete_task(conn, name, actor())
    _note_removed(app, gone)
    click.echo(f"Deleted task '{name}'. Next: `smartcron sync` removes its timer and service.")


def _note_removed(app: App, gone: Task) -> None:
    """As root, note the removal in root's ledger at once (model/revisions.py): the row cannot
    be put back and installed by the next sync, even before that sync runs."""
    from smartcron.model.revisions import load_ledger
    from smartcron.model.signing import load_signer

    try:
        load_signer(app.config.signing_key_file)  # only the key's owner keeps the ledger
        ledger = load_ledger(app.config.signing_key_file)
        ledger.note_removed(gone.name, gone.revision)
        ledger.save()
    except (SmartcronError, OSError):
        return  # not root: sync notes the removal when it removes the units


@task.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of task objects.")
@click.option("--category", default=None, help="Only tasks in this category.")
@SHOW_ENV
@pass_app
def task_list(app: App, as_json: bool, category: str | None, show_env: bool) -> None:
    """List tasks.

    \b
    Example:
      smartcron task list --category payroll
      smartcron task list --json | jq '.[].name'
    """
    with db_errors(app.engine), app.engine.connect() as conn:
        found = [t for t in list_tasks(conn) if category in (None, t.category)]
    if as_json:
        echo_json([_shown(t, show_env) for t in found])
        return
    if not found:
        click.echo(
            "No tasks yet. Add one with `smartcron task add NAME --command CMD --schedule EXPR`."
        )
        return
    rows = [
        (
            t.name,
            t.schedule,
            t.timezone,
            t.user,
            t.category,
            t.priority,
            "paused" if t.paused else "active",
        )
        for t in found
    ]
    click.echo(
        table(["NAME", "SCHEDULE", "TIMEZONE", "USER", "CATEGORY", "PRIORITY", "STATE"], rows)
    )


@task.command("show")
@click.argument("name", shell_complete=complete_task_name)
@click.option("--json", "as_json", is_flag=True, help="Print the task as a JSON object.")
@SHOW_ENV
@pass_app
def task_show(app: App, name: str, as_json: bool, show_env: bool) -> None:
    """Show every field of task NAME.

    \b
    Example:
      smartcron task show pos-sync --json
    """
    with db_errors(app.engine), app.engine.connect() as conn:
        found = get_task(conn, name)
        chain = chains.describe(name, list_tasks(conn))
        latest = find_run(conn, name) if found.concurrency_group else None
        windows = active_words(list_windows(conn), found)
    data = _shown(found, show_env)
    if as_json:
        echo_json(data)  # the task's own form (it imports back); `after` is in it
        return
    width = max(len(k) for k in data)
    for key, value in data.items():
        click.echo(f"{key.ljust(width)}  {printable(_plain(key, value))}")
    for line in chain:
        click.echo(f"{'chain'.ljust(width)}  {line}")
    if found.concurrency_group:
        limit = max_concurrent(app.config.concurrency_groups, found.concurrency_group)
        waited = latest.wait_seconds if latest is not None else None
        line = describe_group(found.concurrency_group, limit, waited)
        click.echo(f"{'concurrency'.ljust(width)}  {line}")
    if windows:
        click.echo(f"{'window'.ljust(width)}  {windows}")


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


@task.command("sign")
@click.argument("names", nargs=-1, metavar="[NAME]...", shell_complete=complete_task_name)
@click.option("--unsigned", is_flag=True, help="Every task that has no signature at all.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def task_sign(app: App, names: tuple[str, ...], unsigned: bool, yes: bool) -> None:
    """Approve the definitions of tasks NAME... as they are in the database (as root).

    `smartcron sync` installs only signed definitions. Sign a task that sync refused once
    you have checked it (`smartcron task show NAME --show-env`); install.sh signs the tasks of
    an older smartcron with --unsigned when it creates the key.

    
    Example:
      sudo smartcron task sign pos-sync
      sudo smartcron task sign --unsigned --yes
    """
    if not names and not unsigned:
        raise InvalidInput("NAME", "", "name the tasks to sign, or give --unsigned")
    signer = signer_for(app)
    with db_errors(app.engine), app.engine.begin() as conn:
        chosen = [get_task(conn, n) for n in names]
        if unsigned:
            named = set(names)
            chosen += [t for t in list_tasks(conn) if not t.signature and t.name not in named]
        for found in chosen:
            shown = f"  sign     {found.name}: as {found.user}: {shlex.join(found.command)}"
            shown += f"  (env: {', '.join(k for k, _ in found.env)})" if found.env else ""
            click.echo(printable(shown))  # a row edited in the database may hold escapes
        if chosen and not yes:
            click.confirm(f"Sign {len(chosen)} definition(s) as shown?", abort=True)
        for found in chosen:
            sign_task(conn, found.name, actor(), signer=signer)
    click.echo(f"Signed {len(chosen)} task definition(s). Next: `smartcron sync` installs them.")


@task.command("pause")
@click.argument("name", shell_complete=complete_task_name)
@pass_app
def task_pause(app: App, name: str) -> None:
    """Pause task NAME: its timer stops firing until resumed.

    \b
    Example:
      smartcron task pause payroll-export
    """
    set_paused(app.config, app.engine, name, True, actor())
    click.echo(
        f"Task '{name}' is paused: its timer is stopped and will not fire. "
        f"Resume it with `smartcron task resume {name}`."
    )


@task.command("resume")
@click.argument("name", shell_complete=complete_task_name)
@pass_app
def task_resume(app: App, name: str) -> None:
    """Resume paused task NAME.

    \b
    Example:
      smartcron task resume payroll-export
    """
    set_paused(app.config, app.engine, name, False, actor())
    click.echo(f"Task '{name}' is active again: its timer is started.")


@task.command("run")
@click.argument("name", shell_complete=complete_task_name)
@click.option("--wait", is_flag=True, help="Wait for the run (and its retries) to finish.")
@pass_app
def task_run(app: App, name: str, wait: bool) -> None:
    """Start task NAME now, outside its schedule. Never starts a second copy.

    \b
    Example:
      smartcron task run bank-import --wait
    """
    with db_errors(app.engine), app.engine.connect() as conn:
        found = get_task(conn, name)
    requested_usec = int(time.time() * 1_000_000) - 1000  # before StartUnit, same clock
    started, message = run_now(app.engine, name, actor())
    if not started or not wait:
        click.echo(f"{message} Follow it with `smartcron logs {name} --follow`.")
        return
    run = wait_for_run(app.engine, found, requested_usec)
    where = (
        f"smartcron logs {name} --run {run.run_id}"
        if run.run_id is not None
        else f"journalctl _SYSTEMD_INVOCATION_ID={run.invocation_id}"
        " (the watchdog has not recorded it: is smartcron-watchdog running?)"
    )
    if run.verdict.outcome == "success":
        click.echo(f"Task '{name}': {run.verdict.meaning} Output: `{where}`.")
        return
    raise OperationFailed(f"task '{name}': {run.verdict.meaning} Its output: `{where}`.")
