"""`smartcron doctor`: check the whole installation, each finding with its fix."""

from __future__ import annotations

import click

from smartcron.cli.base import App, cli, pass_app
from smartcron.cli.output import echo_json, now
from smartcron.ops import doctor as doctor_mod


@cli.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@pass_app
def doctor_cmd(app: App, as_json: bool) -> None:
    """Check the installation end to end; exit 1 if anything fails.

    \b
    Example:
      smartcron doctor
    """
    findings = doctor_mod.run(app.config, app.unchecked_engine, now())
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
