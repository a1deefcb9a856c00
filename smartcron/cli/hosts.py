"""`smartcron hosts`: the hosts sharing this database, from what their watchdogs recorded."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import click

from smartcron.cli.base import App, cli, pass_app
from smartcron.cli.output import echo_json, now, table
from smartcron.db.engine import db_errors
from smartcron.db.hosts import list_hosts
from smartcron.db.tasks import list_tasks
from smartcron.model.quantities import parse_duration
from smartcron.model.zones import host_timezone


@cli.command("hosts")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of hosts.")
@pass_app
def hosts_cmd(app: App, as_json: bool) -> None:
    """List the hosts that share this database: last seen, version, watchdog state, tasks.

    A host appears once its watchdog has started; it is DOWN when its heartbeat is older than
    the host_down_after setting.

    \b
    Example:
      smartcron hosts
      smartcron hosts --json
    """
    down_after = parse_duration("host_down_after", app.config.host_down_after, minimum=1)
    with db_errors(app.engine), app.engine.connect() as conn:
        rows = list_hosts(conn, list_tasks(conn))
    moment = now()
    if as_json:
        echo_json([r.as_json(moment, down_after) for r in rows])
        return
    if not rows:
        click.echo(
            "No host has registered yet: each host's watchdog registers it when it starts "
            "(`systemctl status smartcron-watchdog.service`)."
        )
        return
    zone = ZoneInfo(host_timezone())
    lines = []
    for r in rows:
        state = r.state(moment, down_after)
        lines.append(
            (
                r.name + (" (this host)" if r.name == app.config.host_name else ""),
                state,
                r.last_seen_at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
                + f" ({r.age(moment):.0f} s ago)",
                r.version,
                r.watchdog_state,
                r.tasks,
                r.runs_24h,
            )
        )
    click.echo(
        table(["HOST", "STATE", "LAST SEEN", "VERSION", "WATCHDOG", "TASKS", "RUNS 24H"], lines)
    )
