"""`smartcron watchdog`, `smartcron runs` and `smartcron logs`: recording and reading runs."""

from __future__ import annotations

import subprocess
from zoneinfo import ZoneInfo

import click
import sqlalchemy as sa

from smartcron.alerting.alerts import set_alert_state, test_channel
from smartcron.cli import App, cli, pass_app
from smartcron.cli.output import echo_json, table
from smartcron.db import store
from smartcron.db.records import alert_dict, run_dict
from smartcron.db.schema import alerts as alerts_table
from smartcron.db.schema import executions
from smartcron.errors import NotFound
from smartcron.model.task import host_timezone
from smartcron.systemd.journal import Journal, RunWindow


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
    from smartcron.watchdog import service as watchdog

    raise SystemExit(watchdog.run(app.config))


@cli.command("runs")
@click.argument("name", required=False)
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
    query = sa.select(executions).order_by(executions.c.started_at.desc(), executions.c.id.desc())
    if name:
        query = query.where(executions.c.task_name == name)
    if failed:
        query = query.where(executions.c.outcome.notin_(["success", "running"]))
    with store.db_errors(app.engine), app.engine.connect() as conn:
        rows = conn.execute(query.limit(limit)).fetchall()
    if as_json:
        echo_json([run_dict(r) for r in rows])
        return
    if not rows:
        click.echo(
            "No runs recorded yet. Is the watchdog running? "
            "(`systemctl status smartcron-watchdog.service`)"
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
                    (r.meaning or "")[:90],
                )
                for r in rows
            ],
        )
    )


@cli.command("logs")
@click.argument("name")
@click.option(
    "--run", "run_id", type=int, default=None, help="The run's ID (see `smartcron runs`)."
)
@click.option("--last", is_flag=True, help="The most recent run (the default).")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new output of the task.")
@pass_app
def logs_cmd(app: App, name: str, run_id: int | None, last: bool, follow: bool) -> None:
    """Print the whole output of a run of task NAME, from the journal.

    When the journal no longer has the run (rotated away), the output tail stored with the run
    is printed instead, and that is said.

    \b
    Example:
      smartcron logs bank-import
      smartcron logs bank-import --run 1234
      smartcron logs pos-sync --follow
    """
    journal = Journal(app.config.journal_directory)
    if follow:
        base = ["journalctl", "--no-pager", "-f", "-o", "cat", "-t", name]
        if journal.directory:
            base[1:1] = ["-D", journal.directory]
        raise SystemExit(subprocess.call(base))
    query = sa.select(executions).where(executions.c.task_name == name)
    query = (
        query.where(executions.c.id == run_id)
        if run_id
        else query.order_by(executions.c.started_at.desc(), executions.c.id.desc()).limit(1)
    )
    with store.db_errors(app.engine), app.engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        what = f"run {run_id} of task {name!r}" if run_id else f"runs of task {name!r}"
        raise NotFound(f"no {what} recorded; `smartcron runs {name}` lists the recorded runs")
    text = journal.output(
        RunWindow(row.invocation_id, row.task_name, row.started_at, row.finished_at)
    )
    if text:
        click.echo(text, nl=False)
        return
    click.echo(
        f"(the journal no longer has run {row.id}; this is the last part of its output, "
        "stored with the run)",
        err=True,
    )
    click.echo(row.output_tail or "(no output)")


@cli.group("alerts", invoke_without_command=True)
@click.option("--open", "only_open", is_flag=True, help="Only alerts that are not resolved.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_context
def alerts_group(ctx: click.Context, only_open: bool, as_json: bool) -> None:
    """List alerts, or acknowledge, resolve and test them.

    \b
    Example:
      smartcron alerts --open
      smartcron alerts ack 12
      smartcron alerts test ops
    """
    if ctx.invoked_subcommand is not None:
        return
    app: App = ctx.obj
    query = sa.select(alerts_table).order_by(alerts_table.c.opened_at.desc()).limit(200)
    if only_open:
        query = query.where(alerts_table.c.state != "resolved")
    with store.db_errors(app.engine), app.engine.connect() as conn:
        rows = conn.execute(query).fetchall()
    data = [alert_dict(r) for r in rows]
    if as_json:
        echo_json(data)
        return
    if not data:
        click.echo("No alerts." if only_open else "No alerts yet.")
        return
    click.echo(
        table(
            ["ID", "TASK", "KIND", "STATE", "FAILURES", "SUMMARY"],
            [
                (
                    d["id"],
                    d["task"] or "-",
                    d["kind"],
                    d["state"],
                    d["failures"],
                    (d["summary"] or "")[:80],
                )
                for d in data
            ],
        )
    )


@alerts_group.command("ack")
@click.argument("alert_id", type=int)
@pass_app
def alerts_ack(app: App, alert_id: int) -> None:
    """Acknowledge alert ID: it stays open but is not sent again.

    \b
    Example:
      smartcron alerts ack 12
    """
    set_alert_state(app.engine, alert_id, "acknowledged", store.actor())
    click.echo(
        f"Alert {alert_id} acknowledged: no more reminders. It resolves itself when the "
        "task succeeds again, or with `smartcron alerts resolve`."
    )


@alerts_group.command("resolve")
@click.argument("alert_id", type=int)
@pass_app
def alerts_resolve(app: App, alert_id: int) -> None:
    """Resolve alert ID by hand.

    \b
    Example:
      smartcron alerts resolve 12
    """
    set_alert_state(app.engine, alert_id, "resolved", store.actor())
    click.echo(f"Alert {alert_id} resolved.")


@alerts_group.command("test")
@click.argument("channel")
@pass_app
def alerts_test(app: App, channel: str) -> None:
    """Send a test message through CHANNEL (a name from the `channels` setting).

    \b
    Example:
      smartcron alerts test ops
    """
    test_channel(app.config, channel)
    click.echo(f"Test message sent through {channel!r}. Check that it arrived.")


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


@cli.command("health")
@click.option("--json", "as_json", is_flag=True, help="Print {score, checks: [...]} as JSON.")
@pass_app
def health_cmd(app: App, as_json: bool) -> None:
    """Check that everything that should run is running and recorded; exit 1 on any failure.

    \b
    Example:
      smartcron health
      smartcron health --json | jq .score
    """
    from smartcron.ops import health

    checks = health.run_checks(app.config, app.engine)
    if as_json:
        echo_json(health.as_json(checks))
    else:
        click.echo(
            table(
                ["CHECK", "STATUS", "DETAIL"],
                [(c.name, c.status.upper(), c.message) for c in checks],
            )
        )
        click.echo(f"Health score: {health.score(checks)}/100")
    if any(c.status == "fail" for c in checks):
        raise SystemExit(1)
