"""`smartcron runs`: recent runs with their outcome in plain words."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import click

from smartcron.cli.base import App, cli, complete_task_name, pass_app
from smartcron.cli.output import echo_json, table
from smartcron.db.engine import db_errors
from smartcron.db.records import run_dict, run_meaning
from smartcron.db.runs import recent_runs
from smartcron.model.zones import host_timezone


@cli.command("runs")
@click.argument("name", required=False, shell_complete=complete_task_name)
@click.option("--failed", is_flag=True, help="Only runs that did not succeed.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10000))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of runs.")
@pass_app
def runs_cmd(app: App, name: str | None, failed: bool, limit: int, as_json: bool) -> None:
    """List recent runs, newest first, with their outcome in plain words.

    \b
    Example:
      smartcron runs
      smartcron runs payroll-export --failed --json
    """
    with db_errors(app.engine), app.engine.connect() as conn:
        rows = recent_runs(conn, name, failed=failed, limit=limit)
    if as_json:
        echo_json([run_dict(r) for r in rows])
        return
    if not rows:
        click.echo(
            (f"No runs of {name} recorded yet" if name else "No runs recorded yet")
            + (" (only failed runs were asked for)" if failed else "")
            + ". `smartcron status` shows when it is due next; if a run was due, check "
            "that the watchdog records runs: `systemctl status smartcron-watchdog.service`."
        )
        return
    zone = ZoneInfo(host_timezone())
    click.echo(
        table(
            ["ID", "TASK", "STARTED", "TRIGGER", "OUTCOME", "MEANING"],
            [
                (
                    r.id,
                    r.task_name,
                    r.started_at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
                    if r.started_at
                    else "-",
                    r.trigger,
                    r.outcome,
                    run_meaning(r)[:90],
                )
                for r in rows
            ],
        )
    )
