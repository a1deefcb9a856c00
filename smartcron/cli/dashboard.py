"""`smartcron dashboard`: serve the staff dashboard with gunicorn, as the systemd unit does."""

from __future__ import annotations

import os
from typing import Any

import click

from smartcron.cli.base import App, cli, pass_app

# mkstemp() there makes private, uniquely named files: none of the shared-/tmp risks apply.
SHM = "/dev/shm"  # noqa: S108


def serve(app: App, bind: str, workers: int) -> None:
    """Run gunicorn in this process; each worker builds its own app and database pool."""
    from gunicorn.app.base import BaseApplication

    from smartcron.dashboard import create_app
    from smartcron.db.engine import db_errors
    from smartcron.db.migrate import upgrade

    cfg = app.config
    with db_errors(app.engine):
        upgrade(app.engine)  # also proves the database is reachable before forking

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in {
                "bind": bind,
                "workers": workers,
                "worker_class": "gthread",
                "threads": 4,
                "timeout": 60,
                "accesslog": "-",
                "errorlog": "-",
                "proc_name": "smartcron-dashboard",
                # Worker heartbeat files in memory: the unit's file system is read-only.
                "worker_tmp_dir": SHM if os.path.isdir(SHM) else None,
                # Forwarded headers only from a reverse proxy on this host.
                "forwarded_allow_ips": "127.0.0.1,::1",
            }.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return create_app(cfg)

    click.echo(f"smartcron dashboard on http://{bind}/ (Ctrl-C stops it)", err=True)
    Server().run()


@cli.command("dashboard")
@click.option("--host", help="Address to listen on (default: from dashboard_listen).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default: dashboard_listen).")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 32))
@pass_app
def dashboard_cmd(app: App, host: str | None, port: int | None, workers: int) -> None:
    """Serve the staff dashboard (gunicorn), as smartcron-dashboard.service does.

    \b
    Example:
      smartcron dashboard
      smartcron dashboard --host 0.0.0.0 --port 8080
    """
    default_host, _, default_port = app.config.dashboard_listen.rpartition(":")
    serve(app, f"{host or default_host}:{port or int(default_port)}", workers)
