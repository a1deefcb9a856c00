"""The task CLI end to end on SQLite and MariaDB: good input works, bad input changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from support import TestDB, invoke

ADD = ["task", "add", "pos-sync", "--command", "echo synced", "--schedule", "*/5 * * * *"]


def test_init_migrates_empty_database_then_is_idempotent(runner: CliRunner, db: TestDB) -> None:
    first = invoke(runner, "init")
    assert first.exit_code == 0, first.stderr
    assert "already at schema revision" in first.stdout  # the fixture migrated it
    assert invoke(runner, "db", "upgrade").exit_code == 0


def test_task_add_then_list_json_round_trips(runner: CliRunner, db: TestDB) -> None:
    result = invoke(
        runner,
        *ADD,
        "--timeout",
        "4m",
        "--retries",
        "2",
        "--timezone",
        "Pacific/Auckland",
        "--env",
        "REGION=nz",
        "--memory-max",
        "512M",
        "--cpu-quota",
        "50%",
        "--priority",
        "high",
        "--category",
        "pos",
    )
    assert result.exit_code == 0, result.stderr
    assert "Added task 'pos-sync'" in result.stdout
    listed = invoke(runner, "task", "list", "--json")
    assert listed.exit_code == 0
    tasks = json.loads(listed.stdout)
    assert [t["name"] for t in tasks] == ["pos-sync"]
    task = tasks[0]
    assert task["command"] == ["/usr/bin/echo", "synced"]
    assert task["timeout"] == "4m" and task["retries"] == 2
    assert task["timezone"] == "Pacific/Auckland"
    assert task["env"] == {"REGION": "(hidden)"}  # values only when asked for
    assert task["memory_max"] == "512M" and task["cpu_quota"] == "50%"
    assert task["user"] == "nobody"  # the default_user setting: never root unless written
    shown = json.loads(invoke(runner, "task", "show", "pos-sync", "--json").stdout)
    assert shown == task
    revealed = json.loads(invoke(runner, "task", "list", "--json", "--show-env").stdout)
    assert revealed[0]["env"] == {"REGION": "nz"}


def test_task_edit_changes_only_given_fields(runner: CliRunner, db: TestDB) -> None:
    assert invoke(runner, *ADD, "--env", "A=1", "--env", "B=2").exit_code == 0
    result = invoke(
        runner, "task", "edit", "pos-sync", "--timeout", "8m", "--env", "C=3", "--unset-env", "A"
    )
    assert result.exit_code == 0, result.stderr
    task = json.loads(invoke(runner, "task", "show", "pos-sync", "--json", "--show-env").stdout)
    assert task["timeout"] == "8m"
    assert task["env"] == {"B": "2", "C": "3"}
    assert task["schedule"] == "*/5 * * * *"
    again = invoke(runner, "task", "edit", "pos-sync", "--timeout", "8m")
    assert "nothing changed" in again.stdout


def test_task_edit_unset_env_of_a_variable_not_set_is_refused(
    runner: CliRunner, db: TestDB
) -> None:
    assert invoke(runner, *ADD, "--env", "API_TOKEN=x", "--env", "B=2").exit_code == 0
    before = db.snapshot()
    result = invoke(
        runner, "task", "edit", "pos-sync", "--timeout", "8m", "--unset-env", "API_TOKN"
    )
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        "error: --unset-env: 'API_TOKN' is not valid: task 'pos-sync' has no such variable "
        "(it has: API_TOKEN, B)"
    )
    assert db.snapshot() == before  # nothing changed, the timeout neither


def test_task_pause_without_systemd_updates_db_and_says_what_to_do(
    runner: CliRunner, db: TestDB, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pause and resume against systemd are tested in test_runs.py; here systemd is unreachable.
    monkeypatch.setenv("SMARTCRON_UNIT_DIR", str(tmp_path / "units"))
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path}/no-such-bus")
    assert invoke(runner, *ADD).exit_code == 0
    result = invoke(runner, "task", "pause", "pos-sync")
    assert result.exit_code == 1
    assert "the database was updated but systemd was not" in result.stderr
    assert "smartcron sync" in result.stderr
    assert json.loads(invoke(runner, "task", "show", "pos-sync", "--json").stdout)["paused"]


def test_task_rm_deletes_task_but_keeps_history(runner: CliRunner, db: TestDB) -> None:
    assert invoke(runner, *ADD).exit_code == 0
    assert invoke(runner, "task", "rm", "pos-sync", "--yes").exit_code == 0
    assert json.loads(invoke(runner, "task", "list", "--json").stdout) == []


def test_task_changes_are_audited(runner: CliRunner, db: TestDB) -> None:
    import sqlalchemy as sa

    from smartcron.db.schema import audit_log

    invoke(runner, *ADD)
    invoke(runner, "task", "edit", "pos-sync", "--timeout", "9m")
    invoke(runner, "task", "rm", "pos-sync", "--yes")
    with db.engine.connect() as conn:
        actions = [r.action for r in conn.execute(sa.select(audit_log).order_by(audit_log.c.id))]
    assert actions == ["task.add", "task.edit", "task.rm"]


def test_task_show_unknown_name_exits_1_with_hint(runner: CliRunner, db: TestDB) -> None:
    result = invoke(runner, "task", "show", "nope")
    assert result.exit_code == 1
    assert "no task named 'nope'" in result.stderr and "smartcron task list" in result.stderr


BAD_INPUTS = [
    (
        "invalid name",
        ["task", "add", "Bad_Name", "--command", "echo", "--schedule", "@daily"],
        "name",
    ),
    ("unknown timezone", [*ADD[:2], "x1", *ADD[3:], "--timezone", "Mars/Olympus"], "timezone"),
    ("negative timeout", [*ADD[:2], "x2", *ADD[3:], "--timeout", "-5s"], "timeout"),
    (
        "command not found",
        ["task", "add", "x3", "--command", "no-such-program-xyz --flag", "--schedule", "@daily"],
        "command",
    ),
    (
        "relative command",
        ["task", "add", "x4", "--command", "bin/run", "--schedule", "@daily"],
        "command",
    ),
    (
        "bad cron field",
        [*ADD[:2], "x5", "--command", "echo", "--schedule", "0 25 * * *"],
        "schedule hour field",
    ),
    (
        "bad OnCalendar",
        [*ADD[:2], "x6", "--command", "echo", "--schedule", "Mon..Fry 10:00"],
        "schedule",
    ),
    ("retries too high", [*ADD[:2], "x7", *ADD[3:], "--retries", "99"], "retries"),
    ("bad priority", [*ADD[:2], "x8", *ADD[3:], "--priority", "urgent"], "priority"),
    ("bad env name", [*ADD[:2], "x9", *ADD[3:], "--env", "1X=y"], "env"),
    ("bad memory size", [*ADD[:2], "x10", *ADD[3:], "--memory-max", "lots"], "memory_max"),
    ("duplicate name", ADD, "name"),
]


@pytest.mark.parametrize(("case", "args", "field"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_task_add_bad_input_exits_2_names_field_and_changes_nothing(
    runner: CliRunner, db: TestDB, case: str, args: list[str], field: str
) -> None:
    assert invoke(runner, *ADD).exit_code == 0  # an existing task, for the duplicate case
    before = db.snapshot()
    result = invoke(runner, *args)
    assert result.exit_code == 2, (case, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {field}:"), lines[0]
    assert "is not valid" in lines[0]
    assert db.snapshot() == before


def test_task_edit_bad_input_changes_nothing(runner: CliRunner, db: TestDB) -> None:
    assert invoke(runner, *ADD).exit_code == 0
    before = db.snapshot()
    result = invoke(runner, "task", "edit", "pos-sync", "--timeout", "soon")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: timeout: 'soon'")
    assert db.snapshot() == before


def test_unreachable_database_exits_1_with_next_step(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMARTCRON_DATABASE_URL", "mysql+pymysql://root@127.0.0.1:1/none")
    result = CliRunner().invoke(__import__("smartcron.cli").cli.cli, ["task", "list"])
    assert result.exit_code == 1
    assert "database error at mysql+pymysql://root@127.0.0.1:1/none" in result.stderr
    assert "database_url" in result.stderr


def test_task_show_and_sign_escape_terminal_control_characters(
    runner: CliRunner, db: TestDB
) -> None:
    title = "\x1b]0;pwned\x07"  # would retitle the operator's terminal
    refused = invoke(
        runner, "task", "add", "esc", "--command", "/bin/true", "--schedule", "@daily",
        "--description", f"ok{title}",
    )  # fmt: skip
    assert refused.exit_code == 2 and "description" in refused.stderr, refused.stderr
    # A command's arguments may hold any byte a program takes: shown escaped.
    added = invoke(
        runner, "task", "add", "esc", "--command", f"/bin/echo '\x1b[2J' '{title}'",
        "--schedule", "@daily",
    )  # fmt: skip
    assert added.exit_code == 0, added.stderr
    shown = invoke(runner, "task", "show", "esc")
    signed = invoke(runner, "task", "sign", "esc", "--yes")
    listed = invoke(runner, "task", "list")
    for result in (shown, signed, listed):
        assert result.exit_code == 0, result.stderr
        assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "\\x1b]0;pwned\\x07" in shown.stdout
    assert "\\x1b[2J" in shown.stdout and "\\x1b[2J" in signed.stdout


def test_logs_escape_terminal_control_characters_but_keep_lines(
    runner: CliRunner, db: TestDB, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from support.dashboard import add_run

    monkeypatch.setenv("SMARTCRON_JOURNAL_DIRECTORY", str(tmp_path))  # an empty journal
    added = invoke(runner, "task", "add", "out", "--command", "/bin/true", "--schedule", "@daily")
    assert added.exit_code == 0, added.stderr
    add_run(db.engine, "out", output_tail="one\x1b]0;pwned\x07\ttab\ntwo\n")
    result = invoke(runner, "logs", "out")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "one\\x1b]0;pwned\\x07\ttab\ntwo\n"
