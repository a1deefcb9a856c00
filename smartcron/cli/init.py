"""`smartcron init`: create the database, or bring it up to date."""

from __future__ import annotations

import click

from smartcron.cli.base import App, cli, pass_app
from smartcron.db.engine import ensure_sqlite_dir, redact
from smartcron.db.migrate import upgrade


def upgrade_message(app: App) -> str:
    """Migrate the database to the newest schema; return what happened, for people."""
    before, after = upgrade(app.engine)
    where = redact(app.config.database_url)
    if before == after:
        return f"Database {where} is already at schema revision {after}; nothing to do."
    was = "an empty database" if before is None else f"revision {before}"
    return f"Database {where} migrated from {was} to schema revision {after}."


@cli.command()
@pass_app
def init(app: App) -> None:
    """Create the database (or bring it up to date) so smartcron can store tasks.

    Safe to run again: an up-to-date database is left as it is.

    \b
    Example:
      smartcron init
      SMARTCRON_DATABASE_URL=mysql+pymysql://smartcron:secret@db/smartcron smartcron init
    """
    directory = ensure_sqlite_dir(app.config.database_url)
    if directory is not None:
        click.echo(f"Using SQLite database directory {directory}.")
    click.echo(upgrade_message(app))
    click.echo(
        "Next: add a task, e.g. smartcron task add hello --command 'echo hello' "
        "--schedule '@hourly'"
    )
