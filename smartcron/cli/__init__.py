"""The `smartcron` command line: one module per top-level command, named after it.

Each module registers its command on `cli` (base.py) when imported; `main` is the console
script's entry point.
"""

from __future__ import annotations

from smartcron.cli import (  # noqa: F401 - imported for their commands
    alert_fallback,
    alerts,
    backup,
    dashboard,
    db,
    doctor,
    export,
    gate,
    health,
    hosts,
    import_,
    import_crontab,
    init,
    logs,
    maintenance,
    prune,
    restore,
    runs,
    schedule,
    status,
    sync,
    task,
    units,
    user,
    watchdog,
)
from smartcron.cli.base import App, cli, pass_app

__all__ = ["App", "cli", "main", "pass_app"]


def main() -> None:
    """Entry point of the `smartcron` console script."""
    cli(prog_name="smartcron")
