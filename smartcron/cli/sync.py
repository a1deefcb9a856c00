"""`smartcron sync`: render units from the database and apply them to systemd."""

from __future__ import annotations

from pathlib import Path

import click

from smartcron.alerting.integrity import report_refused
from smartcron.cli.base import App, cli, pass_app
from smartcron.cli.output import echo_json
from smartcron.db.engine import db_errors
from smartcron.db.tasks import list_tasks
from smartcron.db.windows import windowed_tasks
from smartcron.errors import OperationFailed
from smartcron.model.placement import placed_on
from smartcron.model.revisions import remember
from smartcron.model.signing import Signer, load_signer
from smartcron.systemd import sync as sync_mod
from smartcron.systemd import sync_diff
from smartcron.systemd.bus import Systemd
from smartcron.systemd.own_units import OwnUnits


@cli.command("sync")
@click.option("--dry-run", is_flag=True, help="Show the plan and unified diffs; change nothing.")
@click.option(
    "--check",
    is_flag=True,
    help="Exit 1 if the units on disk drifted from the database (for monitoring).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_app
def sync(app: App, dry_run: bool, check: bool, as_json: bool) -> None:
    """Write one timer/service pair per task and apply them to systemd.

    Only files that changed are written; one daemon-reload covers them all. Units of deleted
    tasks are removed; other files in the unit directory are never touched.

    \b
    Example:
      smartcron sync --dry-run
      smartcron sync
      smartcron sync --check || echo "units drifted from the database"
    """
    unit_dir = Path(app.config.unit_dir)
    with db_errors(app.engine), app.engine.connect() as conn:
        # Only the tasks placed on this host (docs/multi-host.md): the units of a task moved
        # away are not among them, so they are removed like those of a deleted task.
        tasks = [t for t in list_tasks(conn) if placed_on(t, app.config.host_name)]
        windowed = windowed_tasks(conn, tasks)
    if dry_run or check:
        # Read-only: no lock, so an unprivileged user (the maintenance timer) can check. Only
        # root can read the signing key; without it the definitions are not verified here.
        signer = _signer_if_readable(app)
        plans = sync_mod.plan(
            tasks,
            unit_dir,
            accuracy=app.config.timer_accuracy,
            signer=signer,
            windowed=windowed,
        )
        _report_plan(plans, unit_dir, show_diff=dry_run, as_json=as_json)
        if signer is None and not as_json:
            click.echo(
                "  note       definitions not verified: the signing key is root's "
                f"({app.config.signing_key_file}); run as root to verify them.",
                err=True,
            )
        drifted = [p for p in plans if p.action not in {"unchanged"}]
        target = sync_mod.target_drift(unit_dir, OwnUnits.for_config(app.config))
        if target and not as_json:
            click.echo(f"  {'to write':<10} {', '.join(target)}")
        if check and (drifted or target):
            click.echo(
                f"{len(drifted)} task(s) drifted from the database; "
                "run `smartcron sync` to restore them.",
                err=True,
            )
            raise SystemExit(1)
        if check:
            click.echo("All units match the database.", err=True)
        return
    # Only definitions signed with root's key are installed (model/signing.py).
    signer = load_signer(app.config.signing_key_file, create=True)
    with sync_mod.locked(unit_dir):
        plans = sync_mod.plan(
            tasks,
            unit_dir,
            accuracy=app.config.timer_accuracy,
            signer=signer,
            windowed=windowed,
        )
        with Systemd() as systemd:
            result = sync_mod.apply(plans, unit_dir, systemd, own=OwnUnits.for_config(app.config))
        remember(plans, app.config.signing_key_file)
    refused = {p.name: p.error for p in plans if p.refused}
    with db_errors(app.engine):
        report_refused(
            app.config, app.engine, refused, [t.name for t in tasks if t.name not in refused]
        )
    if as_json:
        echo_json(result.as_json())
    else:
        for action in ("created", "updated", "removed"):
            for name in getattr(result, action):
                click.echo(f"  {action:<9} {name}")
        for failure in result.failed:
            click.echo(f"  failed    {failure['task']}: {failure['error']}")
        reload = "one daemon-reload" if result.daemon_reload else "no daemon-reload needed"
        click.echo(
            f"Sync: {len(result.created)} created, {len(result.updated)} updated, "
            f"{len(result.removed)} removed, {len(result.unchanged)} unchanged, "
            f"{len(result.failed)} failed ({reload})."
        )
    if result.failed:
        if not as_json:
            click.echo(
                "Some tasks failed to sync (above); the others were applied. Fix the "
                "task with `smartcron task edit` and run sync again."
                + (
                    f" {len(refused)} refused definition(s) raised a critical alert."
                    if refused
                    else ""
                ),
                err=True,
            )
        raise SystemExit(1)


def _signer_if_readable(app: App) -> Signer | None:
    """Return root's signing key, or None when this account cannot read it."""
    try:
        return load_signer(app.config.signing_key_file)
    except OperationFailed:
        return None


PLAN_LABELS = {
    "created": "to create",
    "updated": "to update",
    "removed": "to remove",
    "unchanged": "unchanged",
    "failed": "failed",
}


def _report_plan(
    plans: list[sync_mod.TaskPlan], unit_dir: Path, *, show_diff: bool, as_json: bool
) -> None:
    buckets: dict[str, list[object]] = {action: [] for action in PLAN_LABELS}
    for p in plans:
        buckets[p.action].append({"task": p.name, "error": p.error} if p.error else p.name)
    if as_json:
        echo_json({**buckets, "daemon_reload": False})
        return
    for p in plans:
        click.echo(f"  {PLAN_LABELS[p.action]:<10} {p.name}" + (f": {p.error}" if p.error else ""))
        if show_diff and p.action in {"created", "updated", "removed"}:
            click.echo(sync_diff.diff(p, unit_dir), nl=False)
    summary = ", ".join(f"{len(names)} {PLAN_LABELS[a]}" for a, names in buckets.items())
    click.echo(f"Plan: {summary}." + (" Dry run: nothing was changed." if show_diff else ""))
