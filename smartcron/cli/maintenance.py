"""`smartcron backup|restore|prune|maintenance|doctor`: keeping an installation healthy."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import click

from smartcron.cli import App, cli, pass_app
from smartcron.cli.output import echo_json
from smartcron.db import store
from smartcron.errors import OperationFailed
from smartcron.model.quantities import parse_duration
from smartcron.ops import backup as backup_mod
from smartcron.ops import doctor as doctor_mod
from smartcron.ops import retention


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _counts(counts: dict[str, int]) -> str:
    return f"{counts.get('tasks', 0)} task(s), {counts.get('executions', 0)} run(s)"


@cli.command("backup")
@click.option(
    "--to", "directory", type=click.Path(file_okay=False, path_type=Path),
    help="Directory for the backup (default: the backup_dir setting).",
)  # fmt: skip
@pass_app
def backup_cmd(app: App, directory: Path | None) -> None:
    """Write a consistent backup of the database and the tasks as YAML, then rotate old ones.

    Keeps the newest backup of each of the last backup_keep_daily days and
    backup_keep_weekly weeks.

    \b
    Example:
      smartcron backup
      smartcron backup --to /mnt/nas/smartcron
    """
    where = directory or Path(app.config.backup_dir)
    try:
        result = backup_mod.backup(app.engine, where, _now())
    except OSError as exc:
        raise OperationFailed(
            f"could not write the backup in {where}: {exc}. Check that the directory is "
            "writable by this user and has free space."
        ) from exc
    removed = backup_mod.rotate(where, app.config.backup_keep_daily, app.config.backup_keep_weekly)
    click.echo(
        f"Backed up {_counts(result.counts)} to {result.path} (tasks as YAML: "
        f"{result.tasks_file.name}); {len(removed)} old file(s) rotated away. "
        f"Restore with `smartcron restore {result.path}`."
    )


@cli.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def restore_cmd(app: App, file: Path, yes: bool) -> None:
    """Replace the whole database with backup FILE (into an empty or an existing database).

    Everything is replaced in one transaction: afterwards the database holds exactly the
    backup, or nothing changed. Stop the watchdog first, and run `smartcron sync` after.

    \b
    Example:
      systemctl stop smartcron-watchdog smartcron-dashboard
      smartcron restore /var/lib/smartcron/backups/smartcron-20261127T033000Z.sqlite3
      smartcron sync && systemctl start smartcron-watchdog smartcron-dashboard
    """
    if not file.is_file():
        raise OperationFailed(f"no backup file {file}; `ls {app.config.backup_dir}` lists them")
    incoming = backup_mod.describe(file)
    where = store.redact(app.config.database_url)
    if not yes:
        click.confirm(
            f"Replace everything in {where} with the backup {file.name} ({_counts(incoming)})?",
            abort=True,
        )
    counts = backup_mod.restore(app.engine, file)
    with app.engine.begin() as conn:
        store.audit(conn, store.actor(), "restore", file.name, counts)
    click.echo(
        f"Restored {_counts(counts)} into {where}. Next: `smartcron sync` (as root) so the "
        "units match the restored tasks, then start the watchdog again."
    )


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
    result = retention.prune(app.engine, dt.timedelta(seconds=seconds), _now(), batch=batch)
    click.echo(
        f"Pruned {result.runs} run(s) older than {seconds // 86400} day(s) into "
        f"{result.days} daily total(s), {result.alerts} resolved alert(s) and "
        f"{result.health_checks} health check(s), in {result.batches} batch(es)."
    )


@cli.command("maintenance")
@pass_app
def maintenance_cmd(app: App) -> None:
    """The daily run of smartcron-maintenance.timer: prune, back up, check the units.

    Exits 1 if any step failed, so that systemd records the failure.

    \b
    Example:
      sudo -u smartcron smartcron maintenance
      systemctl start smartcron-maintenance.service && journalctl -u smartcron-maintenance
    """
    failed = []
    for step in (["prune"], ["backup"], ["sync", "--check"]):
        # Each step in its own process: one failing step neither hides nor stops the others.
        config = ["--config", app.config_path] if app.config_path else []
        args = [sys.executable, "-m", "smartcron", *config, *step]
        code = subprocess.call(args)
        if code != 0:
            failed.append(" ".join(step))
    if failed:
        raise OperationFailed(
            f"maintenance step(s) failed: {', '.join(failed)} (output above). "
            "Fix them and run `smartcron maintenance` again."
        )
    click.echo("Maintenance done: pruned, backed up, units checked.")


@cli.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@pass_app
def doctor_cmd(app: App, as_json: bool) -> None:
    """Check the installation end to end; exit 1 if anything fails.

    \b
    Example:
      smartcron doctor
    """
    findings = doctor_mod.run(app.config, app.engine, _now())
    failed = [f for f in findings if f.status == "fail"]
    if as_json:
        echo_json([f.__dict__ for f in findings])
    else:
        for f in findings:
            mark = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}[f.status]
            click.echo(f"{mark}  {f.check:<16} {f.message}")
            if f.fix and f.status != "ok":
                click.echo(f"      {'':<16} fix: {f.fix}")
        verdict = (
            f"{len(failed)} check(s) failed; fix them (hints above) and run doctor again."
            if failed
            else "All checks passed."
        )
        click.echo(verdict)
    if failed:
        raise SystemExit(1)
