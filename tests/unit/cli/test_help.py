"""Every command's --help carries an example (commands are discovered, not listed by hand)."""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from smartcron.cli import cli

from support import ROOT


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name)


@pytest.mark.parametrize("path", list(_commands(cli)), ids=lambda p: " ".join(p) or "smartcron")
def test_help_of_every_command_has_example(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.stdout
    assert "smartcron " in result.stdout.split("Example:", 1)[1]


def test_every_command_is_documented() -> None:
    """Docs cannot drift: every visible command appears as `smartcron <command>` in the docs."""

    import click

    from smartcron.cli import cli

    root = ROOT
    text = (root / "README.md").read_text() + "".join(
        p.read_text() for p in sorted((root / "docs").glob("*.md"))
    )
    missing = []

    def walk(group: click.Group, prefix: str) -> None:
        for name, command in group.commands.items():
            if command.hidden:
                continue
            full = f"smartcron{prefix} {name}"
            if full not in text:
                missing.append(full)
            if isinstance(command, click.Group):
                walk(command, f"{prefix} {name}")

    walk(cli, "")
    assert missing == []
