"""`smartcron health`: is everything that should run, running and recorded?"""

from __future__ import annotations

import click

from smartcron.cli.base import App, cli, pass_app
from smartcron.cli.output import echo_json, table


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
