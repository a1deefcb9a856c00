"""`smartcron import-crontab`: turn crontab lines into tasks."""

from __future__ import annotations

from pathlib import Path

import click

from smartcron.cli import App, cli, pass_app
from smartcron.db import store
from smartcron.errors import InvalidInput
from smartcron.model import crontab, taskfile
from smartcron.model.task import Task, validate_task


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
@pass_app
def import_crontab(app: App, file: Path, fmt: str, dry_run: bool, skip_invalid: bool) -> None:
    """Create one task per schedule line of crontab FILE.

    Each command runs through the crontab's SHELL (default /bin/sh -c) with its environment
    lines, so pipes and redirections keep working. Nothing is imported if any line is invalid,
    unless --skip-invalid is given.

    \b
    Example:
      crontab -l > my.crontab && smartcron import-crontab my.crontab --dry-run
      smartcron import-crontab /etc/crontab --format system
    """
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput("FILE", str(file), f"cannot be read: {exc.strerror}") from None
    system = fmt == "system" or (fmt == "auto" and str(file.resolve()).startswith("/etc/cron"))
    parsed = crontab.parse(text, system=system)
    problems = list(parsed.problems)
    tasks: list[tuple[int, Task]] = []
    for entry in parsed.entries:
        try:
            tasks.append((entry.line, validate_task(entry.data)))
        except InvalidInput as exc:
            problems.append(f"line {entry.line}: {exc}")
    for note in parsed.notes:
        click.echo(f"  note     {note}")
    if problems and not skip_invalid:
        raise taskfile.ImportErrors(str(file), sorted(problems, key=_line_number))
    for problem in sorted(problems, key=_line_number):
        click.echo(f"  skipped  {problem}", err=True)
    with store.db_errors(app.engine), app.engine.begin() as conn:
        existing = {t.name for t in store.list_tasks(conn)}
        clashes = [t.name for _, t in tasks if t.name in existing]
        if clashes:
            raise InvalidInput(
                "name",
                clashes[0],
                "a task with this name already exists (imported "
                "before?); remove it or edit the crontab line",
            )
        for line, task in tasks:
            click.echo(f"  add      {task.name}  (line {line}: {task.schedule} {task.command[-1]})")
        if dry_run:
            click.echo(f"Dry run: {len(tasks)} task(s) would be added. Nothing was changed.")
            return
        for _, task in tasks:
            store.insert_task(conn, task, store.actor())
    click.echo(
        f"Imported {len(tasks)} task(s) from {file}. Next: `smartcron sync` installs their "
        "timers; then remove the lines from the crontab so they do not run twice."
    )


def _line_number(problem: str) -> int:
    head = problem.split(":", 1)[0]
    return int(head.removeprefix("line ")) if head.startswith("line ") else 0
