"""Commands load on first use: `smartcron --help` imports no heavy library, and lists exactly
what click would list with every command imported."""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import subprocess
import sys

import smartcron.cli
from smartcron.cli import cli
from smartcron.cli.lazy import COMMANDS, command_module

HEAVY = ("sqlalchemy", "jinja2", "pystemd", "flask", "yaml", "alembic", "psutil")


def _modules_after(*args: str) -> list[str]:
    """Run `smartcron ARGS` in a fresh interpreter; return the top-level modules it imported."""
    code = (
        "import json, sys\n"
        f"sys.argv = ['smartcron', *{list(args)!r}]\n"
        "from smartcron.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/"
    ).stdout
    return list(json.loads(out.splitlines()[-1]))


def test_lazy_help_imports_no_heavy_library() -> None:
    loaded = _modules_after("--help")
    assert [m for m in HEAVY if m in loaded] == []
    assert "smartcron" in loaded


def test_lazy_version_imports_no_heavy_library() -> None:
    loaded = _modules_after("--version")
    assert [m for m in HEAVY if m in loaded] == []


def _help(*, import_all: bool) -> str:
    code = (
        "from smartcron.cli import cli\n"
        + ("assert cli.commands\n" if import_all else "")  # imports every command
        + "cli(['--help'], prog_name='smartcron')\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd="/",
        env={**os.environ, "COLUMNS": "100"},
    ).stdout


def test_lazy_help_matches_the_help_of_imported_commands() -> None:
    lazy = _help(import_all=False)
    assert lazy == _help(import_all=True)  # click formatting the real command objects
    assert "  sync " in lazy and "alert-fallback" not in lazy  # hidden stays hidden


def test_lazy_registry_names_every_command_module() -> None:
    for info in pkgutil.iter_modules(smartcron.cli.__path__, "smartcron.cli."):
        importlib.import_module(info.name)
    assert sorted(cli.commands) == sorted(COMMANDS)
    for name in COMMANDS:
        callback = cli.commands[name].callback
        assert callback is not None and callback.__module__ == command_module(name)
