"""The `smartcron` command line: one module per top-level command, named after it.

Each module registers its command on `cli` (base.py) when imported; the group imports a
command's module only when that command is used (cli/lazy.py lists them), so each command pays
only for what it needs. `main` is the console script's entry point.
"""

from __future__ import annotations

from smartcron.cli.base import App, cli, pass_app

__all__ = ["App", "cli", "main", "pass_app"]


def main() -> None:
    """Entry point of the `smartcron` console script."""
    cli(prog_name="smartcron")
