"""`smartcron import`: apply a task file (YAML), all of it or none."""

from __future__ import annotations

from pathlib import Path

import click

from smartcron.cli.base import App, cli, pass_app, signer_for
from smartcron.cli.output import echo_dst_notes
from smartcron.db.audit import actor
from smartcron.db.engine import db_errors
from smartcron.fileio import read_input
from smartcron.model import taskfile
from smartcron.ops.transfer import apply_import, plan_import


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
    text = read_input(file)
    wanted = taskfile.validate_all(
        taskfile.parse(text, str(file)),
        str(file),
        default_user=app.config.default_user,
        known_channels=app.config.channels,
        host_name=app.config.host_name,
    )
    with db_errors(app.engine), app.engine.begin() as conn:
        plan = plan_import(conn, wanted, prune=prune)
        for task in plan.added:
            click.echo(f"  add      {task.name}")
            echo_dst_notes(task.schedule, task.timezone, prefix="           ")
        for old, new in plan.changed:
            click.echo(f"  change   {new.name}: {taskfile.describe_change(old, new)}")
            echo_dst_notes(new.schedule, new.timezone, prefix="           ")
        for task in plan.removed:
            click.echo(f"  remove   {task.name}")
        if dry_run:
            click.echo(f"Dry run: {plan.summary()}. Nothing was changed.")
            return
        if plan.is_noop():
            click.echo(f"Nothing to do: {plan.summary()}.")
            return
        apply_import(conn, plan, actor(), signer_for(app))
    click.echo(
        f"Imported {file}: {plan.summary().replace(' to ', ' ')}. "
        "Next: `smartcron sync` applies it to systemd."
    )
