"""`smartcron backup`: a consistent copy of the database and the tasks as YAML."""

from __future__ import annotations

from pathlib import Path

import click

from smartcron.cli.base import App, cli, pass_app
from smartcron.cli.output import now
from smartcron.errors import OperationFailed
from smartcron.ops import backup as backup_mod
from smartcron.ops.backup import describe_counts


@cli.command("backup")
@click.option(
    "--to", "directory", type=click.Path(file_okay=False, path_type=Path),
    help="Directory for the backup (default: the backup_dir setting).",
)  # fmt: skip
@pass_app
def backup_cmd(app: App, directory: Path | None) -> None:
    """Write a consistent backup of the database and the tasks as YAML, then rotate old ones.

    Keeps the newest backup of each of the last backup_keep_daily days and
    backup_keep_weekly weeks.

    \b
    Example:
      smartcron backup
      smartcron backup --to /mnt/nas/smartcron
    """
    where = directory or Path(app.config.backup_dir)
    try:
        result = backup_mod.backup(app.engine, where, now())
    except OSError as exc:
        raise OperationFailed(
            f"could not write the backup in {where}: {exc}. Check that the directory is "
            "writable by this user and has free space."
        ) from exc
    removed = backup_mod.rotate(where, app.config.backup_keep_daily, app.config.backup_keep_weekly)
    click.echo(
        f"Backed up {describe_counts(result.counts)} to {result.path} (tasks as YAML: "
        f"{result.tasks_file.name}); {len(removed)} old file(s) rotated away. "
        f"Restore with `smartcron restore {result.path}`."
    )
