"""`smartcron watchdog`: the long-running service that records every run."""

from __future__ import annotations

import click

from smartcron.cli.base import App, cli, pass_app
from smartcron.errors import SmartcronError


def _check_config(app: App) -> None:
    """Validate the configuration as a reload will; exit 2 with the reason if it is invalid
    (ExecReload= runs this before SIGHUP, so `systemctl reload` fails on a broken file)."""
    try:
        source = app.config.source
    except SmartcronError as exc:
        click.echo(
            f"error: {exc}; the running watchdog keeps its current settings (fix the file, "
            "then `systemctl reload smartcron-watchdog` again)",
            err=True,
        )
        raise SystemExit(exc.exit_code) from None
    click.echo(f"configuration is valid ({source})")


@cli.command("watchdog")
@click.option(
    "--check-config",
    is_flag=True,
    help="Only validate the configuration, as a reload would, and exit (0 valid, 2 invalid).",
)
@pass_app
def watchdog_cmd(app: App, check_config: bool) -> None:
    """Run the watchdog service: record every run of every task (runs until stopped).

    Normally started by smartcron-watchdog.service, not by hand. SIGHUP (`systemctl reload
    smartcron-watchdog`) re-reads the configuration without a restart (docs/watchdog.md).

    \b
    Example:
      systemctl status smartcron-watchdog.service
      systemctl reload smartcron-watchdog.service   # after editing smartcron.toml
      smartcron watchdog    # in the foreground, for debugging
    """
    if check_config:
        _check_config(app)
        return
    from smartcron.model.config import load
    from smartcron.watchdog import service

    raise SystemExit(service.run(app.config, reread=lambda: load(app.config_path)))
