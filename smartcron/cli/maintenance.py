"""`smartcron maintenance`: the daily job of smartcron-maintenance.timer."""

from __future__ import annotations

import subprocess
import sys

import click

from smartcron.cli.base import App, cli, pass_app
from smartcron.errors import OperationFailed


@cli.command("maintenance")
@pass_app
def maintenance_cmd(app: App) -> None:
    """The daily run of smartcron-maintenance.timer: prune, back up, check the units.

    Exits 1 if any step failed, so that systemd records the failure.

    \b
    Example:
      sudo -u smartcron smartcron maintenance
      systemctl start smartcron-maintenance.service && journalctl -u smartcron-maintenance
    """
    failed = []
    for step in (["prune"], ["backup", "--scheduled"], ["sync", "--check"]):
        # Each step in its own process: one failing step neither hides nor stops the others.
        config = ["--config", app.config_path] if app.config_path else []
        args = [sys.executable, "-m", "smartcron", *config, *step]
        code = subprocess.call(args)
        if code != 0:
            failed.append(" ".join(step))
    if failed:
        raise OperationFailed(
            f"maintenance step(s) failed: {', '.join(failed)} (output above). "
            "Fix them and run `smartcron maintenance` again."
        )
    click.echo("Maintenance done: pruned, backed up, units checked.")
