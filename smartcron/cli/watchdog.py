"""`smartcron watchdog`: the long-running service that records every run."""

from __future__ import annotations

from smartcron.cli.base import App, cli, pass_app


@cli.command("watchdog")
@pass_app
def watchdog_cmd(app: App) -> None:
    """Run the watchdog service: record every run of every task (runs until stopped).

    Normally started by smartcron-watchdog.service, not by hand.

    \b
    Example:
      systemctl status smartcron-watchdog.service
      smartcron watchdog    # in the foreground, for debugging
    """
    from smartcron.watchdog import service

    raise SystemExit(service.run(app.config))
