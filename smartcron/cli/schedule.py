"""`smartcron schedule explain`: what a schedule means and when it runs."""

from __future__ import annotations

import datetime as dt

import click

from smartcron.cli.base import cli
from smartcron.cli.output import echo_json
from smartcron.errors import InvalidInput
from smartcron.model import schedule as schedule_mod
from smartcron.model.zones import check_timezone, host_timezone


@cli.group("schedule")
def schedule_group() -> None:
    """Inspect schedules before you use them.

    \b
    Example:
      smartcron schedule explain '0 9 1-7 * 1' --timezone Pacific/Auckland
    """


def _base_time(value: str | None) -> dt.datetime:
    if value is None:
        return dt.datetime.now(dt.UTC)
    try:
        base = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            "--from", value, "an ISO 8601 time such as 2026-03-08T01:30:00+13:00"
        ) from None
    if base.tzinfo is None:
        raise InvalidInput("--from", value, "include a UTC offset, e.g. 2026-03-08T01:30:00Z")
    return base


@schedule_group.command("explain")
@click.argument("expression")
@click.option("--timezone", default=None, help="IANA timezone (default: the host's).")
@click.option(
    "--count",
    default=5,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="How many upcoming runs to list.",
)
@click.option(
    "--from",
    "from_",
    metavar="ISO8601",
    default=None,
    help="Compute the runs after this time instead of now.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
def explain(
    expression: str, timezone: str | None, count: int, from_: str | None, as_json: bool
) -> None:
    """Show the systemd OnCalendar lines, plain words, next runs and DST warnings of EXPRESSION.

    \b
    Example:
      smartcron schedule explain '*/15 8-18 * * mon-fri' --timezone Europe/London --count 3
      smartcron schedule explain '30 2 * * *' --timezone America/New_York --json
    """
    zone = check_timezone(timezone or host_timezone())
    text = schedule_mod.validate(expression)
    base = _base_time(from_)
    lines = schedule_mod.timer_lines(text, zone)
    runs = schedule_mod.next_runs(text, zone, base, count)
    data = {
        "expression": text,
        "timezone": zone,
        "oncalendar": lines,
        "description": schedule_mod.describe(text),
        "next": [t.isoformat() for t in runs],
        "warnings": schedule_mod.dst_warnings(text, zone, base),
    }
    if as_json:
        echo_json(data)
        return
    click.echo(f"Schedule:    {text} ({zone})")
    click.echo(f"Means:       {data['description']}")
    for line in lines or ["(none: runs once after boot, OnBootSec=)"]:
        click.echo(f"OnCalendar:  {line}")
    click.echo(f"Next {len(runs)} run(s):")
    for t in runs:
        click.echo(f"  {t:%a %Y-%m-%d %H:%M:%S %Z}   {t.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC")
    for warning in data["warnings"]:
        click.echo(f"Warning: {warning}")
