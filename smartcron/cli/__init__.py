"""The `smartcron` command line.

Exit statuses: 0 ok, 1 the operation failed, 2 invalid input. Errors are one line on stderr that
says what went wrong and what to do next.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import click
from sqlalchemy.engine import Engine

from smartcron import __version__
from smartcron.db import store
from smartcron.errors import SmartcronError
from smartcron.model import config


class App:
    """Lazily loaded configuration and database engine, shared by the commands."""

    def __init__(self, config_path: str | None) -> None:
        self.config_path = config_path

    @cached_property
    def config(self) -> config.Config:
        return config.load(self.config_path)

    @cached_property
    def engine(self) -> Engine:
        return store.make_engine(self.config.database_url)


pass_app = click.make_pass_decorator(App)


class SmartcronGroup(click.Group):
    """A click group that turns SmartcronError into one stderr line and its exit status."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SmartcronError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)


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


def main() -> None:
    """Entry point of the `smartcron` console script."""
    cli(prog_name="smartcron")


# Subcommands register themselves on `cli`.
from smartcron.cli import crontab as _crontab  # noqa: E402
from smartcron.cli import dashboard as _dashboard  # noqa: E402
from smartcron.cli import db as _db  # noqa: E402
from smartcron.cli import history as _history  # noqa: E402
from smartcron.cli import maintenance as _maintenance  # noqa: E402
from smartcron.cli import runs as _runs  # noqa: E402
from smartcron.cli import schedules as _schedules  # noqa: E402
from smartcron.cli import setup as _setup  # noqa: E402
from smartcron.cli import sync as _sync  # noqa: E402
from smartcron.cli import tasks as _tasks  # noqa: E402
from smartcron.cli import transfer as _transfer  # noqa: E402
from smartcron.cli import users as _users  # noqa: E402

__all__ = [
    "App",
    "_crontab",
    "_dashboard",
    "_db",
    "_history",
    "_maintenance",
    "_runs",
    "_schedules",
    "_setup",
    "_sync",
    "_tasks",
    "_transfer",
    "_users",
    "cli",
    "main",
    "pass_app",
]
