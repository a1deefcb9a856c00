"""A click group whose commands are imported on first use, so that each command pays only for
the modules it needs (`smartcron --help` imports neither SQLAlchemy nor Jinja nor pystemd).

COMMANDS names every top-level command; each lives in smartcron/cli/<module>.py (dashes become
underscores; `import` is `import_`) and registers itself on the group when imported. The
top-level --help lists the commands with the first sentence of their docstrings, read from
the modules' source without importing them (tests/unit/cli/test_lazy.py checks that the text is
the one click would show after importing).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
from typing import Any

import click
from click.shell_completion import CompletionItem
from click.utils import _make_default_short_help  # click's own shortening, as in --help

COMMANDS = (
    "alert-fallback",
    "alerts",
    "backup",
    "config",
    "dashboard",
    "db",
    "digest",
    "doctor",
    "export",
    "gate",
    "group-wait",
    "health",
    "hosts",
    "import",
    "import-crontab",
    "init",
    "logs",
    "maintenance",
    "prune",
    "restore",
    "retry-wait",
    "runs",
    "schedule",
    "status",
    "sync",
    "task",
    "units",
    "user",
    "watchdog",
    "window",
)


def command_module(name: str) -> str:
    """Return the module that holds top-level command `name`."""
    module = name.replace("-", "_")
    return "smartcron.cli." + ("import_" if module == "import" else module)


def _summary(name: str) -> tuple[str, bool] | None:
    """Return (docstring, hidden) of command `name` from its module's source, or None when the
    source does not say it plainly (then the module is imported instead)."""
    spec = importlib.util.find_spec(command_module(name))
    if spec is None or spec.origin is None:
        return None
    with open(spec.origin, encoding="utf-8") as source:
        tree = ast.parse(source.read())
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        for deco in node.decorator_list:
            if not (
                isinstance(deco, ast.Call)
                and isinstance(deco.func, ast.Attribute)
                and isinstance(deco.func.value, ast.Name)
                and deco.func.value.id == "cli"
                and deco.func.attr in {"command", "group"}
            ):
                continue
            keywords = {k.arg: k.value for k in deco.keywords}
            if set(keywords) - {"hidden", "invoke_without_command"}:
                return None  # short_help, deprecated, ...: let click compute it
            hidden = keywords.get("hidden")
            if hidden is not None and not isinstance(hidden, ast.Constant):
                return None
            doc = ast.get_docstring(node, clean=False)
            return (doc or "", bool(hidden.value) if hidden is not None else False)
    return None


class LazyGroup(click.Group):
    """A group that imports a command's module when the command is first asked for.

    `commands` (click's mapping, read by tests and tools) loads every command; click's own
    lookups go through get_command and list_commands, which load only what they name.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._loaded: dict[str, click.Command] = {}
        self._all_loaded = False
        super().__init__(*args, **kwargs)

    @property  # type: ignore[override]
    def commands(self) -> dict[str, click.Command]:
        if not self._all_loaded:
            self._all_loaded = True
            for name in COMMANDS:
                importlib.import_module(command_module(name))
        return self._loaded

    @commands.setter
    def commands(self, value: dict[str, click.Command]) -> None:
        self._loaded.update(value)

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        name = name or cmd.name
        if name is None:
            raise TypeError("Command has no name.")
        self._loaded[name] = cmd

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMANDS) | set(self._loaded))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self._loaded and cmd_name in COMMANDS:
            importlib.import_module(command_module(cmd_name))
        return self._loaded.get(cmd_name)

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[CompletionItem]:
        """Complete command names (and options) as click would, but with the help read from
        the modules' source: pressing TAB must not import every command."""
        items = []
        for name in self.list_commands(ctx):
            if not name.startswith(incomplete):
                continue
            summary = None if name in self._loaded else _summary(name)
            if summary is None:
                cmd = self.get_command(ctx, name)
                if cmd is not None and not cmd.hidden:
                    items.append(CompletionItem(name, help=cmd.get_short_help_str()))
            elif not summary[1]:
                items.append(CompletionItem(name, help=_make_default_short_help(summary[0])))
        # Options of the group itself (--config, --help...), as click's own Group adds them.
        return items + click.Command.shell_complete(self, ctx, incomplete)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        shown: list[tuple[str, click.Command | str]] = []
        for name in self.list_commands(ctx):
            summary = None if name in self._loaded else _summary(name)
            if summary is None:
                cmd = self.get_command(ctx, name)
                if cmd is not None and not cmd.hidden:
                    shown.append((name, cmd))
            elif not summary[1]:
                shown.append((name, summary[0]))
        if not shown:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in shown)
        rows = [
            (
                name,
                item.get_short_help_str(limit)
                if isinstance(item, click.Command)
                else _make_default_short_help(item, limit).strip(),
            )
            for name, item in shown
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)
