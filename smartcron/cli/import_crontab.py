"""`smartcron import-crontab`: turn crontab lines into tasks."""

from __future__ import annotations

from pathlib import Path

import click

from smartcron.cli.base import App, cli, pass_app, signer_for
from smartcron.cli.output import echo_dst_notes
from smartcron.db.audit import actor
from smartcron.db.engine import db_errors
from smartcron.fileio import read_input
from smartcron.model import taskfile
from smartcron.ops.transfer import add_tasks, check_names_free, read_crontab


@cli.command("import-crontab")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "user", "system"]),
    default="auto",
    show_default=True,
    help="user: `m h dom mon dow command`; system: with a user field (/etc/crontab, "
    "/etc/cron.d). auto picks system for files under /etc/cron*.",
)
@click.option("--dry-run", is_flag=True, help="Show what would be imported; change nothing.")
@click.option("--skip-invalid", is_flag=True, help="Import the valid lines even if some are not.")
@click.option(
    "--user",
    "run_as",
    default=None,
    metavar="ACCOUNT",
    help="The account a user crontab's jobs run as, e.g. its owner (default: the "
    "default_user setting). A system crontab's lines keep their own user field.",
)
@pass_app
def import_crontab(
    app: App, file: Path, fmt: str, dry_run: bool, skip_invalid: bool, run_as: str | None
) -> None:
    """Create one task per schedule line of crontab FILE.

    Each command runs through the crontab's SHELL (default /bin/sh -c) with its environment
    lines, so pipes and redirections keep working. Nothing is imported if any line is invalid,
    unless --skip-invalid is given.

    \b
    Example:
      crontab -l > my.crontab && smartcron import-crontab my.crontab --dry-run
      smartcron import-crontab /etc/crontab --format system
    """
    text = read_input(file)
    system = fmt == "system" or (fmt == "auto" and str(file.resolve()).startswith("/etc/cron"))
    found = read_crontab(
        text, system=system, user=run_as or app.config.default_user, host_name=app.config.host_name
    )
    tasks = found.tasks
    for note in found.notes:
        click.echo(f"  note     {note}")
    if found.problems and not skip_invalid:
        raise taskfile.ImportErrors(str(file), found.problems)
    for problem in found.problems:
        click.echo(f"  skipped  {problem}", err=True)
    with db_errors(app.engine), app.engine.begin() as conn:
        check_names_free(conn, [task for _, task in tasks])
        for line, task in tasks:
            click.echo(
                f"  add      {task.name}  (line {line}: {task.schedule} as {task.user}: "
                f"{task.command[-1]})"
            )
            if task.stdin:
                # cron's % part: the job reads it on its standard input (StandardInputData=).
                lines = task.stdin.rstrip("\n").split("\n")
                shown = " / ".join(lines[:3]) + (" / ..." if len(lines) > 3 else "")
                click.echo(f"           stdin: {shown}")
            echo_dst_notes(task.schedule, task.timezone, prefix="           ")
        if dry_run:
            click.echo(f"Dry run: {len(tasks)} task(s) would be added. Nothing was changed.")
            return
        add_tasks(conn, [task for _, task in tasks], actor(), signer_for(app))
    click.echo(
        f"Imported {len(tasks)} task(s) from {file}. Next: `smartcron sync` installs their "
        "timers; then remove the lines from the crontab so they do not run twice."
    )
