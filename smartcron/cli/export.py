"""`smartcron export`: every task definition as YAML (what `smartcron import` reads)."""

from __future__ import annotations

from pathlib import Path

import click

from smartcron.cli.base import App, cli, pass_app
from smartcron.db.engine import db_errors
from smartcron.db.tasks import list_tasks
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
    with db_errors(app.engine), app.engine.connect() as conn:
        found = list_tasks(conn)
    text = taskfile.dump(found)
    if file is None:
        click.echo(text, nl=False)
        return
    atomic_write(file, text, mode=0o640)
    click.echo(f"Exported {len(found)} task(s) to {file}.", err=True)
