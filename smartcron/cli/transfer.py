"""`smartcron export` and `smartcron import`: task definitions as YAML."""

from __future__ import annotations

from pathlib import Path

import click

from smartcron.cli import App, cli, pass_app
from smartcron.db import store
from smartcron.errors import InvalidInput
from smartcron.fileio import atomic_write
from smartcron.model import taskfile


@cli.command("export")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@pass_app
def export(app: App, file: Path | None) -> None:
    """Write all task definitions as YAML to FILE (or standard output).

    \b
    Example:
      smartcron export /root/tasks.yaml
    """
    with store.db_errors(app.engine), app.engine.connect() as conn:
        found = store.list_tasks(conn)
    text = taskfile.dump(found)
    if file is None:
        click.echo(text, nl=False)
        return
    atomic_write(file, text, mode=0o640)
    click.echo(f"Exported {len(found)} task(s) to {file}.", err=True)


@cli.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Show the plan; change nothing.")
@click.option("--prune", is_flag=True, help="Also delete tasks that are not in FILE.")
@pass_app
def import_(app: App, file: Path, dry_run: bool, prune: bool) -> None:
    """Apply the task definitions in FILE: all of them or, on any error, none.

    \b
    Example:
      smartcron import tasks.yaml --dry-run
      smartcron import tasks.yaml --prune
    """
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput("FILE", str(file), f"cannot be read: {exc.strerror}") from None
    wanted = taskfile.validate_all(taskfile.parse(text, str(file)), str(file))
    with store.db_errors(app.engine), app.engine.begin() as conn:
        current = store.list_tasks(conn)
        plan = taskfile.plan(current, wanted, prune=prune)
        for task in plan.added:
            click.echo(f"  add      {task.name}")
        for old, new in plan.changed:
            click.echo(f"  change   {new.name}: {taskfile.describe_change(old, new)}")
        for task in plan.removed:
            click.echo(f"  remove   {task.name}")
        if dry_run:
            click.echo(f"Dry run: {plan.summary()}. Nothing was changed.")
            return
        if plan.is_noop():
            click.echo(f"Nothing to do: {plan.summary()}.")
            return
        who = store.actor()
        for task in plan.added:
            store.insert_task(conn, task, who)
        for _old, new in plan.changed:
            store.update_task(conn, new, who)
        for task in plan.removed:
            store.delete_task(conn, task.name, who)
    click.echo(
        f"Imported {file}: {plan.summary().replace(' to ', ' ')}. "
        "Next: `smartcron sync` applies it to systemd."
    )
