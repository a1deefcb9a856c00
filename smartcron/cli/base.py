"""The `smartcron` command group and what every command shares: the lazily loaded
configuration and database engine, and the mapping of errors to exit statuses.

Exit statuses: 0 ok, 1 the operation failed, 2 invalid input. Errors are one line on stderr that
says what went wrong and what to do next.
"""

from __future__ import annotations

import sys
from functools import cached_property
from typing import TYPE_CHECKING, Any

import click

from smartcron import __version__
from smartcron.cli.lazy import LazyGroup
from smartcron.errors import SmartcronError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from smartcron.model import config
    from smartcron.model.signing import Signer


class App:
    """Lazily loaded configuration and database engine, shared by the commands."""

    def __init__(self, config_path: str | None) -> None:
        self.config_path = config_path

    @cached_property
    def config(self) -> config.Config:
        from smartcron.model import config

        return config.load(self.config_path)

    @cached_property
    def unchecked_engine(self) -> Engine:
        """The database engine, as it is (doctor examines a damaged database itself)."""
        from smartcron.db.engine import make_engine

        return make_engine(self.config.database_url)

    @cached_property
    def engine(self) -> Engine:
        """The database engine; a damaged SQLite file is refused here, before any command
        reads a part of it that happens to be intact."""
        from smartcron.db.engine import check_integrity

        check_integrity(self.unchecked_engine)
        return self.unchecked_engine


pass_app = click.make_pass_decorator(App)


def complete_task_name(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """Shell completion of a task name: the tasks in the database that start with what was
    typed. Nothing (the shell falls back to nothing) when the configuration or the database
    cannot be read, e.g. by a user who may not read /etc/smartcron."""
    from smartcron.db.tasks import task_names

    try:
        app = App(ctx.find_root().params.get("config_path"))
        with app.unchecked_engine.connect() as conn:
            return [n for n in task_names(conn) if n.startswith(incomplete)]
    except Exception:  # noqa: BLE001 - a traceback in the middle of the user's command line
        return []


def signer_for(app: App) -> Signer:
    """Return root's key that signs task definitions (created on first use): every command
    that stores a definition signs it, and `smartcron sync` installs nothing else."""
    from smartcron.model.signing import load_signer

    return load_signer(app.config.signing_key_file, create=True)


class SmartcronGroup(LazyGroup):
    """The top-level group: commands load on first use (cli/lazy.py), and SmartcronError
    becomes one stderr line and its exit status."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SmartcronError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except Exception as exc:
            # An SQLAlchemy error can only come from a command that imported SQLAlchemy;
            # commands that never touch the database do not pay for importing it here.
            sa = sys.modules.get("sqlalchemy")
            if sa is None or not isinstance(exc, sa.exc.SQLAlchemyError):
                raise
            # A database error no command expected (a damaged file, a server gone): one line
            # with what to do, never a traceback.
            from smartcron.db.engine import database_problem

            app = ctx.obj if isinstance(ctx.obj, App) else App(None)
            try:
                url = app.config.database_url
            except SmartcronError:
                url = "(the configured database)"
            click.echo(f"error: {database_problem(exc, url)}", err=True)
            ctx.exit(1)


@click.group(
    cls=SmartcronGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--config",
    "config_path",
    metavar="FILE",
    envvar="SMARTCRON_CONFIG",
    help="Configuration file (default /etc/smartcron/smartcron.toml; env SMARTCRON_CONFIG).",
)
@click.version_option(__version__, prog_name="smartcron")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """smartcron: scheduled jobs you can trust, run by systemd timers.

    \b
    Example:
      smartcron init
      smartcron task add pos-sync --command '/opt/pos/sync --all' --schedule '*/5 * * * *'
      smartcron task list
    """
    ctx.obj = App(config_path)
