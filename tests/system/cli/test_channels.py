"""An alert channel must exist where it is named: task add, task edit, import, the config."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from support import TestDB, invoke

ADD = ("task", "add", "payroll-export", "--command", "/bin/true", "--schedule", "@daily")


def test_channels_unknown_name_is_refused_by_task_add_and_edit(
    runner: CliRunner, db: TestDB, monkeypatch: object
) -> None:
    refused = invoke(runner, *ADD, "--channel", "payroll")
    assert refused.exit_code == 2
    assert "channels: 'payroll' is not valid: not a configured alert channel" in refused.stderr
    assert invoke(runner, *ADD).exit_code == 0
    edit = invoke(runner, "task", "edit", "payroll-export", "--channel", "payroll")
    assert edit.exit_code == 2 and "not a configured alert channel" in edit.stderr


def test_channels_import_refuses_a_channel_that_is_not_configured(
    runner: CliRunner, db: TestDB, tmp_path: Path
) -> None:
    # As examples/tasks.yaml does: payroll-export (critical) routed to "payroll".
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(
        "version: 1\ntasks:\n  - name: payroll-export\n    command: [/bin/true]\n"
        "    schedule: '0 2 * * 1-5'\n    priority: critical\n    channels: [ops, payroll]\n"
    )
    config = tmp_path / "smartcron.toml"
    config.write_text('[channels]\nops = "json://127.0.0.1:9/x"\n')
    refused = invoke(runner, "--config", str(config), "import", str(tasks))
    assert refused.exit_code == 2
    assert "channels: 'payroll' is not valid: not a configured alert channel" in refused.stderr
    assert "(configured: ops)" in refused.stderr
    config.write_text(config.read_text() + 'payroll = "json://127.0.0.1:9/y"\n')
    accepted = invoke(runner, "--config", str(config), "import", str(tasks))
    assert accepted.exit_code == 0, accepted.stderr


def test_channels_priority_routing_must_name_configured_channels(
    runner: CliRunner, db: TestDB, tmp_path: Path
) -> None:
    config = tmp_path / "smartcron.toml"
    config.write_text(
        '[channels]\nops = "json://127.0.0.1:9/x"\n[priority_channels]\ncritical = "ops, payroll"\n'
    )
    result = invoke(runner, "--config", str(config), "task", "list")
    assert result.exit_code == 2
    assert "priority_channels.critical: 'payroll' is not valid" in result.stderr
    assert json.loads(invoke(runner, "task", "list", "--json").stdout) == []
