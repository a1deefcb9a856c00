"""`smartcron gate` (hidden): what a gated task's ExecCondition= runs (ops/gate.py)."""

from __future__ import annotations

import sys

import click

from smartcron.cli.base import App, cli, pass_app

FAILED = 255  # ExecCondition=: 255 fails the unit, 1-254 skip it (systemd.service(5))


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

    try:
        status, line = run_gate(
            app.config, make_engine(app.config.database_url), name, if_db_down=if_db_down
        )
    except Exception as exc:  # noqa: BLE001 - any exit 1-254 would skip the run silently
        # ExecCondition= treats exit 1-254 as "do not run" (no failure, no alert), so a gate
        # that cannot decide (a broken configuration file, a bug) must fail the unit instead:
        # 255 makes systemd count the run as failed, and OnFailure= and `systemctl --failed`
        # show it.
        click.echo(
            f"smartcron gate: cannot decide whether {name} runs here: {exc}. The run is failed "
            "rather than skipped silently; fix the cause (`smartcron config check "
            "/etc/smartcron/smartcron.toml` for the configuration) and the next run goes ahead.",
            err=True,
        )
        sys.exit(FAILED)
    click.echo(f"smartcron gate: {line}", err=status != 0)
    sys.exit(status)
