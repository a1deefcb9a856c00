"""`smartcron restore`: replace the whole database with a backup."""

from __future__ import annotations

from pathlib import Path

import click

from smartcron.cli.base import App, cli, pass_app
from smartcron.db.audit import actor, audit
from smartcron.db.engine import redact
from smartcron.errors import OperationFailed
from smartcron.ops import backup as backup_mod
from smartcron.ops.backup import describe_counts


@cli.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def restore_cmd(app: App, file: Path, yes: bool) -> None:
    """Replace the whole database with backup FILE (into an empty or an existing database).

    Everything is replaced in one transaction: afterwards the database holds exactly the
    backup, or nothing changed. Stop the watchdog first, and run `smartcron sync` after.

    \b
    Example:
      systemctl stop smartcron-watchdog smartcron-dashboard
      smartcron restore /var/lib/smartcron/backups/smartcron-20261127T033000Z.sqlite3
      smartcron sync && systemctl start smartcron-watchdog smartcron-dashboard
    """
    if not file.is_file():
        raise OperationFailed(f"no backup file {file}; `ls {app.config.backup_dir}` lists them")
    incoming = backup_mod.describe(file)
    where = redact(app.config.database_url)
    if not yes:
        what = describe_counts(incoming)
        click.confirm(
            f"Replace everything in {where} with the backup {file.name} ({what})?", abort=True
        )
    counts = backup_mod.restore(app.engine, file)
    with app.engine.begin() as conn:
        audit(conn, actor(), "restore", file.name, counts)
    click.echo(
        f"Restored {describe_counts(counts)} into {where}. Next: `smartcron sync` (as root) so the "
        "units match the restored tasks, then start the watchdog again."
    )
