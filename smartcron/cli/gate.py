"""`smartcron gate` (hidden): what a gated task's ExecCondition= runs (ops/gate.py)."""

from __future__ import annotations

import sys

import click

from smartcron.cli.base import App, cli, pass_app


@cli.command("gate", hidden=True)
@click.argument("name")
@click.option(
    "--if-db-down",
    type=click.Choice(["run", "skip"]),
    default="run",
    show_default=True,
    help="What to do when the database cannot even be read (the task's if_db_down).",
)
@pass_app
def gate_cmd(app: App, name: str, if_db_down: str) -> None:
    """Decide whether this run of task NAME goes ahead on this host: exit 0 runs it, exit 1
    ends the unit cleanly without running it (the reason is recorded with the run).

    \b
    Example:
      smartcron gate bank-import --if-db-down run   (what ExecCondition= runs)
    """
    from smartcron.db.engine import make_engine
    from smartcron.ops.gate import run_gate

    status, line = run_gate(
        app.config, make_engine(app.config.database_url), name, if_db_down=if_db_down
    )
    click.echo(f"smartcron gate: {line}", err=status != 0)
    sys.exit(status)
