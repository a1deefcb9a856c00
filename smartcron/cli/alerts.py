"""`smartcron alerts`: list, acknowledge, resolve and test alerts."""

from __future__ import annotations

import datetime as dt

import click

from smartcron.alerting.delivery import test_channel
from smartcron.alerting.engine import set_alert_state
from smartcron.cli.base import App, cli, pass_app
from smartcron.cli.output import MAX_ID, echo_json, now, table
from smartcron.db.alerts import (
    ACTIVE_STATES,
    ALL_STATES,
    alert_rows,
    deliveries,
    delivery_words,
    undelivered,
)
from smartcron.db.audit import actor
from smartcron.db.engine import db_errors
from smartcron.db.records import alert_dict


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
    with db_errors(app.engine), app.engine.connect() as conn:
        rows = alert_rows(conn, ACTIVE_STATES if only_open else ALL_STATES)
        sent = deliveries(conn, [r.id for r in rows])
        stuck = [m for m in undelivered(conn, now() - dt.timedelta(days=1)) if m.alert_id is None]
    data = [alert_dict(r, sent.get(r.id)) for r in rows]
    if as_json:
        echo_json(data)
        return
    if not data:
        click.echo("No alerts." if only_open else "No alerts yet.")
        return
    click.echo(
        table(
            ["ID", "TASK", "KIND", "STATE", "FAILURES", "DELIVERY", "SUMMARY"],
            [
                (
                    d["id"],
                    d["task"] or "-",
                    d["kind"],
                    d["state"],
                    d["failures"],
                    d["delivery"][:60],
                    (d["summary"] or "")[:70],
                )
                for d in data
            ],
        )
    )
    for message in stuck:
        click.echo(f"NOT delivered: {message.title!r}: {delivery_words(message)}", err=True)
    if stuck or any(d["delivered"] is False for d in data):
        click.echo(
            "Some messages could not be delivered (above): check the channels with "
            "`smartcron alerts test CHANNEL`; those not given up on are retried.",
            err=True,
        )


@alerts_group.command("ack")
@click.argument("alert_id", type=click.IntRange(1, MAX_ID))
@pass_app
def alerts_ack(app: App, alert_id: int) -> None:
    """Acknowledge alert ID: it stays open but is not sent again.

    \b
    Example:
      smartcron alerts ack 12
    """
    set_alert_state(app.engine, alert_id, "acknowledged", actor())
    click.echo(
        f"Alert {alert_id} acknowledged: no more reminders. It resolves itself when the "
        "task succeeds again, or with `smartcron alerts resolve`."
    )


@alerts_group.command("resolve")
@click.argument("alert_id", type=click.IntRange(1, MAX_ID))
@pass_app
def alerts_resolve(app: App, alert_id: int) -> None:
    """Resolve alert ID by hand.

    \b
    Example:
      smartcron alerts resolve 12
    """
    set_alert_state(app.engine, alert_id, "resolved", actor())
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
