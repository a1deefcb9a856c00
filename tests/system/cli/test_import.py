"""YAML export/import: round trip, plan, all-or-nothing, and malformed input."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from support import TestDB, invoke


def _add(runner: CliRunner, name: str, schedule: str = "@daily") -> None:
    result = invoke(
        runner, "task", "add", name, "--command", "echo " + name, "--schedule", schedule
    )
    assert result.exit_code == 0, result.stderr


def test_export_import_round_trip_is_unchanged(
    runner: CliRunner, db: TestDB, tmp_path: Path
) -> None:
    _add(runner, "payroll-export", "0 18 * * 5")
    _add(runner, "bank-import", "30 6 * * 1-5")
    file = tmp_path / "tasks.yaml"
    assert invoke(runner, "export", str(file)).exit_code == 0
    before = db.snapshot()
    result = invoke(runner, "import", str(file))
    assert result.exit_code == 0, result.stderr
    assert "Nothing to do: 0 to add, 0 to change, 0 to remove, 2 unchanged" in result.stdout
    assert db.snapshot() == before


def test_import_dry_run_shows_plan_and_changes_nothing(
    runner: CliRunner, db: TestDB, tmp_path: Path
) -> None:
    _add(runner, "old-task")
    file = tmp_path / "tasks.yaml"
    invoke(runner, "export", str(file))
    data = yaml.safe_load(file.read_text())
    data["tasks"][0]["timeout"] = "5m"
    data["tasks"].append({"name": "new-task", "command": ["echo", "hi"], "schedule": "@hourly"})
    file.write_text(yaml.safe_dump(data))
    before = db.snapshot()
    result = invoke(runner, "import", str(file), "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "add      new-task" in result.stdout
    assert "change   old-task: timeout: '1h' -> '5m'" in result.stdout
    assert "Nothing was changed" in result.stdout
    assert db.snapshot() == before
    applied = invoke(runner, "import", str(file))
    assert applied.exit_code == 0
    names = [t["name"] for t in json.loads(invoke(runner, "task", "list", "--json").stdout)]
    assert names == ["new-task", "old-task"]


def test_import_prune_removes_unlisted_tasks(runner: CliRunner, db: TestDB, tmp_path: Path) -> None:
    _add(runner, "keep-me")
    _add(runner, "drop-me")
    file = tmp_path / "tasks.yaml"
    file.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "tasks": [
                    {"name": "keep-me", "command": ["echo", "keep-me"], "schedule": "@daily"}
                ],
            }
        )
    )
    without = invoke(runner, "import", str(file))
    assert "0 to remove" in without.stdout
    result = invoke(runner, "import", str(file), "--prune")
    assert result.exit_code == 0, result.stderr
    assert "remove   drop-me" in result.stdout
    assert [t["name"] for t in json.loads(invoke(runner, "task", "list", "--json").stdout)] == [
        "keep-me"
    ]


def test_import_malformed_yaml_exits_2_with_line(
    runner: CliRunner, db: TestDB, tmp_path: Path
) -> None:
    _add(runner, "existing")
    file = tmp_path / "broken.yaml"
    file.write_text("version: 1\ntasks:\n  - name: a\n    command: [echo\n")
    before = db.snapshot()
    result = invoke(runner, "import", str(file))
    assert result.exit_code == 2
    assert "malformed YAML at line" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert db.snapshot() == before


def test_import_duplicate_name_imports_nothing(
    runner: CliRunner, db: TestDB, tmp_path: Path
) -> None:
    file = tmp_path / "dup.yaml"
    file.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "tasks": [
                    {"name": "pos-sync", "command": ["echo"], "schedule": "@hourly"},
                    {"name": "other", "command": ["echo"], "schedule": "@hourly"},
                    {"name": "pos-sync", "command": ["echo"], "schedule": "@daily"},
                ],
            }
        )
    )
    before = db.snapshot()
    result = invoke(runner, "import", str(file))
    assert result.exit_code == 2
    assert (
        "task #3 (pos-sync): name: 'pos-sync' is not valid: the name is already used by task #1"
        in result.stderr
    )
    assert db.snapshot() == before


def test_import_one_invalid_task_reports_all_and_imports_nothing(
    runner: CliRunner, db: TestDB, tmp_path: Path
) -> None:
    file = tmp_path / "mixed.yaml"
    file.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "tasks": [
                    {"name": "fine", "command": ["echo"], "schedule": "@hourly"},
                    {
                        "name": "bad-tz",
                        "command": ["echo"],
                        "schedule": "@hourly",
                        "timezone": "Nowhere/City",
                    },
                    {
                        "name": "bad-key",
                        "command": ["echo"],
                        "schedule": "@hourly",
                        "colour": "red",
                    },
                ],
            }
        )
    )
    before = db.snapshot()
    result = invoke(runner, "import", str(file))
    assert result.exit_code == 2
    assert "task #2 (bad-tz): timezone: 'Nowhere/City'" in result.stderr
    assert "task #3 (bad-key): task: 'colour' is not valid: unknown field" in result.stderr
    assert db.snapshot() == before


def test_import_names_a_cycle_inside_the_file(
    runner: CliRunner, db: TestDB, tmp_path: Path
) -> None:
    file = tmp_path / "tasks.yaml"
    cycle = [
        {"name": "x1", "command": ["/bin/true"], "after": ["x2"]},
        {"name": "x2", "command": ["/bin/true"], "after": ["x1"]},
    ]
    file.write_text(yaml.safe_dump({"tasks": cycle}))
    before = db.snapshot()
    for args in ([], ["--dry-run"]):
        result = invoke(runner, "import", str(file), *args)
        assert result.exit_code != 0
        assert "the chain would be a cycle (x1 -> x2 -> x1)" in result.stderr, result.stderr
        assert "names no existing task" not in result.stderr
        assert "Traceback" not in result.stderr
    assert db.snapshot() == before
    chain = [
        {"name": "y2", "command": ["/bin/true"], "after": ["y1"]},
        {"name": "y1", "command": ["/bin/true"], "schedule": "@daily"},
    ]
    file.write_text(yaml.safe_dump({"tasks": chain}))
    result = invoke(runner, "import", str(file))
    assert result.exit_code == 0, result.stderr
