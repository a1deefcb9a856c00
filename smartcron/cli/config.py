"""`smartcron config show|check`: the effective settings and where each came from, and a
settings file checked before it is put in place."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from smartcron.cli.base import App, cli, pass_app
from smartcron.cli.output import echo_json, table
from smartcron.errors import InvalidInput
from smartcron.model import config as settings_model
from smartcron.model.masking import masked


@cli.group("config")
def config_group() -> None:
    """Show the effective settings, or check a settings file before installing it.

    \b
    Example:
      smartcron config show
      smartcron config check /tmp/smartcron.toml
    """


def _shown(value: Any) -> str:
    """Return a setting's value as one line: TOML-like for tables and booleans."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {json.dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@config_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of the settings.")
@pass_app
def show_cmd(app: App, as_json: bool) -> None:
    """Show every effective setting, its value and where it came from (secrets hidden).

    The source is `default`, `file PATH` or `env VARIABLE`; passwords, tokens and keys are
    shown as ***.

    \b
    Example:
      smartcron config show
      smartcron --config /tmp/new.toml config show --json
    """
    loaded = app.config
    rows = [
        {
            "name": f.name,
            "value": masked(f.metadata.get("mask"), getattr(loaded, f.name)),
            "source": loaded.origins.get(f.name, "default"),
        }
        for f in settings_model.settings()
    ]
    if as_json:
        echo_json(rows)
        return
    click.echo(
        table(
            ["SETTING", "VALUE", "SOURCE"],
            [(r["name"], _shown(r["value"]), r["source"]) for r in rows],
        )
    )


@config_group.command("check")
@click.argument("file", metavar="FILE")
def check_cmd(file: str) -> None:
    """Check a settings file as the watchdog and the dashboard would read it.

    Exit status 0 when it is valid, 1 with every problem (key, value, what is allowed)
    otherwise. SMARTCRON_* variables are not applied: the file is checked on its own.

    \b
    Example:
      smartcron config check /etc/smartcron/smartcron.toml
      smartcron config check new.toml && sudo install -m 640 new.toml /etc/smartcron/
    """
    path = Path(file)
    if not path.is_file():
        why = "it is a directory" if path.is_dir() else "it does not exist"
        click.echo(f"error: {file}: cannot check it: {why}; give a TOML settings file.", err=True)
        raise SystemExit(1)
    try:
        loaded = settings_model.load(path, environ={})
    except InvalidInput as exc:
        problems = exc.problems if isinstance(exc, settings_model.InvalidSettings) else [exc]
        click.echo(f"{file}: {len(problems)} problem(s); fix them and check again:", err=True)
        for problem in problems:
            click.echo(f"error: {problem}", err=True)
        raise SystemExit(1) from None
    chosen = [name for name, origin in loaded.origins.items() if origin != "default"]
    listed = ", ".join(chosen) if chosen else "none: every setting has its default"
    click.echo(f"ok: {file} is valid; settings it sets: {listed}")
