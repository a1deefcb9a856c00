"""The tree shows the data flow: stage packages whose imports point one way, small modules,
no private names across modules, and one CLI module per top-level command."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from collections import defaultdict
from pathlib import Path

import click
import pytest

import smartcron
from smartcron.cli import cli

from support import ROOT

# Bottom to top: a module may import from its own stage and the stages before it.
STAGES = ["errors", "fileio", "model", "db", "systemd", "alerting", "ops", "watchdog"]
STAGES += ["dashboard", "cli"]
MAX_LINES = 450


def _sources() -> dict[str, Path]:
    """Every smartcron module (the dashboard as installed: smartcron.dashboard) by name."""
    out: dict[str, Path] = {}
    for base, prefix in (
        (ROOT / "smartcron", "smartcron"),
        (ROOT / "dashboard", "smartcron.dashboard"),
    ):
        for path in base.rglob("*.py"):
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join([prefix, *parts])] = path
    return out


def _imports(module: str, path: Path, *, top_level_only: bool) -> set[str]:
    """Return the smartcron modules `module` imports (absolute and relative imports)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            names = [f"{target}.{a.name}" for a in node.names]
            found.update(n for n in [target, *names] if n.startswith("smartcron"))
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("smartcron"))
    return found


def _stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "top"


def test_layout_every_module_imports() -> None:
    failed = {}
    for info in pkgutil.walk_packages(smartcron.__path__, "smartcron."):
        if info.name.endswith(("__main__", "migrations.env")):
            continue  # the entry point runs the CLI; Alembic's env runs only inside Alembic
        try:
            importlib.import_module(info.name)
        except Exception as exc:  # noqa: BLE001 - every failure is reported, not only the first
            failed[info.name] = repr(exc)
    assert failed == {}


def test_layout_stages_import_only_downwards() -> None:
    sources = _sources()
    wrong = []
    for module, path in sources.items():
        for target in _imports(module, path, top_level_only=False):
            here, there = _stage(module), _stage(target)
            if here in STAGES and there in STAGES and STAGES.index(there) > STAGES.index(here):
                wrong.append(f"{module} imports {target} ({here} -> {there})")
    assert wrong == []


def test_layout_has_no_import_cycles() -> None:
    sources = _sources()
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in sources.items():
        for target in _imports(module, path, top_level_only=True):
            while target not in sources and "." in target:
                target = target.rsplit(".", 1)[0]  # `from pkg import name` names a module
            if target in sources and target != module:
                graph[module].add(target)
    # Packages import their submodules by design (cli/__init__ registers commands); a cycle
    # through a package's own __init__ is not a cycle between concerns.
    cycles = []
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if nxt.startswith(node + ".") or node.startswith(nxt + "."):
                continue
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*trail[trail.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for module in sorted(sources):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_layout_modules_stay_small() -> None:
    long = {
        name: n
        for name, path in _sources().items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}, f"split these modules (over {MAX_LINES} lines)"


def test_layout_no_private_name_is_used_across_modules() -> None:
    sources = _sources()
    used = []
    for module, path in sources.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported_modules: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("smartcron"):
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        used.append(f"{module}: from {node.module} import {alias.name}")
                    if f"{node.module}.{alias.name}" in sources:
                        imported_modules.add(alias.asname or alias.name)
            elif isinstance(node, ast.ImportFrom) and node.level:
                imported_modules.update(a.asname or a.name for a in node.names)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in imported_modules
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                used.append(f"{module}: {node.value.id}.{node.attr}")
    assert used == []


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_layout_each_command_lives_in_a_module_named_after_it(name: str) -> None:
    command = cli.commands[name]
    module = name.replace("-", "_")
    module = "import_" if module == "import" else module
    callback = command.callback
    assert callback is not None
    assert callback.__module__ == f"smartcron.cli.{module}"
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            assert sub.callback is not None
            assert sub.callback.__module__ == f"smartcron.cli.{module}", sub.name
