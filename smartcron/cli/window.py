"""`smartcron window add|list|rm`: maintenance windows (quiet hours), kept in the database
that every host shares, so one command applies them on every host (docs/windows.md)."""

from __future__ import annotations

import click

from smartcron.cli.base import App, cli, pass_app
from smartcron.cli.output import echo_json, table
from smartcron.db.audit import actor
from smartcron.db.engine import db_errors
from smartcron.db.tasks import list_tasks
from smartcron.db.windows import add_window, list_windows, remove_window
from smartcron.model.windows import (
    ACTIONS,
    SKIP,
    WHEN_HELP,
    Window,
    check_covers,
    check_window,
    state_text,
)
from smartcron.model.zones import host_timezone


@cli.group()
def window() -> None:
    """Maintenance windows: times when chosen tasks do not run, or their alerts are held.

    \b
    Example:
      smartcron window add db-upgrade --when "Sun 02:00-06:00" --category db
      smartcron window add xmas --when "2026-12-24 18:00 .. 2026-12-27 08:00" \\
          --task '*' --action hold_alerts --timezone Europe/Berlin
      smartcron window list
    """


def _covers(w: Window) -> str:
    parts = ["every task" if t == "*" else t for t in w.tasks]
    parts += [f"category {c}" for c in w.categories]
    return ", ".join(parts)


@window.command("add")
@click.argument("name")
@click.option("--when", "when", required=True, help=f"When it applies: {WHEN_HELP}.")
@click.option("--timezone", default="", help="IANA timezone of its times (default: the host's).")
@click.option("--task", "tasks", multiple=True, help="A task it covers (* for every task); repeat.")
@click.option("--category", "categories", multiple=True, help="A category it covers; repeat.")
@click.option(
    "--action",
    "actions",
    multiple=True,
    help=f"What it does: {' and/or '.join(ACTIONS)}; repeat for both (default {SKIP}).",
)
@click.option("--description", default="", help="One line saying what it is for.")
@pass_app
def window_add(
    app: App,
    name: str,
    when: str,
    timezone: str,
    tasks: tuple[str, ...],
    categories: tuple[str, ...],
    actions: tuple[str, ...],
    description: str,
) -> None:
    """Add maintenance window NAME, for every host sharing the database. Alerts are held at
    once; `skip` applies on each host once `smartcron sync` has run there (it gives the
    covered tasks' services the gate).

    \b
    Example:
      smartcron window add nightly-db --when "Mon-Fri 23:00-01:00" --category db \\
          --action skip --action hold_alerts
    """
    w = check_window(
        {
            "name": name,
            "when": when,
            "timezone": timezone or host_timezone(),
            "tasks": list(tasks),
            "categories": list(categories),
            "actions": list(actions) or [SKIP],
            "description": description,
        }
    )
    with db_errors(app.engine), app.engine.begin() as conn:
        warnings = check_covers(w, list_tasks(conn))
        add_window(conn, w, actor())
    state = state_text(w)
    click.echo(
        f"Added window {w.name}: {w.when} {w.timezone}, {' and '.join(w.actions)} for "
        f"{_covers(w)}; {state}."
    )
    if SKIP in w.actions:
        click.echo(
            "Next: run `smartcron sync` (as root) on each host: it gives the covered tasks' "
            "services the gate that skips their runs during the window.",
        )
    for warning in warnings:
        click.echo(warning, err=True)
    if state == "ended":
        click.echo(
            f"warning: window {w.name} has already ended, so it does nothing; remove it with "
            f"`smartcron window rm {w.name}`",
            err=True,
        )


@window.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of windows.")
@pass_app
def window_list(app: App, as_json: bool) -> None:
    """List the maintenance windows and where each stands now.

    \b
    Example:
      smartcron window list
    """
    with db_errors(app.engine), app.engine.connect() as conn:
        rows = list_windows(conn)
    if as_json:
        echo_json(
            [
                {
                    "name": w.name,
                    "when": w.when,
                    "timezone": w.timezone,
                    "tasks": list(w.tasks),
                    "categories": list(w.categories),
                    "actions": list(w.actions),
                    "description": w.description,
                    "state": state_text(w),
                }
                for w in rows
            ]
        )
        return
    if not rows:
        click.echo("No maintenance windows. Add one with `smartcron window add`.")
        return
    lines = [
        (w.name, f"{w.when} {w.timezone}", _covers(w), ",".join(w.actions), state_text(w))
        for w in rows
    ]
    click.echo(table(["NAME", "WHEN", "COVERS", "ACTIONS", "STATE"], lines))


@window.command("rm")
@click.argument("name")
@pass_app
def window_rm(app: App, name: str) -> None:
    """Remove maintenance window NAME. Alerts it held are sent as its summary within a minute.

    \b
    Example:
      smartcron window rm nightly-db
    """
    with db_errors(app.engine), app.engine.begin() as conn:
        remove_window(conn, name, actor())
    click.echo(
        f"Removed window {name}; the tasks it covered run as scheduled again. `smartcron "
        "sync` on each host removes the gate it needed from their services."
    )
