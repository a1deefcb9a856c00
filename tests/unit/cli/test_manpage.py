"""smartcron(1) is made from the command tree: every command and option is in it, and man
renders it without a warning."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from smartcron.cli import cli
from smartcron.cli.manpage import escape, render

from support import need


def _visible(group: click.Group, path: str = "smartcron") -> Iterator[tuple[str, click.Command]]:
    for name, command in group.commands.items():
        if command.hidden:
            continue
        yield f"{path} {name}", command
        if isinstance(command, click.Group):
            yield from _visible(command, f"{path} {name}")


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The page as install.sh writes it: the module run on its own."""
    proc = subprocess.run(
        [sys.executable, "-m", "smartcron.cli.manpage"],
        capture_output=True,
        text=True,
        check=True,
        cwd="/",
    )
    path = tmp_path_factory.mktemp("man") / "smartcron.1"
    path.write_text(proc.stdout)
    return path


def test_manpage_is_what_render_makes(page: Path) -> None:
    assert page.read_text() == render(cli)


def test_manpage_names_every_command_and_option(page: Path) -> None:
    text = page.read_text()
    missing = []
    for path, command in _visible(cli):
        if f'.SS "{escape(path)} ' not in text:
            missing.append(path)
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                missing += [f"{path} {o}" for o in param.opts if escape(o) not in text]
    assert missing == []
    assert "alert\\-fallback" not in text  # hidden commands stay out


def test_manpage_renders_without_warnings(page: Path) -> None:
    groff, man = shutil.which("groff"), shutil.which("man")
    need(groff is not None and man is not None, "groff or man is not installed (man-db)")
    proc = subprocess.run(
        [str(groff), "-man", "-Tutf8", "-ww", "-z", str(page)], capture_output=True, text=True
    )
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    proc = subprocess.run(
        [str(man), "--warnings", "-l", str(page)],
        capture_output=True,
        text=True,
        env={**os.environ, "MANWIDTH": "100", "MANPAGER": "cat", "LANG": "C.UTF-8"},
    )
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert "smartcron task add [OPTIONS] NAME" in proc.stdout
    # Dashes stay ASCII hyphen-minus, so an option copied from the page works.
    assert "--schedule TEXT" in proc.stdout and "\u2010" not in proc.stdout


def test_manpage_escape_keeps_text_from_being_read_as_requests() -> None:
    assert escape(".TH x\n'quote\nplain \\n") == "\\&.TH x\n\\&'quote\nplain \\en"
    assert escape("--all") == "\\-\\-all"
