"""`smartcron alert-fallback` (hidden): what smartcron-alert@.service runs."""

from __future__ import annotations

import click

from smartcron.cli.base import App, cli, pass_app


@cli.command("alert-fallback", hidden=True)
@click.argument("unit")
@pass_app
def alert_fallback(app: App, unit: str) -> None:
    """Run by smartcron-alert@.service (OnFailure=): announce a failed task unit.

    \b
    Example:
      smartcron alert-fallback smartcron-payroll.service
    """
    from smartcron.watchdog.fallback import announce

    click.echo(announce(app.config, app.engine, unit))
