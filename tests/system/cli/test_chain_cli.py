"""Chained tasks in the CLI: status, the task-add hint and the chain lines of `task show`."""

from __future__ import annotations

from types import TracebackType
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner

from smartcron.systemd import units

from support import TestDB, invoke


class _Systemd:
    """Stands in for Systemd in `status`: every unit of the tasks in `installed` is loaded."""

    installed: ClassVar[set[str]] = set()

    def __enter__(self) -> _Systemd:
        return self

    def __exit__(self, *exc: object | TracebackType) -> None:
        return None

    def list_units(self, pattern: str) -> dict[str, tuple[str, str, str]]:
        assert pattern.endswith(".timer")
        return {units.timer_name(n): ("loaded", "active", "waiting") for n in self.installed}

    def properties(self, unit: str, *names: str) -> dict[str, Any]:
        loaded = unit in {units.service_name(n) for n in self.installed}
        return {"LoadState": "loaded" if loaded else "not-found"}


def _add(runner: CliRunner, name: str, *more: str) -> None:
    result = invoke(runner, "task", "add", name, "--command", "/bin/true", *more)
    assert result.exit_code == 0, result.stderr


def test_chained_task_without_schedule_is_synced_when_its_service_is_installed(
    runner: CliRunner, db: TestDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("smartcron.cli.status.Systemd", _Systemd)
    _add(runner, "a", "--schedule", "* * * * *")
    added = invoke(runner, "task", "add", "b", "--command", "/bin/true", "--after", "a")
    assert added.exit_code == 0, added.stderr
    assert "installs its timer" not in added.stdout
    assert "no timer of its own and runs after a" in added.stdout
    _Systemd.installed = set()
    before = invoke(runner, "status")
    assert before.exit_code == 0, before.stderr
    assert "not synced" in before.stdout and "run `smartcron sync`" in before.stderr
    _Systemd.installed = {"a", "b"}
    after = invoke(runner, "status")
    assert after.exit_code == 0, after.stderr
    assert "not synced" not in after.stdout and "not synced" not in after.stderr
    line = next(row for row in after.stdout.splitlines() if row.startswith("b "))
    assert "runs after a" in line and "active" in line
