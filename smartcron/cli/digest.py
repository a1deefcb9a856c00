"""`smartcron digest`: print (or send, once) the summary of a day."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import click

from smartcron.cli.base import App, cli, pass_app
from smartcron.cli.output import now
from smartcron.errors import InvalidInput, OperationFailed


def _day(value: str | None, zone: str, moment: dt.datetime) -> dt.date:
    """Given --day (or None: yesterday in the digest's zone), return the local day."""
    if value is None:
        return moment.astimezone(ZoneInfo(zone)).date() - dt.timedelta(days=1)
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput("--day", value, "a date as YYYY-MM-DD, e.g. 2026-12-01") from None


@cli.command("digest")
@click.option("--day", metavar="YYYY-MM-DD", help="The local day (default: yesterday).")
@click.option("--weekly", is_flag=True, help="The seven days ending with --day instead.")
@click.option(
    "--send",
    is_flag=True,
    help="Send it to the digest's channels instead of printing it; a digest already sent "
    "(by a watchdog or by hand) is not sent again.",
)
@pass_app
def digest_cmd(app: App, day: str | None, weekly: bool, send: bool) -> None:
    """Print the digest of a day: runs by outcome, failures, late and skipped runs, alerts.

    The day is a local day in digest_timezone (default: the host's). With --send it goes to
    digest_channels (default: every channel), exactly once per day across every host and
    watchdog sharing the database: the watchdogs send it by themselves at digest_time.

    \b
    Example:
      smartcron digest
      smartcron digest --day 2026-12-01 --send
    """
    from smartcron.alerting.delivery import deliver, lease
    from smartcron.alerting.digest import compose
    from smartcron.db.engine import db_errors
    from smartcron.model import digest as calendar
    from smartcron.ops import digest

    moment = now()
    local_day = _day(day, digest.zone_of(app.config), moment)
    period = digest.period_of_day(app.config, local_day)
    if weekly:
        period = calendar.weekly(local_day, period.zone, period.at)
    if send and period.end > moment:
        raise InvalidInput(
            "--day", str(local_day), "a day that is over (the digest of a day is sent once, "
            "so it is not sent before the day ends); leave out --send to see it so far"
        )  # fmt: skip
    sender = f"`smartcron digest --send` on {app.config.host_name}"
    with db_errors(app.engine):
        snapshot = digest.gather(app.config, app.engine, period)
        note = digest.lateness(period, moment, sender) if app.config.digest_time else ""
        if period.end > moment:
            note = "This day is not over yet: the digest so far."
        notice = compose(snapshot, note=note)
        if not send:
            click.echo(f"{notice.title}\n\n{notice.text}", nl=False)
            return
        sent = digest.send_once(app.config, app.engine, notice, period)
        if sent.message_id is None:
            click.echo(
                f"The {period.kind} digest of {local_day} was already sent by {sent.holder}; "
                "it is sent once, so it was not sent again."
            )
            return
        row = lease(app.engine, sent.message_id)
        delivered = row is not None and deliver(app.engine, app.config, row)
    channels = ", ".join(digest.channels_of(app.config)) or "none configured"
    if row is None:  # the watchdog's courier took it first: it sends it
        click.echo(f"Queued the digest of {local_day}; the watchdog is sending it to {channels}.")
        return
    if not delivered:
        raise OperationFailed(
            f"the digest of {local_day} could not be delivered to {channels} yet; it stays in "
            "the outbox and the watchdog retries it. `smartcron alerts` shows why "
            "(`smartcron alerts test NAME` checks a channel)."
        )
    click.echo(f"Sent the {period.kind} digest of {local_day} ({notice.title}) to {channels}.")
