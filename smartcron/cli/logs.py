"""`smartcron logs`: the whole output of a run, from the journal."""

from __future__ import annotations

import click

from smartcron.cli.base import App, cli, complete_task_name, pass_app
from smartcron.cli.output import MAX_ID, printable
from smartcron.db.engine import db_errors
from smartcron.db.runs import find_run
from smartcron.errors import NotFound
from smartcron.ops.runlog import run_log
from smartcron.systemd.journal import Journal


@cli.command("logs")
@click.argument("name", shell_complete=complete_task_name)
@click.option(
    "--run",
    "run_id",
    type=click.IntRange(1, MAX_ID),
    default=None,
    help="The run's ID (see `smartcron runs`).",
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
        try:
            for line in journal.follow(name):
                click.echo(printable(line, multiline=True))
        except KeyboardInterrupt:
            pass
        return
    with db_errors(app.engine), app.engine.connect() as conn:
        row = find_run(conn, name, run_id)
    if row is None:
        what = f"run {run_id} of task {name!r}" if run_id else f"runs of task {name!r}"
        raise NotFound(f"no {what} recorded; `smartcron runs {name}` lists the recorded runs")
    log = run_log(journal, row)
    if log.note:
        click.echo(f"({log.note})", err=True)
    click.echo(printable(log.text, multiline=True) or "(no output)", nl=not log.text)
