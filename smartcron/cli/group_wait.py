"""`smartcron group-wait` (hidden): what a grouped task's ExecStartPre= runs (ops/groups.py)."""

from __future__ import annotations

import os
import sys

import click

from smartcron.cli.base import App, cli, pass_app
from smartcron.errors import SmartcronError


@cli.command("group-wait", hidden=True)
@click.argument("task")
@click.argument("group")
@pass_app
def group_wait_cmd(app: App, task: str, group: str) -> None:
    """Wait until a slot of concurrency group GROUP is free for this run of TASK, hold it for
    the rest of the run, and record the wait (docs/groups.md).

    \b
    Example:
      smartcron group-wait nightly-report reports   (what ExecStartPre=+ runs)
    """
    from smartcron.model.groups import DEFAULT_MAX_CONCURRENT, check_group_name, max_concurrent
    from smartcron.ops.groups import wait_for_slot

    check_group_name("GROUP", group)
    try:
        limit = max_concurrent(app.config.concurrency_groups, group)
        url: str | None = app.config.database_url
    except SmartcronError as exc:
        # Never more at once than intended: the smallest limit, and say why.
        click.echo(
            f"smartcron group-wait: the configuration could not be read ({exc}); "
            f"group {group} runs with max_concurrent {DEFAULT_MAX_CONCURRENT}",
            err=True,
        )
        limit, url = DEFAULT_MAX_CONCURRENT, None
    status, line = wait_for_slot(
        task, group, limit, database_url=url, invocation_id=os.environ.get("INVOCATION_ID", "")
    )
    click.echo(f"smartcron group-wait: {line}", err=status != 0)
    sys.exit(status)
