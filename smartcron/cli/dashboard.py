"""`smartcron dashboard`: serve the staff dashboard with gunicorn, as the systemd unit does.

HTTPS with tls_certificate/tls_key (install.sh creates a self-signed pair); plain HTTP only on
a loopback address, so a password never crosses the office network in clear text.

SIGHUP (`systemctl reload smartcron-dashboard`): gunicorn's master calls `load_config` again,
which re-reads and validates the file as at start-up, then starts new workers, which build
their app from the new settings, and stops the old ones gracefully. A broken file keeps the
running settings; the socket and its certificate stay as they were opened (restart-only).
"""

from __future__ import annotations

import os
from typing import Any

import click

from smartcron.cli.base import App, cli, pass_app
from smartcron.errors import OperationFailed
from smartcron.model.config import DASHBOARD, Config, dashboard_tls, load
from smartcron.model.reload import reload_config
from smartcron.ops.tls import certificate_fingerprint

# mkstemp() there makes private, uniquely named files: none of the shared-/tmp risks apply.
SHM = "/dev/shm"  # noqa: S108


def _readable(path: str, what: str) -> None:
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise OperationFailed(
            f"cannot read the dashboard's {what} {path} ({exc.strerror}): run install.sh, "
            "which creates a self-signed certificate, or put yours there (docs/install.md, "
            '"HTTPS"); the key must be readable by the smartcron account'
        ) from None


def serve(app: App, host: str, port: int, workers: int) -> None:
    """Run gunicorn in this process; each worker builds its own app and database pool."""
    from gunicorn.app.base import BaseApplication

    from smartcron.dashboard import create_app
    from smartcron.db.engine import db_errors
    from smartcron.db.migrate import upgrade

    cfg = app.config
    tls = dashboard_tls(cfg, host)
    if tls:
        _readable(tls[0], "certificate")
        _readable(tls[1], "private key")
    with db_errors(app.engine):
        upgrade(app.engine)  # also proves the database is reachable before forking
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    settings: dict[str, Any] = {
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
    }
    if tls:
        settings |= {"certfile": tls[0], "keyfile": tls[1]}

    class Server(BaseApplication):  # type: ignore[misc]
        def __init__(self) -> None:
            self.current: Config | None = None  # None until the first load_config
            super().__init__()

        def load_config(self) -> None:
            """At start-up, then in the master on every SIGHUP, before new workers fork.
            It must not raise: gunicorn's master exits on any error here."""
            if self.current is None:
                self.current = cfg
            else:
                self.current = _reload(self.current, app.config_path)
            for key, value in settings.items():
                self.cfg.set(key, value)
            # X-Forwarded-* headers only from the configured reverse proxies (none by default).
            self.cfg.set("forwarded_allow_ips", self.current.trusted_proxies)

        def load(self) -> Any:
            return create_app(self.current)

    if tls:
        click.echo(
            f"smartcron dashboard on https://{bind}/ (certificate SHA-256 "
            f"{certificate_fingerprint(tls[0])}; Ctrl-C stops it)",
            err=True,
        )
    else:
        click.echo(f"smartcron dashboard on http://{bind}/ (Ctrl-C stops it)", err=True)
    Server().run()


def _reload(running: Config, config_path: str | None) -> Config:
    """Re-read the configuration as at start-up and say on stderr (the journal) what a
    reload changed or why it kept the running settings."""
    new, lines = reload_config(running, lambda: load(config_path), DASHBOARD)
    for _, message in lines:
        click.echo(message, err=True)
    return new


@cli.command("dashboard")
@click.option("--host", help="Address to listen on (default: from dashboard_listen).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default: dashboard_listen).")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 32))
@pass_app
def dashboard_cmd(app: App, host: str | None, port: int | None, workers: int) -> None:
    """Serve the staff dashboard (gunicorn), as smartcron-dashboard.service does.

    HTTPS with tls_certificate and tls_key; without them, only on a loopback address.

    \b
    Example:
      smartcron dashboard
      smartcron dashboard --host 0.0.0.0 --port 8443
    """
    default_host, _, default_port = app.config.dashboard_listen.rpartition(":")
    serve(app, (host or default_host).strip("[]"), port or int(default_port), workers)
