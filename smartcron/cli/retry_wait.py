"""`smartcron retry-wait` (hidden): what a task with a growing retry wait runs as its
service's ExecStopPost= (systemd/backoff.py)."""

from __future__ import annotations

import os

import click

from smartcron.cli.base import cli


@cli.command("retry-wait", hidden=True)
@click.argument("unit")
@click.argument("extras", nargs=-1, type=click.IntRange(min=0))
def retry_wait_cmd(unit: str, extras: tuple[int, ...]) -> None:
    """After a failed attempt of UNIT, wait the extra seconds of the coming retry (EXTRAS:
    one per retry, retry 1 first) before systemd's RestartSec= counts down.

    \b
    Example:
      smartcron retry-wait smartcron-bank-import.service 0 30 90   (what ExecStopPost= runs)
    """
    from smartcron.systemd.backoff import wait_for_retry

    slept = wait_for_retry(unit, extras, os.environ.get("SERVICE_RESULT", ""))
    if slept:
        click.echo(
            f"smartcron retry-wait: waited {slept:.1f}s more before the next retry of {unit}"
        )
