"""`smartcron units install|remove`: smartcron's own units, for install.sh.

The watchdog, the dashboard and the daily maintenance timer, rendered for this installation's
`smartcron` executable and the `smartcron` account, the polkit rule that lets that account
start and stop task units, the journald drop-in and the journal message catalog.
"""

from __future__ import annotations

from pathlib import Path

import click

from smartcron.cli.base import App, cli, pass_app
from smartcron.fileio import atomic_write
from smartcron.systemd.entries import CATALOG_DIR, CATALOG_NAME, catalog
from smartcron.systemd.own_units import (
    JOURNALD_DIR,
    JOURNALD_DROPIN,
    OwnUnits,
    journald_dropin,
    polkit_rule,
)

POLKIT_DIR = "/etc/polkit-1/rules.d"
POLKIT_FILE = "50-smartcron.rules"


def _wanted(app: App, polkit_dir: Path, journald_dir: Path, catalog_dir: Path) -> dict[Path, str]:
    unit_dir = Path(app.config.unit_dir)
    own = OwnUnits.for_config(app.config)
    files = {unit_dir / name: text for name, text in own.services().items()}
    files[polkit_dir / POLKIT_FILE] = polkit_rule(str(unit_dir))
    files[journald_dir / JOURNALD_DROPIN] = journald_dropin()
    files[catalog_dir / CATALOG_NAME] = catalog()
    return files


journald_option = click.option(
    "--journald-dir",
    default=JOURNALD_DIR,
    show_default=True,
    type=click.Path(path_type=Path),
    help="Where the journald drop-in goes (it keeps every line of task output).",
)
catalog_option = click.option(
    "--catalog-dir",
    default=CATALOG_DIR,
    show_default=True,
    type=click.Path(path_type=Path),
    help="Where the journal message catalog goes (journalctl -x explains smartcron's entries; "
    "run `journalctl --update-catalog` after).",
)


@cli.group("units")
def units_group() -> None:
    """smartcron's own units (watchdog, dashboard, maintenance) and polkit rule.

    \b
    Example:
      smartcron units install && systemctl daemon-reload
    """


@units_group.command("install")
@click.option(
    "--polkit-dir", default=POLKIT_DIR, show_default=True, type=click.Path(path_type=Path)
)
@journald_option
@catalog_option
@click.option("--dry-run", is_flag=True, help="List what would change; write nothing.")
@pass_app
def units_install(
    app: App, polkit_dir: Path, journald_dir: Path, catalog_dir: Path, dry_run: bool
) -> None:
    """Write smartcron's own unit files and polkit rule where they differ. Run as root.

    Does not reload or start anything: install.sh does that after (daemon-reload, a restart
    of systemd-journald for its drop-in, and `journalctl --update-catalog`).

    \b
    Example:
      smartcron units install --dry-run
    """
    changed = []
    for path, text in _wanted(app, polkit_dir, journald_dir, catalog_dir).items():
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        changed.append(path)
        if not dry_run:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, text, mode=0o644)
    verb = "would write" if dry_run else "wrote"
    for path in changed:
        click.echo(f"  {verb} {path}")
    click.echo(
        f"{len(changed)} file(s) {'to write' if dry_run else 'written'}"
        + ("; run `systemctl daemon-reload` next." if changed and not dry_run else ".")
    )


@units_group.command("remove")
@click.option(
    "--polkit-dir", default=POLKIT_DIR, show_default=True, type=click.Path(path_type=Path)
)
@click.option(
    "--tasks", "with_tasks", is_flag=True,
    help="Also every task unit, the tasks target and the alert template (an uninstall).",
)  # fmt: skip
@journald_option
@catalog_option
@click.option("--dry-run", is_flag=True, help="List what would be removed; remove nothing.")
@pass_app
def units_remove(
    app: App,
    polkit_dir: Path,
    journald_dir: Path,
    catalog_dir: Path,
    with_tasks: bool,
    dry_run: bool,
) -> None:
    """Remove smartcron's own unit files and polkit rule (stop the units first). Run as root.

    With --tasks, also every generated task unit; files smartcron did not write are left.

    \b
    Example:
      systemctl disable --now smartcron-watchdog smartcron-dashboard smartcron-maintenance.timer
      smartcron units remove
    """
    removed = [p for p in _wanted(app, polkit_dir, journald_dir, catalog_dir) if p.exists()]
    if with_tasks:
        from smartcron.systemd import uninstall

        generated = uninstall.generated_files(Path(app.config.unit_dir))
        removed += [p for p in generated if p not in removed]
    for path in removed:
        if not dry_run:
            path.unlink()
        click.echo(f"  {'would remove' if dry_run else 'removed'} {path}")
    if with_tasks and not dry_run:
        from smartcron.systemd import sync

        wants = Path(app.config.unit_dir) / sync.WANTS_DIR
        if wants.is_dir() and not any(wants.iterdir()):
            wants.rmdir()
    click.echo(f"{len(removed)} file(s) {'to remove' if dry_run else 'removed'}.")
