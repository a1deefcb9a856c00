"""`smartcron backup`: a consistent copy of the database and the tasks as YAML."""

from __future__ import annotations

from pathlib import Path

import click

from smartcron.cli.base import App, cli, pass_app
from smartcron.cli.output import now
from smartcron.errors import OperationFailed
from smartcron.ops import backup as backup_mod
from smartcron.ops.backup import describe_counts
from smartcron.systemd.own_units import own_user


@cli.command("backup")
@click.option(
    "--to", "directory", type=click.Path(file_okay=False, path_type=Path),
    help="Directory for the backup (default: the backup_dir setting).",
)  # fmt: skip
@click.option(
    "--scheduled",
    is_flag=True,
    help="A backup of the daily maintenance job: named apart and rotated (hand-made ones are "
    "kept until you delete them).",
)
@pass_app
def backup_cmd(app: App, directory: Path | None, scheduled: bool) -> None:
    """Write a consistent backup of the database and the tasks as YAML, then rotate old ones.

    Rotation keeps every scheduled backup younger than a day, the newest of each of the last
    backup_keep_daily days and backup_keep_weekly weeks. A backup taken by hand (without
    --scheduled) is named smartcron-TIME-manual.* and never rotated away.

    \b
    Example:
      smartcron backup
      smartcron backup --to /mnt/nas/smartcron
    """
    where = directory or Path(app.config.backup_dir)
    try:
        result = backup_mod.backup(
            app.engine,
            where,
            now(),
            scheduled=scheduled,
            owner=own_user(app.config.service_user),
        )
    except OSError as exc:
        raise OperationFailed(
            f"could not write the backup in {where}: {exc}. Check that the directory is "
            "writable by this user and has free space."
        ) from exc
    removed = backup_mod.rotate(
        where, app.config.backup_keep_daily, app.config.backup_keep_weekly, now()
    )
    kept = (
        "" if scheduled else " It is kept until you delete it (hand-made backups are not rotated)."
    )
    click.echo(
        f"Backed up {describe_counts(result.counts)} to {result.path} (tasks as YAML: "
        f"{result.tasks_file.name}); {len(removed)} old scheduled file(s) rotated away.{kept} "
        f"Restore with `smartcron restore {result.path}`."
    )
