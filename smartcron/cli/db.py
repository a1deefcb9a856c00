"""`smartcron db upgrade|schema`: schema maintenance."""

from __future__ import annotations

import click

from smartcron.cli.base import App, cli, pass_app
from smartcron.cli.init import upgrade_message
from smartcron.db.engine import ensure_sqlite_dir
from smartcron.db.migrate import mysql_ddl


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
    ensure_sqlite_dir(app.config.database_url)
    click.echo(upgrade_message(app))


@db.command("schema")
def db_schema() -> None:
    """Print the MySQL/MariaDB DDL of the current schema, for DBAs.

    \b
    Example:
      smartcron db schema > schema.mysql.sql
    """
    click.echo(mysql_ddl(), nl=False)
