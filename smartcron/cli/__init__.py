"""The `smartcron` command line.

Exit statuses: 0 ok, 1 the operation failed, 2 invalid input. Errors are one line on stderr that
says what went wrong and what to do next.
"""

from __future__ import annotations

import sys
from functools import cached_property

import click
from sqlalchemy.engine import Engine

from smartcron import __version__, config, store
from smartcron.errors import SmartcronError


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


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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
    """Run the CLI, mapping our errors to one line on stderr and the documented exit status."""
    try:
        cli.main(standalone_mode=False)
    except SmartcronError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted: nothing was changed.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2 if isinstance(exc, click.UsageError) else exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    sys.exit(0)


# Subcommands register themselves on `cli`.
from smartcron.cli import db as _db  # noqa: E402
from smartcron.cli import tasks as _tasks  # noqa: E402
from smartcron.cli import transfer as _transfer  # noqa: E402

__all__ = ["App", "_db", "_tasks", "_transfer", "cli", "main", "pass_app"]
