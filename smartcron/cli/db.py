"""`smartcron init` and `smartcron db ...`."""

from __future__ import annotations

import click

from smartcron.cli import App, cli, pass_app
from smartcron.db import store


def _upgrade(app: App) -> str:
    before, after = store.upgrade(app.engine)
    where = store.redact(app.config.database_url)
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
    directory = store.ensure_sqlite_dir(app.config.database_url)
    if directory is not None:
        click.echo(f"Using SQLite database directory {directory}.")
    click.echo(_upgrade(app))
    click.echo(
        "Next: add a task, e.g. smartcron task add hello --command 'echo hello' "
        "--schedule '@hourly'"
    )


@cli.group()
def db() -> None:
    """Database schema maintenance.

    \b
    Example:
      smartcron db upgrade
    """


@db.command("upgrade")
@pass_app
def db_upgrade(app: App) -> None:
    """Apply any pending schema migrations (run after upgrading smartcron).

    \b
    Example:
      smartcron db upgrade
    """
    store.ensure_sqlite_dir(app.config.database_url)
    click.echo(_upgrade(app))


@db.command("schema")
def db_schema() -> None:
    """Print the MySQL/MariaDB DDL of the current schema, for DBAs.

    \b
    Example:
      smartcron db schema > schema.mysql.sql
    """
    click.echo(store.mysql_ddl(), nl=False)
