"""`smartcron prune`: roll up old runs into daily totals and delete them."""

from __future__ import annotations

import datetime as dt

import click

from smartcron.cli.base import App, cli, pass_app
from smartcron.cli.output import now
from smartcron.model.quantities import parse_duration
from smartcron.ops import retention


@cli.command("prune")
@click.option("--older-than", default=None, help="Age, e.g. 90d (default: retention_days).")
@click.option("--batch", default=5000, show_default=True, type=click.IntRange(1, 100_000))
@pass_app
def prune_cmd(app: App, older_than: str | None, batch: int) -> None:
    """Roll up old runs into daily totals and delete them, with old alerts and health checks.

    \b
    Example:
      smartcron prune
      smartcron prune --older-than 30d
    """
    seconds = (
        parse_duration("--older-than", older_than, minimum=3600)
        if older_than
        else app.config.retention_days * 86400
    )
    result = retention.prune(app.engine, dt.timedelta(seconds=seconds), now(), batch=batch)
    click.echo(
        f"Pruned {result.runs} run(s) older than {seconds // 86400} day(s) into "
        f"{result.days} daily total(s), {result.alerts} resolved alert(s), "
        f"{result.health_checks} health check(s), {result.claims} run claim(s) and "
        f"{result.waits} unclaimed group wait(s) (runs never recorded), in "
        f"{result.batches} batch(es)."
    )
